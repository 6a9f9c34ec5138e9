// BERT / DistilBERT encoder forward pass for the edge runtime, FP32 or INT8.
//
// Level: model (kernels -> ops -> layers -> model -> session). Weights are
// loaded once, repacked for the active ISA, and are immutable afterwards: one
// EncoderModel is shared by every thread; each thread brings its own Arena.
//
// Sequences are packed, never padded: a batch of S sequences of lengths
// t_0..t_{S-1} is one [sum t_i, H] activation matrix. Every linear layer runs
// once over all tokens of the batch; attention runs per sequence and head.
// For a classifier only the [CLS] row of the last layer is needed, so the
// last layer computes keys and values for every token but queries, the
// attention output and the feed-forward block for [CLS] rows only.
//
// INT8 recipe: symmetric per-output-channel int8 weights (scale amax/127),
// activations quantized per token at run time, int32 accumulation, FP32 bias,
// GELU, residual, LayerNorm and softmax. Embedding rows are stored int8 with
// a per-row scale and dequantized on gather. Any linear layer can be kept in
// FP32 (`keep_fp32`).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "edgeroute/engine/kernels.h"
#include "edgeroute/engine/weights.h"
#include "edgeroute/modelio/hf_config.h"

namespace edgeroute::engine {

enum class Precision : std::uint8_t { kFp32, kInt8 };

// A linear layer in one of the two precisions. Weight [n, k], bias [n].
struct Linear {
  std::int64_t n = 0;
  std::int64_t k = 0;
  std::unique_ptr<PackedF32> f32;  // set when the layer runs in FP32
  std::unique_ptr<PackedS8> s8;    // set when the layer runs in INT8
  std::vector<float> bias;
};

struct EncoderLayer {
  Linear qkv;  // fused query, key, value: n = 3H
  Linear attn_out;
  Linear ffn_up;
  Linear ffn_down;
  std::vector<float> attn_norm_gamma, attn_norm_beta;
  std::vector<float> ffn_norm_gamma, ffn_norm_beta;
};

// Per-thread scratch memory. Buffers grow to the largest batch seen and are
// then reused: no allocation in the steady state.
struct Arena {
  std::vector<float> x, qkv, ctx, tmp, ffn, scores;
  std::vector<std::int8_t> q8;
  std::vector<float> q8_scale;
  std::vector<std::int64_t> cls_rows;
};

// Which quantization groups stay FP32 in an INT8 model, by group name
// (weights.h: "embeddings.word", "layers.3.attn.qkv", "layers.5.ffn.down", ...).
using KeepFp32 = std::function<bool(const std::string& group)>;

class EncoderModel {
 public:
  // Reads the encoder's weights. Matrices stored int8 (an .edge file) run in
  // INT8; float matrices run in `precision`, except groups `keep_fp32` names.
  // Throws edgeroute::Error naming the file and tensor for missing or
  // misshapen tensors.
  static EncoderModel load(const modelio::EncoderConfig& config, const WeightSource& weights, Precision precision,
                           Isa isa, const KeepFp32& keep_fp32 = {});

  // Runs the encoder over `num_seqs` packed sequences: ids holds their tokens
  // back to back, lengths[i] >= 1 tokens each (<= max positions; callers
  // validate). Writes the last hidden state of each sequence's first token
  // ([CLS]) to cls_out [num_seqs, H].
  void forward_cls(std::span<const std::int32_t> ids, std::span<const std::int64_t> lengths, Arena& arena,
                   float* cls_out) const;
  // Full last hidden state [sum lengths, H] (for parity tests and embeddings).
  void forward_all(std::span<const std::int32_t> ids, std::span<const std::int64_t> lengths, Arena& arena,
                   std::vector<float>& hidden) const;

  const modelio::EncoderConfig& config() const { return config_; }
  // kInt8 as soon as any matrix runs in INT8 (an .edge file may keep some
  // groups in FP32), else kFp32.
  Precision precision() const { return precision_; }
  Isa isa() const { return isa_; }
  // Multiply-accumulates executed for one sequence of t tokens (linear
  // layers and attention products), for GMAC/s reporting; cls_only: as
  // forward_cls runs it, with the last layer's tail on [CLS] only.
  double macs(std::int64_t t, bool cls_only) const;

 private:
  void embed(std::span<const std::int32_t> ids, std::span<const std::int64_t> lengths, float* x) const;
  // Embeddings + LayerNorm into arena.x [sum lengths, H]; true when it also
  // quantized them into arena.q8 for the first layer's INT8 QKV.
  bool embed_and_normalize(std::span<const std::int32_t> ids, std::span<const std::int64_t> lengths,
                           Arena& arena) const;
  // x = LayerNorm(x + residual) over `rows` rows of H; when the linear that
  // reads x next (`next`, null after the last layer) runs in INT8, also
  // quantizes x into arena.q8/q8_scale for it and returns true.
  bool normalize(float* x, const float* residual, std::int64_t rows, const std::vector<float>& gamma,
                 const std::vector<float>& beta, const Linear* next, Arena& arena) const;
  // c = a W^T + b, then GELU when `gelu` (fused into the INT8 epilogue).
  // `prequantized`: arena.q8/q8_scale already hold `a` quantized (INT8 only).
  void run_linear(const Linear& l, const float* a, std::int64_t m, std::int64_t lda, float* c, std::int64_t ldc,
                  Arena& arena, bool gelu = false, bool prequantized = false) const;
  void run_layers(std::span<const std::int64_t> lengths, Arena& arena, bool cls_only_last, bool x_quantized) const;

  modelio::EncoderConfig config_;
  Precision precision_ = Precision::kFp32;
  Isa isa_ = Isa::kScalar;
  std::int64_t hidden_ = 0;
  std::int64_t heads_ = 0;
  std::int64_t head_dim_ = 0;
  std::int64_t ffn_ = 0;
  float eps_ = 1e-12f;
  // Embedding tables: FP32, or int8 rows with a per-row scale.
  std::vector<float> word_f32_;
  std::vector<std::int8_t> word_s8_;
  std::vector<float> word_scale_;
  std::vector<float> position_;
  std::vector<float> token_type0_;  // row 0 of the token-type table (BERT); empty for DistilBERT
  std::vector<float> emb_norm_gamma_, emb_norm_beta_;
  std::vector<EncoderLayer> layers_;
};

}  // namespace edgeroute::engine
