// The INT8 GEMM epilogues shared by the AVX-512-level translation units
// (kernels_avx512.cc, kernels_amx.cc): one vector of 16 int32 accumulators
// in, the stored int32 or dequantized float outputs (optionally through GELU)
// out. Include only from a
// file compiled with AVX-512 flags. Everything here has internal linkage, so
// no copy compiled with wide ISA flags can be picked by the linker for
// baseline code (see the note at the top of kernels_avx512.cc).
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels_vmath_avx512.h"

namespace edgeroute::engine {
namespace {

constexpr std::int64_t kLanes = 16;

inline __mmask16 lane_mask(std::int64_t count) {
  return count >= kLanes ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << count) - 1u);
}

// Per-row term subtracted from every accumulator of that row: the u8-offset
// compensation of the vpdpbusd kernel, or none (nullptr) for s8*s8 tiles.
struct RowCompensation {
  const std::int32_t* values = nullptr;  // per row of the current chunk
  std::int64_t chunk_m0 = 0;
  __m512i apply(std::int64_t row, __m512i v) const {
    return values == nullptr ? v : _mm512_sub_epi32(v, _mm512_set1_epi32(values[row - chunk_m0]));
  }
};

struct StoreS32 {
  std::int32_t* out;
  std::int64_t n;
  RowCompensation compensation;
  void operator()(std::int64_t row, std::int64_t col, __m512i v) const {
    _mm512_mask_storeu_epi32(out + row * n + col, lane_mask(n - col), compensation.apply(row, v));
  }
};

// (float(acc) * a_scale[row]) * w_scale[col] + bias[col], as linear_s8_ref;
// with kGelu, then GELU of that (linear_s8_gelu), by the formula of
// gelu_f32_avx512, while the vector is still in a register.
template <bool kGelu>
struct StoreDequantAs {
  float* c;
  std::int64_t ldc;
  const float* a_scale;
  const float* w_scale;
  const float* bias;
  std::int64_t n;
  RowCompensation compensation;
  void operator()(std::int64_t row, std::int64_t col, __m512i v) const {
    const __mmask16 mask = lane_mask(n - col);
    __m512 f = _mm512_cvtepi32_ps(compensation.apply(row, v));
    f = _mm512_mul_ps(f, _mm512_set1_ps(a_scale[row]));
    f = _mm512_mul_ps(f, _mm512_load_ps(w_scale + col));
    if (bias != nullptr) f = _mm512_add_ps(f, _mm512_maskz_loadu_ps(mask, bias + col));
    if constexpr (kGelu) f = gelu512(f);
    _mm512_mask_storeu_ps(c + row * ldc + col, mask, f);
  }
};
using StoreDequant = StoreDequantAs<false>;
using StoreDequantGelu = StoreDequantAs<true>;

}  // namespace
}  // namespace edgeroute::engine
