// Scalar reference kernels: the kScalar fallback and the oracle every vector
// variant is tested against. Written for clarity, in the exact evaluation
// order the contracts in kernels.h state.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "edgeroute/engine/kernels.h"
#include "kernels_math.h"

namespace edgeroute::engine {

void quantize_rows_s8_ref(const float* a, std::int64_t m, std::int64_t k, std::int64_t lda, std::int8_t* q,
                          float* scale) {
  for (std::int64_t i = 0; i < m; ++i) {
    const float* x = a + i * lda;
    float amax = 0.0f;
    for (std::int64_t j = 0; j < k; ++j) amax = std::max(amax, std::fabs(x[j]));
    float s = amax / 127.0f;
    if (s == 0.0f) s = 1.0f;
    const float inv = 1.0f / s;
    for (std::int64_t j = 0; j < k; ++j) {
      // Nearest, ties to even (the default rounding mode), as vcvtps2dq.
      const float r = std::clamp(std::nearbyint(x[j] * inv), -127.0f, 127.0f);
      q[i * k + j] = static_cast<std::int8_t>(r);
    }
    scale[i] = s;
  }
}

void gemm_s8s8s32_ref(const std::int8_t* a, std::int64_t m, std::int64_t k, const std::int8_t* w, std::int64_t n,
                      std::int32_t* acc) {
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      std::int32_t s = 0;
      for (std::int64_t p = 0; p < k; ++p) s += std::int32_t{a[i * k + p]} * std::int32_t{w[j * k + p]};
      acc[i * n + j] = s;
    }
  }
}

void linear_s8_ref(const std::int8_t* a, const float* a_scale, std::int64_t m, std::int64_t k, const std::int8_t* w,
                   const float* w_scale, std::int64_t n, const float* bias, float* c, std::int64_t ldc) {
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      std::int32_t s = 0;
      for (std::int64_t p = 0; p < k; ++p) s += std::int32_t{a[i * k + p]} * std::int32_t{w[j * k + p]};
      float v = static_cast<float>(s) * a_scale[i] * w_scale[j];
      if (bias != nullptr) v += bias[j];
      c[i * ldc + j] = v;
    }
  }
}

void linear_s8_gelu_ref(const std::int8_t* a, const float* a_scale, std::int64_t m, std::int64_t k,
                        const std::int8_t* w, const float* w_scale, std::int64_t n, const float* bias, float* c,
                        std::int64_t ldc) {
  linear_s8_ref(a, a_scale, m, k, w, w_scale, n, bias, c, ldc);
  for (std::int64_t i = 0; i < m; ++i) gelu_f32_ref(c + i * ldc, n);
}

void linear_f32_ref(const float* a, std::int64_t m, std::int64_t k, std::int64_t lda, const float* w, std::int64_t n,
                    const float* bias, float* c, std::int64_t ldc) {
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      float s = 0.0f;
      for (std::int64_t p = 0; p < k; ++p) s += a[i * lda + p] * w[j * k + p];
      if (bias != nullptr) s += bias[j];
      c[i * ldc + j] = s;
    }
  }
}

void add_layer_norm_f32_ref(float* x, const float* residual, std::int64_t m, std::int64_t n, std::int64_t ld,
                            const float* gamma, const float* beta, float eps) {
  for (std::int64_t i = 0; i < m; ++i) {
    float* y = x + i * ld;
    float sum = 0.0f;
    for (std::int64_t j = 0; j < n; ++j) {
      if (residual != nullptr) y[j] += residual[i * ld + j];
      sum += y[j];
    }
    const float mean = sum / static_cast<float>(n);
    // Two passes: the one-pass E[y^2] - mean^2 cancels catastrophically for
    // rows with a large mean.
    float var = 0.0f;
    for (std::int64_t j = 0; j < n; ++j) var += (y[j] - mean) * (y[j] - mean);
    var /= static_cast<float>(n);
    const float inv = 1.0f / std::sqrt(var + eps);
    for (std::int64_t j = 0; j < n; ++j) y[j] = (y[j] - mean) * inv * gamma[j] + beta[j];
  }
}

void gelu_f32_ref(float* x, std::int64_t count) {
  for (std::int64_t i = 0; i < count; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * math::kInvSqrt2));
}

void softmax_f32_ref(float* x, std::int64_t m, std::int64_t n, std::int64_t ld, const float* mask_bias) {
  for (std::int64_t i = 0; i < m; ++i) {
    float* row = x + i * ld;
    if (mask_bias != nullptr) {
      for (std::int64_t j = 0; j < n; ++j) row[j] += mask_bias[j];
    }
    float mx = -std::numeric_limits<float>::infinity();
    for (std::int64_t j = 0; j < n; ++j) mx = std::max(mx, row[j]);
    float sum = 0.0f;
    for (std::int64_t j = 0; j < n; ++j) {
      row[j] = std::exp(row[j] - mx);
      sum += row[j];
    }
    const float inv = 1.0f / sum;
    for (std::int64_t j = 0; j < n; ++j) row[j] *= inv;
  }
}

void attention_head_f32_ref(const float* q, std::int64_t m, const float* k, const float* v, std::int64_t t,
                            std::int64_t d, std::int64_t ldq, std::int64_t ldkv, float scale, float* out,
                            std::int64_t ldo, float* scratch) {
  float* scores = scratch;  // [m, t]
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < t; ++j) {
      float dot = 0.0f;
      for (std::int64_t c = 0; c < d; ++c) dot += q[i * ldq + c] * k[j * ldkv + c];
      scores[i * t + j] = dot * scale;
    }
  }
  softmax_f32_ref(scores, m, t, t, nullptr);
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t c = 0; c < d; ++c) {
      float acc = 0.0f;
      for (std::int64_t j = 0; j < t; ++j) acc += scores[i * t + j] * v[j * ldkv + c];
      out[i * ldo + c] = acc;
    }
  }
}

}  // namespace edgeroute::engine
