// Where the encoder's weights come from: a Hugging Face checkpoint (float
// tensors under Hugging Face names) or an .edge file (our canonical names,
// linear weights stored int8 with per-row scales). Level: model loading.
#pragma once

#include <cstdint>
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

// The quantizable matrices are grouped as the runtime executes them; one
// decision (int8 or FP32) per group: "embeddings.word",
// "layers.{i}.attn.qkv" (q, k and v fused), "layers.{i}.attn.o",
// "layers.{i}.ffn.up", "layers.{i}.ffn.down". Returns "" for tensors that are
// never quantized (norms, biases, positions, pooler, classifier head).
std::string quantization_group(const std::string& canonical_weight);
// Every group of a config, in execution order.
std::vector<std::string> quantization_groups(const modelio::EncoderConfig& config);

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

// An .edge file: tensors under canonical names; an int8 matrix NAME is stored
// as NAME.q8 (I8 [rows, cols]) and NAME.scale (F32 [rows]).
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
