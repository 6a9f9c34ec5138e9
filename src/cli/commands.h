// Subcommands of the `edgeroute` binary. Each register_* function adds one
// subcommand to the app and sets its callback; the callback throws
// edgeroute::Error on bad input, which main() turns into exit code 1.
#pragma once

#include <CLI/CLI.hpp>

namespace edgeroute::cli {

void register_tokenize(CLI::App& app);
void register_inspect(CLI::App& app);
void register_classify(CLI::App& app);
void register_bench(CLI::App& app);
void register_compress(CLI::App& app);

}  // namespace edgeroute::cli
