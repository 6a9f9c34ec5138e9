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

// erf(x) for |x| < 1: x * P(x^2), P of degree 5 fitted (least squares on
// Chebyshev nodes, relative weight) to erf(x)/x; float evaluation error
// <= 1.2e-7 absolute.
inline constexpr float kErfSmall[6] = {1.128379107e+00f,  -3.761239052e-01f, 1.128057912e-01f,
                                       -2.672089450e-02f, 4.927420057e-03f,  -5.667995429e-04f};
// erf(x) for 1 <= |x| < 4: 1 - exp(-x^2) * Q(1/x), Q of degree 8 fitted the
// same way to erfc(x)*exp(x^2) on [1, 4] (relative error <= 2.4e-7 in
// float). For |x| >= 4, erfc(x) < 1.6e-8 and erf rounds to +-1.
inline constexpr float kErfcLarge[9] = {2.469873580e-04f,  5.594154596e-01f, 3.947317228e-02f,
                                        -4.620603919e-01f, 4.749651551e-01f, -2.105932236e-01f,
                                        -3.256680677e-03f, 4.147293419e-02f, -1.207988430e-02f};
inline constexpr float kErfSplit = 1.0f;
inline constexpr float kErfSaturate = 4.0f;

inline constexpr float kInvSqrt2 = 0.707106781186547524f;
// A builtin, not std::numeric_limits: SIMD files call no shared inline
// functions (see kernels_avx512.cc).
inline constexpr float kInfinity = __builtin_inff();

}  // namespace edgeroute::engine::math
