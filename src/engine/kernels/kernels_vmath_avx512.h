// Vector exp, erf and GELU on zmm registers, shared by the AVX-512-level
// translation units (kernels_avx512.cc for the row-wise kernels, the INT8
// epilogues of kernels_s8_epilogue.h for the fused bias+GELU). Include only
// from a file compiled with AVX-512 flags; internal linkage, for the reason
// given at the top of kernels_avx512.cc.
#pragma once

#include <immintrin.h>

#include <cstddef>

#include "kernels_math.h"

namespace edgeroute::engine {
namespace {

template <std::size_t kN>
inline __m512 horner(const float (&coef)[kN], __m512 x) {
  __m512 p = _mm512_set1_ps(coef[kN - 1]);
  for (std::size_t i = kN - 1; i-- > 0;) p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(coef[i]));
  return p;
}

// See kernels_math.h. vscalefps applies 2^n without building exponent bits.
inline __m512 exp512(__m512 x) {
  const __mmask16 underflow = _mm512_cmp_ps_mask(x, _mm512_set1_ps(math::kExpLo), _CMP_LT_OQ);
  const __m512 xc = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(math::kExpLo)), _mm512_set1_ps(math::kExpHi));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(math::kLog2e)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(math::kLn2Hi), xc);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(math::kLn2Lo), r);
  const __m512 p = _mm512_scalef_ps(horner(math::kExpPoly, r), n);
  return _mm512_mask_mov_ps(p, underflow, _mm512_setzero_ps());
}

// Rational form of kernels_math.h. The clamp keeps the constant first, so a
// NaN z stays NaN.
inline __m512 erf512(__m512 z) {
  const __m512 zc = _mm512_max_ps(_mm512_set1_ps(-math::kErfClamp), _mm512_min_ps(_mm512_set1_ps(math::kErfClamp), z));
  const __m512 t = _mm512_mul_ps(zc, zc);
  const __m512 q = horner(math::kErfQ, t);
  // 1 / q as vrcp14ps (relative error < 2^-14) and one Newton step (~2^-28
  // before rounding): a fraction of the cost of vdivps. q >= 1 here.
  const __m512 r0 = _mm512_rcp14_ps(q);
  const __m512 inv = _mm512_fmadd_ps(r0, _mm512_fnmadd_ps(q, r0, _mm512_set1_ps(1.0f)), r0);
  return _mm512_mul_ps(_mm512_mul_ps(zc, horner(math::kErfP, t)), inv);
}

// 0.5 v (1 + erf(v / sqrt 2)) as 0.5 v * erf + 0.5 v: the one GELU formula
// of gelu_f32_avx512 and the fused epilogue, so the two agree bit for bit.
inline __m512 gelu512(__m512 v) {
  const __m512 hv = _mm512_mul_ps(_mm512_set1_ps(0.5f), v);
  return _mm512_fmadd_ps(hv, erf512(_mm512_mul_ps(v, _mm512_set1_ps(math::kInvSqrt2))), hv);
}

}  // namespace
}  // namespace edgeroute::engine
