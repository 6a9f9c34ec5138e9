// The two training jobs of edgeroute_train.
//
// run_dapt: continued masked-LM pretraining ("domain adaptation") of a
// BERT/DistilBERT checkpoint on unlabeled text. Dynamic masking every batch
// (data.h mask_tokens), length-bucketed dynamic padding, AdamW with linear
// warm-up and decay, gradient clipping; the loss needs the vocabulary
// projection only at the masked positions. A seeded held-out slice of the
// text gives the masked-LM loss and perplexity before and after, with the
// same masks both times.
//
// run_train: the two-stage classifier fine-tune. Stage 1 trains the head with
// the encoder frozen (its features are computed once, in eval mode); stage 2
// fine-tunes everything at a smaller learning rate with a warm-up/linear-decay
// schedule, evaluates on the validation set after every epoch, multiplies the
// learning rate by plateau_factor when the monitored metric has not improved
// for plateau_patience epochs, stops after `patience` epochs without
// improvement and restores the best weights. Then a temperature is fitted on
// the validation logits (eval::fit_temperature) and stored in config.json as
// "edgeroute_temperature". The output directory is a Hugging Face
// *ForSequenceClassification checkpoint plus training_log.json.
//
// Both jobs
//   * print a progress bar (ETA, loss, examples/s) on stderr;
//   * stop with an Error when the loss becomes NaN or infinite;
//   * on SIGINT (Ctrl-C) finish the current step, save everything needed to
//     continue into OUT.resume/ and throw Interrupted; with `resume` they
//     continue from there (the options must be the same) and give the same
//     result as an uninterrupted run;
//   * are deterministic on the CPU for a given seed and thread count;
//   * write OUT atomically (checkpoint.h save_model): on any error no partial
//     OUT is left behind, and an existing OUT is replaced only with `overwrite`.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace edgeroute::train {

// Thrown after a Ctrl-C once the resume checkpoint is saved.
class Interrupted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CommonOptions {
  std::string model_dir;
  std::string out_dir;
  std::string device = "cpu";
  std::int64_t batch = 32;
  std::int64_t max_len = 128;
  double weight_decay = 0.01;
  double warmup = 0.1;     // fraction of the schedule's steps spent warming up
  double clip_norm = 1.0;  // <= 0: no clipping
  std::uint64_t seed = 42;
  bool overwrite = false;
  bool resume = false;
  bool progress = true;  // the progress bar on stderr
  // Training forward passes in bfloat16 autocast (float32 master weights,
  // optimizer and loss); evaluation always runs in float32.
  bool bf16 = false;
};

struct DaptOptions : CommonOptions {
  std::vector<std::string> text_paths;
  std::optional<std::string> column;
  std::int64_t epochs = 2;
  double lr = 5e-5;
  double mlm_probability = 0.15;
  double held_out = 0.05;  // fraction of the text kept for the before/after loss
};

struct TrainOptions : CommonOptions {
  std::string train_path;
  std::optional<std::string> val_path;   // none: a stratified split of train
  std::optional<std::string> test_path;  // evaluated once at the end, reported in the log
  std::optional<std::string> text_column;
  std::optional<std::string> label_column;
  double val_fraction = 0.1;
  std::int64_t head_epochs = 5;  // stage 1 (cheap: the features are computed once)
  double head_lr = 3e-3;
  std::int64_t epochs = 6;  // stage 2, at most
  double lr = 1e-4;
  std::int64_t patience = 2;
  std::int64_t plateau_patience = 1;
  double plateau_factor = 0.5;
  std::string monitor = "accuracy";  // or "loss" (validation)
  // Stage 2 leaves the word embeddings as they are (the largest and most
  // sparsely used tensor; measured 91 -> 108 examples/s with --bf16 on
  // all-MiniLM-L6-v2, 2 threads).
  bool freeze_embeddings = false;
};

// The summaries printed at the end; the same content is in the output
// directory's log file.
nlohmann::json run_dapt(const DaptOptions& options);
nlohmann::json run_train(const TrainOptions& options);

}  // namespace edgeroute::train
