// `edgeroute eval`, run as a user runs it, on the tiny BERT classifier
// (labels billing, complaint, other) that the ctest fixture engine_models
// generates with python/make_tiny_models.py; the tests skip when it is absent.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../common/run_command.h"

namespace fs = std::filesystem;

namespace {

using Result = edgeroute::test::CommandResult;

const fs::path kModel = fs::path(EDGEROUTE_ENGINE_MODELS) / "tiny-bert";

Result run(const std::string& args) { return edgeroute::test::run_command(std::string(EDGEROUTE_BIN) + " " + args); }

bool has(const Result& r, const std::string& text) { return r.out.find(text) != std::string::npos; }

std::vector<nlohmann::json> read_jsonl(const fs::path& p) {
  std::vector<nlohmann::json> rows;
  std::ifstream in(p);
  for (std::string line; std::getline(in, line);) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

class EvalCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kModel / "model.safetensors")) {
      GTEST_SKIP() << kModel << " is absent: run the ctest fixture engine_models";
    }
    dir_ = fs::path(EDGEROUTE_TEST_BINARY_DIR) / "eval_test" /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(path("data.csv")) << "text,label\n"
                                       "my card was charged twice,billing\n"
                                       "I want to complain about the service,complaint\n"
                                       "hello there,other\n"
                                       "please refund the payment I did not make last Tuesday,billing\n"
                                       "why is this so slow,complaint\n"
                                       "ok,other\n";
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string eval(const std::string& args) const { return "eval --model " + kModel.string() + " " + args; }
  fs::path dir_;
};

TEST_F(EvalCli, JsonReportAndLogitsInInputOrder) {
  const Result r = run(eval("--json --data " + path("data.csv") + " --batch 4 --logits " + path("logits.jsonl")));
  ASSERT_EQ(r.code, 0) << r.out;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["examples"], 6);
  EXPECT_EQ(j["classes"], 3);
  EXPECT_EQ(j["precision"], "fp32");  // a directory runs FP32 unless --precision int8
  EXPECT_EQ(j["threads"], 1);
  EXPECT_EQ(j["model"], kModel.string());
  EXPECT_EQ(j["data"], path("data.csv"));
  EXPECT_EQ(j["truncated"], 0);
  EXPECT_FALSE(j["commit"].get<std::string>().empty());
  EXPECT_GT(j["examples_per_second"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(j["temperature"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(j["nll"].get<double>(), j["nll_calibrated"].get<double>());
  ASSERT_EQ(j["per_class"].size(), 3u);
  EXPECT_EQ(j["per_class"][0]["label"], "billing");
  EXPECT_EQ(j["per_class"][0]["support"], 2);
  for (const char* key : {"macro_f1", "ece", "ece_calibrated", "top_confusions"}) EXPECT_TRUE(j.contains(key)) << key;

  const std::vector<nlohmann::json> rows = read_jsonl(dir_ / "logits.jsonl");
  ASSERT_EQ(rows.size(), 6u);
  const std::vector<std::string> labels = {"billing", "complaint", "other", "billing", "complaint", "other"};
  int correct = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i]["row"], i);
    EXPECT_EQ(rows[i]["label"], labels[i]);
    EXPECT_EQ(rows[i]["logits"].size(), 3u);
    correct += rows[i]["label"] == rows[i]["predicted"] ? 1 : 0;
  }
  EXPECT_DOUBLE_EQ(j["accuracy"].get<double>(), correct / 6.0);
}

TEST_F(EvalCli, BatchSizeDoesNotChangeResults) {
  ASSERT_EQ(run(eval("--data " + path("data.csv") + " --batch 1 --logits " + path("b1.jsonl"))).code, 0);
  ASSERT_EQ(run(eval("--data " + path("data.csv") + " --batch 5 --logits " + path("b5.jsonl"))).code, 0);
  const auto one = read_jsonl(dir_ / "b1.jsonl");
  const auto five = read_jsonl(dir_ / "b5.jsonl");
  ASSERT_EQ(one.size(), five.size());
  for (std::size_t i = 0; i < one.size(); ++i) {
    EXPECT_EQ(one[i]["label"], five[i]["label"]);
    for (std::size_t j = 0; j < 3; ++j) {
      EXPECT_NEAR(one[i]["logits"][j].get<double>(), five[i]["logits"][j].get<double>(), 1e-6) << i;
    }
  }
}

TEST_F(EvalCli, TextReport) {
  const Result r = run(eval("--data " + path("data.csv")));
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* line : {"examples     6 (3 classes)", "accuracy", "macro-F1", "calibration  temperature 1: NLL",
                           "precision   recall       F1  support", "complaint", "fp32, 1 thread"}) {
    EXPECT_TRUE(has(r, line)) << "'" << line << "' missing from:\n" << r.out;
  }
}

TEST_F(EvalCli, StoredTemperatureGivesTheCalibratedFigures) {
  fs::copy(kModel, dir_ / "model");
  std::ifstream in(dir_ / "model" / "config.json");
  nlohmann::json config = nlohmann::json::parse(in);
  config["edgeroute_temperature"] = 0.25;
  std::ofstream(dir_ / "model" / "config.json") << config.dump();
  const Result r = run("eval --json --model " + path("model") + " --data " + path("data.csv"));
  ASSERT_EQ(r.code, 0) << r.out;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_DOUBLE_EQ(j["temperature"].get<double>(), 0.25);
  EXPECT_NE(j["nll"].get<double>(), j["nll_calibrated"].get<double>());
}

TEST_F(EvalCli, EdgeFileRunsAsStored) {
  const Result c = run("compress --model " + kModel.string() + " --out " + path("m.edge"));
  ASSERT_EQ(c.code, 0) << c.out;
  const Result r = run("eval --json --model " + path("m.edge") + " --data " + path("data.csv"));
  ASSERT_EQ(r.code, 0) << r.out;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["precision"], "int8");
  EXPECT_EQ(j["examples"], 6);
  EXPECT_EQ(j["model"], path("m.edge"));
  // --precision does not requantize or dequantize an .edge file.
  const Result fp32 = run("eval --json --precision fp32 --model " + path("m.edge") + " --data " + path("data.csv"));
  ASSERT_EQ(fp32.code, 0) << fp32.out;
  EXPECT_EQ(nlohmann::json::parse(fp32.out)["precision"], "int8");
}

TEST_F(EvalCli, UnknownLabelNamesLabelLineAndModelLabels) {
  std::ofstream(path("bad.csv")) << "text,label\nhello,billing\nmy refund,refund\n";
  const Result r = run(eval("--data " + path("bad.csv")));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(has(r, path("bad.csv") + ":3: label 'refund'")) << r.out;
  EXPECT_TRUE(has(r, "billing, complaint, other")) << r.out;
}

TEST_F(EvalCli, MissingColumnsAreErrorsNamingTheOption) {
  std::ofstream(path("cols.csv")) << "body,tag\nhello,other\n";
  Result r = run(eval("--data " + path("cols.csv")));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(has(r, "--text-col")) << r.out;
  r = run(eval("--text-col body --data " + path("cols.csv")));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(has(r, "--label-col")) << r.out;
  EXPECT_TRUE(has(r, "tag")) << r.out;
  r = run(eval("--text-col body --label-col tag --data " + path("cols.csv")));
  EXPECT_EQ(r.code, 0) << r.out;
}

TEST_F(EvalCli, EmptyDataIsAnError) {
  std::ofstream(path("header.csv")) << "text,label\n";
  Result r = run(eval("--data " + path("header.csv")));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(has(r, path("header.csv") + ": no rows to evaluate")) << r.out;
  std::ofstream(path("empty.jsonl")).flush();
  r = run(eval("--data " + path("empty.jsonl")));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(has(r, "empty.jsonl")) << r.out;
}

TEST_F(EvalCli, TruncationIsReportedOnStderr) {
  std::string long_text;
  for (int i = 0; i < 100; ++i) long_text += "word ";
  std::ofstream(path("long.csv")) << "text,label\n" << long_text << ",other\nshort,billing\n";
  Result r = run(eval("--data " + path("long.csv")));
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(has(r, "edgeroute eval: 1 of 2 texts were truncated to 64 tokens\n")) << r.out;
  r = run(eval("--max-len 2 --data " + path("long.csv")));
  EXPECT_TRUE(has(r, "edgeroute eval: 2 of 2 texts were truncated to 2 tokens\n")) << r.out;
}

TEST_F(EvalCli, InvalidUtf8NamesTheLineOrIsReplaced) {
  std::ofstream(path("bad.csv"), std::ios::binary) << "text,label\nhello,other\nwor\xFFld,billing\nok,other\n";
  Result r = run(eval("--batch 8 --data " + path("bad.csv")));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(has(r, path("bad.csv") + ":3: ")) << r.out;
  EXPECT_TRUE(has(r, "invalid UTF-8")) << r.out;
  r = run(eval("--invalid-utf8 replace --data " + path("bad.csv")));
  EXPECT_EQ(r.code, 0) << r.out;
}

}  // namespace
