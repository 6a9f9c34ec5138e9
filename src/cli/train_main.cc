// edgeroute-train: the libtorch half of edgeroute (masked-LM domain
// adaptation and classifier fine-tuning). A separate binary so that the edge
// runtime `edgeroute` never links libtorch; `edgeroute dapt` and
// `edgeroute train` run this binary. Evaluation is `edgeroute eval`, on the
// edge runtime.
//
// Exit codes: 0 success; 1 an error in the input or environment (the message
// names the file, field or value); 2 a usage error (unknown option, bad
// value); 130 interrupted by Ctrl-C (a resume checkpoint was saved).
#include <torch/cuda.h>
#include <torch/utils.h>

#include <ATen/Context.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "edgeroute/common/error.h"
#include "edgeroute/train/trainer.h"
#include "run_app.h"

namespace {

using edgeroute::train::CommonOptions;

struct RuntimeOptions {
  int threads = 0;  // 0: libtorch's default (one per core)
};

void add_common_options(CLI::App& sub, RuntimeOptions& runtime, CommonOptions& o) {
  o.model_dir = EDGEROUTE_DEFAULT_MODEL;
  sub.add_option("--model", o.model_dir, "Hugging Face BERT/DistilBERT directory to start from")
      ->capture_default_str()
      ->envname("EDGEROUTE_BASE_MODEL");
  sub.add_option("--out", o.out_dir, "output directory (written atomically)")->required();
  sub.add_option("--batch", o.batch, "examples per step")->capture_default_str()->check(CLI::Range(1, 1 << 20));
  sub.add_option("--max-len", o.max_len, "longest input in ids; longer texts are truncated")
      ->capture_default_str()
      ->check(CLI::Range(3, 1 << 20));
  sub.add_option("--weight-decay", o.weight_decay, "AdamW weight decay (not on biases and LayerNorm)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  sub.add_option("--warmup", o.warmup, "fraction of the steps with a linear learning-rate warm-up")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.99));
  sub.add_option("--clip", o.clip_norm, "gradient-norm clipping (0: none)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub.add_option("--seed", o.seed, "seed of initialisation, splits, shuffles, masks and dropout")
      ->capture_default_str();
  sub.add_flag("--force", o.overwrite, "replace --out if it exists");
  sub.add_flag("--resume", o.resume, "continue from OUT.resume/, saved when a run was interrupted with Ctrl-C");
  sub.add_flag("!--no-progress", o.progress, "no progress bar");
  sub.add_flag("--bf16", o.bf16, "training forward passes in bfloat16 autocast (fast on CPUs with AMX/AVX-512 BF16)");
  sub.add_option("--threads", runtime.threads, "CPU threads for libtorch (0: one per core)")
      ->check(CLI::Range(0, 4096))
      ->envname("EDGEROUTE_THREADS");
  sub.add_option("--device", o.device, "where to run: cpu or cuda")
      ->capture_default_str()
      ->check(CLI::IsMember({"cpu", "cuda"}));
}

// Runs `fn`, reporting libtorch's exceptions as edgeroute::Error so that they
// reach the user as a one-line message with exit code 1.
template <typename Fn>
void torch_errors_as_errors(Fn&& fn) {
  try {
    fn();
  } catch (const c10::Error& e) {
    throw edgeroute::Error(std::string("libtorch: ") + e.what_without_backtrace());
  } catch (const edgeroute::train::Interrupted& e) {
    std::cout.flush();
    std::cerr << "edgeroute-train: " << e.what() << '\n';
    std::exit(130);
  }
}

// Applies --threads and checks that --device exists on this machine.
void apply_runtime_options(const RuntimeOptions& runtime, const std::string& device) {
  if (runtime.threads > 0) {
    torch::set_num_threads(runtime.threads);
    torch::set_num_interop_threads(1);
  }
  if (device == "cuda" && !torch::cuda::is_available()) {
    throw edgeroute::Error(at::hasCUDA() ? "--device cuda: this libtorch supports CUDA but no CUDA device is visible"
                                         : "--device cuda: this edgeroute-train is built against a CPU-only libtorch "
                                           "(rebuild with a CUDA libtorch to train on a GPU)");
  }
}

void print_report(const char* title, const nlohmann::json& report) {
  std::printf("%s: accuracy %.4f, macro-F1 %.4f, ECE %.4f -> %.4f after temperature, %lld examples\n", title,
              report["accuracy"].get<double>(), report["macro_f1"].get<double>(), report["ece"].get<double>(),
              report["ece_calibrated"].get<double>(), static_cast<long long>(report["examples"].get<std::int64_t>()));
}

void register_dapt(CLI::App& app, RuntimeOptions& runtime, edgeroute::train::DaptOptions& o) {
  CLI::App* sub = app.add_subcommand("dapt", "continued masked-LM pretraining (domain adaptation) on unlabeled text");
  add_common_options(*sub, runtime, o);
  sub->add_option("--text", o.text_paths, "text files (CSV/TSV/JSONL/lines), comma-separated or repeated")
      ->required()
      ->delimiter(',');
  sub->add_option("--column", o.column, "text column (default: auto-detect text/transcript/utterance/...)");
  sub->add_option("--epochs", o.epochs, "passes over the text")->capture_default_str()->check(CLI::Range(1, 100000));
  sub->add_option("--lr", o.lr, "peak learning rate")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--mlm-prob", o.mlm_probability, "fraction of tokens masked")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 0.99));
  sub->add_option("--held-out", o.held_out, "fraction of texts kept for the before/after loss")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 0.5));
  sub->callback([&runtime, &o] {
    torch_errors_as_errors([&] {
      apply_runtime_options(runtime, o.device);
      const nlohmann::json s = edgeroute::train::run_dapt(o);
      std::printf("held-out masked-LM loss %.4f -> %.4f (perplexity %.2f -> %.2f) in %.0f s; saved %s\n",
                  s["held_out_loss_before"].get<double>(), s["held_out_loss_after"].get<double>(),
                  s["held_out_perplexity_before"].get<double>(), s["held_out_perplexity_after"].get<double>(),
                  s["wall_seconds"].get<double>(), o.out_dir.c_str());
    });
  });
}

void register_train(CLI::App& app, RuntimeOptions& runtime, edgeroute::train::TrainOptions& o) {
  CLI::App* sub = app.add_subcommand("train", "two-stage classifier fine-tuning and temperature calibration");
  add_common_options(*sub, runtime, o);
  sub->add_option("--train", o.train_path, "labeled training data (CSV with header or JSON Lines)")->required();
  sub->add_option("--val", o.val_path, "labeled validation data (default: a stratified split of --train)");
  sub->add_option("--test", o.test_path, "labeled test data, evaluated once at the end (reported in the log)");
  sub->add_option("--text-col", o.text_column, "text column (default: auto-detect text/transcript/utterance/...)");
  sub->add_option("--label-col", o.label_column,
                  "label column (default: auto-detect label/category/sentiment/intent/...)");
  sub->add_option("--val-fraction", o.val_fraction, "validation share carved from --train when --val is absent")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 0.9));
  sub->add_option("--head-epochs", o.head_epochs, "stage 1: epochs of the head alone, encoder frozen")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  sub->add_option("--head-lr", o.head_lr, "stage 1 peak learning rate")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->add_option("--epochs", o.epochs, "stage 2: at most this many epochs of the whole model")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  sub->add_option("--lr", o.lr, "stage 2 peak learning rate")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--patience", o.patience, "early stop after this many epochs without improvement")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  sub->add_option("--plateau-patience", o.plateau_patience, "epochs without improvement before the LR is reduced")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  sub->add_option("--plateau-factor", o.plateau_factor, "LR multiplier on a plateau")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 1.0));
  sub->add_flag("--freeze-embeddings", o.freeze_embeddings,
                "stage 2 keeps the word embeddings fixed (faster; the rest is fine-tuned)");
  sub->add_option("--monitor", o.monitor, "validation metric for early stopping and the plateau")
      ->capture_default_str()
      ->check(CLI::IsMember({"accuracy", "loss"}));
  sub->callback([&runtime, &o] {
    torch_errors_as_errors([&] {
      apply_runtime_options(runtime, o.device);
      const nlohmann::json s = edgeroute::train::run_train(o);
      print_report("validation", s["validation"]);
      if (s.contains("test")) print_report("test", s["test"]);
      std::printf("temperature %.4f; best epoch %s; %.0f s; saved %s (log: training_log.json)\n",
                  s["temperature"].get<double>(), s["best"].is_null() ? "-" : s["best"]["epoch"].dump().c_str(),
                  s["wall_seconds"].get<double>(), o.out_dir.c_str());
    });
  });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "edgeroute-train: domain adaptation and fine-tuning of BERT/DistilBERT classifiers with libtorch "
      "(evaluate with `edgeroute eval`)"};
  app.set_version_flag("--version", "edgeroute-train " EDGEROUTE_VERSION);
  app.require_subcommand(1);
  app.fallthrough(false);
  RuntimeOptions runtime;
  edgeroute::train::DaptOptions dapt;
  edgeroute::train::TrainOptions train;
  register_dapt(app, runtime, dapt);
  register_train(app, runtime, train);
  return edgeroute::cli::run_app(app, argc, argv, "edgeroute-train");
}
