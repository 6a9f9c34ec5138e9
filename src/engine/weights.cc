#include "edgeroute/engine/weights.h"

#include <algorithm>
#include <array>
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

const char* storage_name(Storage s) {
  switch (s) {
    case Storage::kFp32:
      return "fp32";
    case Storage::kInt8:
      return "int8";
    case Storage::kInt4:
      return "int4";
  }
  return "?";
}

Int4Matrix quantize_int4(const std::vector<float>& w, std::int64_t rows, std::int64_t cols, std::int64_t group) {
  if (cols <= 0 || cols % 2 != 0) throw Error("int4 storage needs an even column count, got " + std::to_string(cols));
  if (group <= 0 || group % 2 != 0 || cols % group != 0) {
    throw Error("int4 group size " + std::to_string(group) + " must be even and divide the column count " +
                std::to_string(cols));
  }
  if (static_cast<std::int64_t>(w.size()) != rows * cols) throw Error("quantize_int4: matrix size mismatch");
  Int4Matrix m;
  m.rows = rows;
  m.cols = cols;
  m.group = group;
  m.packed.assign(static_cast<std::size_t>(rows * cols / 2), 0);
  const std::int64_t groups = cols / group;
  m.scale.resize(static_cast<std::size_t>(rows * groups));
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t g = 0; g < groups; ++g) {
      const float* x = w.data() + r * cols + g * group;
      float amax = 0.0f;
      for (std::int64_t c = 0; c < group; ++c) amax = std::max(amax, std::fabs(x[c]));
      const float s = amax > 0.0f ? amax / 7.0f : 1.0f;
      m.scale[static_cast<std::size_t>(r * groups + g)] = s;
      for (std::int64_t c = 0; c < group; ++c) {
        const auto q = static_cast<std::int32_t>(std::clamp(std::round(x[c] / s), -7.0f, 7.0f));
        const std::int64_t col = g * group + c;
        auto& byte = m.packed[static_cast<std::size_t>((r * cols + col) / 2)];
        byte = static_cast<std::uint8_t>(byte | ((static_cast<std::uint32_t>(q) & 0xFu) << (col % 2 == 0 ? 0 : 4)));
      }
    }
  }
  return m;
}

StoredMatrix widen_int4(const Int4Matrix& m, const std::string& source) {
  StoredMatrix out;
  out.rows = m.rows;
  out.cols = m.cols;
  out.q8.resize(static_cast<std::size_t>(m.rows * m.cols));
  out.scale.resize(static_cast<std::size_t>(m.rows));
  const std::int64_t groups = m.cols / m.group;
  for (std::int64_t r = 0; r < m.rows; ++r) {
    const float* gs = m.scale.data() + r * groups;
    const float smax = *std::max_element(gs, gs + groups);
    const float s = smax / 18.0f;
    out.scale[static_cast<std::size_t>(r)] = s;
    for (std::int64_t g = 0; g < groups; ++g) {
      // int8 value of each nibble in this group; -8 (index 8) is corrupt.
      std::array<std::int8_t, 16> lut{};
      const float ratio = gs[g] / s;
      for (std::int32_t nib = 0; nib < 16; ++nib) {
        const std::int32_t q4 = nib >= 8 ? nib - 16 : nib;
        const std::int32_t q8 = gs[g] == smax ? 18 * q4 : static_cast<std::int32_t>(std::lround(static_cast<float>(q4) * ratio));
        lut[static_cast<std::size_t>(nib)] = static_cast<std::int8_t>(std::clamp(q8, -127, 127));
      }
      const std::uint8_t* in = m.packed.data() + (r * m.cols + g * m.group) / 2;
      std::int8_t* o = out.q8.data() + r * m.cols + g * m.group;
      bool corrupt = false;
      for (std::int64_t j = 0; j < m.group / 2; ++j) {
        const std::uint8_t lo = in[j] & 0xF;
        const std::uint8_t hi = in[j] >> 4;
        corrupt = corrupt || lo == 8 || hi == 8;
        o[2 * j] = lut[lo];
        o[2 * j + 1] = lut[hi];
      }
      if (corrupt) {
        throw Error(source + ": 4-bit value -8 in row " + std::to_string(r) + ", columns " +
                    std::to_string(g * m.group) + ".." + std::to_string((g + 1) * m.group - 1) +
                    " (writers use [-7, 7]; the file is corrupt)");
      }
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

bool int8_at_rest(const std::string& w) {
  return w == "embeddings.position.weight" || w == "pooler.weight" || w == "head.pre.weight";
}

std::vector<float> at_rest_values(StoredMatrix m) {
  return dequantize(m.is_int8() ? m : quantize_rows(m.f32, m.rows, m.cols));
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

StoredMatrix Int4View::matrix(const std::string& canonical, std::int64_t rows, std::int64_t cols) const {
  StoredMatrix m = base_.matrix(canonical, rows, cols);
  const std::string group = quantization_group(canonical);
  if (m.is_int8() || group.empty() || !int4_(group)) return m;
  return widen_int4(quantize_int4(m.f32, rows, cols, std::min(group_size_, cols)), base_.source());
}

bool EdgeWeights::has(const std::string& canonical) const {
  return file_.find(canonical) != nullptr || file_.find(canonical + ".q8") != nullptr ||
         file_.find(canonical + ".q4") != nullptr;
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
  if (const modelio::TensorView* q = file_.find(canonical + ".q4")) {
    if (cols % 2 != 0) throw Error(file_.path() + ": " + canonical + " has an odd column count; it cannot be 4-bit");
    const auto& qv = checked(q, file_.path(), canonical + ".q4", {rows, cols / 2});
    if (qv.dtype != modelio::DType::kU8) throw Error(file_.path() + ": " + qv.name + " must be U8");
    const modelio::TensorView* sv = file_.find(canonical + ".scale4");
    if (sv == nullptr) throw Error(file_.path() + ": missing tensor " + canonical + ".scale4");
    if (sv->shape.size() != 2 || sv->shape[0] != rows || sv->shape[1] <= 0 || cols % sv->shape[1] != 0 ||
        (cols / sv->shape[1]) % 2 != 0) {
      throw Error(file_.path() + ": tensor " + sv->name + " has shape " + shape_text(sv->shape) + ", expected [" +
                  std::to_string(rows) + ", G] with G dividing " + std::to_string(cols) + " into even groups");
    }
    Int4Matrix m4;
    m4.rows = rows;
    m4.cols = cols;
    m4.group = cols / sv->shape[1];
    const auto data = qv.as<std::uint8_t>();
    m4.packed.assign(data.begin(), data.end());
    m4.scale = vector(canonical + ".scale4", sv->shape);
    for (const float s : m4.scale) {
      if (!(s > 0.0f) || !std::isfinite(s)) {
        throw Error(file_.path() + ": " + canonical + ".scale4 has a non-positive scale");
      }
    }
    return widen_int4(m4, file_.path() + ": " + canonical + ".q4");
  }
  m.f32 = vector(canonical, {rows, cols});
  return m;
}

}  // namespace edgeroute::engine
