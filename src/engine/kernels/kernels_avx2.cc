// AVX2 + FMA variants. Compiled with this file's own ISA flags
// (CMakeLists.txt); reached only through dispatch.cc once active_isa() or the
// packed weights say kAvx2. No code here runs at static initialization.
#include <immintrin.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <utility>

#include "kernels_internal.h"
#include "kernels_math.h"

namespace edgeroute::engine {
namespace {

// Shared inline functions (std::min, std::sqrt, std::round, ...) are
// emitted as COMDAT copies in every translation unit that uses them, and the
// linker keeps one: a copy compiled here with wider ISA flags could end up in
// the baseline code and fault on an older CPU. This file therefore uses only
// intrinsics and its own internal-linkage helpers.
inline std::int64_t min_i64(std::int64_t a, std::int64_t b) { return a < b ? a : b; }
// Correctly rounded, as std::sqrt.
inline float sqrt_f32(float v) { return _mm_cvtss_f32(_mm_sqrt_ss(_mm_set_ss(v))); }

constexpr std::int64_t kLanes = 8;
constexpr int kMr = 4;  // rows of A per micro-kernel tile
constexpr int kNb = 2;  // panels of 8 channels per tile: 4x16 outputs, 8 ymm accumulators

// All-ones in the first `count` (clamped to 0..8) int32 lanes, for
// vmaskmov/vpmaskmov, which never touch the memory of masked-off lanes.
inline __m256i lane_mask(std::int64_t count) {
  const auto c = static_cast<int>(count < 0 ? 0 : min_i64(count, kLanes));
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(c), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

inline __m256 load_tail(const float* p, std::int64_t count) {
  return count >= kLanes ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, lane_mask(count));
}
inline void store_tail(float* p, std::int64_t count, __m256 v) {
  if (count >= kLanes) {
    _mm256_storeu_ps(p, v);
  } else {
    _mm256_maskstore_ps(p, lane_mask(count), v);
  }
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline __m256 abs_ps(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

// ---------------------------------------------------------------------------
// INT8 GEMM. vpmaddubsw would saturate with full-range operands, so weights
// are sign-extended to s16 at pack time and each pair (a[k], a[k+1]) is
// broadcast as two s16 lanes; vpmaddwd then adds two exact s16 products
// into s32 (|sum| <= 2 * 128 * 128), so the result is exact.

inline __m256i broadcast_pair(const std::int8_t* p) {
  std::int16_t v = 0;
  std::memcpy(&v, p, sizeof(v));
  return _mm256_cvtepi8_epi16(_mm_set1_epi16(v));
}

// Tile of kRows x (kPanels * 8) outputs over the whole K. Reads exactly k
// bytes per row of A; an odd k's last element is paired with zero.
template <int kRows, int kPanels, class Epilogue>
void gemm_s8s8s32_4x16_avx2(const std::int8_t* a, std::int64_t k, const std::int16_t* w, const Epilogue& epi,
                            std::int64_t m0, std::int64_t n0) {
  __m256i acc[kRows][kPanels];
#pragma GCC unroll 16
  for (auto& row : acc)
#pragma GCC unroll 16
    for (auto& v : row) v = _mm256_setzero_si256();
  const std::int64_t pairs = k / 2;
  const std::int16_t* wp = w;
  for (std::int64_t g = 0; g < pairs; ++g, wp += kPanels * 16) {
    __m256i wv[kPanels];
#pragma GCC unroll 16
    for (int j = 0; j < kPanels; ++j) wv[j] = _mm256_load_si256(reinterpret_cast<const __m256i*>(wp + 16 * j));
#pragma GCC unroll 16
    for (int i = 0; i < kRows; ++i) {
      const __m256i av = broadcast_pair(a + i * k + 2 * g);
#pragma GCC unroll 16
      for (int j = 0; j < kPanels; ++j) acc[i][j] = _mm256_add_epi32(acc[i][j], _mm256_madd_epi16(av, wv[j]));
    }
  }
  if (k % 2 != 0) {
    __m256i wv[kPanels];
#pragma GCC unroll 16
    for (int j = 0; j < kPanels; ++j) wv[j] = _mm256_load_si256(reinterpret_cast<const __m256i*>(wp + 16 * j));
#pragma GCC unroll 16
    for (int i = 0; i < kRows; ++i) {
      const auto last = static_cast<std::uint16_t>(static_cast<std::int16_t>(a[i * k + k - 1]));
      const __m256i av = _mm256_set1_epi32(static_cast<std::int32_t>(last));
#pragma GCC unroll 16
      for (int j = 0; j < kPanels; ++j) acc[i][j] = _mm256_add_epi32(acc[i][j], _mm256_madd_epi16(av, wv[j]));
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < kRows; ++i)
#pragma GCC unroll 16
    for (int j = 0; j < kPanels; ++j) epi(m0 + i, n0 + kLanes * j, acc[i][j]);
}

struct StoreS32 {
  std::int32_t* out;
  std::int64_t n;
  void operator()(std::int64_t row, std::int64_t col, __m256i v) const {
    std::int32_t* p = out + row * n + col;
    if (n - col >= kLanes) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v);
    } else {
      _mm256_maskstore_epi32(p, lane_mask(n - col), v);
    }
  }
};

// (float(acc) * a_scale[row]) * w_scale[col] + bias[col], as linear_s8_ref.
inline __m256 gelu256(__m256 v);  // below, with the vector math

// As linear_s8_ref; with kGelu, then GELU by the formula of gelu_f32_avx2.
template <bool kGelu>
struct StoreDequantAs {
  float* c;
  std::int64_t ldc;
  const float* a_scale;
  const float* w_scale;
  const float* bias;
  std::int64_t n;
  void operator()(std::int64_t row, std::int64_t col, __m256i v) const {
    __m256 f = _mm256_cvtepi32_ps(v);
    f = _mm256_mul_ps(f, _mm256_set1_ps(a_scale[row]));
    f = _mm256_mul_ps(f, _mm256_load_ps(w_scale + col));
    if (bias != nullptr) f = _mm256_add_ps(f, load_tail(bias + col, n - col));
    if constexpr (kGelu) f = gelu256(f);
    store_tail(c + row * ldc + col, n - col, f);
  }
};
using StoreDequant = StoreDequantAs<false>;
using StoreDequantGelu = StoreDequantAs<true>;

template <class Epilogue>
using S8TileFn = void (*)(const std::int8_t*, std::int64_t, const std::int16_t*, const Epilogue&, std::int64_t,
                          std::int64_t);

template <class Epilogue, std::size_t... I>
constexpr std::array<S8TileFn<Epilogue>, sizeof...(I)> make_s8_tiles(std::index_sequence<I...>) {
  return {&gemm_s8s8s32_4x16_avx2<static_cast<int>(I / kNb) + 1, static_cast<int>(I % kNb) + 1, Epilogue>...};
}

template <class Epilogue>
void gemm_s8_driver(const std::int8_t* a, std::int64_t m, const PackedS8::Impl& w, const Epilogue& epi) {
  static constexpr auto kTiles = make_s8_tiles<Epilogue>(std::make_index_sequence<kMr * kNb>{});
  const std::int64_t panels = w.n_padded / kLanes;
  for (std::int64_t p0 = 0; p0 < panels; p0 += kNb) {
    const std::int64_t nb = min_i64(kNb, panels - p0);
    const std::int16_t* wb = w.w16.data() + p0 * kLanes * w.k_padded;
    for (std::int64_t m0 = 0; m0 < m; m0 += kMr) {
      const std::int64_t mr = min_i64(kMr, m - m0);
      kTiles[static_cast<std::size_t>((mr - 1) * kNb + (nb - 1))](a + m0 * w.k, w.k, wb, epi, m0, p0 * kLanes);
    }
  }
}

// ---------------------------------------------------------------------------
// FP32 GEMM.

template <int kRows, int kPanels>
void gemm_f32_4x16_avx2(const float* a, std::int64_t lda, std::int64_t k, const float* w, const float* bias, float* c,
                        std::int64_t ldc, std::int64_t n_left) {
  __m256 acc[kRows][kPanels];
#pragma GCC unroll 16
  for (auto& row : acc)
#pragma GCC unroll 16
    for (auto& v : row) v = _mm256_setzero_ps();
  const float* wp = w;
  for (std::int64_t p = 0; p < k; ++p, wp += kPanels * kLanes) {
    __m256 wv[kPanels];
#pragma GCC unroll 16
    for (int j = 0; j < kPanels; ++j) wv[j] = _mm256_load_ps(wp + kLanes * j);
#pragma GCC unroll 16
    for (int i = 0; i < kRows; ++i) {
      const __m256 av = _mm256_broadcast_ss(a + i * lda + p);
#pragma GCC unroll 16
      for (int j = 0; j < kPanels; ++j) acc[i][j] = _mm256_fmadd_ps(av, wv[j], acc[i][j]);
    }
  }
#pragma GCC unroll 16
  for (int j = 0; j < kPanels; ++j) {
    const std::int64_t left = n_left - kLanes * j;
    const __m256 b = bias != nullptr ? load_tail(bias + kLanes * j, left) : _mm256_setzero_ps();
#pragma GCC unroll 16
    for (int i = 0; i < kRows; ++i) {
      const __m256 v = bias != nullptr ? _mm256_add_ps(acc[i][j], b) : acc[i][j];
      store_tail(c + i * ldc + kLanes * j, left, v);
    }
  }
}

using F32TileFn = void (*)(const float*, std::int64_t, std::int64_t, const float*, const float*, float*, std::int64_t,
                           std::int64_t);

template <std::size_t... I>
constexpr std::array<F32TileFn, sizeof...(I)> make_f32_tiles(std::index_sequence<I...>) {
  return {&gemm_f32_4x16_avx2<static_cast<int>(I / kNb) + 1, static_cast<int>(I % kNb) + 1>...};
}

// ---------------------------------------------------------------------------
// Vector math (see kernels_math.h).

template <std::size_t kN>
inline __m256 horner(const float (&coef)[kN], __m256 x) {
  __m256 p = _mm256_set1_ps(coef[kN - 1]);
  for (std::size_t i = kN - 1; i-- > 0;) p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(coef[i]));
  return p;
}

// 2^n is built in the exponent field; the clamp keeps n in [-126, 127].
inline __m256 exp256(__m256 x) {
  const __m256 underflow = _mm256_cmp_ps(x, _mm256_set1_ps(math::kExpLo), _CMP_LT_OQ);
  const __m256 xc = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(math::kExpLo)), _mm256_set1_ps(math::kExpHi));
  const __m256 n =
      _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(math::kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(math::kLn2Hi), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(math::kLn2Lo), r);
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  const __m256 p = _mm256_mul_ps(horner(math::kExpPoly, r), _mm256_castsi256_ps(bits));
  return _mm256_andnot_ps(underflow, p);
}

// Rational form of kernels_math.h (NaN-preserving clamp, as the AVX-512 twin).
// vrcpps is only 12 bits, so this one divides.
inline __m256 erf256(__m256 z) {
  const __m256 zc = _mm256_max_ps(_mm256_set1_ps(-math::kErfClamp), _mm256_min_ps(_mm256_set1_ps(math::kErfClamp), z));
  const __m256 t = _mm256_mul_ps(zc, zc);
  return _mm256_div_ps(_mm256_mul_ps(zc, horner(math::kErfP, t)), horner(math::kErfQ, t));
}

// 0.5 v (1 + erf(v / sqrt 2)) as 0.5 v * erf + 0.5 v, shared by gelu_f32_avx2
// and the fused epilogue so the two agree bit for bit.
inline __m256 gelu256(__m256 v) {
  const __m256 hv = _mm256_mul_ps(_mm256_set1_ps(0.5f), v);
  return _mm256_fmadd_ps(hv, erf256(_mm256_mul_ps(v, _mm256_set1_ps(math::kInvSqrt2))), hv);
}

}  // namespace

void gemm_s8s8s32_avx2(const std::int8_t* a, std::int64_t m, const PackedS8::Impl& w, std::int32_t* acc) {
  gemm_s8_driver(a, m, w, StoreS32{acc, w.n});
}

void linear_s8_avx2(const std::int8_t* a, const float* a_scale, std::int64_t m, const PackedS8::Impl& w,
                    const float* bias, float* c, std::int64_t ldc) {
  gemm_s8_driver(a, m, w, StoreDequant{c, ldc, a_scale, w.scale.data(), bias, w.n});
}

void linear_s8_gelu_avx2(const std::int8_t* a, const float* a_scale, std::int64_t m, const PackedS8::Impl& w,
                         const float* bias, float* c, std::int64_t ldc) {
  gemm_s8_driver(a, m, w, StoreDequantGelu{c, ldc, a_scale, w.scale.data(), bias, w.n});
}

void linear_f32_avx2(const float* a, std::int64_t m, std::int64_t lda, const PackedF32::Impl& w, const float* bias,
                     float* c, std::int64_t ldc) {
  static constexpr auto kTiles = make_f32_tiles(std::make_index_sequence<kMr * kNb>{});
  const std::int64_t panels = w.n_padded / kLanes;
  for (std::int64_t p0 = 0; p0 < panels; p0 += kNb) {
    const std::int64_t nb = min_i64(kNb, panels - p0);
    const float* wb = w.w.data() + p0 * kLanes * w.k;
    const std::int64_t n0 = p0 * kLanes;
    for (std::int64_t m0 = 0; m0 < m; m0 += kMr) {
      const std::int64_t mr = min_i64(kMr, m - m0);
      kTiles[static_cast<std::size_t>((mr - 1) * kNb + (nb - 1))](
          a + m0 * lda, lda, w.k, wb, bias != nullptr ? bias + n0 : nullptr, c + m0 * ldc + n0, ldc, w.n - n0);
    }
  }
}

void quantize_rows_s8_avx2(const float* a, std::int64_t m, std::int64_t k, std::int64_t lda, std::int8_t* q,
                           float* scale) {
  for (std::int64_t i = 0; i < m; ++i) {
    const float* x = a + i * lda;
    std::int8_t* out = q + i * k;
    __m256 vmax = _mm256_setzero_ps();
    for (std::int64_t j = 0; j < k; j += kLanes) vmax = _mm256_max_ps(vmax, abs_ps(load_tail(x + j, k - j)));
    // Same float operations as quantize_rows_s8_ref: bit-identical results.
    float s = hmax(vmax) / 127.0f;
    if (s == 0.0f) s = 1.0f;
    const __m256 inv = _mm256_set1_ps(1.0f / s);
    // |x * inv| < 127.5 (see the AVX-512 twin): vcvtps2dq's nearest-even
    // result is already in [-127, 127].
    std::int64_t j = 0;
    for (; j + kLanes <= k; j += kLanes) {
      const __m256i v = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j), inv));
      const __m128i s16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(out + j), _mm_packs_epi16(s16, s16));
    }
    if (j < k) {
      // Same vector path on a masked load, then only k - j bytes stored.
      alignas(32) std::int32_t tail[kLanes];
      _mm256_store_si256(reinterpret_cast<__m256i*>(tail),
                         _mm256_cvtps_epi32(_mm256_mul_ps(load_tail(x + j, k - j), inv)));
      for (std::int64_t t = 0; t < k - j; ++t) out[j + t] = static_cast<std::int8_t>(tail[t]);
    }
    scale[i] = s;
  }
}

void add_layer_norm_f32_avx2(float* x, const float* residual, std::int64_t m, std::int64_t n, std::int64_t ld,
                             const float* gamma, const float* beta, float eps) {
  for (std::int64_t i = 0; i < m; ++i) {
    float* y = x + i * ld;
    __m256 vsum = _mm256_setzero_ps();
    for (std::int64_t j = 0; j < n; j += kLanes) {
      __m256 v = load_tail(y + j, n - j);
      if (residual != nullptr) {
        v = _mm256_add_ps(v, load_tail(residual + i * ld + j, n - j));
        store_tail(y + j, n - j, v);
      }
      vsum = _mm256_add_ps(vsum, v);
    }
    const float mean = hsum(vsum) / static_cast<float>(n);
    const __m256 vmean = _mm256_set1_ps(mean);
    __m256 vvar = _mm256_setzero_ps();
    for (std::int64_t j = 0; j < n; j += kLanes) {
      const __m256 d =
          _mm256_and_ps(_mm256_sub_ps(load_tail(y + j, n - j), vmean), _mm256_castsi256_ps(lane_mask(n - j)));
      vvar = _mm256_fmadd_ps(d, d, vvar);
    }
    const float var = hsum(vvar) / static_cast<float>(n);
    const __m256 inv = _mm256_set1_ps(1.0f / sqrt_f32(var + eps));
    for (std::int64_t j = 0; j < n; j += kLanes) {
      __m256 v = _mm256_mul_ps(_mm256_sub_ps(load_tail(y + j, n - j), vmean), inv);
      v = _mm256_fmadd_ps(v, load_tail(gamma + j, n - j), load_tail(beta + j, n - j));
      store_tail(y + j, n - j, v);
    }
  }
}

void gelu_f32_avx2(float* x, std::int64_t count) {
  for (std::int64_t j = 0; j < count; j += kLanes) store_tail(x + j, count - j, gelu256(load_tail(x + j, count - j)));
}

void softmax_f32_avx2(float* x, std::int64_t m, std::int64_t n, std::int64_t ld, const float* mask_bias) {
  const __m256 neg_inf = _mm256_set1_ps(-math::kInfinity);
  for (std::int64_t i = 0; i < m; ++i) {
    float* row = x + i * ld;
    __m256 vmax = neg_inf;
    for (std::int64_t j = 0; j < n; j += kLanes) {
      __m256 v = load_tail(row + j, n - j);
      if (mask_bias != nullptr) {
        v = _mm256_add_ps(v, load_tail(mask_bias + j, n - j));
        store_tail(row + j, n - j, v);
      }
      const __m256 valid = _mm256_castsi256_ps(lane_mask(n - j));
      vmax = _mm256_max_ps(vmax, _mm256_blendv_ps(neg_inf, v, valid));
    }
    const __m256 mx = _mm256_set1_ps(hmax(vmax));
    __m256 vsum = _mm256_setzero_ps();
    for (std::int64_t j = 0; j < n; j += kLanes) {
      const __m256 e = exp256(_mm256_sub_ps(load_tail(row + j, n - j), mx));
      store_tail(row + j, n - j, e);
      vsum = _mm256_add_ps(vsum, _mm256_and_ps(e, _mm256_castsi256_ps(lane_mask(n - j))));
    }
    const __m256 inv = _mm256_set1_ps(1.0f / hsum(vsum));
    for (std::int64_t j = 0; j < n; j += kLanes)
      store_tail(row + j, n - j, _mm256_mul_ps(load_tail(row + j, n - j), inv));
  }
}

// As the AVX-512 version: keys transposed to [d, t], both products as axpys.
void attention_head_f32_avx2(const float* q, std::int64_t m, const float* k, const float* v, std::int64_t t,
                             std::int64_t d, std::int64_t ldq, std::int64_t ldkv, float scale, float* out,
                             std::int64_t ldo, float* scratch) {
  float* kt = scratch;              // [d, t]
  float* scores = scratch + d * t;  // [m, t]
  for (std::int64_t j = 0; j < t; ++j) {
    for (std::int64_t c = 0; c < d; ++c) kt[c * t + j] = k[j * ldkv + c];
  }
  const __m256 vscale = _mm256_set1_ps(scale);
  for (std::int64_t i = 0; i < m; ++i) {
    const float* qi = q + i * ldq;
    for (std::int64_t j = 0; j < t; j += kLanes) {
      __m256 acc = _mm256_setzero_ps();
      for (std::int64_t c = 0; c < d; ++c) {
        acc = _mm256_fmadd_ps(_mm256_set1_ps(qi[c]), load_tail(kt + c * t + j, t - j), acc);
      }
      store_tail(scores + i * t + j, t - j, _mm256_mul_ps(acc, vscale));
    }
  }
  softmax_f32_avx2(scores, m, t, t, nullptr);
  for (std::int64_t i = 0; i < m; ++i) {
    const float* p = scores + i * t;
    for (std::int64_t c = 0; c < d; c += kLanes) {
      __m256 acc = _mm256_setzero_ps();
      for (std::int64_t j = 0; j < t; ++j) {
        acc = _mm256_fmadd_ps(_mm256_set1_ps(p[j]), load_tail(v + j * ldkv + c, d - c), acc);
      }
      store_tail(out + i * ldo + c, d - c, acc);
    }
  }
}

void exp_f32_avx2(const float* x, float* y, std::int64_t count) {
  for (std::int64_t j = 0; j < count; j += kLanes) store_tail(y + j, count - j, exp256(load_tail(x + j, count - j)));
}

void erf_f32_avx2(const float* x, float* y, std::int64_t count) {
  for (std::int64_t j = 0; j < count; j += kLanes) store_tail(y + j, count - j, erf256(load_tail(x + j, count - j)));
}

}  // namespace edgeroute::engine
