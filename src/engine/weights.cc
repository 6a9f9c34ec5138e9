#include "edgeroute/engine/weights.h"

#include <algorithm>
#include <cmath>

#include "edgeroute/common/error.h"
#include "edgeroute/modelio/tensor_names.h"

namespace edgeroute::engine {

namespace {

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

const modelio::TensorView& checked(const modelio::TensorView* v, const std::string& source, const std::string& name,
                                   const std::vector<std::int64_t>& shape) {
  if (v == nullptr) throw Error(source + ": missing tensor " + name);
  if (v->shape != shape) {
    throw Error(source + ": tensor " + v->name + " has shape " + shape_text(v->shape) + ", expected " +
                shape_text(shape));
  }
  return *v;
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

StoredMatrix quantize_rows(const std::vector<float>& w, std::int64_t rows, std::int64_t cols) {
  StoredMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.q8.resize(static_cast<std::size_t>(rows * cols));
  m.scale.resize(static_cast<std::size_t>(rows));
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* row = w.data() + r * cols;
    float amax = 0.0f;
    for (std::int64_t c = 0; c < cols; ++c) amax = std::max(amax, std::fabs(row[c]));
    const float s = amax > 0.0f ? amax / 127.0f : 1.0f;
    m.scale[static_cast<std::size_t>(r)] = s;
    for (std::int64_t c = 0; c < cols; ++c) {
      const float v = std::round(row[c] / s);
      m.q8[static_cast<std::size_t>(r * cols + c)] = static_cast<std::int8_t>(std::clamp(v, -127.0f, 127.0f));
    }
  }
  return m;
}

std::vector<float> dequantize(const StoredMatrix& m) {
  if (!m.is_int8()) return m.f32;
  std::vector<float> out(m.q8.size());
  for (std::int64_t r = 0; r < m.rows; ++r) {
    for (std::int64_t c = 0; c < m.cols; ++c) {
      const auto i = static_cast<std::size_t>(r * m.cols + c);
      out[i] = static_cast<float>(m.q8[i]) * m.scale[static_cast<std::size_t>(r)];
    }
  }
  return out;
}

std::string quantization_group(const std::string& w) {
  if (w == "embeddings.word.weight") return "embeddings.word";
  if (w.rfind("layers.", 0) != 0 || !ends_with(w, ".weight")) return "";
  const std::string stem = w.substr(0, w.size() - std::string_view(".weight").size());
  for (const char* part : {".attn.q", ".attn.k", ".attn.v"}) {
    if (ends_with(stem, part)) return stem.substr(0, stem.size() - 2) + ".qkv";
  }
  for (const char* part : {".attn.o", ".ffn.up", ".ffn.down"}) {
    if (ends_with(stem, part)) return stem;
  }
  return "";
}

std::vector<std::string> quantization_groups(const modelio::EncoderConfig& config) {
  std::vector<std::string> g{"embeddings.word"};
  for (std::int64_t i = 0; i < config.num_layers; ++i) {
    const std::string p = "layers." + std::to_string(i) + ".";
    for (const char* part : {"attn.qkv", "attn.o", "ffn.up", "ffn.down"}) g.push_back(p + part);
  }
  return g;
}

HfWeights::HfWeights(const modelio::EncoderConfig& config, const modelio::SafetensorsFile& file)
    : file_(file), tensors_(modelio::canonical_tensors(config.arch, file)) {}

std::vector<float> HfWeights::vector(const std::string& canonical, const std::vector<std::int64_t>& shape) const {
  const auto it = tensors_.find(canonical);
  return modelio::to_float32(checked(it == tensors_.end() ? nullptr : it->second, file_.path(), canonical, shape));
}

StoredMatrix HfWeights::matrix(const std::string& canonical, std::int64_t rows, std::int64_t cols) const {
  StoredMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.f32 = vector(canonical, {rows, cols});
  return m;
}

bool EdgeWeights::has(const std::string& canonical) const {
  return file_.find(canonical) != nullptr || file_.find(canonical + ".q8") != nullptr;
}

std::vector<float> EdgeWeights::vector(const std::string& canonical, const std::vector<std::int64_t>& shape) const {
  return modelio::to_float32(checked(file_.find(canonical), file_.path(), canonical, shape));
}

StoredMatrix EdgeWeights::matrix(const std::string& canonical, std::int64_t rows, std::int64_t cols) const {
  StoredMatrix m;
  m.rows = rows;
  m.cols = cols;
  if (const modelio::TensorView* q = file_.find(canonical + ".q8")) {
    const auto& qv = checked(q, file_.path(), canonical + ".q8", {rows, cols});
    if (qv.dtype != modelio::DType::kI8) throw Error(file_.path() + ": " + qv.name + " must be I8");
    const auto data = qv.as<std::int8_t>();
    m.q8.assign(data.begin(), data.end());
    m.scale = vector(canonical + ".scale", {rows});
    for (const float s : m.scale) {
      if (!(s > 0.0f) || !std::isfinite(s)) throw Error(file_.path() + ": " + canonical + ".scale has a non-positive scale");
    }
    return m;
  }
  m.f32 = vector(canonical, {rows, cols});
  return m;
}

}  // namespace edgeroute::engine
