// edgeroute: one binary, one subcommand per pipeline stage.
//
// Exit codes: 0 success; 1 an error in the input or environment (the message
// names the file, field or value); 2 a usage error (unknown option, missing
// argument).
#include <iostream>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "edgeroute/common/error.h"

int main(int argc, char** argv) {
  CLI::App app{"edgeroute: edge-first support-message classification and routing"};
  app.set_version_flag("--version", "edgeroute " EDGEROUTE_VERSION);
  app.require_subcommand(1);
  app.fallthrough(false);
  edgeroute::cli::register_tokenize(app);
  edgeroute::cli::register_inspect(app);
  edgeroute::cli::register_classify(app);
  edgeroute::cli::register_compress(app);
  edgeroute::cli::register_bench(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" with exit code 0 in CLI11.
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const edgeroute::Error& e) {
    std::cout.flush();
    std::cerr << "edgeroute: error: " << e.what() << '\n';
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "edgeroute: error: out of memory\n";
    return 1;
  }
  return 0;
}
