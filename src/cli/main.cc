// edgeroute: one binary, one subcommand per pipeline stage.
//
// Exit codes: 0 success; 1 an error in the input or environment (the message
// names the file, field or value); 2 a usage error (unknown option, missing
// argument).
#include <CLI/CLI.hpp>

#include "commands.h"
#include "run_app.h"

int main(int argc, char** argv) {
  // dapt and train belong to edgeroute-train, with every argument unparsed.
  if (argc >= 2 && edgeroute::cli::is_trainer_command(argv[1])) return edgeroute::cli::exec_trainer(argc, argv);
  CLI::App app{"edgeroute: edge-first support-message classification and routing"};
  app.set_version_flag("--version", "edgeroute " EDGEROUTE_VERSION);
  app.require_subcommand(1);
  app.fallthrough(false);
  edgeroute::cli::register_tokenize(app);
  edgeroute::cli::register_inspect(app);
  edgeroute::cli::register_classify(app);
  edgeroute::cli::register_compress(app);
  edgeroute::cli::register_bench(app);
  edgeroute::cli::register_eval(app);
  edgeroute::cli::register_audit(app);
  edgeroute::cli::register_corpus(app);
  edgeroute::cli::register_load(app);
  edgeroute::cli::register_calibrate(app);
  edgeroute::cli::register_route(app);
  edgeroute::cli::register_serve(app);
  edgeroute::cli::register_report(app);
  edgeroute::cli::register_trainer(app);
  return edgeroute::cli::run_app(app, argc, argv, "edgeroute");
}
