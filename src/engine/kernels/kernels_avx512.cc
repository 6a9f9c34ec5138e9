// AVX-512 variants (F/BW/DQ/VL + VNNI). Compiled with this file's own ISA
// flags (CMakeLists.txt); reached only through dispatch.cc once active_isa()
// or the packed weights say kAvx512Vnni. No code here runs at static
// initialization.
#include <immintrin.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "kernels_internal.h"
#include "kernels_math.h"
#include "kernels_s8_epilogue.h"
#include "kernels_vmath_avx512.h"

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

constexpr int kMr = 4;  // FP32 tile: rows of A
constexpr int kNb = 4;  // FP32 tile: panels of 16 channels (4x64 outputs, 16 zmm accumulators)

inline std::int32_t load_s32(const std::int8_t* p) {
  std::int32_t v = 0;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// ---------------------------------------------------------------------------
// INT8 GEMM. vpdpbusd multiplies unsigned by signed bytes: the weights are
// packed as w ^ 0x80 = w + 128 (u8) and the activations are the signed
// operand, broadcast straight from memory, so the inner loop is nothing but
// weight loads and vpdpbusd. The epilogue subtracts the per-row compensation
// 128 * sum_k a[m][k]. Sums of 4 products (<= 4 * 255 * 128) and the K-long
// accumulation stay far from int32 overflow, so the result is exact.

// Packed weights are one contiguous stream (blocks follow each other), read
// once per query at batch 1 and too large to stay in L2 across layers; the
// tile prefetches this far ahead (into the next block near a block's end).
// A prefetch past the end of the buffer is harmless.
constexpr std::int64_t kPrefetchBytes = 8192;

// Tile of kRows x (kPanels * 16) outputs over the whole K, for small M: up to
// kMaxRows rows in one pass, so every weight vector is loaded once per tile
// and feeds kRows vpdpbusd. `a` points at the tile's first row (row stride
// k); `w` at the block's packed panels. Reads exactly k bytes per row of A:
// the K tail (k % 4) is gathered bytewise and zero-filled.
template <int kRows, int kPanels, class Epilogue>
void gemm_s8s8s32_tile_avx512vnni(const std::int8_t* a, std::int64_t k, const std::int8_t* w, const Epilogue& epi,
                                  std::int64_t m0, std::int64_t n0) {
  // Short tiles (the last layer's single [CLS] row) would leave vpdpbusd
  // waiting on its own latency: they keep kSets accumulator sets for
  // consecutive k-groups and add them at the end (exact in int32).
  constexpr int kSets = kRows * kPanels >= 8 ? 1 : (kRows * kPanels >= 4 ? 2 : 4);
  __m512i acc[kSets][kRows][kPanels];
#pragma GCC unroll 32
  for (auto& set : acc)
#pragma GCC unroll 32
    for (auto& row : set)
#pragma GCC unroll 32
      for (auto& v : row) v = _mm512_setzero_si512();
  const auto step = [&](int set, const std::int8_t* wp, std::int64_t g) {
    __m512i wv[kPanels];
#pragma GCC unroll 32
    for (int j = 0; j < kPanels; ++j) {
      _mm_prefetch(reinterpret_cast<const char*>(wp + kPrefetchBytes + 64 * j), _MM_HINT_T0);
      wv[j] = _mm512_load_si512(wp + 64 * j);
    }
#pragma GCC unroll 32
    for (int i = 0; i < kRows; ++i) {
      const __m512i av = _mm512_set1_epi32(load_s32(a + i * k + 4 * g));
#pragma GCC unroll 32
      for (int j = 0; j < kPanels; ++j) acc[set][i][j] = _mm512_dpbusd_epi32(acc[set][i][j], wv[j], av);
    }
  };
  const std::int64_t groups = k / 4;
  const std::int64_t full = groups / kSets * kSets;
  const std::int8_t* wp = w;
  std::int64_t g = 0;
  for (; g < full; g += kSets, wp += kSets * kPanels * 64) {
#pragma GCC unroll 4
    for (int set = 0; set < kSets; ++set) step(set, wp + set * kPanels * 64, g + set);
  }
  for (; g < groups; ++g, wp += kPanels * 64) step(0, wp, g);
  if (const std::int64_t rest = k - 4 * groups; rest != 0) {
    __m512i wv[kPanels];
#pragma GCC unroll 32
    for (int j = 0; j < kPanels; ++j) wv[j] = _mm512_load_si512(wp + 64 * j);
#pragma GCC unroll 32
    for (int i = 0; i < kRows; ++i) {
      std::int32_t tail = 0;
      std::memcpy(&tail, a + i * k + 4 * groups, static_cast<std::size_t>(rest));
      const __m512i av = _mm512_set1_epi32(tail);
#pragma GCC unroll 32
      for (int j = 0; j < kPanels; ++j) acc[0][i][j] = _mm512_dpbusd_epi32(acc[0][i][j], wv[j], av);
    }
  }
#pragma GCC unroll 32
  for (int i = 0; i < kRows; ++i)
#pragma GCC unroll 32
    for (int j = 0; j < kPanels; ++j) {
      __m512i v = acc[0][i][j];
#pragma GCC unroll 4
      for (int set = 1; set < kSets; ++set) v = _mm512_add_epi32(v, acc[set][i][j]);
      epi(m0 + i, n0 + kLanes * j, v);
    }
}

// 128 * sum_k a[row][k] for `rows` rows of A (row stride k): the term the u8
// weights add to every accumulator of that row.
void row_compensation(const std::int8_t* a, std::int64_t rows, std::int64_t k, std::int32_t* out) {
  const __m512i ones = _mm512_set1_epi8(1);
  for (std::int64_t i = 0; i < rows; ++i) {
    __m512i sum = _mm512_setzero_si512();
    for (std::int64_t j = 0; j < k; j += 64) {
      const __mmask64 mask = k - j >= 64 ? ~__mmask64{0} : (__mmask64{1} << (k - j)) - 1;
      sum = _mm512_dpbusd_epi32(sum, ones, _mm512_maskz_loadu_epi8(mask, a + i * k + j));
    }
    out[i] = 128 * _mm512_reduce_add_epi32(sum);
  }
}

constexpr int kMaxRows = 15;  // 15 rows x 2 panels: 30 accumulators + 2 weight vectors
constexpr int kS8Panels = static_cast<int>(kS8GeometryAvx512.block);
constexpr std::int64_t kChunkRows = 16 * kMaxRows;  // rows whose compensation sits on the stack

template <class Epilogue>
using S8TileFn = void (*)(const std::int8_t*, std::int64_t, const std::int8_t*, const Epilogue&, std::int64_t,
                          std::int64_t);

template <class Epilogue, std::size_t... I>
constexpr std::array<S8TileFn<Epilogue>, sizeof...(I)> make_s8_tiles(std::index_sequence<I...>) {
  return {&gemm_s8s8s32_tile_avx512vnni<static_cast<int>(I / kS8Panels) + 1, static_cast<int>(I % kS8Panels) + 1,
                                        Epilogue>...};
}

// Chunks of rows outside (their compensation computed once), then blocks of
// 32 channels, then row tiles: a block's packed weights (32 * k bytes) are
// read once per tile, and a chunk of up to 15 rows (the usual single query)
// is one tile. Larger chunks are split into tiles of near-equal height.
template <class Epilogue>
void gemm_s8_driver(const std::int8_t* a, std::int64_t m, const PackedS8::Impl& w, Epilogue epi) {
  static constexpr auto kTiles = make_s8_tiles<Epilogue>(std::make_index_sequence<kMaxRows * kS8Panels>{});
  std::int32_t compensation[kChunkRows];
  epi.compensation.values = compensation;
  const std::int64_t panels = w.n_padded / kLanes;
  for (std::int64_t c0 = 0; c0 < m; c0 += kChunkRows) {
    const std::int64_t mc = min_i64(kChunkRows, m - c0);
    row_compensation(a + c0 * w.k, mc, w.k, compensation);
    epi.compensation.chunk_m0 = c0;
    const std::int64_t tiles = (mc + kMaxRows - 1) / kMaxRows;
    for (std::int64_t p0 = 0; p0 < panels; p0 += kS8Panels) {
      const std::int64_t nb = min_i64(kS8Panels, panels - p0);
      const std::int8_t* wb = w.w8.data() + p0 * kLanes * w.k_padded;
      std::int64_t m0 = c0;
      for (std::int64_t t = 0; t < tiles; ++t) {
        const std::int64_t mr = mc / tiles + (t < mc % tiles ? 1 : 0);
        kTiles[static_cast<std::size_t>((mr - 1) * kS8Panels + (nb - 1))](a + m0 * w.k, w.k, wb, epi, m0, p0 * kLanes);
        m0 += mr;
      }
    }
  }
}

// ---------------------------------------------------------------------------
// FP32 GEMM: same blocking, one FMA per (row, panel) per k.

template <int kRows, int kPanels>
void gemm_f32_4x64_avx512(const float* a, std::int64_t lda, std::int64_t k, const float* w, const float* bias, float* c,
                          std::int64_t ldc, std::int64_t n_left) {
  __m512 acc[kRows][kPanels];
#pragma GCC unroll 16
  for (auto& row : acc)
#pragma GCC unroll 16
    for (auto& v : row) v = _mm512_setzero_ps();
  const float* wp = w;
  for (std::int64_t p = 0; p < k; ++p, wp += kPanels * kLanes) {
    __m512 wv[kPanels];
#pragma GCC unroll 16
    for (int j = 0; j < kPanels; ++j) wv[j] = _mm512_load_ps(wp + kLanes * j);
#pragma GCC unroll 16
    for (int i = 0; i < kRows; ++i) {
      const __m512 av = _mm512_set1_ps(a[i * lda + p]);
#pragma GCC unroll 16
      for (int j = 0; j < kPanels; ++j) acc[i][j] = _mm512_fmadd_ps(av, wv[j], acc[i][j]);
    }
  }
#pragma GCC unroll 16
  for (int j = 0; j < kPanels; ++j) {
    const __mmask16 mask = lane_mask(n_left - kLanes * j);
    const __m512 b = bias != nullptr ? _mm512_maskz_loadu_ps(mask, bias + kLanes * j) : _mm512_setzero_ps();
#pragma GCC unroll 16
    for (int i = 0; i < kRows; ++i) {
      const __m512 v = bias != nullptr ? _mm512_add_ps(acc[i][j], b) : acc[i][j];
      _mm512_mask_storeu_ps(c + i * ldc + kLanes * j, mask, v);
    }
  }
}

using F32TileFn = void (*)(const float*, std::int64_t, std::int64_t, const float*, const float*, float*, std::int64_t,
                           std::int64_t);

template <std::size_t... I>
constexpr std::array<F32TileFn, sizeof...(I)> make_f32_tiles(std::index_sequence<I...>) {
  return {&gemm_f32_4x64_avx512<static_cast<int>(I / kNb) + 1, static_cast<int>(I % kNb) + 1>...};
}

}  // namespace

void gemm_s8s8s32_avx512vnni(const std::int8_t* a, std::int64_t m, const PackedS8::Impl& w, std::int32_t* acc) {
  gemm_s8_driver(a, m, w, StoreS32{acc, w.n, {}});
}

void linear_s8_avx512vnni(const std::int8_t* a, const float* a_scale, std::int64_t m, const PackedS8::Impl& w,
                          const float* bias, float* c, std::int64_t ldc) {
  gemm_s8_driver(a, m, w, StoreDequant{c, ldc, a_scale, w.scale.data(), bias, w.n, {}});
}

void linear_s8_gelu_avx512vnni(const std::int8_t* a, const float* a_scale, std::int64_t m, const PackedS8::Impl& w,
                               const float* bias, float* c, std::int64_t ldc) {
  gemm_s8_driver(a, m, w, StoreDequantGelu{c, ldc, a_scale, w.scale.data(), bias, w.n, {}});
}

void linear_f32_avx512(const float* a, std::int64_t m, std::int64_t lda, const PackedF32::Impl& w, const float* bias,
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

void quantize_rows_s8_avx512(const float* a, std::int64_t m, std::int64_t k, std::int64_t lda, std::int8_t* q,
                             float* scale) {
  for (std::int64_t i = 0; i < m; ++i) {
    const float* x = a + i * lda;
    std::int8_t* out = q + i * k;
    __m512 vmax = _mm512_setzero_ps();
    for (std::int64_t j = 0; j < k; j += kLanes)
      vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_maskz_loadu_ps(lane_mask(k - j), x + j)));
    // Same float operations as quantize_rows_s8_ref: bit-identical scales
    // and quotients (max is exact in any order).
    float s = _mm512_reduce_max_ps(vmax) / 127.0f;
    if (s == 0.0f) s = 1.0f;
    const __m512 inv = _mm512_set1_ps(1.0f / s);
    // |x * inv| <= 127 (1 + 3 ulp) < 127.5: vcvtps2dq (nearest, ties to even)
    // lands in [-127, 127], so the reference's clamp never acts here.
    std::int64_t j = 0;
    for (; j + kLanes <= k; j += kLanes) {
      const __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + j), inv));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + j), _mm512_cvtsepi32_epi8(v));
    }
    if (j < k) {
      const __mmask16 mask = lane_mask(k - j);
      const __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(mask, x + j), inv));
      _mm512_mask_cvtsepi32_storeu_epi8(out + j, mask, v);
    }
    scale[i] = s;
  }
}

void add_layer_norm_f32_avx512(float* x, const float* residual, std::int64_t m, std::int64_t n, std::int64_t ld,
                               const float* gamma, const float* beta, float eps) {
  for (std::int64_t i = 0; i < m; ++i) {
    float* y = x + i * ld;
    __m512 vsum = _mm512_setzero_ps();
    for (std::int64_t j = 0; j < n; j += kLanes) {
      const __mmask16 mask = lane_mask(n - j);
      __m512 v = _mm512_maskz_loadu_ps(mask, y + j);
      if (residual != nullptr) {
        v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, residual + i * ld + j));
        _mm512_mask_storeu_ps(y + j, mask, v);
      }
      vsum = _mm512_add_ps(vsum, v);
    }
    const float mean = _mm512_reduce_add_ps(vsum) / static_cast<float>(n);
    const __m512 vmean = _mm512_set1_ps(mean);
    __m512 vvar = _mm512_setzero_ps();
    for (std::int64_t j = 0; j < n; j += kLanes) {
      const __mmask16 mask = lane_mask(n - j);
      const __m512 d = _mm512_maskz_sub_ps(mask, _mm512_maskz_loadu_ps(mask, y + j), vmean);
      vvar = _mm512_fmadd_ps(d, d, vvar);
    }
    const float var = _mm512_reduce_add_ps(vvar) / static_cast<float>(n);
    const __m512 inv = _mm512_set1_ps(1.0f / sqrt_f32(var + eps));
    for (std::int64_t j = 0; j < n; j += kLanes) {
      const __mmask16 mask = lane_mask(n - j);
      __m512 v = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(mask, y + j), vmean), inv);
      v = _mm512_fmadd_ps(v, _mm512_maskz_loadu_ps(mask, gamma + j), _mm512_maskz_loadu_ps(mask, beta + j));
      _mm512_mask_storeu_ps(y + j, mask, v);
    }
  }
}

void gelu_f32_avx512(float* x, std::int64_t count) {
  for (std::int64_t j = 0; j < count; j += kLanes) {
    const __mmask16 mask = lane_mask(count - j);
    _mm512_mask_storeu_ps(x + j, mask, gelu512(_mm512_maskz_loadu_ps(mask, x + j)));
  }
}

void softmax_f32_avx512(float* x, std::int64_t m, std::int64_t n, std::int64_t ld, const float* mask_bias) {
  const __m512 neg_inf = _mm512_set1_ps(-math::kInfinity);
  for (std::int64_t i = 0; i < m; ++i) {
    float* row = x + i * ld;
    __m512 vmax = neg_inf;
    for (std::int64_t j = 0; j < n; j += kLanes) {
      const __mmask16 mask = lane_mask(n - j);
      __m512 v = _mm512_mask_loadu_ps(neg_inf, mask, row + j);
      if (mask_bias != nullptr) {
        v = _mm512_mask_add_ps(v, mask, v, _mm512_maskz_loadu_ps(mask, mask_bias + j));
        _mm512_mask_storeu_ps(row + j, mask, v);
      }
      vmax = _mm512_max_ps(vmax, v);
    }
    const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
    __m512 vsum = _mm512_setzero_ps();
    for (std::int64_t j = 0; j < n; j += kLanes) {
      const __mmask16 mask = lane_mask(n - j);
      const __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(mask, row + j), mx));
      _mm512_mask_storeu_ps(row + j, mask, e);
      vsum = _mm512_mask_add_ps(vsum, mask, vsum, e);
    }
    const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vsum));
    for (std::int64_t j = 0; j < n; j += kLanes) {
      const __mmask16 mask = lane_mask(n - j);
      _mm512_mask_storeu_ps(row + j, mask, _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, row + j), inv));
    }
  }
}

// Keys are transposed to [d, t] first so that both products run as axpys
// across contiguous lanes (keys for the scores, head channels for the
// output), with no horizontal reductions. Rows are processed in blocks with
// one accumulator chain per row (and per 16 output lanes), so the FMA
// latency overlaps across rows instead of serializing one row at a time; each
// element still sums in the same order as the reference (over c for a
// score, over j for an output).
namespace {

constexpr std::int64_t kAttnRows = 8;

template <int kRows>
inline void attention_scores_block(const float* q, std::int64_t ldq, const float* kt, std::int64_t t, std::int64_t d,
                                   __m512 vscale, float* scores) {
  for (std::int64_t j = 0; j < t; j += kLanes) {
    const __mmask16 mask = lane_mask(t - j);
    __m512 acc[kRows];
#pragma GCC unroll 16
    for (int r = 0; r < kRows; ++r) acc[r] = _mm512_setzero_ps();
    for (std::int64_t c = 0; c < d; ++c) {
      const __m512 kv = _mm512_maskz_loadu_ps(mask, kt + c * t + j);
#pragma GCC unroll 16
      for (int r = 0; r < kRows; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(q[r * ldq + c]), kv, acc[r]);
    }
#pragma GCC unroll 16
    for (int r = 0; r < kRows; ++r) _mm512_mask_storeu_ps(scores + r * t + j, mask, _mm512_mul_ps(acc[r], vscale));
  }
}

// For t <= 16 * kVecs: the scores of kRows rows stay in registers through
// the softmax (the operations of softmax_f32_avx512, in its order, without
// storing and reloading the scores three times); writes the probabilities,
// [kRows, t], to p.
template <int kRows, int kVecs>
inline void attention_probs_block(const float* q, std::int64_t ldq, const float* kt, std::int64_t t, std::int64_t d,
                                  __m512 vscale, float* p) {
  __mmask16 mask[kVecs];
#pragma GCC unroll 2
  for (int u = 0; u < kVecs; ++u) mask[u] = lane_mask(t - kLanes * u);
  __m512 acc[kRows][kVecs];
#pragma GCC unroll 16
  for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 2
    for (int u = 0; u < kVecs; ++u) acc[r][u] = _mm512_setzero_ps();
  for (std::int64_t c = 0; c < d; ++c) {
    __m512 kv[kVecs];
#pragma GCC unroll 2
    for (int u = 0; u < kVecs; ++u) kv[u] = _mm512_maskz_loadu_ps(mask[u], kt + c * t + kLanes * u);
#pragma GCC unroll 16
    for (int r = 0; r < kRows; ++r) {
      const __m512 qv = _mm512_set1_ps(q[r * ldq + c]);
#pragma GCC unroll 2
      for (int u = 0; u < kVecs; ++u) acc[r][u] = _mm512_fmadd_ps(qv, kv[u], acc[r][u]);
    }
  }
  const __m512 neg_inf = _mm512_set1_ps(-math::kInfinity);
#pragma GCC unroll 16
  for (int r = 0; r < kRows; ++r) {
    __m512 sc[kVecs];
    __m512 vmax = neg_inf;
#pragma GCC unroll 2
    for (int u = 0; u < kVecs; ++u) {
      sc[u] = _mm512_mask_mov_ps(neg_inf, mask[u], _mm512_mul_ps(acc[r][u], vscale));
      vmax = _mm512_max_ps(vmax, sc[u]);
    }
    const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
    __m512 vsum = _mm512_setzero_ps();
#pragma GCC unroll 2
    for (int u = 0; u < kVecs; ++u) {
      sc[u] = exp512(_mm512_sub_ps(sc[u], mx));
      vsum = _mm512_mask_add_ps(vsum, mask[u], vsum, sc[u]);
    }
    const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vsum));
#pragma GCC unroll 2
    for (int u = 0; u < kVecs; ++u) _mm512_mask_storeu_ps(p + r * t + kLanes * u, mask[u], _mm512_mul_ps(sc[u], inv));
  }
}

template <int kRows>
inline void attention_output_block(const float* p, std::int64_t t, const float* v, std::int64_t ldkv, std::int64_t d,
                                   float* out, std::int64_t ldo) {
  for (std::int64_t c = 0; c < d; c += kLanes) {
    const __mmask16 mask = lane_mask(d - c);
    __m512 acc[kRows];
#pragma GCC unroll 16
    for (int r = 0; r < kRows; ++r) acc[r] = _mm512_setzero_ps();
    for (std::int64_t j = 0; j < t; ++j) {
      const __m512 vv = _mm512_maskz_loadu_ps(mask, v + j * ldkv + c);
#pragma GCC unroll 16
      for (int r = 0; r < kRows; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(p[r * t + j]), vv, acc[r]);
    }
#pragma GCC unroll 16
    for (int r = 0; r < kRows; ++r) _mm512_mask_storeu_ps(out + r * ldo + c, mask, acc[r]);
  }
}

// Calls fn for the last block with its row count, 1..kRows, as a compile-time
// constant (nothing for 0 rows).
template <int kRows, class Fn>
inline void last_row_block(std::int64_t i, std::int64_t rows, Fn& fn) {
  if constexpr (kRows > 0) {
    if (rows == kRows) {
      fn(i, std::integral_constant<int, kRows>{});
    } else {
      last_row_block<kRows - 1>(i, rows, fn);
    }
  }
}

// Blocks of kAttnRows rows, then one block of the remaining 1..7 rows: every
// block keeps independent FMA chains, where single-row leftovers would run
// one latency-bound chain each (m = 15 becomes 8 + 7, not 8 + 4 + 1 + 1 + 1).
template <class Fn>
inline void for_row_blocks(std::int64_t m, Fn&& fn) {
  std::int64_t i = 0;
  for (; i + kAttnRows <= m; i += kAttnRows) fn(i, std::integral_constant<int, kAttnRows>{});
  last_row_block<kAttnRows - 1>(i, m - i, fn);
}

}  // namespace

void attention_head_f32_avx512(const float* q, std::int64_t m, const float* k, const float* v, std::int64_t t,
                               std::int64_t d, std::int64_t ldq, std::int64_t ldkv, float scale, float* out,
                               std::int64_t ldo, float* scratch) {
  float* kt = scratch;              // [d, t]
  float* scores = scratch + d * t;  // [m, t]
  for (std::int64_t j = 0; j < t; ++j) {
    for (std::int64_t c = 0; c < d; ++c) kt[c * t + j] = k[j * ldkv + c];
  }
  const __m512 vscale = _mm512_set1_ps(scale);
  if (t <= kLanes) {
    for_row_blocks(m, [&](std::int64_t i, auto rows) {
      attention_probs_block<decltype(rows)::value, 1>(q + i * ldq, ldq, kt, t, d, vscale, scores + i * t);
    });
  } else if (t <= 2 * kLanes) {
    for_row_blocks(m, [&](std::int64_t i, auto rows) {
      attention_probs_block<decltype(rows)::value, 2>(q + i * ldq, ldq, kt, t, d, vscale, scores + i * t);
    });
  } else {
    for_row_blocks(m, [&](std::int64_t i, auto rows) {
      attention_scores_block<decltype(rows)::value>(q + i * ldq, ldq, kt, t, d, vscale, scores + i * t);
    });
    softmax_f32_avx512(scores, m, t, t, nullptr);
  }
  for_row_blocks(m, [&](std::int64_t i, auto rows) {
    attention_output_block<decltype(rows)::value>(scores + i * t, t, v, ldkv, d, out + i * ldo, ldo);
  });
}

void exp_f32_avx512(const float* x, float* y, std::int64_t count) {
  for (std::int64_t j = 0; j < count; j += kLanes) {
    const __mmask16 mask = lane_mask(count - j);
    _mm512_mask_storeu_ps(y + j, mask, exp512(_mm512_maskz_loadu_ps(mask, x + j)));
  }
}

void erf_f32_avx512(const float* x, float* y, std::int64_t count) {
  for (std::int64_t j = 0; j < count; j += kLanes) {
    const __mmask16 mask = lane_mask(count - j);
    _mm512_mask_storeu_ps(y + j, mask, erf512(_mm512_maskz_loadu_ps(mask, x + j)));
  }
}

}  // namespace edgeroute::engine
