#include "edgeroute/modelio/hf_config.h"

#include <filesystem>

#include "edgeroute/common/error.h"
#include "edgeroute/common/mapped_file.h"

namespace edgeroute::modelio {

namespace {

using nlohmann::json;

// Reads integer field `key` (absent or null -> fallback) and checks it lies in [lo, hi].
std::int64_t read_int(const json& j, const char* key, std::int64_t fallback, std::int64_t lo, std::int64_t hi,
                      const std::string& source) {
  std::int64_t value = fallback;
  if (j.contains(key) && !j[key].is_null()) {
    const json& v = j[key];
    if (!v.is_number_integer()) {
      throw Error(source + ": field '" + key + "' is " + v.dump() + ", not an integer");
    }
    if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(hi)) {
      throw Error(source + ": field '" + key + "' is " + v.dump() + ", above the limit of " + std::to_string(hi));
    }
    value = v.get<std::int64_t>();
  }
  if (value < lo || value > hi) {
    throw Error(source + ": field '" + key + "' is " + std::to_string(value) + ", outside [" + std::to_string(lo) +
                ", " + std::to_string(hi) + "]");
  }
  return value;
}

std::string read_string(const json& j, const char* key, const std::string& fallback, const std::string& source) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_string()) throw Error(source + ": field '" + key + "' is not a string");
  return j[key].get<std::string>();
}

bool read_bool(const json& j, const char* key, bool fallback, const std::string& source) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_boolean()) throw Error(source + ": field '" + key + "' is not a boolean");
  return j[key].get<bool>();
}

Architecture read_architecture(const json& j, const std::string& source) {
  std::string model_type;
  if (j.contains("model_type")) {
    if (!j["model_type"].is_string()) throw Error(source + ": field 'model_type' is not a string");
    model_type = j["model_type"].get<std::string>();
  } else if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
             j["architectures"][0].is_string()) {
    // Old configs predate model_type; their class name tells the family.
    const std::string cls = j["architectures"][0].get<std::string>();
    if (cls.rfind("DistilBert", 0) == 0) model_type = "distilbert";
    if (cls.rfind("Bert", 0) == 0) model_type = "bert";
  }
  if (model_type == "bert") return Architecture::kBert;
  if (model_type == "distilbert") return Architecture::kDistilBert;
  if (model_type.empty()) {
    throw Error(source + ": missing 'model_type' (supported: bert, distilbert)");
  }
  throw Error(source + ": unsupported model_type '" + model_type + "' (supported: bert, distilbert)");
}

}  // namespace

std::string_view architecture_name(Architecture arch) { return arch == Architecture::kBert ? "bert" : "distilbert"; }

EncoderConfig parse_hf_config(std::string_view json_text, const std::string& source) {
  json j;
  try {
    j = json::parse(json_text.begin(), json_text.end());
  } catch (const json::exception& e) {
    throw Error(source + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw Error(source + ": config is not a JSON object");

  EncoderConfig c;
  c.arch = read_architecture(j, source);
  const bool bert = c.arch == Architecture::kBert;
  c.vocab_size = read_int(j, "vocab_size", 30522, 1, kMaxVocabSize, source);
  c.max_position_embeddings = read_int(j, "max_position_embeddings", 512, 1, kMaxPositions, source);
  if (bert) {
    c.hidden_size = read_int(j, "hidden_size", 768, 1, kMaxHiddenSize, source);
    c.num_layers = read_int(j, "num_hidden_layers", 12, 1, kMaxLayers, source);
    c.num_heads = read_int(j, "num_attention_heads", 12, 1, kMaxHiddenSize, source);
    c.intermediate_size = read_int(j, "intermediate_size", 3072, 1, kMaxIntermediateSize, source);
    c.type_vocab_size = read_int(j, "type_vocab_size", 2, 1, kMaxTypeVocabSize, source);
    c.hidden_act = read_string(j, "hidden_act", "gelu", source);
    c.sinusoidal_pos_embds = false;
    if (j.contains("layer_norm_eps")) {
      if (!j["layer_norm_eps"].is_number()) throw Error(source + ": field 'layer_norm_eps' is not a number");
      c.layer_norm_eps = j["layer_norm_eps"].get<double>();
    }
    if (!(c.layer_norm_eps > 0.0 && c.layer_norm_eps < 1.0)) {
      throw Error(source + ": field 'layer_norm_eps' is " + std::to_string(c.layer_norm_eps) + ", must be in (0, 1)");
    }
    const std::string pos = read_string(j, "position_embedding_type", "absolute", source);
    if (pos != "absolute") {
      throw Error(source + ": unsupported position_embedding_type '" + pos + "' (supported: absolute)");
    }
  } else {
    c.hidden_size = read_int(j, "dim", 768, 1, kMaxHiddenSize, source);
    c.num_layers = read_int(j, "n_layers", 6, 1, kMaxLayers, source);
    c.num_heads = read_int(j, "n_heads", 12, 1, kMaxHiddenSize, source);
    c.intermediate_size = read_int(j, "hidden_dim", 4 * c.hidden_size, 1, kMaxIntermediateSize, source);
    c.type_vocab_size = 0;
    c.hidden_act = read_string(j, "activation", "gelu", source);
    c.sinusoidal_pos_embds = read_bool(j, "sinusoidal_pos_embds", false, source);
    c.layer_norm_eps = 1e-12;
  }
  const char* act_field = bert ? "hidden_act" : "activation";
  if (c.hidden_act != "gelu") {
    throw Error(source + ": unsupported " + act_field + " '" + c.hidden_act +
                "' (supported: gelu, the exact erf form)");
  }
  if (c.hidden_size % c.num_heads != 0) {
    throw Error(source + ": hidden size " + std::to_string(c.hidden_size) +
                " is not divisible by the number of attention heads " + std::to_string(c.num_heads));
  }
  if (j.contains("pad_token_id") && j["pad_token_id"].is_null()) {
    c.pad_token_id = -1;
  } else {
    c.pad_token_id = read_int(j, "pad_token_id", 0, 0, c.vocab_size - 1, source);
  }
  if (j.contains("architectures") && !j["architectures"].is_null()) {
    const json& a = j["architectures"];
    if (!a.is_array()) throw Error(source + ": field 'architectures' is not an array");
    for (const json& name : a) {
      if (!name.is_string()) throw Error(source + ": field 'architectures' holds a non-string");
      c.architectures.push_back(name.get<std::string>());
    }
  }
  c.labels = LabelMap::from_hf_json(j, source);
  c.raw = std::move(j);
  return c;
}

EncoderConfig load_hf_config(const std::string& path_or_dir) {
  std::string path = path_or_dir;
  std::error_code ec;
  if (std::filesystem::is_directory(path_or_dir, ec)) {
    path = (std::filesystem::path(path_or_dir) / "config.json").string();
  }
  return parse_hf_config(read_text_file(path), path);
}

nlohmann::json to_hf_json(const EncoderConfig& c) {
  json j = c.raw.is_object() ? c.raw : json::object();
  j["model_type"] = std::string(architecture_name(c.arch));
  j["vocab_size"] = c.vocab_size;
  j["max_position_embeddings"] = c.max_position_embeddings;
  if (c.pad_token_id < 0) {
    j["pad_token_id"] = nullptr;
  } else {
    j["pad_token_id"] = c.pad_token_id;
  }
  if (c.arch == Architecture::kBert) {
    j["hidden_size"] = c.hidden_size;
    j["num_hidden_layers"] = c.num_layers;
    j["num_attention_heads"] = c.num_heads;
    j["intermediate_size"] = c.intermediate_size;
    j["hidden_act"] = c.hidden_act;
    j["layer_norm_eps"] = c.layer_norm_eps;
    j["type_vocab_size"] = c.type_vocab_size;
  } else {
    j["dim"] = c.hidden_size;
    j["n_layers"] = c.num_layers;
    j["n_heads"] = c.num_heads;
    j["hidden_dim"] = c.intermediate_size;
    j["activation"] = c.hidden_act;
    j["sinusoidal_pos_embds"] = c.sinusoidal_pos_embds;
  }
  if (!c.architectures.empty()) j["architectures"] = c.architectures;
  if (c.labels.empty()) {
    j.erase("id2label");
    j.erase("label2id");
  } else {
    j["id2label"] = c.labels.to_id2label_json();
    j["label2id"] = c.labels.to_label2id_json();
  }
  return j;
}

}  // namespace edgeroute::modelio
