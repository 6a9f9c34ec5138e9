// A short real fine-tune (label `real`): all-MiniLM-L6-v2 on 2,000 airline
// tweets for one epoch must clearly beat the majority class on 600 test
// tweets. Skips with a message when ../shared/data or the model is absent.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "../common/run_command.h"
#include "edgeroute/text/table.h"
#include "test_models.h"

namespace {

namespace fs = std::filesystem;

// The first `rows` rows of a labeled CSV as JSON Lines {"text", "label"}; returns the majority share.
double subset(const std::string& csv, const fs::path& out, std::size_t rows) {
  const auto table = edgeroute::text::read_table(csv);
  const auto texts = table.column("text");
  const auto labels = table.column("label");
  std::ofstream f(out);
  std::map<std::string, int> counts;
  const std::size_t n = std::min(rows, texts.size());
  for (std::size_t i = 0; i < n; ++i) {
    f << nlohmann::json{{"text", texts[i]}, {"label", labels[i]}}.dump() << '\n';
    ++counts[labels[i]];
  }
  int most = 0;
  for (const auto& [label, count] : counts) most = std::max(most, count);
  return static_cast<double>(most) / static_cast<double>(n);
}

TEST(TrainReal, ShortAirlineFineTuneBeatsTheMajorityClass) {
  const fs::path data = fs::path(EDGEROUTE_SHARED_DATA) / "airline-sentiment";
  if (!fs::exists(data / "train.csv")) GTEST_SKIP() << data << " is absent (real data lives in ../shared/data)";
  if (!fs::exists(fs::path(EDGEROUTE_MODEL_DIR) / "model.safetensors")) {
    GTEST_SKIP() << EDGEROUTE_MODEL_DIR << " is absent (scripts/setup.sh lays it out)";
  }
  const fs::path dir = edgeroute::train::testing::test_dir("real_airline");
  subset((data / "train.csv").string(), dir / "train.jsonl", 2000);
  const double majority = subset((data / "test.csv").string(), dir / "test.jsonl", 600);
  const auto r = edgeroute::test::run_command(
      std::string(EDGEROUTE_TRAIN_BIN) + " train --model " + EDGEROUTE_MODEL_DIR + " --train " +
      (dir / "train.jsonl").string() + " --test " + (dir / "test.jsonl").string() + " --out " +
      (dir / "model").string() + " --head-epochs 2 --epochs 1 --lr 1e-4 --bf16 --no-progress");
  ASSERT_EQ(r.code, 0) << r.out;
  std::ifstream in(dir / "model" / "training_log.json");
  const auto log = nlohmann::json::parse(in);
  const double accuracy = log["test"]["accuracy"].get<double>();
  // Majority class is about 63% of the test tweets; a working fine-tune reaches ~80% here.
  EXPECT_GT(accuracy, majority + 0.08) << r.out;
}

}  // namespace
