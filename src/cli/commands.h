// Subcommands of the `edgeroute` binary. Each register_* function adds one
// subcommand to the app and sets its callback; the callback throws
// edgeroute::Error on bad input, which main() turns into exit code 1.
#pragma once

#include <string_view>

#include <CLI/CLI.hpp>

namespace edgeroute::cli {

void register_tokenize(CLI::App& app);
void register_inspect(CLI::App& app);
void register_classify(CLI::App& app);
void register_bench(CLI::App& app);
void register_compress(CLI::App& app);
void register_eval(CLI::App& app);
void register_audit(CLI::App& app);
void register_corpus(CLI::App& app);
void register_load(CLI::App& app);
void register_serve(CLI::App& app);
void register_route(CLI::App& app);
void register_calibrate(CLI::App& app);
void register_report(CLI::App& app);

// `dapt` and `train` run in edgeroute-train, the separate binary that links
// libtorch. register_trainer lists them in --help; main() hands the command
// line to exec_trainer before CLI11 parses it when is_trainer_command(argv[1]).
void register_trainer(CLI::App& app);
bool is_trainer_command(std::string_view name);
// Replaces this process with `edgeroute-train argv[1] ... argv[argc-1]`, found
// through $EDGEROUTE_TRAIN_BIN, else next to this binary (/proc/self/exe),
// else on PATH. Returns only when that fails, with exit code 1 after printing
// why.
int exec_trainer(int argc, char** argv);

}  // namespace edgeroute::cli
