#include "loop.h"

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <sstream>

#include <torch/nn/utils/clip_grad.h>
#include <torch/serialize.h>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/autocast_mode.h>

#include "edgeroute/common/error.h"

namespace edgeroute::train::detail {

namespace fs = std::filesystem;

namespace {

std::atomic<bool> g_interrupted{false};
// EDGEROUTE_TEST_INTERRUPT_AFTER=N: the N-th poll raises SIGINT (tests of
// Ctrl-C and --resume at a deterministic step); 0 when unset.
std::int64_t g_interrupt_after = 0;
std::int64_t g_polls = 0;

extern "C" void on_sigint(int) {
  g_interrupted.store(true);
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<long long>(seconds + 0.5);
  char buffer[32];
  if (s >= 3600)
    std::snprintf(buffer, sizeof buffer, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  else
    std::snprintf(buffer, sizeof buffer, "%lld:%02lld", s / 60, s % 60);
  return buffer;
}

std::string read_binary(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string() + ": cannot open");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string tensors_to_bytes(const std::vector<torch::Tensor>& tensors) {
  std::ostringstream out;
  torch::save(tensors, out);
  return out.str();
}

std::vector<torch::Tensor> tensors_from_bytes(const std::string& bytes, const std::string& source) {
  std::vector<torch::Tensor> tensors;
  std::istringstream in(bytes);
  try {
    torch::load(tensors, in);
  } catch (const c10::Error& e) {
    throw Error(source + ": not a tensor file written by edgeroute-train: " + e.what_without_backtrace());
  }
  return tensors;
}

}  // namespace

Progress::Progress(std::string label, std::int64_t total_steps, bool enabled)
    : label_(std::move(label)),
      total_(std::max<std::int64_t>(total_steps, 1)),
      enabled_(enabled),
      tty_(isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void Progress::update(std::int64_t step, std::int64_t examples, double loss) {
  examples_ = examples;
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (tty_) {
    if (step < total_ && now - last_draw_ < std::chrono::milliseconds(200)) return;
  } else {
    const std::int64_t decile = step * 10 / total_;
    if (decile == last_decile_ || step == total_) return;
    last_decile_ = decile;
  }
  last_draw_ = now;
  draw(step, loss);
}

void Progress::finish() {
  if (enabled_ && tty_) std::fputc('\n', stderr);
}

void Progress::draw(std::int64_t step, double loss) {
  const double elapsed = seconds_since(start_);
  const double per_step = step > 0 ? elapsed / static_cast<double>(step) : 0.0;
  const double eta = per_step * static_cast<double>(total_ - step);
  constexpr int kWidth = 24;
  const auto filled = static_cast<int>(kWidth * step / total_);
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.append(static_cast<std::size_t>(kWidth - filled), '-');
  const double rate = elapsed > 0 ? static_cast<double>(examples_) / elapsed : 0.0;
  std::fprintf(stderr, "%s%s [%s] %lld/%lld %3lld%% loss %.4f %.0f ex/s %s %s%s", tty_ ? "\r" : "", label_.c_str(),
               bar.c_str(), static_cast<long long>(step), static_cast<long long>(total_),
               static_cast<long long>(100 * step / total_), loss, rate, "ETA",
               format_duration(eta).c_str(), tty_ ? "\x1b[K" : "\n");
  std::fflush(stderr);
}

InterruptGuard::InterruptGuard() {
  g_interrupted.store(false);
  g_polls = 0;
  const char* after = std::getenv("EDGEROUTE_TEST_INTERRUPT_AFTER");
  g_interrupt_after = after != nullptr ? std::strtoll(after, nullptr, 10) : 0;
  std::signal(SIGINT, on_sigint);
}

InterruptGuard::~InterruptGuard() { std::signal(SIGINT, SIG_DFL); }

bool InterruptGuard::interrupted() {
  if (g_interrupt_after > 0 && ++g_polls == g_interrupt_after) std::raise(SIGINT);
  return g_interrupted.load();
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

torch::optim::AdamW make_adamw(EncoderModelImpl& model, double lr, double weight_decay,
                               const std::vector<std::string>& prefixes) {
  std::vector<torch::Tensor> decay;
  std::vector<torch::Tensor> no_decay;
  for (const auto& item : model.named_parameters()) {
    const std::string& name = item.key();
    bool selected = prefixes.empty();
    for (const auto& prefix : prefixes) selected = selected || name.rfind(prefix, 0) == 0;
    if (!selected || !item.value().requires_grad()) continue;
    const bool is_bias_or_norm =
        name.find("norm") != std::string::npos || (name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0);
    (is_bias_or_norm ? no_decay : decay).push_back(item.value());
  }
  if (decay.empty() && no_decay.empty()) throw Error("internal: no parameter selected for the optimizer");
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(
      decay, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(lr).weight_decay(weight_decay)));
  groups.emplace_back(no_decay,
                      std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(lr).weight_decay(0.0)));
  return torch::optim::AdamW(std::move(groups), torch::optim::AdamWOptions(lr).weight_decay(weight_decay));
}

void set_lr(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

double schedule(std::int64_t step, std::int64_t total, double warmup) {
  const auto warm = static_cast<std::int64_t>(std::ceil(warmup * static_cast<double>(total)));
  if (step < warm) return static_cast<double>(step + 1) / static_cast<double>(warm + 1);
  const std::int64_t rest = std::max<std::int64_t>(total - warm, 1);
  return std::max(0.0, static_cast<double>(total - step) / static_cast<double>(rest));
}

void check_finite(double loss, const std::string& where) {
  if (!std::isfinite(loss)) {
    throw Error("the loss became " + std::string(std::isnan(loss) ? "NaN" : "infinite") + " at " + where +
                "; training stopped and nothing was saved (try a smaller --lr)");
  }
}

void clip_gradients(EncoderModelImpl& model, double max_norm) {
  if (max_norm <= 0) return;
  std::vector<torch::Tensor> with_grad;
  for (const auto& p : model.parameters()) {
    if (p.grad().defined()) with_grad.push_back(p);
  }
  torch::nn::utils::clip_grad_norm_(with_grad, max_norm);
}

torch::Device parse_device(const std::string& device) {
  if (device == "cpu") return torch::kCPU;
  if (device == "cuda") return torch::kCUDA;
  throw Error("--device must be cpu or cuda, not '" + device + "'");
}

AutocastGuard::AutocastGuard(bool enabled, const torch::Device& device) : enabled_(enabled), type_(device.type()) {
  if (!enabled_) return;
  previous_ = at::autocast::is_autocast_enabled(type_);
  at::autocast::set_autocast_dtype(type_, at::kBFloat16);
  at::autocast::set_autocast_enabled(type_, true);
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (!enabled_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_enabled(type_, previous_);
}

std::string resume_dir(const std::string& out_dir) {
  fs::path out = fs::path(out_dir).lexically_normal();
  if (!out.has_filename()) out = out.parent_path();
  return out.string() + ".resume";
}

void save_resume(EncoderModelImpl& model, const std::string& out_dir, const std::string& tokenizer_dir,
                 const nlohmann::json& options, const ResumeState& resume, torch::optim::Optimizer* optimizer) {
  SaveOptions save;
  save.tokenizer_dir = tokenizer_dir;
  save.overwrite = true;
  nlohmann::json meta = {{"options", options}, {"state", resume.state}};
  save.extra_files.emplace_back("resume.json", meta.dump(2) + "\n");
  if (optimizer != nullptr) {
    std::ostringstream bytes;
    torch::serialize::OutputArchive archive;
    optimizer->save(archive);
    archive.save_to(bytes);
    save.extra_files.emplace_back("optimizer.pt", bytes.str());
  }
  {
    at::Generator generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    save.extra_files.emplace_back("rng.pt", tensors_to_bytes({generator.get_state()}));
  }
  if (!resume.best.empty()) save.extra_files.emplace_back("best.pt", tensors_to_bytes(resume.best));
  save_model(model, resume_dir(out_dir), save);
}

ResumeState load_resume(const std::string& out_dir, const nlohmann::json& options) {
  const fs::path dir = resume_dir(out_dir);
  const fs::path meta_path = dir / "resume.json";
  if (!fs::is_regular_file(meta_path)) {
    throw Error(dir.string() + ": no resume checkpoint here (it is written when training is interrupted with Ctrl-C)");
  }
  nlohmann::json meta;
  try {
    meta = nlohmann::json::parse(read_binary(meta_path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(meta_path.string() + ": " + e.what());
  }
  if (!meta.contains("options") || !meta.contains("state")) throw Error(meta_path.string() + ": missing fields");
  if (meta["options"] != options) {
    std::string differing;
    for (const auto& [key, value] : options.items()) {
      if (!meta["options"].contains(key) || meta["options"][key] != value)
        differing += (differing.empty() ? "" : ", ") + key;
    }
    throw Error(dir.string() + ": the checkpoint was made with other options (" + differing +
                "); resume with the same options, or start again without --resume");
  }
  ResumeState resume;
  resume.state = meta["state"];
  if (fs::is_regular_file(dir / "optimizer.pt")) resume.optimizer = read_binary(dir / "optimizer.pt");
  if (fs::is_regular_file(dir / "best.pt")) {
    resume.best = tensors_from_bytes(read_binary(dir / "best.pt"), (dir / "best.pt").string());
  }
  const std::vector<torch::Tensor> rng = tensors_from_bytes(read_binary(dir / "rng.pt"), (dir / "rng.pt").string());
  if (rng.size() != 1) throw Error((dir / "rng.pt").string() + ": expected one tensor");
  resume.rng = rng[0];
  return resume;
}

void restore_rng(const ResumeState& resume) {
  if (!resume.rng.defined()) return;
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(resume.rng);
}

void restore_optimizer(torch::optim::Optimizer& optimizer, const std::string& bytes) {
  std::istringstream in(bytes);
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(in);
    optimizer.load(archive);
  } catch (const c10::Error& e) {
    throw Error(std::string("resume checkpoint: cannot restore the optimizer: ") + e.what_without_backtrace());
  }
}

void remove_resume(const std::string& out_dir) {
  std::error_code ec;
  fs::remove_all(resume_dir(out_dir), ec);
}

std::vector<torch::Tensor> snapshot(EncoderModelImpl& model) {
  std::vector<torch::Tensor> values;
  for (const auto& p : model.parameters()) values.push_back(p.detach().clone());
  return values;
}

void restore(EncoderModelImpl& model, const std::vector<torch::Tensor>& values) {
  const auto params = model.parameters();
  if (params.size() != values.size()) throw Error("internal: snapshot does not match the model");
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < params.size(); ++i) params[i].copy_(values[i]);
}

void check_output(const CommonOptions& options) {
  if (options.out_dir.empty()) throw Error("--out is required");
  if (fs::exists(fs::symlink_status(options.out_dir)) && !options.overwrite) {
    throw Error(options.out_dir + ": already exists (use --force to replace it)");
  }
}

Job start_job(const CommonOptions& options) {
  check_output(options);
  const auto started = std::chrono::steady_clock::now();
  const torch::Device device = parse_device(options.device);
  torch::manual_seed(options.seed);
  text::Tokenizer tokenizer = text::Tokenizer::from_pretrained(options.model_dir);
  modelio::EncoderConfig config = modelio::load_hf_config(options.model_dir);
  const std::int64_t max_len = std::min(options.max_len, config.max_position_embeddings);
  return {started, device, std::move(tokenizer), std::move(config), max_len};
}

nlohmann::json common_json(const CommonOptions& o) {
  return {{"model", o.model_dir},
          {"device", o.device},
          {"batch", o.batch},
          {"max_len", o.max_len},
          {"weight_decay", o.weight_decay},
          {"warmup", o.warmup},
          {"clip_norm", o.clip_norm},
          {"seed", o.seed},
          {"bf16", o.bf16}};
}

}  // namespace edgeroute::train::detail
