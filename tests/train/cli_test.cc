// The edgeroute-train binary, run as a user runs it, on a tiny BERT the test
// builds itself and synthetic support texts: dapt and train end to end,
// determinism, Ctrl-C and --resume, and every bad input the issue names.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../common/run_command.h"
#include "edgeroute/train/checkpoint.h"
#include "test_models.h"

namespace {

namespace fs = std::filesystem;
using Result = edgeroute::test::CommandResult;
using namespace edgeroute::train;
namespace tm = edgeroute::train::testing;

Result run(const std::string& args) {
  return edgeroute::test::run_command(std::string(EDGEROUTE_TRAIN_BIN) + " " + args);
}

// The same with environment assignments in front, e.g. "VAR=1".
Result run_env(const std::string& env, const std::string& args) {
  return edgeroute::test::run_command(env + " " + std::string(EDGEROUTE_TRAIN_BIN) + " " + args);
}

bool has(const Result& r, const std::string& text) { return r.out.find(text) != std::string::npos; }

void write(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

// Words of the tiny vocabulary; ids follow this order after the specials.
const std::vector<std::string> kSpecials = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
const std::vector<std::vector<std::string>> kClassWords = {{"charge", "fee", "bill", "refund", "paid"},
                                                           {"card", "pin", "atm", "lost", "stolen"},
                                                           {"flight", "hotel", "trip", "bag", "seat"}};
const std::vector<std::string> kClassNames = {"billing", "cards", "travel"};
const std::vector<std::string> kFiller = {"my", "the", "please", "help", "is", "a", "why", "i"};

// A tiny BERT classifier directory (vocab.txt with the words above, 12 positions).
std::string make_model(const std::string& dir) {
  auto config = tm::tiny_config(edgeroute::modelio::Architecture::kBert);
  auto model = tm::tiny_model(config, Task::kEncoder, true, 7);
  const fs::path tok = fs::path(dir) / "tokenizer";
  fs::create_directories(tok);
  std::string vocab;
  std::vector<std::string> words = kSpecials;
  for (const auto& c : kClassWords) words.insert(words.end(), c.begin(), c.end());
  words.insert(words.end(), kFiller.begin(), kFiller.end());
  while (words.size() < 40) words.push_back("w" + std::to_string(words.size()));
  for (const auto& w : words) vocab += w + "\n";
  write(tok / "vocab.txt", vocab);
  write(tok / "tokenizer_config.json", R"({"do_lower_case": true, "tokenizer_class": "BertTokenizer"})");
  const std::string out = (fs::path(dir) / "base").string();
  save_model(*model, out, {tok.string(), false});
  return out;
}

// `rows` labeled texts (CSV text,label): two class words and two fillers.
std::string labeled_csv(int rows, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string csv = "text,label\n";
  for (int r = 0; r < rows; ++r) {
    const std::size_t c = static_cast<std::size_t>(r) % kClassWords.size();
    std::vector<std::string> words = {kClassWords[c][rng() % 5], kClassWords[c][rng() % 5], kFiller[rng() % 8],
                                      kFiller[rng() % 8]};
    std::shuffle(words.begin(), words.end(), rng);
    std::string text;
    for (const auto& w : words) text += (text.empty() ? "" : " ") + w;
    csv += text + "," + kClassNames[c] + "\n";
  }
  return csv;
}

class TrainCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = tm::test_dir(std::string("cli_") + info->name());
    model_ = make_model(dir_);
    train_ = (fs::path(dir_) / "train.csv").string();
    write(train_, labeled_csv(240, 1));
    val_ = (fs::path(dir_) / "val.csv").string();
    write(val_, labeled_csv(60, 2));
  }
  std::string path(const std::string& name) const { return (fs::path(dir_) / name).string(); }
  std::string train_args(const std::string& out) const {
    return "train --model " + model_ + " --train " + train_ + " --val " + val_ + " --out " + out +
           " --batch 16 --head-epochs 1 --head-lr 1e-2 --epochs 3 --lr 3e-3 --threads 1 --no-progress";
  }
  // Nothing of OUT is left: no directory, no staging directory.
  void expect_no_output(const std::string& out) const {
    EXPECT_FALSE(fs::exists(out)) << out;
    for (const auto& entry : fs::directory_iterator(dir_)) {
      EXPECT_EQ(entry.path().filename().string().find(fs::path(out).filename().string() + ".tmp-"), std::string::npos)
          << entry.path();
    }
  }

  std::string dir_, model_, train_, val_;
};

// The per-epoch figures that must repeat exactly (not the timings).
nlohmann::json metrics_of(const nlohmann::json& log) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& e : log["epochs"]) {
    out.push_back({e["stage"], e["epoch"], e["train_loss"], e["val_loss"], e["val_accuracy"]});
  }
  return out;
}

TEST(TrainCli, HelpListsSubcommands) {
  const Result r = run("--help");
  EXPECT_EQ(r.code, 0) << r.out;
  for (const char* sub : {"dapt", "train"}) {
    EXPECT_TRUE(has(r, sub)) << r.out;
    const Result s = run(std::string(sub) + " --help");
    EXPECT_EQ(s.code, 0) << s.out;
    for (const char* option : {"--threads", "--device", "--resume", "--seed", "--model", "--out"}) {
      EXPECT_TRUE(has(s, option)) << sub << " lacks " << option << "\n" << s.out;
    }
    EXPECT_TRUE(has(s, "all-MiniLM-L6-v2")) << "the default --model is missing\n" << s.out;
  }
  EXPECT_EQ(run("--version").code, 0);
}

TEST(TrainCli, UsageErrorsExitWithTwo) {
  EXPECT_EQ(run("").code, 2);
  EXPECT_EQ(run("no-such-command").code, 2);
  EXPECT_EQ(run("train --model m --train t").code, 2);  // no --out
  EXPECT_EQ(run("dapt --model m --text t --out o --device tpu").code, 2);
  EXPECT_EQ(run("dapt --model m --text t --out o --threads -1").code, 2);
  EXPECT_EQ(run("train --model m --train t --out o --lr -1").code, 2);
}

TEST(TrainCli, CudaIsCheckedBeforeAnythingElse) {
  const Result r = run("train --model m --train t --out o --device cuda");
  EXPECT_EQ(r.code, 1) << r.out;
  // With a CUDA libtorch and a GPU the check passes and the missing model is reported.
  EXPECT_TRUE(has(r, "--device cuda") || has(r, "config.json")) << r.out;
}

TEST_F(TrainCliTest, DaptThenTrainLearnsAndWritesAHuggingFaceClassifier) {
  const std::string texts = path("texts.txt");
  {
    std::string lines;
    std::istringstream csv(labeled_csv(300, 3));
    std::string line;
    std::getline(csv, line);
    while (std::getline(csv, line)) lines += line.substr(0, line.find(',')) + "\n";
    write(texts, lines);
  }
  const std::string adapted = path("adapted");
  const Result d = run("dapt --model " + model_ + " --text " + texts + " --out " + adapted +
                       " --epochs 3 --batch 16 --lr 5e-3 --threads 1 --no-progress");
  ASSERT_EQ(d.code, 0) << d.out;
  const nlohmann::json dlog = read_json(fs::path(adapted) / "dapt_log.json");
  EXPECT_LT(dlog["held_out_loss_after"].get<double>(), dlog["held_out_loss_before"].get<double>()) << dlog.dump(2);
  EXPECT_EQ(read_json(fs::path(adapted) / "config.json")["architectures"][0], "BertForMaskedLM");
  EXPECT_TRUE(fs::exists(fs::path(adapted) / "vocab.txt"));

  const std::string out = path("classifier");
  const Result t = run("train --model " + adapted + " --train " + train_ + " --val " + val_ + " --test " + val_ +
                       " --out " + out + " --batch 16 --head-epochs 1 --head-lr 1e-2 --epochs 4 --lr 3e-3 --threads 1");
  ASSERT_EQ(t.code, 0) << t.out;
  EXPECT_TRUE(has(t, "stage 2 epoch")) << "no progress bar:\n" << t.out;
  const nlohmann::json log = read_json(fs::path(out) / "training_log.json");
  const auto& epochs = log["epochs"];
  ASSERT_GE(epochs.size(), 2u);
  EXPECT_LT(epochs.back()["train_loss"].get<double>(), epochs.front()["train_loss"].get<double>()) << log.dump(2);
  // Three keyword classes, chance is 1/3. A 2-layer, 16-wide random BERT
  // separates two of them within these few steps (deterministic: seed 42).
  EXPECT_GT(log["validation"]["accuracy"].get<double>(), 0.6) << log.dump(2);
  EXPECT_TRUE(log.contains("test"));
  const nlohmann::json config = read_json(fs::path(out) / "config.json");
  EXPECT_EQ(config["architectures"][0], "BertForSequenceClassification");
  EXPECT_EQ(config["id2label"], (nlohmann::json{{"0", "billing"}, {"1", "cards"}, {"2", "travel"}}));
  EXPECT_GT(config["edgeroute_temperature"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(config["edgeroute_temperature"].get<double>(), log["temperature"].get<double>());
  // The checkpoint loads back with the trained classifier (no re-initialised head).
  const LoadedModel back = load_model(out);
  EXPECT_TRUE(back.report.initialized.empty());
}

TEST_F(TrainCliTest, SameSeedSameMetricsOtherSeedOtherMetrics) {
  ASSERT_EQ(run(train_args(path("a"))).code, 0);
  ASSERT_EQ(run(train_args(path("b"))).code, 0);
  ASSERT_EQ(run(train_args(path("c")) + " --seed 9").code, 0);
  const auto a = metrics_of(read_json(fs::path(path("a")) / "training_log.json"));
  EXPECT_EQ(a, metrics_of(read_json(fs::path(path("b")) / "training_log.json")));
  EXPECT_NE(a, metrics_of(read_json(fs::path(path("c")) / "training_log.json")));
}

TEST_F(TrainCliTest, CarvesAStratifiedValidationSplitWhenValIsAbsent) {
  const std::string out = path("split");
  const Result r = run("train --model " + model_ + " --train " + train_ + " --out " + out +
                       " --val-fraction 0.25 --epochs 1 --threads 1 --no-progress");
  ASSERT_EQ(r.code, 0) << r.out;
  const nlohmann::json log = read_json(fs::path(out) / "training_log.json");
  EXPECT_EQ(log["rows"]["val"], 60);  // 80 rows per class, 20 of each held out
  EXPECT_EQ(log["rows"]["train"], 180);
}

// Ctrl-C (a real SIGINT, raised by the binary itself after N steps through
// EDGEROUTE_TEST_INTERRUPT_AFTER) saves OUT.resume and no OUT; --resume then
// finishes with exactly the figures of an uninterrupted run.
TEST_F(TrainCliTest, InterruptedTrainingResumesToTheSameResult) {
  ASSERT_EQ(run(train_args(path("whole"))).code, 0);
  for (const int after : {5, 30}) {  // in stage 1, in stage 2
    const std::string out = path("cut" + std::to_string(after));
    const Result cut = run_env("EDGEROUTE_TEST_INTERRUPT_AFTER=" + std::to_string(after), train_args(out));
    EXPECT_EQ(cut.code, 130) << cut.out;
    EXPECT_TRUE(has(cut, "--resume")) << cut.out;
    expect_no_output(out);
    ASSERT_TRUE(fs::exists(out + ".resume/resume.json"));
    const Result resumed = run(train_args(out) + " --resume");
    ASSERT_EQ(resumed.code, 0) << resumed.out;
    EXPECT_FALSE(fs::exists(out + ".resume"));
    EXPECT_EQ(metrics_of(read_json(fs::path(path("whole")) / "training_log.json")),
              metrics_of(read_json(fs::path(out) / "training_log.json")))
        << "interrupted after " << after;
  }
  // Resuming with other options is refused.
  const std::string out = path("other");
  ASSERT_EQ(run_env("EDGEROUTE_TEST_INTERRUPT_AFTER=30", train_args(out)).code, 130);
  const Result r = run(train_args(out) + " --resume --seed 5");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(has(r, "seed")) << r.out;
  EXPECT_EQ(run(train_args(path("none")) + " --resume").code, 1);
}

TEST_F(TrainCliTest, InterruptedDaptResumesToTheSameResult) {
  const std::string args =
      "dapt --model " + model_ + " --text " + train_ + " --epochs 2 --batch 16 --threads 1 --no-progress --out ";
  ASSERT_EQ(run(args + path("whole")).code, 0);
  const std::string out = path("cut");
  EXPECT_EQ(run_env("EDGEROUTE_TEST_INTERRUPT_AFTER=20", args + out).code, 130);
  expect_no_output(out);
  const Result r = run(args + out + " --resume");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto a = read_json(fs::path(path("whole")) / "dapt_log.json");
  const auto b = read_json(fs::path(out) / "dapt_log.json");
  EXPECT_EQ(a["held_out_loss_after"], b["held_out_loss_after"]);
  EXPECT_EQ(a["epochs"][1]["train_loss"], b["epochs"][1]["train_loss"]);
}

TEST_F(TrainCliTest, DivergingLossStopsWithAMessage) {
  const std::string out = path("nan");
  const Result r = run("train --model " + model_ + " --train " + train_ + " --val " + val_ + " --out " + out +
                       " --head-epochs 0 --epochs 3 --lr 1e30 --warmup 0 --threads 1 --no-progress");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(has(r, "the loss became")) << r.out;
  expect_no_output(out);
}

TEST_F(TrainCliTest, BadInputIsAClearErrorAndLeavesNoOutput) {
  const std::string out = path("out");
  const auto expect_error = [&](const std::string& args, const std::string& message) {
    const Result r = run(args + " --out " + out + " --threads 1 --no-progress");
    EXPECT_EQ(r.code, 1) << args << "\n" << r.out;
    EXPECT_TRUE(has(r, message)) << args << "\nwanted: " << message << "\n" << r.out;
    expect_no_output(out);
  };
  const std::string base = "train --model " + model_ + " --train ";
  expect_error(base + path("missing.csv"), "missing.csv");
  expect_error("train --model " + path("no-model") + " --train " + train_, "no-model");
  expect_error(base + train_ + " --label-col intent", "intent");
  write(path("header.csv"), "text,label\n");
  expect_error(base + path("header.csv"), "no rows");
  write(path("nolabel.csv"), "body,label\nhello,a\n");
  expect_error(base + path("nolabel.csv"), "text");
  write(path("one.csv"), "text,label\nmy card,cards\nmy pin,cards\n");
  expect_error(base + path("one.csv"), "at least two classes");
  write(path("unseen.csv"), "text,label\nmy card,cards\nmy flight,weather\n");
  expect_error(base + train_ + " --val " + path("unseen.csv"), "'weather' does not occur in the training data");
  write(path("bytes.csv"), "text,label\nmy card,cards\nmy \xff\xfe flight,travel\n");
  expect_error(base + path("bytes.csv"), "bytes.csv:3");
  write(path("jsonl-missing.jsonl"), "{\"text\": \"my card\", \"intent\": \"cards\"}\n{\"text\": \"my bill\"}\n");
  expect_error(base + path("jsonl-missing.jsonl"), "jsonl-missing.jsonl");
  expect_error("dapt --model " + model_ + " --text " + path("header.csv"), "no text");
  // An existing OUT is kept unless --force.
  fs::create_directories(out);
  const Result r = run(base + train_ + " --out " + out + " --threads 1 --epochs 1");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(has(r, "--force")) << r.out;
  EXPECT_TRUE(fs::is_empty(out));
}

TEST_F(TrainCliTest, JsonLinesAndLongTextsAreAccepted) {
  std::string jsonl;
  std::istringstream csv(labeled_csv(60, 5));
  std::string line;
  std::getline(csv, line);
  while (std::getline(csv, line)) {
    const auto comma = line.find(',');
    jsonl += nlohmann::json{{"utterance", line.substr(0, comma)}, {"intent", line.substr(comma + 1)}}.dump() + "\n";
  }
  jsonl += nlohmann::json{{"utterance", "my card is lost please help my card is lost please help my card"},
                          {"intent", "cards"}}
               .dump() +
           "\n";
  write(path("data.jsonl"), jsonl);
  const std::string out = path("jsonl");
  const Result r = run("train --model " + model_ + " --train " + path("data.jsonl") + " --out " + out +
                       " --epochs 1 --threads 1 --no-progress");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(has(r, "1 of the texts were longer than 12 ids and were truncated")) << r.out;
}

}  // namespace
