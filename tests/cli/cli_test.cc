#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "../common/run_command.h"

namespace fs = std::filesystem;

namespace {

using Result = edgeroute::test::CommandResult;

Result run(const std::string& args) { return edgeroute::test::run_command(std::string(EDGEROUTE_BIN) + " " + args); }

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    // One directory per test: ctest runs the tests of this file in parallel.
    dir_ = fs::path(EDGEROUTE_TEST_BINARY_DIR) / "cli_test" /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "model");
    std::ofstream(dir_ / "model" / "vocab.txt") << "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n!\n";
    std::ofstream(dir_ / "model" / "tokenizer_config.json") << R"({"do_lower_case": true})";
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

TEST_F(Cli, HelpListsSubcommands) {
  const Result r = run("--help");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("tokenize"), std::string::npos);
  EXPECT_NE(r.out.find("inspect"), std::string::npos);
  EXPECT_NE(r.out.find("eval"), std::string::npos);
  EXPECT_NE(r.out.find("dapt"), std::string::npos);
  EXPECT_NE(r.out.find("train "), std::string::npos);
  EXPECT_EQ(run("tokenize --help").code, 0);
  EXPECT_EQ(run("eval --help").code, 0);
  EXPECT_EQ(run("inspect --help").code, 0);
}

TEST_F(Cli, VersionAndUsageErrors) {
  EXPECT_EQ(run("--version").code, 0);
  EXPECT_EQ(run("").code, 2);
  EXPECT_EQ(run("no-such-command").code, 2);
  EXPECT_EQ(run("tokenize --input x.csv").code, 2);  // --model missing
}

TEST_F(Cli, TokenizeCsvPrintsOneJsonLinePerRowInOrder) {
  std::ofstream(path("in.csv")) << "id,text\n1,Hello world!\n2,\"WORLD, hello\"\n3,\n";
  const Result r = run("tokenize --model " + path("model") + " --input " + path("in.csv"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out, "{\"ids\":[2,5,6,7,3]}\n{\"ids\":[2,6,1,5,3]}\n{\"ids\":[2,3]}\n");
}

TEST_F(Cli, TokenizePlainLinesAndTokens) {
  std::ofstream(path("in.txt")) << "hello\n\nworld\n";
  const Result r = run("tokenize --with-tokens --model " + path("model") + " --input " + path("in.txt"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out,
            "{\"ids\":[2,5,3],\"tokens\":[\"[CLS]\",\"hello\",\"[SEP]\"]}\n"
            "{\"ids\":[2,3],\"tokens\":[\"[CLS]\",\"[SEP]\"]}\n"
            "{\"ids\":[2,6,3],\"tokens\":[\"[CLS]\",\"world\",\"[SEP]\"]}\n");
}

TEST_F(Cli, TokenizeTruncationIsReported) {
  std::ofstream(path("long.txt")) << "hello world hello world\n";
  const Result r = run("tokenize --max-len 3 --model " + path("model") + " --input " + path("long.txt"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("{\"ids\":[2,5,3]}"), std::string::npos);
  EXPECT_NE(r.out.find("1 of 1 texts were truncated to 3 tokens"), std::string::npos);
}

TEST_F(Cli, InvalidUtf8NamesLineOrIsReplaced) {
  std::ofstream(path("bad.txt"), std::ios::binary) << "hello\nwor\xFFld\n";
  Result r = run("tokenize --model " + path("model") + " --input " + path("bad.txt"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("bad.txt:2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("invalid UTF-8"), std::string::npos) << r.out;
  r = run("tokenize --invalid-utf8 replace --model " + path("model") + " --input " + path("bad.txt"));
  EXPECT_EQ(r.code, 0) << r.out;
  // U+FFFD is deleted by the clean step, so "wor\uFFFDld" reads as "world".
  EXPECT_NE(r.out.find("{\"ids\":[2,6,3]}"), std::string::npos) << r.out;
}

TEST_F(Cli, MissingColumnListsColumns) {
  std::ofstream(path("cols.csv")) << "id,body\n1,hello\n";
  const Result r = run("tokenize --model " + path("model") + " --input " + path("cols.csv"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("body"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--column"), std::string::npos) << r.out;
  EXPECT_EQ(run("tokenize --column body --model " + path("model") + " --input " + path("cols.csv")).code, 0);
}

TEST_F(Cli, MissingInputFileIsAClearError) {
  const Result r = run("tokenize --model " + path("model") + " --input " + path("absent.csv"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("absent.csv"), std::string::npos) << r.out;
}

TEST_F(Cli, InspectRejectsCorruptFile) {
  std::ofstream(path("bad.safetensors"), std::ios::binary) << "not a safetensors file at all";
  const Result r = run("inspect " + path("bad.safetensors"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("bad.safetensors"), std::string::npos) << r.out;
}

// `edgeroute dapt|train ...` becomes `edgeroute-train dapt|train ...`; a
// script standing in for it prints the arguments it receives, one per line.
class TrainerForwarding : public Cli {
 protected:
  std::string fake_trainer(const fs::path& where) const {
    std::ofstream(where) << "#!/bin/sh\nprintf '<%s>\\n' \"$@\"\nexit 3\n";
    fs::permissions(where, fs::perms::owner_all);
    return where.string();
  }
};

TEST_F(TrainerForwarding, ArgumentsArriveUnchanged) {
  const std::string trainer = fake_trainer(dir_ / "fake-train");
  for (const std::string sub : {"dapt", "train"}) {
    const Result r = edgeroute::test::run_command("EDGEROUTE_TRAIN_BIN=" + trainer + " " + EDGEROUTE_BIN + " " + sub +
                                                  " --data 'a b.csv' --help '' --epochs=3");
    EXPECT_EQ(r.code, 3) << r.out;  // the trainer's own exit code
    EXPECT_EQ(r.out, "<" + sub + ">\n<--data>\n<a b.csv>\n<--help>\n<>\n<--epochs=3>\n");
  }
}

TEST_F(TrainerForwarding, MissingTrainerIsAClearError) {
  const Result r = edgeroute::test::run_command("EDGEROUTE_TRAIN_BIN=" + path("absent/edgeroute-train") + " " +
                                                EDGEROUTE_BIN + " train --help");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("edgeroute train needs edgeroute-train, the libtorch half of edgeroute"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(path("absent/edgeroute-train")), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("EDGEROUTE_WITH_TORCH=ON"), std::string::npos) << r.out;
}

// Without EDGEROUTE_TRAIN_BIN: next to the running binary, then PATH.
TEST_F(TrainerForwarding, LooksNextToTheBinaryThenOnPath) {
  fs::create_directories(dir_ / "bin");
  const fs::path edgeroute = dir_ / "bin" / "edgeroute";
  std::error_code ec;
  fs::create_hard_link(EDGEROUTE_BIN, edgeroute, ec);
  if (ec) fs::copy_file(EDGEROUTE_BIN, edgeroute);
  const std::string run_alone = "env -u EDGEROUTE_TRAIN_BIN PATH=" + path("path") + " " + edgeroute.string() + " ";

  Result r = edgeroute::test::run_command(run_alone + "dapt --x");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("edgeroute dapt needs edgeroute-train"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("not found next to " + edgeroute.string() + " or on PATH"), std::string::npos) << r.out;

  fs::create_directories(dir_ / "path");
  fake_trainer(dir_ / "path" / "edgeroute-train");
  r = edgeroute::test::run_command(run_alone + "dapt --x");
  EXPECT_EQ(r.code, 3) << r.out;
  EXPECT_EQ(r.out, "<dapt>\n<--x>\n");

  std::ofstream(dir_ / "bin" / "edgeroute-train") << "#!/bin/sh\necho beside \"$@\"\n";
  fs::permissions(dir_ / "bin" / "edgeroute-train", fs::perms::owner_all);
  r = edgeroute::test::run_command(run_alone + "train --y");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out, "beside train --y\n");
}

}  // namespace
