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
#include "run_app.h"

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
  sub.add_option("--device", options.device, "where to run: cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
}

// Runs `fn`, reporting libtorch's exceptions as edgeroute::Error so that they
// reach the user as a one-line message with exit code 1.
template <typename Fn>
void torch_errors_as_errors(Fn&& fn) {
  try {
    fn();
  } catch (const c10::Error& e) {
    throw edgeroute::Error(std::string("libtorch: ") + e.what_without_backtrace());
  }
}

// Applies --threads and checks that --device exists on this machine.
void apply_runtime_options(const RuntimeOptions& options) {
  if (options.threads > 0) torch::set_num_threads(options.threads);
  if (options.device == "cuda" && !torch::cuda::is_available()) {
    throw edgeroute::Error(at::hasCUDA() ? "--device cuda: this libtorch supports CUDA but no CUDA device is visible"
                                         : "--device cuda: this edgeroute-train is built against a CPU-only libtorch "
                                           "(rebuild with a CUDA libtorch to train on a GPU)");
  }
}

// A subcommand of a later milestone: it parses the runtime options so that
// they are validated, then says plainly that it does not exist yet.
void register_planned(CLI::App& app, const std::string& name, const std::string& description, RuntimeOptions& options) {
  CLI::App* sub = app.add_subcommand(name, description + " (not implemented yet)");
  add_runtime_options(*sub, options);
  sub->allow_extras();
  sub->callback([name, &options] {
    torch_errors_as_errors([&] {
      apply_runtime_options(options);
      throw edgeroute::Error("'" + name + "' is not implemented yet");
    });
  });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "edgeroute-train: domain adaptation, fine-tuning and evaluation of BERT/DistilBERT "
      "classifiers with libtorch"};
  app.set_version_flag("--version", "edgeroute-train " EDGEROUTE_VERSION);
  app.require_subcommand(1);
  app.fallthrough(false);
  RuntimeOptions runtime;
  register_planned(app, "dapt", "continued masked-LM pretraining on unlabeled text", runtime);
  register_planned(app, "train", "two-stage classifier fine-tuning and temperature calibration", runtime);
  register_planned(app, "eval", "accuracy, macro-F1 and calibration of a classifier", runtime);
  return edgeroute::cli::run_app(app, argc, argv, "edgeroute-train");
}
