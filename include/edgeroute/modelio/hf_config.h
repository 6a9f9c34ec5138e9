// Hugging Face `config.json` of a BERT or DistilBERT encoder.
//
// Reading applies the defaults of transformers' BertConfig / DistilBertConfig
// to absent fields, then validates every size against fixed bounds (so that
// an untrusted config cannot make us allocate without limit) and rejects
// features the engine does not implement, each with an Error naming the
// source file and field. Writing (to_hf_json) starts from the raw JSON so
// unknown fields survive a read/modify/write cycle.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "edgeroute/modelio/label_map.h"

namespace edgeroute::modelio {

enum class Architecture { kBert, kDistilBert };

// "bert" or "distilbert" (the HF model_type).
std::string_view architecture_name(Architecture arch);

// Bounds enforced by parse_hf_config.
inline constexpr std::int64_t kMaxVocabSize = std::int64_t{1} << 24;
inline constexpr std::int64_t kMaxHiddenSize = std::int64_t{1} << 16;
inline constexpr std::int64_t kMaxIntermediateSize = std::int64_t{1} << 18;
inline constexpr std::int64_t kMaxLayers = 256;
inline constexpr std::int64_t kMaxPositions = std::int64_t{1} << 20;
inline constexpr std::int64_t kMaxTypeVocabSize = 1024;

struct EncoderConfig {
  Architecture arch = Architecture::kBert;
  std::int64_t vocab_size = 30522;
  std::int64_t hidden_size = 768;         // BERT hidden_size, DistilBERT dim
  std::int64_t num_layers = 12;           // num_hidden_layers / n_layers
  std::int64_t num_heads = 12;            // num_attention_heads / n_heads
  std::int64_t intermediate_size = 3072;  // intermediate_size / hidden_dim
  std::int64_t max_position_embeddings = 512;
  std::int64_t type_vocab_size = 2;               // 0 for DistilBERT (no token types)
  std::int64_t pad_token_id = 0;                  // -1 when the config says null
  double layer_norm_eps = 1e-12;                  // DistilBERT: fixed at 1e-12 by its code
  std::string hidden_act = "gelu";                // hidden_act / activation; only "gelu" (erf)
  bool sinusoidal_pos_embds = false;              // DistilBERT only
  LabelMap labels;                                // empty: no classifier labels
  std::vector<std::string> architectures;         // e.g. {"BertModel"}
  nlohmann::json raw = nlohmann::json::object();  // the JSON as read

  std::int64_t head_dim() const { return hidden_size / num_heads; }
};

// Parses and validates config JSON text; `source` names it in errors.
EncoderConfig parse_hf_config(std::string_view json_text, const std::string& source);
// Same, from a file; a directory means `<dir>/config.json`.
EncoderConfig load_hf_config(const std::string& path_or_dir);
// The config as Hugging Face JSON: `raw` with model_type, the architecture's
// own field names, architectures (when non-empty) and id2label/label2id (when
// labels are non-empty; removed otherwise) overwritten.
nlohmann::json to_hf_json(const EncoderConfig& config);

}  // namespace edgeroute::modelio
