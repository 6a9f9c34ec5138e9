// run_train: two-stage classifier fine-tuning and temperature scaling (trainer.h).
#include <cmath>
#include <cstdio>

#include <torch/torch.h>

#include "edgeroute/common/error.h"
#include "edgeroute/eval/metrics.h"
#include "edgeroute/modelio/hf_config.h"
#include "edgeroute/train/data.h"
#include "edgeroute/train/trainer.h"
#include "loop.h"

namespace edgeroute::train {

namespace {

using detail::Progress;

constexpr std::int64_t kEvalBatch = 64;

void validate(const TrainOptions& o) {
  if (o.train_path.empty()) throw Error("--train is required");
  if (o.batch <= 0) throw Error("--batch must be positive");
  if (o.max_len < 3) throw Error("--max-len must be at least 3");
  if (o.head_epochs < 0) throw Error("--head-epochs must not be negative");
  if (o.epochs < 0) throw Error("--epochs must not be negative");
  if (o.head_epochs + o.epochs == 0) throw Error("--head-epochs and --epochs are both 0: nothing to train");
  if (!(o.lr > 0) || !(o.head_lr > 0)) throw Error("--lr and --head-lr must be positive");
  if (!(o.val_fraction > 0 && o.val_fraction < 1)) throw Error("--val-fraction must be in (0, 1)");
  if (!(o.warmup >= 0 && o.warmup < 1)) throw Error("--warmup must be in [0, 1)");
  if (o.patience < 1 || o.plateau_patience < 1) throw Error("--patience and --plateau-patience must be at least 1");
  if (!(o.plateau_factor > 0 && o.plateau_factor <= 1)) throw Error("--plateau-factor must be in (0, 1]");
  if (o.monitor != "accuracy" && o.monitor != "loss") throw Error("--monitor must be accuracy or loss");
}

nlohmann::json options_json(const TrainOptions& o) {
  const auto opt = [](const std::optional<std::string>& s) { return s ? nlohmann::json(*s) : nlohmann::json(nullptr); };
  nlohmann::json j = detail::common_json(o);
  j["train"] = o.train_path;
  j["val"] = opt(o.val_path);
  j["test"] = opt(o.test_path);
  j["text_col"] = opt(o.text_column);
  j["label_col"] = opt(o.label_column);
  j["val_fraction"] = o.val_fraction;
  j["head_epochs"] = o.head_epochs;
  j["head_lr"] = o.head_lr;
  j["epochs"] = o.epochs;
  j["lr"] = o.lr;
  j["patience"] = o.patience;
  j["plateau_patience"] = o.plateau_patience;
  j["plateau_factor"] = o.plateau_factor;
  j["monitor"] = o.monitor;
  j["freeze_embeddings"] = o.freeze_embeddings;
  return j;
}

// The classifier's input features [n, H] for every row, in row order, with
// the encoder in eval mode: BERT's pooler output, DistilBERT's [CLS] state.
torch::Tensor encoder_features(EncoderModelImpl& model, const std::vector<std::vector<std::int32_t>>& ids,
                               std::int32_t pad_id, const torch::Device& device, bool progress) {
  torch::NoGradGuard no_grad;
  model.eval();
  const auto n = static_cast<std::int64_t>(ids.size());
  torch::Tensor features = torch::empty({n, model.config().hidden_size}, torch::TensorOptions(device));
  const auto batches = length_bucketed_batches(ids, kEvalBatch, false, 0);
  Progress bar("stage 1 features", static_cast<std::int64_t>(batches.size()), progress);
  std::int64_t done = 0;
  for (std::size_t b = 0; b < batches.size(); ++b) {
    const Batch batch = collate(ids, batches[b], pad_id, device);
    const torch::Tensor hidden = model.encode(batch.input_ids, batch.attention_mask);
    const torch::Tensor f = model.has_pooler() ? model.pool(hidden) : hidden.select(1, 0);
    std::vector<std::int64_t> rows(batches[b].begin(), batches[b].end());
    features.index_copy_(0, torch::tensor(rows, torch::kLong).to(device), f);
    done += static_cast<std::int64_t>(rows.size());
    bar.update(static_cast<std::int64_t>(b + 1), done, 0.0);
  }
  bar.finish();
  return features;
}

// Logits [n, L] (CPU, float) for every row in row order, model in eval mode.
torch::Tensor predict(EncoderModelImpl& model, const std::vector<std::vector<std::int32_t>>& ids, std::int32_t pad_id,
                      const torch::Device& device) {
  torch::NoGradGuard no_grad;
  model.eval();
  const auto n = static_cast<std::int64_t>(ids.size());
  torch::Tensor logits = torch::empty({n, model.config().labels.size()});
  for (const auto& rows : length_bucketed_batches(ids, kEvalBatch, false, 0)) {
    const Batch batch = collate(ids, rows, pad_id, device);
    const torch::Tensor out = model.forward(batch.input_ids, batch.attention_mask).logits.to(torch::kCPU);
    std::vector<std::int64_t> index(rows.begin(), rows.end());
    logits.index_copy_(0, torch::tensor(index, torch::kLong), out);
  }
  return logits.contiguous();
}

eval::Report report_of(const torch::Tensor& logits, const std::vector<std::int32_t>& labels,
                       const modelio::LabelMap& names, double temperature) {
  return eval::evaluate(std::span<const float>(logits.data_ptr<float>(), static_cast<std::size_t>(logits.numel())),
                        labels, names, temperature);
}

struct Dataset {
  TokenizedTexts texts;
  std::vector<std::int32_t> labels;
};

torch::Tensor label_tensor(const std::vector<std::int32_t>& labels, std::span<const std::size_t> rows,
                           const torch::Device& device) {
  std::vector<std::int64_t> picked;
  picked.reserve(rows.size());
  for (const std::size_t r : rows) picked.push_back(labels[r]);
  return torch::tensor(picked, torch::kLong).to(device);
}

// Is `value` better than `best` for the monitored metric?
bool improves(const std::string& monitor, double accuracy, double loss, const nlohmann::json& best) {
  if (best.is_null()) return true;
  if (monitor == "loss") return loss < best["loss"].get<double>() - 1e-6;
  const double best_accuracy = best["accuracy"].get<double>();
  return accuracy > best_accuracy + 1e-9 ||
         (accuracy >= best_accuracy - 1e-9 && loss < best["loss"].get<double>() - 1e-6);
}

}  // namespace

nlohmann::json run_train(const TrainOptions& o) {
  validate(o);
  const detail::Job job = detail::start_job(o);
  const torch::Device& device = job.device;
  const text::Tokenizer& tokenizer = job.tokenizer;
  const std::int64_t max_len = job.max_len;
  const std::int32_t pad = tokenizer.pad_id();
  const nlohmann::json options = options_json(o);

  Dataset train;
  train.texts = load_labeled(o.train_path, o.text_column, o.label_column, tokenizer, max_len);
  const modelio::LabelMap labels = labels_of(train.texts, o.train_path);
  train.labels = label_ids(train.texts, labels);
  std::int64_t truncated = train.texts.truncated;
  Dataset val;
  if (o.val_path) {
    val.texts = load_labeled(*o.val_path, o.text_column, o.label_column, tokenizer, max_len);
    val.labels = label_ids(val.texts, labels);
    truncated += val.texts.truncated;
  } else {
    const Split split = stratified_split(train.labels, o.val_fraction, o.seed);
    if (split.held_out.empty()) throw Error(o.train_path + ": too few rows to carve a validation split; give --val");
    val.texts = subset(train.texts, split.held_out);
    val.labels = label_ids(val.texts, labels);
    train.texts = subset(train.texts, split.kept);
    train.labels = label_ids(train.texts, labels);
  }
  std::optional<Dataset> test;
  if (o.test_path) {
    test.emplace();
    test->texts = load_labeled(*o.test_path, o.text_column, o.label_column, tokenizer, max_len);
    test->labels = label_ids(test->texts, labels);
    truncated += test->texts.truncated;
  }
  if (truncated > 0) {
    std::fprintf(stderr, "note: %lld of the texts were longer than %lld ids and were truncated\n",
                 static_cast<long long>(truncated), static_cast<long long>(max_len));
  }
  std::fprintf(stderr, "train: %zu training rows, %zu validation rows%s, %lld classes\n", train.texts.ids.size(),
               val.texts.ids.size(), o.val_path ? "" : " (stratified split of --train)",
               static_cast<long long>(labels.size()));

  nlohmann::json state = {{"stage", 1},      {"epoch", 0},           {"step", 0},
                          {"loss_sum", 0.0}, {"plateau_scale", 1.0}, {"best", nullptr},
                          {"bad_epochs", 0}, {"plateau_bad", 0},     {"log", nlohmann::json::array()}};
  detail::ResumeState resumed;
  if (o.resume) {
    resumed = detail::load_resume(o.out_dir, options);
    state = resumed.state;
  }
  // A run interrupted in stage 1 (a minute at most) starts again from the base model.
  const bool resume_stage2 = o.resume && state["stage"].get<int>() == 2;
  LoadedModel loaded = load_model(resume_stage2 ? detail::resume_dir(o.out_dir) : o.model_dir,
                                  {Task::kSequenceClassification, labels, o.seed});
  EncoderModelImpl& model = *loaded.model;
  model.to(device);
  if (resume_stage2) detail::restore_rng(resumed);
  const std::string where = o.resume ? " [resumed]" : "";
  detail::InterruptGuard guard;

  const auto interrupted = [&](torch::optim::Optimizer* optimizer, const std::vector<torch::Tensor>& best) {
    detail::save_resume(model, o.out_dir, o.model_dir, options, {state, {}, best, {}}, optimizer);
    throw Interrupted("interrupted: saved " + detail::resume_dir(o.out_dir) +
                      "; run the same command with --resume to continue");
  };
  const auto validate_epoch = [&](const std::string& stage, std::int64_t epoch, double train_loss, double seconds,
                                  std::int64_t examples) {
    const torch::Tensor logits = predict(model, val.texts.ids, pad, device);
    const eval::Report r = report_of(logits, val.labels, labels, 1.0);
    nlohmann::json entry = {{"stage", stage},
                            {"epoch", epoch},
                            {"train_loss", train_loss},
                            {"val_loss", r.nll},
                            {"val_accuracy", r.accuracy},
                            {"val_macro_f1", r.macro_f1},
                            {"seconds", seconds},
                            {"examples_per_second", static_cast<double>(examples) / std::max(seconds, 1e-9)}};
    std::fprintf(stderr, "%s epoch %lld: train loss %.4f, val loss %.4f, val accuracy %.4f, macro-F1 %.4f\n",
                 stage.c_str(), static_cast<long long>(epoch), train_loss, r.nll, r.accuracy, r.macro_f1);
    return entry;
  };

  // Stage 1: the head alone on frozen encoder features.
  if (state["stage"].get<int>() == 1) {
    if (o.head_epochs > 0) {
      const torch::Tensor features = encoder_features(model, train.texts.ids, pad, device, o.progress);
      const std::int64_t steps = (static_cast<std::int64_t>(train.texts.ids.size()) + o.batch - 1) / o.batch;
      torch::optim::AdamW optimizer = detail::make_adamw(model, o.head_lr, o.weight_decay, {"head."});
      for (std::int64_t epoch = 0; epoch < o.head_epochs; ++epoch) {
        const auto start = std::chrono::steady_clock::now();
        const auto batches =
            length_bucketed_batches(train.texts.ids, o.batch, true, o.seed + 101 + static_cast<std::uint64_t>(epoch));
        Progress bar("stage 1 (head) epoch " + std::to_string(epoch + 1) + "/" + std::to_string(o.head_epochs), steps,
                     o.progress);
        double loss_sum = 0;
        std::int64_t examples = 0;
        model.head->train();
        for (std::int64_t step = 0; step < steps; ++step) {
          if (detail::InterruptGuard::interrupted()) {
            bar.finish();
            interrupted(nullptr, {});
          }
          const auto& rows = batches[static_cast<std::size_t>(step)];
          std::vector<std::int64_t> index(rows.begin(), rows.end());
          const torch::Tensor x = features.index_select(0, torch::tensor(index, torch::kLong).to(device));
          const torch::Tensor loss =
              torch::nn::functional::cross_entropy(model.head->forward(x), label_tensor(train.labels, rows, device));
          optimizer.zero_grad();
          loss.backward();
          const double value = loss.item<double>();
          detail::check_finite(value,
                               "stage 1 epoch " + std::to_string(epoch + 1) + " step " + std::to_string(step + 1));
          detail::clip_gradients(model, o.clip_norm);
          detail::set_lr(optimizer,
                         o.head_lr * detail::schedule(epoch * steps + step, steps * o.head_epochs, o.warmup));
          optimizer.step();
          loss_sum += value;
          examples += static_cast<std::int64_t>(rows.size());
          bar.update(step + 1, examples, loss_sum / static_cast<double>(step + 1));
        }
        bar.finish();
        state["log"].push_back(validate_epoch("head", epoch + 1, loss_sum / static_cast<double>(steps),
                                              detail::seconds_since(start), examples));
      }
    }
    state["stage"] = 2;
  }

  // Stage 2: everything, early stopping on validation, LR reduction on plateau.
  std::vector<torch::Tensor> best = resumed.best;
  if (o.epochs > 0) {
    const std::int64_t steps = (static_cast<std::int64_t>(train.texts.ids.size()) + o.batch - 1) / o.batch;
    const std::int64_t total = steps * o.epochs;
    if (o.freeze_embeddings) model.embeddings->word->weight.requires_grad_(false);
    torch::optim::AdamW optimizer = detail::make_adamw(model, o.lr, o.weight_decay);
    if (resume_stage2 && resumed.optimizer) detail::restore_optimizer(optimizer, *resumed.optimizer);
    for (std::int64_t epoch = state["epoch"].get<std::int64_t>(); epoch < o.epochs; ++epoch) {
      const auto start = std::chrono::steady_clock::now();
      const auto batches =
          length_bucketed_batches(train.texts.ids, o.batch, true, o.seed + 1 + static_cast<std::uint64_t>(epoch));
      std::int64_t first = 0;
      double loss_sum = 0;
      if (state["epoch"].get<std::int64_t>() == epoch) {
        first = state["step"].get<std::int64_t>();
        loss_sum = state["loss_sum"].get<double>();
      }
      Progress bar("stage 2 epoch " + std::to_string(epoch + 1) + "/" + std::to_string(o.epochs) + where, steps,
                   o.progress);
      std::int64_t examples = 0;
      const double plateau_scale = state["plateau_scale"].get<double>();
      for (std::int64_t step = first; step < steps; ++step) {
        if (detail::InterruptGuard::interrupted()) {
          bar.finish();
          state["epoch"] = epoch;
          state["step"] = step;
          state["loss_sum"] = loss_sum;
          interrupted(&optimizer, best);
        }
        const auto& rows = batches[static_cast<std::size_t>(step)];
        const Batch batch = collate(train.texts.ids, rows, pad, device);
        model.train();
        torch::Tensor loss;
        {
          detail::AutocastGuard autocast(o.bf16, device);
          const torch::Tensor logits = model.forward(batch.input_ids, batch.attention_mask).logits;
          loss =
              torch::nn::functional::cross_entropy(logits.to(torch::kFloat), label_tensor(train.labels, rows, device));
        }
        optimizer.zero_grad();
        loss.backward();
        const double value = loss.item<double>();
        detail::check_finite(value, "stage 2 epoch " + std::to_string(epoch + 1) + " step " + std::to_string(step + 1));
        detail::clip_gradients(model, o.clip_norm);
        detail::set_lr(optimizer, o.lr * plateau_scale * detail::schedule(epoch * steps + step, total, o.warmup));
        optimizer.step();
        loss_sum += value;
        examples += static_cast<std::int64_t>(rows.size());
        bar.update(step + 1, examples, loss_sum / static_cast<double>(step + 1));
      }
      bar.finish();
      nlohmann::json entry = validate_epoch("full", epoch + 1, loss_sum / static_cast<double>(steps),
                                            detail::seconds_since(start), examples);
      entry["lr_scale"] = plateau_scale;
      state["log"].push_back(entry);
      state["epoch"] = epoch + 1;
      state["step"] = 0;
      state["loss_sum"] = 0.0;
      const double accuracy = entry["val_accuracy"].get<double>();
      const double loss = entry["val_loss"].get<double>();
      if (improves(o.monitor, accuracy, loss, state["best"])) {
        state["best"] = {{"epoch", epoch + 1}, {"accuracy", accuracy}, {"loss", loss}};
        best = detail::snapshot(model);
        state["bad_epochs"] = 0;
        state["plateau_bad"] = 0;
        continue;
      }
      state["bad_epochs"] = state["bad_epochs"].get<std::int64_t>() + 1;
      state["plateau_bad"] = state["plateau_bad"].get<std::int64_t>() + 1;
      if (state["plateau_bad"].get<std::int64_t>() >= o.plateau_patience) {
        state["plateau_scale"] = plateau_scale * o.plateau_factor;
        state["plateau_bad"] = 0;
        std::fprintf(stderr, "no improvement: learning rate scaled by %g\n", o.plateau_factor);
      }
      if (state["bad_epochs"].get<std::int64_t>() >= o.patience) {
        std::fprintf(stderr, "early stop: no improvement for %lld epochs; best was epoch %lld\n",
                     static_cast<long long>(o.patience),
                     static_cast<long long>(state["best"]["epoch"].get<std::int64_t>()));
        break;
      }
    }
    if (!best.empty()) detail::restore(model, best);
  }

  // Temperature scaling on the validation logits of the kept weights.
  const torch::Tensor val_logits = predict(model, val.texts.ids, pad, device);
  const double temperature = eval::fit_temperature(
      std::span<const float>(val_logits.data_ptr<float>(), static_cast<std::size_t>(val_logits.numel())), val.labels,
      labels.size());
  const eval::Report val_report = report_of(val_logits, val.labels, labels, temperature);

  nlohmann::json summary = {{"command", "train"},
                            {"options", options},
                            {"labels", labels.names()},
                            {"rows", {{"train", train.texts.ids.size()}, {"val", val.texts.ids.size()}}},
                            {"truncated", truncated},
                            {"initialized", loaded.report.initialized},
                            {"epochs", state["log"]},
                            {"best", state["best"]},
                            {"temperature", temperature},
                            {"validation", eval::to_json(val_report)},
                            {"threads", torch::get_num_threads()}};
  if (test) {
    const auto start = std::chrono::steady_clock::now();
    const torch::Tensor logits = predict(model, test->texts.ids, pad, device);
    eval::Report r = report_of(logits, test->labels, labels, temperature);
    r.examples_per_second = static_cast<double>(test->texts.ids.size()) / std::max(detail::seconds_since(start), 1e-9);
    summary["rows"]["test"] = test->texts.ids.size();
    summary["test"] = eval::to_json(r);
  }
  summary["wall_seconds"] = detail::seconds_since(job.started);
  SaveOptions save;
  save.tokenizer_dir = o.model_dir;
  save.overwrite = o.overwrite;
  save.config_fields = {{"edgeroute_temperature", temperature}};
  save.extra_files.emplace_back("training_log.json", summary.dump(2) + "\n");
  save_model(model, o.out_dir, save);
  detail::remove_resume(o.out_dir);
  return summary;
}

}  // namespace edgeroute::train
