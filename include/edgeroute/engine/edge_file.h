// The edge model file (.edge): one safetensors file holding everything the
// edge runtime needs — weights, encoder config, labels, vocabulary, tokenizer
// settings, calibration temperature — and how it was made. docs/format.md is
// the specification; in short:
//
//   tensors   canonical names (modelio/tensor_names.h). An int8 matrix NAME
//             is NAME.q8 (I8 [rows, cols], symmetric per output row) plus
//             NAME.scale (F32 [rows]); a 4-bit one (version 2) is NAME.q4 (U8
//             [rows, cols / 2], two values per byte) plus NAME.scale4 (F32
//             [rows, cols / group]); every other tensor is F32 under NAME.
//             Data is 64-byte aligned where sizes allow (docs/safetensors.md).
//   metadata  general.format = "edgeroute.edge", general.version = "2",
//             edgeroute.config (Hugging Face config.json text, with labels),
//             tokenizer.vocab (tokens joined by "\n"), tokenizer.config (JSON),
//             edgeroute.temperature, edgeroute.source_sha256,
//             edgeroute.quantization (JSON recipe, groups per storage,
//             vocabulary trim),
//             edgeroute.figures (JSON measured at compress time).
//
// Readers accept every version up to kEdgeFormatVersion (version 1 files have
// no 4-bit tensors; versions 1 and 2 store the position embeddings and the
// pooler in FP32, version 3 per-row int8) and refuse newer files with a
// message that says to upgrade.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "edgeroute/engine/weights.h"
#include "edgeroute/modelio/hf_config.h"
#include "edgeroute/modelio/safetensors.h"
#include "edgeroute/text/tokenizer.h"

namespace edgeroute::engine {

inline constexpr std::int64_t kEdgeFormatVersion = 3;
inline constexpr const char* kEdgeFormatName = "edgeroute.edge";

struct EdgeFileInfo {
  std::int64_t version = 0;
  modelio::EncoderConfig config;
  text::TokenizerConfig tokenizer;
  std::vector<std::string> vocab;
  float temperature = 1.0f;
  std::string source_sha256;
  nlohmann::json quantization;
  nlohmann::json figures;
};

struct EdgeWriteRequest {
  const modelio::EncoderConfig* config = nullptr;
  const WeightSource* weights = nullptr;  // float weights of the source checkpoint
  const text::Tokenizer* tokenizer = nullptr;
  float temperature = 1.0f;
  std::function<Storage(const std::string& group)> storage;  // how each quantization group is stored
  std::int64_t int4_group = 128;  // columns per 4-bit scale, capped at the row length
  std::string vocab_trim = "none";  // recorded in edgeroute.quantization (vocab_trim.h)
  std::string source_sha256;
  nlohmann::json figures = nlohmann::json::object();
};

// Writes an .edge file atomically (temporary file + rename). Returns the
// file size in bytes.
std::uint64_t write_edge_file(const std::string& path, const EdgeWriteRequest& request);

// Reads and validates the metadata of an opened .edge file; throws
// edgeroute::Error naming the file and key for a missing or malformed key or
// a version newer than this build supports.
EdgeFileInfo read_edge_info(const modelio::SafetensorsFile& file);

}  // namespace edgeroute::engine
