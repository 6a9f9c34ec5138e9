#include "edgeroute/engine/edge_file.h"

#include <algorithm>
#include <filesystem>

#include "edgeroute/common/error.h"
#include "edgeroute/modelio/tensor_names.h"

namespace edgeroute::engine {

namespace {

using nlohmann::json;

json tokenizer_json(const text::TokenizerConfig& c) {
  return {{"lowercase", c.normalizer.lowercase},
          {"strip_accents", c.normalizer.strip_accents},
          {"handle_chinese_chars", c.normalizer.handle_chinese_chars},
          {"unk_token", c.unk_token},
          {"cls_token", c.cls_token},
          {"sep_token", c.sep_token},
          {"pad_token", c.pad_token},
          {"mask_token", c.mask_token},
          {"continuing_prefix", c.continuing_prefix},
          {"max_input_chars_per_word", c.max_input_chars_per_word},
          {"model_max_length", c.model_max_length}};
}

text::TokenizerConfig tokenizer_from_json(const json& j, const std::string& source) {
  text::TokenizerConfig c;
  try {
    c.normalizer.lowercase = j.at("lowercase").get<bool>();
    c.normalizer.strip_accents = j.at("strip_accents").get<bool>();
    c.normalizer.handle_chinese_chars = j.at("handle_chinese_chars").get<bool>();
    c.unk_token = j.at("unk_token").get<std::string>();
    c.cls_token = j.at("cls_token").get<std::string>();
    c.sep_token = j.at("sep_token").get<std::string>();
    c.pad_token = j.at("pad_token").get<std::string>();
    c.mask_token = j.at("mask_token").get<std::string>();
    c.continuing_prefix = j.at("continuing_prefix").get<std::string>();
    c.max_input_chars_per_word = j.at("max_input_chars_per_word").get<std::int64_t>();
    c.model_max_length = j.at("model_max_length").get<std::int64_t>();
  } catch (const json::exception& e) {
    throw Error(source + ": metadata tokenizer.config: " + e.what());
  }
  return c;
}

const std::string& meta(const modelio::SafetensorsFile& f, const std::string& key) {
  const auto it = f.metadata().find(key);
  if (it == f.metadata().end()) throw Error(f.path() + ": metadata key '" + key + "' is missing (not an .edge file?)");
  return it->second;
}

json meta_json(const modelio::SafetensorsFile& f, const std::string& key) {
  try {
    return json::parse(meta(f, key));
  } catch (const json::exception& e) {
    throw Error(f.path() + ": metadata key '" + key + "' is not valid JSON: " + e.what());
  }
}

}  // namespace

std::uint64_t write_edge_file(const std::string& path, const EdgeWriteRequest& r) {
  const modelio::EncoderConfig& config = *r.config;
  modelio::SafetensorsWriter writer;
  json groups = {{"fp32", json::array()}, {"int8", json::array()}, {"int4", json::array()}};
  for (const std::string& g : quantization_groups(config)) groups[storage_name(r.storage(g))].push_back(g);

  modelio::Heads heads;
  heads.pooler = config.arch == modelio::Architecture::kBert && r.weights->has("pooler.weight");
  heads.classifier = true;
  for (const modelio::TensorSpec& spec : modelio::expected_tensors(config, heads)) {
    if (!r.weights->has(spec.canonical)) {
      if (spec.required) throw Error(r.weights->source() + ": missing tensor " + spec.canonical);
      continue;
    }
    const std::string group = quantization_group(spec.canonical);
    const Storage storage =
        group.empty() ? (int8_at_rest(spec.canonical) ? Storage::kInt8 : Storage::kFp32) : r.storage(group);
    if (storage == Storage::kInt4) {
      const StoredMatrix f = r.weights->matrix(spec.canonical, spec.shape[0], spec.shape[1]);
      if (f.is_int8()) throw Error(r.weights->source() + ": " + spec.canonical + " is int8; 4-bit needs float weights");
      const Int4Matrix q = quantize_int4(f.f32, f.rows, f.cols, std::min(r.int4_group, f.cols));
      writer.add(spec.canonical + ".q4", {q.rows, q.cols / 2}, std::span<const std::uint8_t>(q.packed));
      writer.add(spec.canonical + ".scale4", {q.rows, q.cols / q.group}, std::span<const float>(q.scale));
    } else if (storage == Storage::kInt8) {
      const StoredMatrix f = r.weights->matrix(spec.canonical, spec.shape[0], spec.shape[1]);
      const StoredMatrix q = f.is_int8() ? f : quantize_rows(f.f32, f.rows, f.cols);
      writer.add(spec.canonical + ".q8", {q.rows, q.cols}, std::span<const std::int8_t>(q.q8));
      writer.add(spec.canonical + ".scale", {q.rows}, std::span<const float>(q.scale));
    } else {
      const std::vector<float> v = r.weights->vector(spec.canonical, spec.shape);
      writer.add(spec.canonical, spec.shape, std::span<const float>(v));
    }
  }

  std::string vocab;
  for (const std::string& t : r.tokenizer->vocab().tokens()) {
    if (t.find('\n') != std::string::npos) throw Error("vocabulary token contains a newline; cannot store it");
    if (!vocab.empty()) vocab.push_back('\n');
    vocab += t;
  }
  writer.set_metadata("general.format", kEdgeFormatName);
  writer.set_metadata("general.version", std::to_string(kEdgeFormatVersion));
  writer.set_metadata("edgeroute.config", modelio::to_hf_json(config).dump());
  writer.set_metadata("tokenizer.vocab", vocab);
  writer.set_metadata("tokenizer.config", tokenizer_json(r.tokenizer->config()).dump());
  writer.set_metadata("edgeroute.temperature", std::to_string(r.temperature));
  writer.set_metadata("edgeroute.source_sha256", r.source_sha256);
  writer.set_metadata("edgeroute.quantization",
                      json{{"weights", "int8 symmetric per output row, scale = amax/127"},
                           {"int4_weights", "int4 symmetric in [-7, 7] per group of columns, scale = amax/7; "
                                            "widened to per-row int8 at load"},
                           {"int4_group_size", r.int4_group},
                           {"vocab_trim", r.vocab_trim},
                           {"activations", "int8 symmetric per token, computed at run time"},
                           {"accumulation", "int32"},
                           {"fp32_ops", "bias, GELU, residual, LayerNorm, softmax, pooler, classifier"},
                           {"int8_at_rest", "position embeddings and the pooler weight: per-row int8 in the "
                                            "file, dequantized to float at load"},
                           {"int4_groups", groups["int4"]},
                           {"int8_groups", groups["int8"]},
                           {"fp32_groups", groups["fp32"]}}
                          .dump());
  writer.set_metadata("edgeroute.figures", r.figures.dump());
  writer.write(path);
  return static_cast<std::uint64_t>(std::filesystem::file_size(path));
}

EdgeFileInfo read_edge_info(const modelio::SafetensorsFile& f) {
  EdgeFileInfo info;
  if (meta(f, "general.format") != kEdgeFormatName) {
    throw Error(f.path() + ": general.format is '" + meta(f, "general.format") + "', not '" + kEdgeFormatName + "'");
  }
  const std::string& v = meta(f, "general.version");
  try {
    std::size_t used = 0;
    info.version = std::stoll(v, &used);
    if (used != v.size()) throw std::invalid_argument(v);
  } catch (const std::exception&) {
    throw Error(f.path() + ": general.version '" + v + "' is not an integer");
  }
  if (info.version < 1) throw Error(f.path() + ": general.version " + v + " is not a valid version");
  if (info.version > kEdgeFormatVersion) {
    throw Error(f.path() + ": .edge format version " + v + " is newer than this edgeroute reads (" +
                std::to_string(kEdgeFormatVersion) + "); upgrade edgeroute");
  }
  info.config = modelio::parse_hf_config(meta(f, "edgeroute.config"), f.path() + " [edgeroute.config]");
  if (info.config.labels.empty()) throw Error(f.path() + ": edgeroute.config has no labels");
  info.tokenizer = tokenizer_from_json(meta_json(f, "tokenizer.config"), f.path());
  const std::string& vocab = meta(f, "tokenizer.vocab");
  std::size_t pos = 0;
  while (pos <= vocab.size()) {
    const std::size_t end = std::min(vocab.find('\n', pos), vocab.size());
    info.vocab.emplace_back(vocab, pos, end - pos);
    pos = end + 1;
  }
  if (static_cast<std::int64_t>(info.vocab.size()) != info.config.vocab_size) {
    throw Error(f.path() + ": tokenizer.vocab has " + std::to_string(info.vocab.size()) +
                " tokens but the config says " + std::to_string(info.config.vocab_size));
  }
  const std::string& t = meta(f, "edgeroute.temperature");
  try {
    info.temperature = std::stof(t);
  } catch (const std::exception&) {
    throw Error(f.path() + ": edgeroute.temperature '" + t + "' is not a number");
  }
  if (!(info.temperature > 0.0f)) throw Error(f.path() + ": edgeroute.temperature must be positive");
  info.source_sha256 = meta(f, "edgeroute.source_sha256");
  info.quantization = meta_json(f, "edgeroute.quantization");
  info.figures = meta_json(f, "edgeroute.figures");
  return info;
}

}  // namespace edgeroute::engine
