// Shared helpers of the kernel tests: the variant list, the length sweeps of
// STYLE.md, seeded inputs and the tolerance rules of docs/kernels.md.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "edgeroute/engine/kernels.h"

namespace edgeroute::engine::test {

// Every packed/dispatched variant; kScalar exercises the scalar packing and
// dispatch path against the free *_ref functions.
inline const std::vector<Isa> kAllVariants = {Isa::kScalar, Isa::kAvx2, Isa::kAvx512Vnni, Isa::kAmx};
inline const std::vector<Isa> kSimdVariants = {Isa::kAvx2, Isa::kAvx512Vnni, Isa::kAmx};
// The ISAs with row-wise kernels of their own (kAmx runs the AVX-512 ones).
inline const std::vector<Isa> kRowVariants = {Isa::kScalar, Isa::kAvx2, Isa::kAvx512Vnni};
inline const std::vector<Isa> kRowSimdVariants = {Isa::kAvx2, Isa::kAvx512Vnni};

inline const std::vector<std::int64_t> kLengths = {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64};
inline const std::vector<std::int64_t> kOddN = {1, 3, 15, 17, 33, 77, 384};

struct Shape {
  std::int64_t n, k;
};
// The encoder's linears: fused QKV, attention output, FFN up, FFN down.
inline const std::vector<Shape> kRealShapes = {{1152, 384}, {384, 384}, {1536, 384}, {384, 1536}};

inline std::string variant_name(const ::testing::TestParamInfo<Isa>& info) { return std::string(isa_name(info.param)); }

#define EDGEROUTE_SKIP_IF_UNSUPPORTED(isa)                                                          \
  do {                                                                                              \
    if (!::edgeroute::engine::isa_supported(isa))                                                   \
      GTEST_SKIP() << "ISA " << ::edgeroute::engine::isa_name(isa) << " not supported on this CPU"; \
  } while (0)

inline std::vector<std::int8_t> random_s8(std::size_t count, std::mt19937& rng) {
  std::uniform_int_distribution<int> d(-128, 127);
  std::vector<std::int8_t> v(count);
  for (auto& x : v) x = static_cast<std::int8_t>(d(rng));
  return v;
}

inline std::vector<float> random_f32(std::size_t count, std::mt19937& rng, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(count);
  for (auto& x : v) x = d(rng);
  return v;
}

constexpr double kUnitRoundoff = 0x1p-24;  // float: u = 2^-24

// gamma_n = n u / (1 - n u): the classic bound on the relative error of an
// n-term float sum in any order (Higham, "Accuracy and Stability of
// Numerical Algorithms", 3.1).
inline double gamma_n(std::int64_t n) {
  const double nu = static_cast<double>(n) * kUnitRoundoff;
  return nu / (1.0 - nu);
}

// Two float evaluations of sum_k a_k w_k + b, in any order and with or
// without FMA, each lie within gamma_{k+1} * (sum |a_k w_k| + |b|) of the
// exact value, so they differ by at most twice that.
inline double dot_tolerance(std::int64_t k, double abs_dot) { return 2.0 * gamma_n(k + 1) * abs_dot + 1e-30; }

inline double ulp_distance(float a, float b) {
  if (a == b) return 0.0;
  const float spacing = std::nextafter(std::fabs(b), std::numeric_limits<float>::infinity()) - std::fabs(b);
  return std::fabs(static_cast<double>(a) - static_cast<double>(b)) / spacing;
}

}  // namespace edgeroute::engine::test
