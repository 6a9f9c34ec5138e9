// The edgeroute-train binary, run as a user runs it.
#include <gtest/gtest.h>

#include <string>

#include "../common/run_command.h"

namespace {

using Result = edgeroute::test::CommandResult;

Result run(const std::string& args) {
  return edgeroute::test::run_command(std::string(EDGEROUTE_TRAIN_BIN) + " " + args);
}

bool has(const Result& r, const std::string& text) { return r.out.find(text) != std::string::npos; }

TEST(TrainCli, HelpListsSubcommands) {
  const Result r = run("--help");
  EXPECT_EQ(r.code, 0) << r.out;
  for (const char* sub : {"dapt", "train", "eval"}) {
    EXPECT_TRUE(has(r, sub)) << r.out;
    const Result s = run(std::string(sub) + " --help");
    EXPECT_EQ(s.code, 0) << s.out;
    EXPECT_TRUE(has(s, "--threads")) << s.out;
    EXPECT_TRUE(has(s, "--device")) << s.out;
  }
  EXPECT_EQ(run("--version").code, 0);
}

TEST(TrainCli, UsageErrorsExitWithTwo) {
  EXPECT_EQ(run("").code, 2);
  EXPECT_EQ(run("no-such-command").code, 2);
  EXPECT_EQ(run("dapt --device tpu").code, 2);
  EXPECT_EQ(run("dapt --threads -1").code, 2);
  EXPECT_EQ(run("dapt --threads many").code, 2);
}

// Later milestones' subcommands say so plainly and fail; they never pretend.
TEST(TrainCli, PlannedSubcommandsFailWithAClearMessage) {
  for (const char* sub : {"dapt", "train", "eval"}) {
    const Result r = run(std::string(sub) + " --threads 1 --model some/dir");
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_TRUE(has(r, "not implemented yet")) << r.out;
  }
}

TEST(TrainCli, CudaIsCheckedBeforeAnythingElse) {
  const Result r = run("dapt --device cuda");
  EXPECT_EQ(r.code, 1) << r.out;
  // On a machine with a CUDA libtorch and a GPU the check passes and the
  // subcommand's own message follows.
  EXPECT_TRUE(has(r, "--device cuda") || has(r, "not implemented yet")) << r.out;
}

}  // namespace
