// edgeroute-train: the libtorch half of edgeroute (masked-LM domain
// adaptation, classifier fine-tuning, evaluation). A separate binary so that
// the edge runtime `edgeroute` never links libtorch.
//
// Exit codes: 0 success; 1 an error in the input or environment (the message
// names the file, field or value), or a subcommand that is not implemented
// yet; 2 a usage error (unknown option, bad value).
#include <torch/cuda.h>
#include <torch/utils.h>

#include <ATen/Context.h>

#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "edgeroute/common/error.h"

namespace {

// Options every subcommand takes (they come after the subcommand name).
struct RuntimeOptions {
  int threads = 0;  // 0: libtorch's default (one per core)
  std::string device = "cpu";
};

void add_runtime_options(CLI::App& sub, RuntimeOptions& options) {
  sub.add_option("--threads", options.threads, "CPU threads for libtorch (0: one per core)")
      ->check(CLI::Range(0, 4096))
      ->envname("EDGEROUTE_THREADS");
  sub.add_option("--device", options.device, "where to run: cpu or cuda")
      ->check(CLI::IsMember({"cpu", "cuda"}));
}

// Applies --threads and checks that --device exists on this machine.
void apply_runtime_options(const RuntimeOptions& options) {
  if (options.threads > 0) torch::set_num_threads(options.threads);
  if (options.device == "cuda" && !torch::cuda::is_available()) {
    throw edgeroute::Error(at::hasCUDA()
                               ? "--device cuda: this libtorch supports CUDA but no CUDA device is visible"
                               : "--device cuda: this edgeroute-train is built against a CPU-only libtorch "
                                 "(rebuild with a CUDA libtorch to train on a GPU)");
  }
}

// A subcommand of a later milestone: it parses the runtime options so that
// they are validated, then says plainly that it does not exist yet.
void register_planned(CLI::App& app, const std::string& name, const std::string& description,
                      RuntimeOptions& options) {
  CLI::App* sub = app.add_subcommand(name, description + " (not implemented yet)");
  add_runtime_options(*sub, options);
  sub->allow_extras();
  sub->callback([name, &options] {
    apply_runtime_options(options);
    throw edgeroute::Error("'" + name + "' is not implemented yet");
  });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"edgeroute-train: domain adaptation, fine-tuning and evaluation of BERT/DistilBERT "
               "classifiers with libtorch"};
  app.set_version_flag("--version", "edgeroute-train " EDGEROUTE_VERSION);
  app.require_subcommand(1);
  app.fallthrough(false);
  RuntimeOptions runtime;
  register_planned(app, "dapt", "continued masked-LM pretraining on unlabeled text", runtime);
  register_planned(app, "train", "two-stage classifier fine-tuning and temperature calibration", runtime);
  register_planned(app, "eval", "accuracy, macro-F1 and calibration of a classifier", runtime);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" with exit code 0 in CLI11.
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const edgeroute::Error& e) {
    std::cout.flush();
    std::cerr << "edgeroute-train: error: " << e.what() << '\n';
    return 1;
  } catch (const c10::Error& e) {
    std::cout.flush();
    std::cerr << "edgeroute-train: error: libtorch: " << e.what_without_backtrace() << '\n';
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "edgeroute-train: error: out of memory\n";
    return 1;
  }
  return 0;
}
