#include "edgeroute/engine/encoder.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "edgeroute/common/error.h"
#include "edgeroute/modelio/safetensors.h"
#include "edgeroute/modelio/tensor_names.h"

namespace edgeroute::engine {

namespace {

using TensorMap = std::map<std::string, const modelio::TensorView*, std::less<>>;

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// The float32 contents of a canonical tensor, after checking its shape.
std::vector<float> get(const TensorMap& t, const modelio::SafetensorsFile& file, const std::string& name,
                       const std::vector<std::int64_t>& shape) {
  const auto it = t.find(name);
  if (it == t.end()) throw Error(file.path() + ": missing tensor " + name);
  const modelio::TensorView& v = *it->second;
  if (v.shape != shape) {
    throw Error(file.path() + ": tensor " + v.name + " has shape " + shape_text(v.shape) + ", expected " +
                shape_text(shape));
  }
  return modelio::to_float32(v);
}

// Symmetric per-row int8 quantization: scale = amax / 127 (1 for an all-zero
// row), q = round half away from zero of w / scale.
void quantize_weight_rows(const std::vector<float>& w, std::int64_t n, std::int64_t k, std::vector<std::int8_t>& q,
                          std::vector<float>& scale) {
  q.resize(static_cast<std::size_t>(n * k));
  scale.resize(static_cast<std::size_t>(n));
  for (std::int64_t r = 0; r < n; ++r) {
    const float* row = w.data() + r * k;
    float amax = 0.0f;
    for (std::int64_t c = 0; c < k; ++c) amax = std::max(amax, std::fabs(row[c]));
    const float s = amax > 0.0f ? amax / 127.0f : 1.0f;
    scale[static_cast<std::size_t>(r)] = s;
    for (std::int64_t c = 0; c < k; ++c) {
      const float v = std::round(row[c] / s);
      q[static_cast<std::size_t>(r * k + c)] = static_cast<std::int8_t>(std::clamp(v, -127.0f, 127.0f));
    }
  }
}

Linear make_linear(std::vector<float> w, std::vector<float> bias, std::int64_t n, std::int64_t k, bool int8, Isa isa) {
  Linear l;
  l.n = n;
  l.k = k;
  l.bias = std::move(bias);
  if (int8) {
    std::vector<std::int8_t> q;
    std::vector<float> scale;
    quantize_weight_rows(w, n, k, q, scale);
    l.s8 = std::make_unique<PackedS8>(q.data(), scale.data(), n, k, isa);
  } else {
    l.f32 = std::make_unique<PackedF32>(w.data(), n, k, isa);
  }
  return l;
}

template <typename T>
void ensure(std::vector<T>& v, std::int64_t count) {
  if (static_cast<std::int64_t>(v.size()) < count) v.resize(static_cast<std::size_t>(count));
}

}  // namespace

EncoderModel EncoderModel::from_hf(const modelio::EncoderConfig& config, const modelio::SafetensorsFile& file,
                                   Precision precision, Isa isa, const KeepFp32& keep_fp32) {
  if (config.hidden_act != "gelu") {
    throw Error(file.path() + ": activation '" + config.hidden_act + "' is not supported (only gelu)");
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
  const TensorMap t = modelio::canonical_tensors(config.arch, file);

  std::vector<float> word = get(t, file, "embeddings.word.weight", {config.vocab_size, h});
  if (precision == Precision::kInt8) {
    quantize_weight_rows(word, config.vocab_size, h, m.word_s8_, m.word_scale_);
  } else {
    m.word_f32_ = std::move(word);
  }
  m.position_ = get(t, file, "embeddings.position.weight", {config.max_position_embeddings, h});
  if (config.arch == modelio::Architecture::kBert) {
    const std::vector<float> types = get(t, file, "embeddings.token_type.weight", {config.type_vocab_size, h});
    m.token_type0_.assign(types.begin(), types.begin() + h);
  }
  m.emb_norm_gamma_ = get(t, file, "embeddings.norm.weight", {h});
  m.emb_norm_beta_ = get(t, file, "embeddings.norm.bias", {h});

  const auto int8_for = [&](const std::string& weight) {
    return precision == Precision::kInt8 && !(keep_fp32 && keep_fp32(weight));
  };
  for (std::int64_t i = 0; i < config.num_layers; ++i) {
    const std::string p = "layers." + std::to_string(i) + ".";
    EncoderLayer layer;
    std::vector<float> qkv_w;
    std::vector<float> qkv_b;
    for (const char* part : {"q", "k", "v"}) {
      const auto w = get(t, file, p + "attn." + part + ".weight", {h, h});
      const auto b = get(t, file, p + "attn." + part + ".bias", {h});
      qkv_w.insert(qkv_w.end(), w.begin(), w.end());
      qkv_b.insert(qkv_b.end(), b.begin(), b.end());
    }
    layer.qkv = make_linear(std::move(qkv_w), std::move(qkv_b), 3 * h, h, int8_for(p + "attn.q.weight"), isa);
    layer.attn_out = make_linear(get(t, file, p + "attn.o.weight", {h, h}), get(t, file, p + "attn.o.bias", {h}),
                                 h, h, int8_for(p + "attn.o.weight"), isa);
    layer.ffn_up = make_linear(get(t, file, p + "ffn.up.weight", {f, h}), get(t, file, p + "ffn.up.bias", {f}), f,
                               h, int8_for(p + "ffn.up.weight"), isa);
    layer.ffn_down = make_linear(get(t, file, p + "ffn.down.weight", {h, f}),
                                 get(t, file, p + "ffn.down.bias", {h}), h, f, int8_for(p + "ffn.down.weight"), isa);
    layer.attn_norm_gamma = get(t, file, p + "attn_norm.weight", {h});
    layer.attn_norm_beta = get(t, file, p + "attn_norm.bias", {h});
    layer.ffn_norm_gamma = get(t, file, p + "ffn_norm.weight", {h});
    layer.ffn_norm_beta = get(t, file, p + "ffn_norm.bias", {h});
    m.layers_.push_back(std::move(layer));
  }
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

void EncoderModel::run_linear(const Linear& l, const float* a, std::int64_t m, std::int64_t lda, float* c,
                              std::int64_t ldc, Arena& arena) const {
  const float* bias = l.bias.empty() ? nullptr : l.bias.data();
  if (l.f32) {
    linear_f32(a, m, lda, *l.f32, bias, c, ldc);
    return;
  }
  ensure(arena.q8, m * l.k);
  ensure(arena.q8_scale, m);
  quantize_rows_s8(a, m, l.k, lda, arena.q8.data(), arena.q8_scale.data());
  linear_s8(arena.q8.data(), arena.q8_scale.data(), m, *l.s8, bias, c, ldc);
}

void EncoderModel::run_layers(std::span<const std::int64_t> lengths, Arena& arena, bool cls_only_last) const {
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
  ensure(arena.scores, longest * longest);
  ensure(arena.cls_rows, num_seqs);
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));

  std::int64_t rows = total;  // rows of x that are live
  for (std::size_t li = 0; li < layers_.size(); ++li) {
    const EncoderLayer& layer = layers_[li];
    const bool cls_only = cls_only_last && li + 1 == layers_.size();
    run_linear(layer.qkv, arena.x.data(), rows, h, arena.qkv.data(), 3 * h, arena);

    // Self-attention per sequence and head. Sequences are packed, so there is
    // no padding to mask. With cls_only, only the query of token 0 is used.
    std::int64_t offset = 0;
    for (std::int64_t s = 0; s < num_seqs; ++s) {
      const std::int64_t t = lengths[static_cast<std::size_t>(s)];
      const std::int64_t queries = cls_only ? 1 : t;
      const std::int64_t out_row = cls_only ? s : offset;
      for (std::int64_t head = 0; head < heads_; ++head) {
        const float* q = arena.qkv.data() + offset * 3 * h + head * d;
        const float* k = q + h;
        const float* v = q + 2 * h;
        float* sc = arena.scores.data();
        for (std::int64_t i = 0; i < queries; ++i) {
          const float* qi = q + i * 3 * h;
          for (std::int64_t j = 0; j < t; ++j) {
            const float* kj = k + j * 3 * h;
            float dot = 0.0f;
            for (std::int64_t c = 0; c < d; ++c) dot += qi[c] * kj[c];
            sc[i * t + j] = dot * scale;
          }
        }
        softmax_f32(sc, queries, t, t, nullptr);
        for (std::int64_t i = 0; i < queries; ++i) {
          float* out = arena.ctx.data() + (out_row + i) * h + head * d;
          std::fill_n(out, d, 0.0f);
          for (std::int64_t j = 0; j < t; ++j) {
            const float p = sc[i * t + j];
            const float* vj = v + j * 3 * h;
            for (std::int64_t c = 0; c < d; ++c) out[c] += p * vj[c];
          }
        }
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

    run_linear(layer.attn_out, arena.ctx.data(), rows, h, arena.tmp.data(), h, arena);
    add_layer_norm_f32(arena.tmp.data(), arena.x.data(), rows, h, h, layer.attn_norm_gamma.data(),
                       layer.attn_norm_beta.data(), eps_);
    std::swap(arena.x, arena.tmp);

    run_linear(layer.ffn_up, arena.x.data(), rows, h, arena.ffn.data(), ffn_, arena);
    gelu_f32(arena.ffn.data(), rows * ffn_);
    run_linear(layer.ffn_down, arena.ffn.data(), rows, ffn_, arena.tmp.data(), h, arena);
    add_layer_norm_f32(arena.tmp.data(), arena.x.data(), rows, h, h, layer.ffn_norm_gamma.data(),
                       layer.ffn_norm_beta.data(), eps_);
    std::swap(arena.x, arena.tmp);
  }
}

void EncoderModel::embed_and_normalize(std::span<const std::int32_t> ids, std::span<const std::int64_t> lengths,
                                       Arena& arena) const {
  const std::int64_t h = hidden_;
  const auto total = static_cast<std::int64_t>(ids.size());
  ensure(arena.x, total * h);
  ensure(arena.tmp, total * h);
  embed(ids, lengths, arena.x.data());
  add_layer_norm_f32(arena.x.data(), nullptr, total, h, h, emb_norm_gamma_.data(), emb_norm_beta_.data(), eps_);
}

void EncoderModel::forward_cls(std::span<const std::int32_t> ids, std::span<const std::int64_t> lengths,
                               Arena& arena, float* cls_out) const {
  embed_and_normalize(ids, lengths, arena);
  run_layers(lengths, arena, /*cls_only_last=*/true);
  std::memcpy(cls_out, arena.x.data(), sizeof(float) * static_cast<std::size_t>(lengths.size()) * hidden_);
}

void EncoderModel::forward_all(std::span<const std::int32_t> ids, std::span<const std::int64_t> lengths,
                               Arena& arena, std::vector<float>& hidden) const {
  embed_and_normalize(ids, lengths, arena);
  run_layers(lengths, arena, /*cls_only_last=*/false);
  hidden.assign(arena.x.begin(), arena.x.begin() + static_cast<std::ptrdiff_t>(ids.size()) * hidden_);
}

}  // namespace edgeroute::engine
