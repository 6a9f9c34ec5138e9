// `edgeroute calibrate` and `edgeroute route` as a user runs them, on the
// tiny classifier: the policy file they write and read, the summary, and
// clear errors.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "edgeroute/router/policy.h"
#include "run_command.h"
#include "tiny_classifier.h"

namespace edgeroute::router {
namespace {

namespace fs = std::filesystem;

struct Fixture {
  fs::path dir, model, val;
  std::string bin = EDGEROUTE_BIN;
};

Fixture make(const std::string& name) {
  Fixture f;
  f.dir = fs::path(EDGEROUTE_TEST_BINARY_DIR) / "scratch" / name;
  fs::remove_all(f.dir);
  fs::create_directories(f.dir);
  f.model = test::write_tiny_classifier((f.dir / "model").string());
  f.val = f.dir / "val.csv";
  std::ofstream v(f.val);
  v << "text,label\n";
  const char* words[] = {"my card was declined",
                         "refund please",
                         "where is the order",
                         "thanks a lot",
                         "i want to talk to the manager now",
                         "help my account email number"};
  for (int i = 0; i < 60; ++i) v << "\"" << words[i % 6] << (i % 4 == 0 ? " !" : "") << "\",c" << (i % 3) << "\n";
  return f;
}

TEST(CalibrateCli, WritesAPolicyThatRouteReadsAndThatReachesTheTarget) {
  const Fixture f = make("calibrate");
  const fs::path policy = f.dir / "policy.toml";
  const auto r = test::run_command(f.bin + " calibrate --model " + f.model.string() + " --cloud " + f.model.string() +
                                   " --val " + f.val.string() + " --target-accuracy cloud --curve " +
                                   (f.dir / "curve.csv").string() + " --out " + policy.string());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("chosen"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cloud-only accuracy"), std::string::npos) << r.out;
  const Policy p = Policy::load(policy.string());
  ASSERT_TRUE(p.calibration.contains("system_accuracy")) << p.to_toml();
  EXPECT_GE(p.calibration["system_accuracy"].get<double>() + 1e-12, p.calibration["cloud_only_accuracy"].get<double>());
  EXPECT_TRUE(p.calibration["reference"].contains("confidence_histogram"));
  EXPECT_TRUE(fs::exists(f.dir / "curve.csv"));

  // The same data through `route` with that policy, cloud = the model in a
  // directory is not a URL: route runs edge-only and says so.
  const fs::path summary = f.dir / "summary.json";
  const auto rr = test::run_command(f.bin + " route --model " + f.model.string() + " --policy " + policy.string() +
                                    " --input " + f.val.string() + " --quiet --summary-json " + summary.string());
  ASSERT_EQ(rr.code, 0) << rr.out;
  std::ifstream in(summary);
  const nlohmann::json s = nlohmann::json::parse(in);
  EXPECT_EQ(s["total_queries"], 60);
  EXPECT_EQ(s["labeled"], 60);
  EXPECT_EQ(s["cloud_queries"], 0);
  EXPECT_NE(rr.out.find("routed 60 texts"), std::string::npos) << rr.out;
}

TEST(CalibrateCli, RiskControlPrintsItsGuaranteeOrSaysWhyNot) {
  const Fixture f = make("alpha");
  const auto r =
      test::run_command(f.bin + " calibrate --model " + f.model.string() + " --cloud " + f.model.string() + " --val " +
                        f.val.string() + " --alpha 0.05 --delta 0.1 --out " + (f.dir / "p.toml").string());
  EXPECT_NE(r.out.find("risk control: alpha 0.050, delta 0.100"), std::string::npos) << r.out;
  // 60 examples of a random model: nothing can be certified; the message says so.
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("no confidence threshold certified"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(f.dir / "p.toml"));
}

TEST(CalibrateCli, ClearErrors) {
  const Fixture f = make("calibrate_errors");
  const std::string base = f.bin + " calibrate --model " + f.model.string() + " --val " + f.val.string();
  auto r = test::run_command(base + " --cloud " + f.model.string() + " --out " + (f.dir / "p.toml").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("exactly one"), std::string::npos) << r.out;
  r = test::run_command(base + " --cloud " + f.model.string() + " --target-accuracy high --out " +
                        (f.dir / "p.toml").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--target-accuracy must be"), std::string::npos) << r.out;
  r = test::run_command(base + " --target-accuracy 0.5 --out " + (f.dir / "p.toml").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--cloud is required"), std::string::npos) << r.out;
  std::ofstream(f.dir / "exists.toml") << "";
  r = test::run_command(base + " --cloud " + f.model.string() + " --target-accuracy 0.5 --out " +
                        (f.dir / "exists.toml").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--force"), std::string::npos) << r.out;
  std::ofstream(f.dir / "bad.csv") << "text,label\nhello,nope\n";
  r = test::run_command(f.bin + " calibrate --model " + f.model.string() + " --cloud " + f.model.string() + " --val " +
                        (f.dir / "bad.csv").string() + " --target-accuracy 0.5 --out " + (f.dir / "q.toml").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("bad.csv:2: label 'nope'"), std::string::npos) << r.out;
}

TEST(RouteCli, JsonLinesCarryTheDecisionAndTheTruth) {
  const Fixture f = make("route_json");
  const auto r =
      test::run_command(f.bin + " route --model " + f.model.string() + " --input " + f.val.string() + " --json");
  ASSERT_EQ(r.code, 0) << r.out;
  std::istringstream lines(r.out);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    const nlohmann::json j = nlohmann::json::parse(line);
    EXPECT_TRUE(j.contains("reason"));
    EXPECT_TRUE(j.contains("truth"));
    EXPECT_FALSE(j.contains("probabilities"));
    EXPECT_EQ(j["route"], "edge");
    ++n;
  }
  EXPECT_EQ(n, 60);
  const auto bad = test::run_command(f.bin + " route --model " + f.model.string() + " --input /nonexistent.csv");
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.out.find("/nonexistent.csv"), std::string::npos) << bad.out;
}

}  // namespace
}  // namespace edgeroute::router
