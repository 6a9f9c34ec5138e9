// Pieces both training jobs share (internal to src/train): the progress bar,
// Ctrl-C handling, AdamW with decay/no-decay groups, the learning-rate
// schedule, NaN checks and the resume checkpoint.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <torch/optim/adamw.h>
#include <torch/types.h>

#include <nlohmann/json.hpp>

#include "edgeroute/modelio/hf_config.h"
#include "edgeroute/text/tokenizer.h"
#include "edgeroute/train/checkpoint.h"
#include "edgeroute/train/modules.h"
#include "edgeroute/train/trainer.h"

namespace edgeroute::train::detail {

// One line on stderr, redrawn in place on a terminal and printed every 10%
// otherwise: "label [#####-----] 120/313 38% loss 0.512 412 ex/s ETA 0:25".
class Progress {
 public:
  Progress(std::string label, std::int64_t total_steps, bool enabled);
  // After step `step` (1-based) of total; `examples` seen so far in this run
  // of the bar; `loss` the running mean.
  void update(std::int64_t step, std::int64_t examples, double loss);
  void finish();

 private:
  void draw(std::int64_t step, double loss);

  std::string label_;
  std::int64_t total_;
  bool enabled_;
  bool tty_;
  std::int64_t examples_ = 0;
  std::int64_t last_decile_ = -1;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

// Installs a SIGINT handler for the lifetime of the object: the first Ctrl-C
// sets a flag the loops poll (interrupted()); a second one terminates as usual.
class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
  static bool interrupted();
};

// Seconds since `start`.
double seconds_since(std::chrono::steady_clock::time_point start);

// AdamW over the parameters of `model` whose canonical name starts with one
// of `prefixes` (all when empty): weight decay on matrices, none on biases and
// LayerNorm parameters.
torch::optim::AdamW make_adamw(EncoderModelImpl& model, double lr, double weight_decay,
                               const std::vector<std::string>& prefixes = {});
void set_lr(torch::optim::Optimizer& optimizer, double lr);

// Linear warm-up over warmup * total steps, then linear decay to 0 at `total`.
double schedule(std::int64_t step, std::int64_t total, double warmup);

// Throws Error when `loss` is NaN or infinite, naming where it happened.
void check_finite(double loss, const std::string& where);

// Clips the gradient norm of every parameter with a gradient (max_norm > 0).
void clip_gradients(EncoderModelImpl& model, double max_norm);

torch::Device parse_device(const std::string& device);

// While alive, and when `enabled`, runs matrix products on `device` in
// bfloat16 (autocast; on CPUs with AMX or AVX-512 BF16 through oneDNN);
// weights, gradients, optimizer state and losses stay float32.
class AutocastGuard {
 public:
  AutocastGuard(bool enabled, const torch::Device& device);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool enabled_;
  bool previous_ = false;
  c10::DeviceType type_;
};

// The resume checkpoint OUT.resume/: the model as a Hugging Face directory,
// resume.json (where to continue and the options it was made with),
// optimizer.pt, rng.pt (libtorch's CPU generator) and, when there is one,
// best.pt (the best weights so far).
std::string resume_dir(const std::string& out_dir);

struct ResumeState {
  nlohmann::json state;                  // job-specific position and counters
  std::optional<std::string> optimizer;  // serialized optimizer, when saved
  std::vector<torch::Tensor> best;       // best weights, in named_parameters() order; may be empty
  torch::Tensor rng;                     // libtorch's CPU generator state when saved
};

void save_resume(EncoderModelImpl& model, const std::string& out_dir, const std::string& tokenizer_dir,
                 const nlohmann::json& options, const ResumeState& resume, torch::optim::Optimizer* optimizer);

// Loads resume.json and the other files; the model weights are loaded by the
// caller with load_model(resume_dir(out)). Error when there is no checkpoint
// or it was made with other options than `options`.
ResumeState load_resume(const std::string& out_dir, const nlohmann::json& options);
// Puts libtorch's CPU generator back where it was when the checkpoint was
// saved. Call it after building the model: module constructors draw from it.
void restore_rng(const ResumeState& resume);
void restore_optimizer(torch::optim::Optimizer& optimizer, const std::string& bytes);
void remove_resume(const std::string& out_dir);

// Copies of the parameter values, and putting them back.
std::vector<torch::Tensor> snapshot(EncoderModelImpl& model);
void restore(EncoderModelImpl& model, const std::vector<torch::Tensor>& values);

// Fails early when OUT exists and overwrite is off, before hours of training.
void check_output(const CommonOptions& options);

// What every job does first: checks OUT, seeds libtorch, reads the
// tokenizer and config.json of the starting model, and caps max_len at the
// model's positions.
struct Job {
  std::chrono::steady_clock::time_point started;
  torch::Device device;
  text::Tokenizer tokenizer;
  modelio::EncoderConfig config;
  std::int64_t max_len;
};
Job start_job(const CommonOptions& options);

// The options that must match for a resume, as JSON.
nlohmann::json common_json(const CommonOptions& options);

}  // namespace edgeroute::train::detail
