#include "edgeroute/engine/encoder.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "edgeroute/common/error.h"

namespace edgeroute::engine {

namespace {

// A runtime linear layer from stored weights: int8 stays int8; float is
// quantized when `int8` is requested, else packed as FP32.
Linear make_linear(const StoredMatrix& stored, std::vector<float> bias, bool int8, Isa isa) {
  Linear l;
  l.n = stored.rows;
  l.k = stored.cols;
  l.bias = std::move(bias);
  if (stored.is_int8()) {
    l.s8 = std::make_unique<PackedS8>(stored.q8.data(), stored.scale.data(), l.n, l.k, isa);
  } else if (int8) {
    const StoredMatrix q = quantize_rows(stored.f32, l.n, l.k);
    l.s8 = std::make_unique<PackedS8>(q.q8.data(), q.scale.data(), l.n, l.k, isa);
  } else {
    l.f32 = std::make_unique<PackedF32>(stored.f32.data(), l.n, l.k, isa);
  }
  return l;
}

// Rows of several stored matrices stacked (for the fused QKV projection);
// all int8 or all float, as one quantization group is stored.
StoredMatrix stack_rows(const std::vector<StoredMatrix>& parts, const std::string& source) {
  StoredMatrix out;
  out.cols = parts.front().cols;
  for (const StoredMatrix& p : parts) {
    if (p.is_int8() != parts.front().is_int8()) {
      throw Error(source + ": query, key and value weights of one layer must share a precision");
    }
    out.rows += p.rows;
    out.f32.insert(out.f32.end(), p.f32.begin(), p.f32.end());
    out.q8.insert(out.q8.end(), p.q8.begin(), p.q8.end());
    out.scale.insert(out.scale.end(), p.scale.begin(), p.scale.end());
  }
  return out;
}

template <typename T>
void ensure(std::vector<T>& v, std::int64_t count) {
  if (static_cast<std::int64_t>(v.size()) < count) v.resize(static_cast<std::size_t>(count));
}

}  // namespace

EncoderModel EncoderModel::load(const modelio::EncoderConfig& config, const WeightSource& w, Precision precision,
                                Isa isa, const KeepFp32& keep_fp32) {
  if (config.hidden_act != "gelu") {
    throw Error(w.source() + ": activation '" + config.hidden_act + "' is not supported (only gelu)");
  }
  EncoderModel m;
  m.config_ = config;
  m.precision_ = precision;
  m.isa_ = isa;
  m.hidden_ = config.hidden_size;
  m.heads_ = config.num_heads;
  m.head_dim_ = config.head_dim();
  m.ffn_ = config.intermediate_size;
  m.eps_ = static_cast<float>(config.layer_norm_eps);
  const std::int64_t h = m.hidden_;
  const std::int64_t f = m.ffn_;
  const auto int8_for = [&](const std::string& group) {
    return precision == Precision::kInt8 && !(keep_fp32 && keep_fp32(group));
  };

  StoredMatrix word = w.matrix("embeddings.word.weight", config.vocab_size, h);
  if (!word.is_int8() && int8_for("embeddings.word")) word = quantize_rows(word.f32, word.rows, word.cols);
  if (word.is_int8()) {
    m.word_s8_ = std::move(word.q8);
    m.word_scale_ = std::move(word.scale);
  } else {
    m.word_f32_ = std::move(word.f32);
  }
  StoredMatrix position = w.matrix("embeddings.position.weight", config.max_position_embeddings, h);
  m.position_ = precision == Precision::kInt8 ? at_rest_values(std::move(position)) : dequantize(position);
  if (config.arch == modelio::Architecture::kBert) {
    const std::vector<float> types = w.vector("embeddings.token_type.weight", {config.type_vocab_size, h});
    m.token_type0_.assign(types.begin(), types.begin() + h);
  }
  m.emb_norm_gamma_ = w.vector("embeddings.norm.weight", {h});
  m.emb_norm_beta_ = w.vector("embeddings.norm.bias", {h});

  for (std::int64_t i = 0; i < config.num_layers; ++i) {
    const std::string p = "layers." + std::to_string(i) + ".";
    EncoderLayer layer;
    std::vector<StoredMatrix> qkv;
    std::vector<float> qkv_b;
    for (const char* part : {"q", "k", "v"}) {
      qkv.push_back(w.matrix(p + "attn." + part + ".weight", h, h));
      const auto b = w.vector(p + "attn." + part + ".bias", {h});
      qkv_b.insert(qkv_b.end(), b.begin(), b.end());
    }
    layer.qkv = make_linear(stack_rows(qkv, w.source()), std::move(qkv_b), int8_for(p + "attn.qkv"), isa);
    layer.attn_out =
        make_linear(w.matrix(p + "attn.o.weight", h, h), w.vector(p + "attn.o.bias", {h}), int8_for(p + "attn.o"), isa);
    layer.ffn_up =
        make_linear(w.matrix(p + "ffn.up.weight", f, h), w.vector(p + "ffn.up.bias", {f}), int8_for(p + "ffn.up"), isa);
    layer.ffn_down = make_linear(w.matrix(p + "ffn.down.weight", h, f), w.vector(p + "ffn.down.bias", {h}),
                                 int8_for(p + "ffn.down"), isa);
    layer.attn_norm_gamma = w.vector(p + "attn_norm.weight", {h});
    layer.attn_norm_beta = w.vector(p + "attn_norm.bias", {h});
    layer.ffn_norm_gamma = w.vector(p + "ffn_norm.weight", {h});
    layer.ffn_norm_beta = w.vector(p + "ffn_norm.bias", {h});
    m.layers_.push_back(std::move(layer));
  }
  // Report what was built: INT8 as soon as any matrix runs in INT8.
  bool any_int8 = !m.word_s8_.empty();
  for (const EncoderLayer& l : m.layers_) {
    any_int8 = any_int8 || l.qkv.s8 || l.attn_out.s8 || l.ffn_up.s8 || l.ffn_down.s8;
  }
  m.precision_ = any_int8 ? Precision::kInt8 : Precision::kFp32;
  return m;
}

double EncoderModel::macs(std::int64_t t, bool cls_only) const {
  const double h = static_cast<double>(hidden_);
  const double f = static_cast<double>(ffn_);
  const double td = static_cast<double>(t);
  const auto layer = [&](double queries) {
    // QKV for every token, attention scores and context for `queries` rows,
    // then output projection and feed-forward for those rows.
    return td * h * (3 * h) + 2 * queries * td * h + queries * (h * h + 2 * h * f);
  };
  const auto n = static_cast<double>(layers_.size());
  if (!cls_only || layers_.empty()) return n * layer(td);
  return (n - 1) * layer(td) + layer(1);
}

void EncoderModel::embed(std::span<const std::int32_t> ids, std::span<const std::int64_t> lengths, float* x) const {
  const std::int64_t h = hidden_;
  std::size_t tok = 0;
  for (const std::int64_t len : lengths) {
    for (std::int64_t pos = 0; pos < len; ++pos, ++tok) {
      const auto id = static_cast<std::int64_t>(ids[tok]);
      float* row = x + static_cast<std::int64_t>(tok) * h;
      const float* p = position_.data() + pos * h;
      if (!word_s8_.empty()) {
        const std::int8_t* w = word_s8_.data() + id * h;
        const float s = word_scale_[static_cast<std::size_t>(id)];
        for (std::int64_t c = 0; c < h; ++c) row[c] = static_cast<float>(w[c]) * s + p[c];
      } else {
        const float* w = word_f32_.data() + id * h;
        for (std::int64_t c = 0; c < h; ++c) row[c] = w[c] + p[c];
      }
      if (!token_type0_.empty()) {
        for (std::int64_t c = 0; c < h; ++c) row[c] += token_type0_[static_cast<std::size_t>(c)];
      }
    }
  }
}

bool EncoderModel::normalize(float* x, const float* residual, std::int64_t rows, const std::vector<float>& gamma,
                             const std::vector<float>& beta, const Linear* next, Arena& arena) const {
  const std::int64_t h = hidden_;
  if (next == nullptr || !next->s8) {
    add_layer_norm_f32(x, residual, rows, h, h, gamma.data(), beta.data(), eps_);
    return false;
  }
  ensure(arena.q8, rows * h);
  ensure(arena.q8_scale, rows);
  add_layer_norm_quantize_f32(x, residual, rows, h, h, gamma.data(), beta.data(), eps_, arena.q8.data(),
                              arena.q8_scale.data());
  return true;
}

void EncoderModel::run_linear(const Linear& l, const float* a, std::int64_t m, std::int64_t lda, float* c,
                              std::int64_t ldc, Arena& arena, bool gelu, bool prequantized) const {
  const float* bias = l.bias.empty() ? nullptr : l.bias.data();
  if (l.f32) {
    linear_f32(a, m, lda, *l.f32, bias, c, ldc);
    if (gelu) {
      for (std::int64_t i = 0; i < m; ++i) gelu_f32(c + i * ldc, l.n);
    }
    return;
  }
  if (!prequantized) {
    ensure(arena.q8, m * l.k);
    ensure(arena.q8_scale, m);
    quantize_rows_s8(a, m, l.k, lda, arena.q8.data(), arena.q8_scale.data());
  }
  if (gelu) {
    linear_s8_gelu(arena.q8.data(), arena.q8_scale.data(), m, *l.s8, bias, c, ldc);
  } else {
    linear_s8(arena.q8.data(), arena.q8_scale.data(), m, *l.s8, bias, c, ldc);
  }
}

void EncoderModel::run_layers(std::span<const std::int64_t> lengths, Arena& arena, bool cls_only_last,
                              bool x_quantized) const {
  const std::int64_t h = hidden_;
  const std::int64_t d = head_dim_;
  const auto num_seqs = static_cast<std::int64_t>(lengths.size());
  std::int64_t total = 0;
  std::int64_t longest = 0;
  for (const std::int64_t len : lengths) {
    total += len;
    longest = std::max(longest, len);
  }
  ensure(arena.qkv, total * 3 * h);
  ensure(arena.ctx, total * h);
  ensure(arena.tmp, total * h);
  ensure(arena.ffn, total * ffn_);
  ensure(arena.scores, longest * (longest + d));  // attention_head_f32 scratch
  ensure(arena.cls_rows, num_seqs);
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));

  std::int64_t rows = total;  // rows of x that are live
  for (std::size_t li = 0; li < layers_.size(); ++li) {
    const EncoderLayer& layer = layers_[li];
    const bool cls_only = cls_only_last && li + 1 == layers_.size();
    run_linear(layer.qkv, arena.x.data(), rows, h, arena.qkv.data(), 3 * h, arena, /*gelu=*/false, x_quantized);

    // Self-attention per sequence and head. Sequences are packed, so there is
    // no padding to mask. With cls_only, only the query of token 0 is used.
    std::int64_t offset = 0;
    for (std::int64_t s = 0; s < num_seqs; ++s) {
      const std::int64_t t = lengths[static_cast<std::size_t>(s)];
      const std::int64_t queries = cls_only ? 1 : t;
      const std::int64_t out_row = cls_only ? s : offset;
      for (std::int64_t head = 0; head < heads_; ++head) {
        const float* q = arena.qkv.data() + offset * 3 * h + head * d;
        attention_head_f32(q, queries, q + h, q + 2 * h, t, d, 3 * h, 3 * h, scale,
                           arena.ctx.data() + out_row * h + head * d, h, arena.scores.data());
      }
      arena.cls_rows[static_cast<std::size_t>(s)] = offset;
      offset += t;
    }
    if (cls_only) {
      // From here on only the [CLS] rows matter: compact them to the top.
      for (std::int64_t s = 0; s < num_seqs; ++s) {
        const std::int64_t src = arena.cls_rows[static_cast<std::size_t>(s)];
        if (src != s) std::memcpy(arena.x.data() + s * h, arena.x.data() + src * h, sizeof(float) * h);
      }
      rows = num_seqs;
    }

    // Each LayerNorm also quantizes its output when the next linear is INT8
    // (arena.q8 then holds it, until the next run_linear quantizes its own).
    run_linear(layer.attn_out, arena.ctx.data(), rows, h, arena.tmp.data(), h, arena);
    x_quantized = normalize(arena.tmp.data(), arena.x.data(), rows, layer.attn_norm_gamma, layer.attn_norm_beta,
                            &layer.ffn_up, arena);
    std::swap(arena.x, arena.tmp);

    run_linear(layer.ffn_up, arena.x.data(), rows, h, arena.ffn.data(), ffn_, arena, /*gelu=*/true, x_quantized);
    run_linear(layer.ffn_down, arena.ffn.data(), rows, ffn_, arena.tmp.data(), h, arena);
    const Linear* next = li + 1 < layers_.size() ? &layers_[li + 1].qkv : nullptr;
    x_quantized =
        normalize(arena.tmp.data(), arena.x.data(), rows, layer.ffn_norm_gamma, layer.ffn_norm_beta, next, arena);
    std::swap(arena.x, arena.tmp);
  }
}

bool EncoderModel::embed_and_normalize(std::span<const std::int32_t> ids, std::span<const std::int64_t> lengths,
                                       Arena& arena) const {
  const std::int64_t h = hidden_;
  const auto total = static_cast<std::int64_t>(ids.size());
  ensure(arena.x, total * h);
  ensure(arena.tmp, total * h);
  embed(ids, lengths, arena.x.data());
  const Linear* next = layers_.empty() ? nullptr : &layers_.front().qkv;
  return normalize(arena.x.data(), nullptr, total, emb_norm_gamma_, emb_norm_beta_, next, arena);
}

void EncoderModel::forward_cls(std::span<const std::int32_t> ids, std::span<const std::int64_t> lengths, Arena& arena,
                               float* cls_out) const {
  const bool x_quantized = embed_and_normalize(ids, lengths, arena);
  run_layers(lengths, arena, /*cls_only_last=*/true, x_quantized);
  std::memcpy(cls_out, arena.x.data(), sizeof(float) * static_cast<std::size_t>(lengths.size()) * hidden_);
}

void EncoderModel::forward_all(std::span<const std::int32_t> ids, std::span<const std::int64_t> lengths, Arena& arena,
                               std::vector<float>& hidden) const {
  const bool x_quantized = embed_and_normalize(ids, lengths, arena);
  run_layers(lengths, arena, /*cls_only_last=*/false, x_quantized);
  hidden.assign(arena.x.begin(), arena.x.begin() + static_cast<std::ptrdiff_t>(ids.size()) * hidden_);
}

}  // namespace edgeroute::engine
