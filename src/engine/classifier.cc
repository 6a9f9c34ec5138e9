#include "edgeroute/engine/classifier.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "edgeroute/common/error.h"
#include "edgeroute/engine/edge_file.h"
#include "edgeroute/modelio/safetensors.h"

namespace edgeroute::engine {

Classifier Classifier::build_from(const modelio::EncoderConfig& config, text::Tokenizer tokenizer,
                                  const WeightSource& w, float temperature, const ClassifierOptions& options) {
  if (options.batch_tokens < 1) {
    throw Error("batch_tokens must be at least 1 (got " + std::to_string(options.batch_tokens) + ")");
  }
  if (config.labels.empty()) {
    throw Error(w.source() +
                ": the config has no id2label: not a classifier checkpoint (train one with edgeroute "
                "train)");
  }
  Classifier c(std::move(tokenizer), EncoderModel::load(config, w, options.precision, options.isa, options.keep_fp32));
  c.config_ = config;
  c.options_ = options;
  c.temperature_ = temperature;
  const std::int64_t h = config.hidden_size;
  const auto n = static_cast<std::int64_t>(config.labels.size());
  const std::string pre = config.arch == modelio::Architecture::kBert ? "pooler" : "head.pre";
  StoredMatrix pre_stored = w.matrix(pre + ".weight", h, h);
  const std::vector<float> pre_w = options.precision == Precision::kInt8 ? at_rest_values(std::move(pre_stored))
                                                                         : dequantize(pre_stored);
  c.pre_bias_ = w.vector(pre + ".bias", {h});
  c.pre_ = std::make_unique<PackedF32>(pre_w.data(), h, h, options.isa);
  const auto out_w = w.vector("head.out.weight", {n, h});
  c.out_bias_ = w.vector("head.out.bias", {n});
  c.out_ = std::make_unique<PackedF32>(out_w.data(), n, h, options.isa);
  return c;
}

float hf_temperature(const modelio::EncoderConfig& config, const std::string& source) {
  const auto it = config.raw.find("edgeroute_temperature");
  if (it == config.raw.end()) return 1.0f;
  if (!it->is_number() || it->get<double>() <= 0.0) {
    throw Error(source + ": edgeroute_temperature must be a positive number");
  }
  return it->get<float>();
}

Classifier Classifier::from_hf_dir(const std::string& dir, const ClassifierOptions& options) {
  namespace fs = std::filesystem;
  const modelio::EncoderConfig config = modelio::load_hf_config(dir);
  const float temperature = hf_temperature(config, dir + "/config.json");
  const modelio::SafetensorsFile file = modelio::SafetensorsFile::open((fs::path(dir) / "model.safetensors").string());
  const HfWeights weights(config, file);
  return build_from(config, text::Tokenizer::from_pretrained(dir), weights, temperature, options);
}

Classifier Classifier::from_edge_file(const std::string& path, const ClassifierOptions& options) {
  const modelio::SafetensorsFile file = modelio::SafetensorsFile::open(path);
  EdgeFileInfo info = read_edge_info(file);
  text::Tokenizer tokenizer(text::Vocab::from_tokens(std::move(info.vocab)), info.tokenizer);
  const EdgeWeights weights(file);
  // The file decides each group's precision: int8-stored groups run in INT8,
  // float-stored ones (kept FP32 by compress) must not be requantized.
  ClassifierOptions stored = options;
  stored.precision = Precision::kFp32;
  Classifier c = build_from(info.config, std::move(tokenizer), weights, info.temperature, stored);
  c.figures_ = std::move(info.figures);
  return c;
}

Classifier Classifier::load(const std::string& path, const ClassifierOptions& options) {
  if (std::filesystem::is_directory(path)) return from_hf_dir(path, options);
  return from_edge_file(path, options);
}

void Classifier::head(const float* cls, std::int64_t rows, Session& s) const {
  const std::int64_t h = config_.hidden_size;
  const auto n = static_cast<std::int64_t>(config_.labels.size());
  s.head_tmp.resize(static_cast<std::size_t>(rows * h));
  s.logits.resize(static_cast<std::size_t>(rows * n));
  linear_f32(cls, rows, h, *pre_, pre_bias_.data(), s.head_tmp.data(), h);
  if (config_.arch == modelio::Architecture::kBert) {
    for (float& v : s.head_tmp) v = std::tanh(v);
  } else {
    for (float& v : s.head_tmp) v = std::max(v, 0.0f);
  }
  linear_f32(s.head_tmp.data(), rows, h, *out_, out_bias_.data(), s.logits.data(), n);
}

void Classifier::classify(std::span<const std::string_view> texts, Session& s, std::vector<Prediction>& out) const {
  const std::int64_t h = config_.hidden_size;
  const auto n = static_cast<std::int64_t>(config_.labels.size());
  const auto rows = static_cast<std::int64_t>(texts.size());
  out.resize(texts.size());
  if (texts.empty()) return;
  s.ids.clear();
  s.lengths.clear();
  const std::int64_t max_len = std::min(options_.max_len > 0 ? options_.max_len : tokenizer_.config().model_max_length,
                                        config_.max_position_embeddings);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const std::size_t before = s.ids.size();
    out[i].truncated = tokenizer_.encode(texts[i], s.ids, s.ws, max_len, options_.utf8);
    out[i].tokens = static_cast<std::int64_t>(s.ids.size() - before);
    s.lengths.push_back(out[i].tokens);
  }
  for (const std::int32_t id : s.ids) {
    if (id < 0 || id >= config_.vocab_size) {
      throw Error("token id " + std::to_string(id) + " is outside the model's vocabulary of " +
                  std::to_string(config_.vocab_size) + " (vocab.txt and config.json disagree)");
    }
  }
  s.cls.resize(static_cast<std::size_t>(rows * h));
  const std::span<const std::int32_t> ids(s.ids);
  const std::span<const std::int64_t> lengths(s.lengths);
  std::size_t first = 0;
  std::size_t first_token = 0;
  while (first < lengths.size()) {
    std::size_t last = first + 1;
    std::int64_t tokens = lengths[first];
    while (last < lengths.size() && tokens + lengths[last] <= options_.batch_tokens) tokens += lengths[last++];
    encoder_.forward_cls(ids.subspan(first_token, static_cast<std::size_t>(tokens)),
                         lengths.subspan(first, last - first), s.arena,
                         s.cls.data() + static_cast<std::int64_t>(first) * h);
    first = last;
    first_token += static_cast<std::size_t>(tokens);
  }
  head(s.cls.data(), rows, s);
  for (std::int64_t r = 0; r < rows; ++r) {
    Prediction& p = out[static_cast<std::size_t>(r)];
    const float* logits = s.logits.data() + r * n;
    p.logits.assign(logits, logits + n);
    p.probabilities.resize(static_cast<std::size_t>(n));
    float mx = logits[0];
    for (std::int64_t j = 1; j < n; ++j) mx = std::max(mx, logits[j]);
    float sum = 0.0f;
    for (std::int64_t j = 0; j < n; ++j) {
      const float e = std::exp((logits[j] - mx) / temperature_);
      p.probabilities[static_cast<std::size_t>(j)] = e;
      sum += e;
    }
    std::int32_t best = 0;
    for (std::int64_t j = 0; j < n; ++j) {
      p.probabilities[static_cast<std::size_t>(j)] /= sum;
      if (p.probabilities[static_cast<std::size_t>(j)] > p.probabilities[static_cast<std::size_t>(best)]) {
        best = static_cast<std::int32_t>(j);
      }
    }
    p.label = best;
    p.confidence = p.probabilities[static_cast<std::size_t>(best)];
    p.embedding.assign(s.cls.begin() + r * h, s.cls.begin() + (r + 1) * h);
  }
}

std::vector<Prediction> Classifier::classify(std::span<const std::string_view> texts) const {
  Session s;
  std::vector<Prediction> out;
  classify(texts, s, out);
  return out;
}

}  // namespace edgeroute::engine
