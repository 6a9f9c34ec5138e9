// run_dapt: continued masked-LM pretraining (trainer.h).
#include <cmath>
#include <cstdio>
#include <sstream>

#include <torch/torch.h>

#include "edgeroute/common/error.h"
#include "edgeroute/modelio/hf_config.h"
#include "edgeroute/train/data.h"
#include "edgeroute/train/trainer.h"
#include "loop.h"

namespace edgeroute::train {

namespace {

using detail::Progress;

void validate(const DaptOptions& o) {
  if (o.text_paths.empty()) throw Error("--text: give at least one file");
  if (o.epochs <= 0) throw Error("--epochs must be positive");
  if (o.batch <= 0) throw Error("--batch must be positive");
  if (o.max_len < 3) throw Error("--max-len must be at least 3");
  if (!(o.lr > 0)) throw Error("--lr must be positive");
  if (!(o.mlm_probability > 0 && o.mlm_probability < 1)) throw Error("--mlm-prob must be in (0, 1)");
  if (!(o.held_out > 0 && o.held_out < 1)) throw Error("--held-out must be in (0, 1)");
  if (!(o.warmup >= 0 && o.warmup < 1)) throw Error("--warmup must be in [0, 1)");
}

nlohmann::json options_json(const DaptOptions& o) {
  nlohmann::json j = detail::common_json(o);
  j["text"] = o.text_paths;
  j["column"] = o.column ? nlohmann::json(*o.column) : nlohmann::json(nullptr);
  j["epochs"] = o.epochs;
  j["lr"] = o.lr;
  j["mlm_probability"] = o.mlm_probability;
  j["held_out"] = o.held_out;
  return j;
}

// Masked-LM cross-entropy at the masked positions only (mean over them).
torch::Tensor mlm_loss(EncoderModelImpl& model, const MaskedBatch& mb) {
  const torch::Tensor hidden = model.encode(mb.batch.input_ids, mb.batch.attention_mask);
  const torch::Tensor chosen = hidden.reshape({-1, hidden.size(-1)}).index_select(0, mb.positions);
  return torch::nn::functional::cross_entropy(model.mlm_logits(chosen).to(torch::kFloat), mb.targets);
}

// Mean masked-LM loss over fixed, pre-masked batches.
double held_out_loss(EncoderModelImpl& model, const std::vector<MaskedBatch>& batches) {
  torch::NoGradGuard no_grad;
  model.eval();
  double sum = 0;
  std::int64_t count = 0;
  for (const MaskedBatch& mb : batches) {
    const auto n = mb.targets.size(0);
    sum += mlm_loss(model, mb).item<double>() * static_cast<double>(n);
    count += n;
  }
  return sum / static_cast<double>(std::max<std::int64_t>(count, 1));
}

std::string rng_state(const std::mt19937_64& rng) {
  std::ostringstream out;
  out << rng;
  return out.str();
}

}  // namespace

nlohmann::json run_dapt(const DaptOptions& o) {
  validate(o);
  const detail::Job job = detail::start_job(o);
  const torch::Device& device = job.device;
  const text::Tokenizer& tokenizer = job.tokenizer;
  const modelio::EncoderConfig& config = job.config;
  const std::int64_t max_len = job.max_len;
  const nlohmann::json options = options_json(o);
  const TokenizedTexts texts = load_texts(o.text_paths, o.column, tokenizer, max_len);
  if (texts.ids.size() < 2) throw Error(o.text_paths.front() + ": need at least two texts (one is held out)");
  if (texts.truncated > 0) {
    std::fprintf(stderr, "note: %lld of the texts were longer than %lld ids and were truncated\n",
                 static_cast<long long>(texts.truncated), static_cast<long long>(max_len));
  }
  const Split split = random_split(texts.ids.size(), o.held_out, o.seed);
  const std::vector<std::vector<std::int32_t>> train_ids = subset(texts, split.kept).ids;
  const std::vector<std::vector<std::int32_t>> held_ids = subset(texts, split.held_out).ids;

  nlohmann::json state = {{"epoch", 0}, {"step", 0}, {"loss_sum", 0.0}, {"epochs", nlohmann::json::array()}};
  detail::ResumeState resumed;
  LoadedModel loaded;
  if (o.resume) {
    resumed = detail::load_resume(o.out_dir, options);
    state = resumed.state;
    loaded = load_model(detail::resume_dir(o.out_dir), {Task::kMaskedLm, {}, o.seed});
  } else {
    loaded = load_model(o.model_dir, {Task::kMaskedLm, {}, o.seed});
  }
  EncoderModelImpl& model = *loaded.model;
  model.to(device);
  detail::restore_rng(resumed);

  // The held-out batches are masked once, so "before" and "after" see the same masks.
  std::vector<MaskedBatch> held;
  {
    std::mt19937_64 rng(o.seed ^ 0x6d6c6d2d68656c64ULL);
    for (const auto& rows : length_bucketed_batches(held_ids, o.batch, false, o.seed)) {
      held.push_back(mask_tokens(held_ids, rows, tokenizer, config.vocab_size, o.mlm_probability, rng, device));
    }
  }
  if (!o.resume) state["held_out_loss_before"] = held_out_loss(model, held);
  const double loss_before = state["held_out_loss_before"].get<double>();
  std::fprintf(stderr, "dapt: %zu training texts, %zu held out; held-out MLM loss %.4f (perplexity %.2f)%s\n",
               train_ids.size(), held_ids.size(), loss_before, std::exp(loss_before), o.resume ? " [resumed]" : "");

  const std::int64_t steps_per_epoch = (static_cast<std::int64_t>(train_ids.size()) + o.batch - 1) / o.batch;
  const std::int64_t total_steps = steps_per_epoch * o.epochs;
  torch::optim::AdamW optimizer = detail::make_adamw(model, o.lr, o.weight_decay);
  if (resumed.optimizer) detail::restore_optimizer(optimizer, *resumed.optimizer);

  detail::InterruptGuard guard;
  for (std::int64_t epoch = state["epoch"].get<std::int64_t>(); epoch < o.epochs; ++epoch) {
    const auto batches =
        length_bucketed_batches(train_ids, o.batch, true, o.seed + 1 + static_cast<std::uint64_t>(epoch));
    std::mt19937_64 mask_rng(o.seed * 1000003ULL + static_cast<std::uint64_t>(epoch));
    std::int64_t first = 0;
    double loss_sum = 0;
    if (state["step"].get<std::int64_t>() > 0 && state["epoch"].get<std::int64_t>() == epoch) {
      first = state["step"].get<std::int64_t>();
      loss_sum = state["loss_sum"].get<double>();
      std::istringstream in(state["mask_rng"].get<std::string>());
      in >> mask_rng;
    }
    const auto epoch_start = std::chrono::steady_clock::now();
    Progress progress("dapt epoch " + std::to_string(epoch + 1) + "/" + std::to_string(o.epochs), steps_per_epoch,
                      o.progress);
    std::int64_t examples = 0;
    for (std::int64_t step = first; step < steps_per_epoch; ++step) {
      if (detail::InterruptGuard::interrupted()) {
        progress.finish();
        state["epoch"] = epoch;
        state["step"] = step;
        state["loss_sum"] = loss_sum;
        state["mask_rng"] = rng_state(mask_rng);
        detail::save_resume(model, o.out_dir, o.model_dir, options, {state, {}, {}, {}}, &optimizer);
        throw Interrupted("interrupted: saved " + detail::resume_dir(o.out_dir) +
                          "; run the same command with --resume to continue");
      }
      const auto& rows = batches[static_cast<std::size_t>(step)];
      const MaskedBatch mb =
          mask_tokens(train_ids, rows, tokenizer, config.vocab_size, o.mlm_probability, mask_rng, device);
      model.train();
      torch::Tensor loss;
      {
        detail::AutocastGuard autocast(o.bf16, device);
        loss = mlm_loss(model, mb);
      }
      optimizer.zero_grad();
      loss.backward();
      const double value = loss.item<double>();
      detail::check_finite(value, "dapt epoch " + std::to_string(epoch + 1) + " step " + std::to_string(step + 1));
      detail::clip_gradients(model, o.clip_norm);
      detail::set_lr(optimizer, o.lr * detail::schedule(epoch * steps_per_epoch + step, total_steps, o.warmup));
      optimizer.step();
      loss_sum += value;
      examples += static_cast<std::int64_t>(rows.size());
      progress.update(step + 1, examples, loss_sum / static_cast<double>(step + 1));
    }
    progress.finish();
    const double seconds = detail::seconds_since(epoch_start);
    state["epochs"].push_back({{"epoch", epoch + 1},
                               {"train_loss", loss_sum / static_cast<double>(steps_per_epoch)},
                               {"seconds", seconds},
                               {"examples_per_second", static_cast<double>(examples) / std::max(seconds, 1e-9)}});
    state["epoch"] = epoch + 1;
    state["step"] = 0;
    state["loss_sum"] = 0.0;
  }

  const double loss_after = held_out_loss(model, held);
  nlohmann::json summary = {
      {"command", "dapt"},
      {"options", options},
      {"texts", {{"train", train_ids.size()}, {"held_out", held_ids.size()}, {"truncated", texts.truncated}}},
      {"initialized", loaded.report.initialized},
      {"held_out_loss_before", loss_before},
      {"held_out_perplexity_before", std::exp(loss_before)},
      {"held_out_loss_after", loss_after},
      {"held_out_perplexity_after", std::exp(loss_after)},
      {"epochs", state["epochs"]},
      {"threads", torch::get_num_threads()},
      {"wall_seconds", detail::seconds_since(job.started)}};
  SaveOptions save;
  save.tokenizer_dir = o.model_dir;
  save.overwrite = o.overwrite;
  save.extra_files.emplace_back("dapt_log.json", summary.dump(2) + "\n");
  save_model(model, o.out_dir, save);
  detail::remove_resume(o.out_dir);
  return summary;
}

}  // namespace edgeroute::train
