// Where the encoder's weights come from: a Hugging Face checkpoint (float
// tensors under Hugging Face names) or an .edge file (our canonical names,
// linear weights stored int8 with per-row scales). Level: model loading.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "edgeroute/modelio/hf_config.h"
#include "edgeroute/modelio/safetensors.h"

namespace edgeroute::engine {

// A weight matrix [rows, cols] as stored: float32, or int8 rows with one
// scale per row (symmetric, scale = amax / 127; all-zero rows get scale 1).
struct StoredMatrix {
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::vector<float> f32;
  std::vector<std::int8_t> q8;
  std::vector<float> scale;
  bool is_int8() const { return !q8.empty(); }
};

// Symmetric per-row int8 quantization of a float matrix.
StoredMatrix quantize_rows(const std::vector<float>& w, std::int64_t rows, std::int64_t cols);
std::vector<float> dequantize(const StoredMatrix& m);

// How an .edge file stores a quantization group's weights.
enum class Storage : std::uint8_t { kFp32, kInt8, kInt4 };
const char* storage_name(Storage s);

// A matrix stored in 4 bits: symmetric int4 values in [-7, 7] with one scale
// per `group` consecutive columns of a row (scale = amax / 7; all-zero groups
// get scale 1). Two values per byte, column 2j in the low nibble and 2j + 1
// in the high nibble, two's complement. `group` divides cols and is even.
struct Int4Matrix {
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::int64_t group = 0;
  std::vector<std::uint8_t> packed;  // [rows, cols / 2]
  std::vector<float> scale;          // [rows, cols / group]
};

// Throws edgeroute::Error when cols or group do not fit the layout above.
Int4Matrix quantize_int4(const std::vector<float>& w, std::int64_t rows, std::int64_t cols, std::int64_t group);
// The per-row int8 matrix the runtime executes for a 4-bit one: row scale
// s = max_g(s_g) / 18 and q8 = round(q4 * s_g / s), so |q8| <= 126 and a row
// with one group converts exactly (q8 = 18 * q4). Throws for a nibble of -8
// (never written; a corrupt file) naming `source`.
StoredMatrix widen_int4(const Int4Matrix& m, const std::string& source);

// The quantizable matrices are grouped as the runtime executes them; one
// decision (int8, 4-bit or FP32) per group: "embeddings.word",
// "layers.{i}.attn.qkv" (q, k and v fused), "layers.{i}.attn.o",
// "layers.{i}.ffn.up", "layers.{i}.ffn.down". Returns "" for tensors that are
// never quantized (norms, biases, positions, pooler, classifier head).
std::string quantization_group(const std::string& canonical_weight);
// Every group of a config, in execution order.
std::vector<std::string> quantization_groups(const modelio::EncoderConfig& config);

// Float tensors outside the groups that INT8 precision stores as per-row
// int8 (quantize_rows) and dequantizes back to float at load, so only the
// file shrinks: the position embeddings and the pooler (BERT) or
// pre-classifier (DistilBERT) weight. Their arithmetic stays FP32.
bool int8_at_rest(const std::string& canonical_weight);
// A float matrix as INT8 precision serves such a tensor: the stored int8
// values dequantized, or a float one quantized per row and dequantized.
std::vector<float> at_rest_values(StoredMatrix m);

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  // File name, for messages.
  virtual const std::string& source() const = 0;
  virtual bool has(const std::string& canonical) const = 0;
  // A float tensor by canonical name; throws edgeroute::Error naming the file
  // and tensor when it is missing or its shape differs.
  virtual std::vector<float> vector(const std::string& canonical, const std::vector<std::int64_t>& shape) const = 0;
  // A matrix by canonical weight name, float or int8 as stored.
  virtual StoredMatrix matrix(const std::string& canonical, std::int64_t rows, std::int64_t cols) const = 0;
};

// A Hugging Face model.safetensors (any supported name prefix).
class HfWeights final : public WeightSource {
 public:
  HfWeights(const modelio::EncoderConfig& config, const modelio::SafetensorsFile& file);
  const std::string& source() const override { return file_.path(); }
  bool has(const std::string& canonical) const override { return tensors_.count(canonical) > 0; }
  std::vector<float> vector(const std::string& canonical, const std::vector<std::int64_t>& shape) const override;
  StoredMatrix matrix(const std::string& canonical, std::int64_t rows, std::int64_t cols) const override;

 private:
  const modelio::SafetensorsFile& file_;
  std::map<std::string, const modelio::TensorView*, std::less<>> tensors_;
};

// A view of float weights as an .edge file would serve them after storing the
// groups `int4` selects in 4 bits (quantize_int4 then widen_int4): compress
// measures a 4-bit recipe without writing a file. Other tensors pass through.
class Int4View final : public WeightSource {
 public:
  Int4View(const WeightSource& base, std::function<bool(const std::string& group)> int4, std::int64_t group_size)
      : base_(base), int4_(std::move(int4)), group_size_(group_size) {}
  const std::string& source() const override { return base_.source(); }
  bool has(const std::string& canonical) const override { return base_.has(canonical); }
  std::vector<float> vector(const std::string& canonical, const std::vector<std::int64_t>& shape) const override {
    return base_.vector(canonical, shape);
  }
  StoredMatrix matrix(const std::string& canonical, std::int64_t rows, std::int64_t cols) const override;

 private:
  const WeightSource& base_;
  std::function<bool(const std::string& group)> int4_;
  std::int64_t group_size_;
};

// An .edge file: tensors under canonical names; an int8 matrix NAME is stored
// as NAME.q8 (I8 [rows, cols]) and NAME.scale (F32 [rows]); a 4-bit one as
// NAME.q4 (U8 [rows, cols / 2]) and NAME.scale4 (F32 [rows, cols / group]),
// served widened to int8 (widen_int4).
class EdgeWeights final : public WeightSource {
 public:
  explicit EdgeWeights(const modelio::SafetensorsFile& file) : file_(file) {}
  const std::string& source() const override { return file_.path(); }
  bool has(const std::string& canonical) const override;
  std::vector<float> vector(const std::string& canonical, const std::vector<std::int64_t>& shape) const override;
  StoredMatrix matrix(const std::string& canonical, std::int64_t rows, std::int64_t cols) const override;

 private:
  const modelio::SafetensorsFile& file_;
};

}  // namespace edgeroute::engine
