// `edgeroute bench` as a user runs it, on the tiny classifier: the JSON
// report carries every documented field (no timing is asserted), the
// latency gap is recorded, and bad options are clear errors.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "run_command.h"
#include "tiny_classifier.h"

namespace edgeroute {
namespace {

namespace fs = std::filesystem;

struct Fixture {
  fs::path dir, model, queries;
};

Fixture make(const std::string& name) {
  Fixture f;
  f.dir = fs::path(EDGEROUTE_TEST_BINARY_DIR) / "scratch" / name;
  f.model = test::write_tiny_classifier((f.dir / "model").string());  // creates the directories
  f.queries = f.dir / "queries.csv";
  std::ofstream q(f.queries);
  q << "text\n";
  for (int i = 0; i < 12; ++i) q << (i % 2 ? "my card was declined\n" : "refund please\n");
  return f;
}

std::string bench(const Fixture& f, const std::string& extra) {
  return std::string(EDGEROUTE_BIN) + " bench --model " + f.model.string() + " --data " + f.queries.string() +
         " --warmup 2 --batch 4 --output json " + extra;
}

TEST(BenchCli, JsonReportHasEveryFieldAndTheGap) {
  const Fixture f = make("bench-json");
  const auto r = test::run_command(bench(f, "--gap-us 300 --reps 2"));
  ASSERT_EQ(r.code, 0) << r.out;
  const nlohmann::json j = nlohmann::json::parse(r.out.substr(r.out.find('{')));
  EXPECT_EQ(j["gap_us"], 300);
  EXPECT_EQ(j["queries"], 12);
  EXPECT_EQ(j["reps"], 2);
  EXPECT_EQ(j["batch"], 4);
  for (const char* k : {"p50", "p95", "p99", "mean"}) EXPECT_GT(j["latency_ms"][k].get<double>(), 0.0) << k;
  EXPECT_GT(j["throughput_qps"].get<double>(), 0.0);
  EXPECT_EQ(j["model_sha256"].get<std::string>().size(), 64u);
  for (const char* k : {"isa", "commit", "machine", "precision"}) EXPECT_FALSE(j[k].get<std::string>().empty()) << k;
  // Without the option the latency run is back to back.
  const auto d = test::run_command(bench(f, ""));
  ASSERT_EQ(d.code, 0) << d.out;
  EXPECT_EQ(nlohmann::json::parse(d.out.substr(d.out.find('{')))["gap_us"], 0);
}

TEST(BenchCli, BadOptionsAreUsageErrors) {
  const Fixture f = make("bench-bad");
  for (const char* bad : {"--gap-us -1", "--gap-us 2000000", "--batch 0", "--batch-tokens 0"}) {
    const auto r = test::run_command(bench(f, bad));
    EXPECT_EQ(r.code, 2) << bad << ": " << r.out;
  }
}

}  // namespace
}  // namespace edgeroute
