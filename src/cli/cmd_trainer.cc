// `edgeroute dapt` and `edgeroute train`: they run in edgeroute-train, the
// libtorch half of edgeroute, a separate binary so that this one never links
// libtorch (DESIGN.md decision 4). This binary replaces itself with it.
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "commands.h"

namespace edgeroute::cli {

namespace {

constexpr const char* kTrainerBinary = "edgeroute-train";

constexpr std::array<std::pair<std::string_view, std::string_view>, 2> kTrainerCommands = {{
    {"dapt", "Domain adaptation: continued masked-LM pretraining on unlabeled text (runs edgeroute-train)"},
    {"train", "Fine-tune and calibrate a classifier on labeled data (runs edgeroute-train)"},
}};

// `problem` completes "edgeroute-train, ..., which ...".
int not_runnable(const std::string& command, const std::string& problem) {
  std::cerr << "edgeroute: error: edgeroute " << command
            << " needs edgeroute-train, the libtorch half of edgeroute, which " << problem
            << "; build with EDGEROUTE_WITH_TORCH=ON\n";
  return 1;
}

}  // namespace

void register_trainer(CLI::App& app) {
  for (const auto& [name, description] : kTrainerCommands) {
    app.add_subcommand(std::string(name), std::string(description));
  }
}

bool is_trainer_command(std::string_view name) {
  return std::any_of(kTrainerCommands.begin(), kTrainerCommands.end(),
                     [&](const auto& command) { return command.first == name; });
}

int exec_trainer(int argc, char** argv) {
  const std::string command = argv[1];
  std::vector<char*> args(argv, argv + argc);
  args.push_back(nullptr);

  if (const char* env = std::getenv("EDGEROUTE_TRAIN_BIN"); env != nullptr && *env != '\0') {
    std::string bin = env;
    args[0] = bin.data();
    ::execv(bin.c_str(), args.data());
    const int err = errno;
    return not_runnable(command, "could not be run from EDGEROUTE_TRAIN_BIN=" + bin + " (" + std::strerror(err) + ")");
  }

  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  std::string beside = ec ? std::string() : (self.parent_path() / kTrainerBinary).string();
  if (!beside.empty() && ::access(beside.c_str(), X_OK) == 0) {
    args[0] = beside.data();
    ::execv(beside.c_str(), args.data());
    const int err = errno;
    return not_runnable(command, "could not be run from " + beside + " (" + std::strerror(err) + ")");
  }

  std::string name = kTrainerBinary;
  args[0] = name.data();
  ::execvp(name.c_str(), args.data());
  return not_runnable(command, "was not found next to " +
                                   (beside.empty() ? std::string("this binary") : self.string()) +
                                   " or on PATH (or set EDGEROUTE_TRAIN_BIN)");
}

}  // namespace edgeroute::cli
