// The edge runtime's C++ API: text in, label and calibrated probabilities out.
//
// Level: session. tokenizer -> embeddings -> encoder -> head -> softmax(logits
// / temperature). A Classifier is immutable after loading and shared by all
// threads; each thread owns a Session (tokenizer workspace + arena), so the
// steady-state hot path does not allocate.
//
// Heads, as Hugging Face defines them: BERT applies the pooler
// (tanh(W h_cls + b)) then `classifier`; DistilBERT applies `pre_classifier`,
// ReLU, then `classifier`. The head runs in FP32 in both precisions.
// The calibration temperature is read from config.json's
// "edgeroute_temperature" (1 when absent) or the .edge metadata.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "edgeroute/engine/encoder.h"
#include "edgeroute/modelio/label_map.h"
#include "edgeroute/text/tokenizer.h"

namespace edgeroute::engine {

struct Prediction {
  std::int32_t label = 0;            // argmax id; name via Classifier::labels()
  float confidence = 0.0f;           // calibrated probability of `label`
  std::vector<float> probabilities;  // calibrated, one per label
  std::vector<float> logits;         // raw logits (before temperature)
  std::vector<float> embedding;      // last hidden state of [CLS], size H
  std::int64_t tokens = 0;           // ids fed to the encoder, [CLS]/[SEP] included
  bool truncated = false;
};

struct ClassifierOptions {
  Precision precision = Precision::kInt8;
  KeepFp32 keep_fp32;        // INT8 layers to keep in FP32
  std::int64_t max_len = 0;  // <= 0: the tokenizer's default
  text::Utf8Policy utf8 = text::Utf8Policy::kStrict;
  Isa isa = active_isa();
  // A batch runs through the encoder in consecutive groups of sequences of
  // at most this many tokens together (a longer sequence runs alone), so a
  // group's activations stay in L2 (docs/kernels.md). Results do not depend
  // on it: sequences are packed, never padded. Must be >= 1.
  std::int64_t batch_tokens = 96;
};

struct Session {
  text::Workspace ws;
  Arena arena;
  std::vector<std::int32_t> ids;
  std::vector<std::int64_t> lengths;
  std::vector<float> cls, head_tmp, logits;
};

// The calibration temperature stored in a Hugging Face config.json
// ("edgeroute_temperature"; 1 when absent). `source` names the file in errors.
float hf_temperature(const modelio::EncoderConfig& config, const std::string& source);

class Classifier {
 public:
  // A Hugging Face *ForSequenceClassification directory (config.json with
  // labels, model.safetensors, vocab.txt), in options.precision.
  static Classifier from_hf_dir(const std::string& dir, const ClassifierOptions& options = {});
  // An .edge file (edge_file.h): int8 groups run in INT8, the rest in FP32,
  // whatever options.precision says.
  static Classifier from_edge_file(const std::string& path, const ClassifierOptions& options = {});
  // A directory or an .edge file. Throws edgeroute::Error naming the file when
  // something is missing or malformed.
  static Classifier load(const std::string& path, const ClassifierOptions& options = {});
  // From parts already loaded (compress builds many variants of one model).
  static Classifier build_from(const modelio::EncoderConfig& config, text::Tokenizer tokenizer,
                               const WeightSource& weights, float temperature, const ClassifierOptions& options);

  // Classifies texts[i] into out[i] (out is resized). All texts go through the
  // encoder as one packed batch.
  void classify(std::span<const std::string_view> texts, Session& session, std::vector<Prediction>& out) const;
  std::vector<Prediction> classify(std::span<const std::string_view> texts) const;

  const modelio::LabelMap& labels() const { return config_.labels; }
  const modelio::EncoderConfig& config() const { return config_; }
  const EncoderModel& encoder() const { return encoder_; }
  const text::Tokenizer& tokenizer() const { return tokenizer_; }
  float temperature() const { return temperature_; }
  const ClassifierOptions& options() const { return options_; }
  // Figures measured when an .edge file was compressed (empty for a directory).
  const nlohmann::json& figures() const { return figures_; }

 private:
  Classifier(text::Tokenizer tokenizer, EncoderModel encoder)
      : tokenizer_(std::move(tokenizer)), encoder_(std::move(encoder)) {}
  void head(const float* cls, std::int64_t rows, Session& session) const;

  text::Tokenizer tokenizer_;
  EncoderModel encoder_;
  modelio::EncoderConfig config_;
  ClassifierOptions options_;
  float temperature_ = 1.0f;
  nlohmann::json figures_ = nlohmann::json::object();
  std::unique_ptr<PackedF32> pre_;  // pooler (BERT) or pre_classifier (DistilBERT)
  std::vector<float> pre_bias_;
  std::unique_ptr<PackedF32> out_;
  std::vector<float> out_bias_;
};

}  // namespace edgeroute::engine
