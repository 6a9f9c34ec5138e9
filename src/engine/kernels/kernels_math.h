// Constants of the vector exp and erf shared by the AVX2 and AVX-512
// translation units (plain constexpr floats: no SIMD here).
#pragma once

namespace edgeroute::engine::math {

// exp(x) = 2^n * exp(r), n = round(x * log2(e)), r = x - n*ln2 in two parts
// (Cody-Waite; kLn2Hi has 9 significant bits so n*kLn2Hi is exact for
// |n| <= 2^15). exp(r) on |r| <= ln2/2 is its degree-7 Taylor polynomial:
// truncation error r^8/8! <= 5.2e-9 relative, below half an ulp, so the
// result is within ~2 ulp of exp(x) after float Horner rounding.
inline constexpr float kLog2e = 1.44269504088896341f;
inline constexpr float kLn2Hi = 0.693359375f;
inline constexpr float kLn2Lo = -2.12194440e-4f;
// exp(x) for x below ln(FLT_MIN) would be subnormal; it is flushed to 0
// (softmax never needs more), and x above kExpHi is clamped.
inline constexpr float kExpLo = -87.33654f;
inline constexpr float kExpHi = 88.37626f;
inline constexpr float kExpPoly[8] = {1.0f,         1.0f,          0.5f,          1.0f / 6.0f,
                                      1.0f / 24.0f, 1.0f / 120.0f, 1.0f / 720.0f, 1.0f / 5040.0f};

// erf(z) = z * P(z^2) / Q(z^2) for |z| <= kErfClamp, z clamped there (erf(4)
// is within 1.6e-8 of 1). P and Q of degree 5 (Q(0) = 1) were fitted by
// iteratively reweighted linear least squares on Chebyshev nodes of [0, 4],
// weighting the absolute error of erf: 2.1e-8 in exact arithmetic; measured
// in float (both polynomials by Horner, one reciprocal) 3.1e-7 (AVX-512) and
// 2.8e-7 (AVX2) absolute. One branch-free formula: 12 FMAs, no exp.
inline constexpr float kErfP[6] = {1.128378977e+00f, 1.962483761e-01f, 5.346736440e-02f,
                                   4.003598189e-03f, 2.880366224e-04f, 1.974793608e-06f};
inline constexpr float kErfQ[6] = {1.000000000e+00f, 5.072517565e-01f, 1.164761417e-01f,
                                   1.544434646e-02f, 1.216340375e-03f, 3.748021633e-05f};
inline constexpr float kErfClamp = 4.0f;

inline constexpr float kInvSqrt2 = 0.707106781186547524f;
// A builtin, not std::numeric_limits: SIMD files call no shared inline
// functions (see kernels_avx512.cc).
inline constexpr float kInfinity = __builtin_inff();

}  // namespace edgeroute::engine::math
