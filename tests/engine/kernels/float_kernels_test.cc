// Row-wise FP32 kernels (LayerNorm, GELU, softmax) and the vector exp/erf
// they build on, against the references within the bounds of docs/kernels.md.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "edgeroute/engine/kernels.h"
#include "kernel_test_util.h"
#include "kernels_internal.h"

namespace edgeroute::engine {
namespace {

using test::kUnitRoundoff;

struct RowKernels {
  void (*layer_norm)(float*, const float*, std::int64_t, std::int64_t, std::int64_t, const float*, const float*, float);
  void (*gelu)(float*, std::int64_t);
  void (*softmax)(float*, std::int64_t, std::int64_t, std::int64_t, const float*);
  void (*exp)(const float*, float*, std::int64_t);
  void (*erf)(const float*, float*, std::int64_t);
};

RowKernels kernels_for(Isa isa) {
  switch (isa) {
    case Isa::kAvx2:
      return {add_layer_norm_f32_avx2, gelu_f32_avx2, softmax_f32_avx2, exp_f32_avx2, erf_f32_avx2};
    case Isa::kAvx512Vnni:
    case Isa::kAmx:
      return {add_layer_norm_f32_avx512, gelu_f32_avx512, softmax_f32_avx512, exp_f32_avx512, erf_f32_avx512};
    case Isa::kScalar:
      break;
  }
  return {add_layer_norm_f32_ref, gelu_f32_ref, softmax_f32_ref, nullptr, nullptr};
}

class RowKernelsTest : public ::testing::TestWithParam<Isa> {};
class VectorMath : public ::testing::TestWithParam<Isa> {};

// Vector exp: within 2 ulp of the correctly rounded exp over the whole normal
// output range; below ln(FLT_MIN) it flushes to zero.
TEST_P(VectorMath, ExpWithinTwoUlp) {
  EDGEROUTE_SKIP_IF_UNSUPPORTED(GetParam());
  std::vector<float> x;
  for (double v = -87.3; v <= 88.3; v += 1.7e-4) x.push_back(static_cast<float>(v));
  for (float v : {0.0f, -0.0f, 1e-8f, -1e-8f, 0.34657359f, -0.34657359f, 88.37f, -87.33f}) x.push_back(v);
  std::vector<float> y(x.size());
  kernels_for(GetParam()).exp(x.data(), y.data(), static_cast<std::int64_t>(x.size()));
  double worst = 0.0;
  float worst_x = 0.0f;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double d = test::ulp_distance(y[i], static_cast<float>(std::exp(static_cast<double>(x[i]))));
    if (d > worst) worst = d, worst_x = x[i];
  }
  RecordProperty("max_ulp", testing::PrintToString(worst));
  EXPECT_LE(worst, 2.0) << "at x=" << worst_x;
  const float low[] = {-87.4f, -100.0f, -1e30f, -INFINITY};
  float out[4];
  kernels_for(GetParam()).exp(low, out, 4);
  for (float v : out) EXPECT_EQ(v, 0.0f);
}

// Vector erf: within 1e-6 absolute of erf (in double) on a 1e-4 grid over
// [-10, 10]; the rational fit measures ~3e-7 in float.
TEST_P(VectorMath, ErfWithinOneMicroAbsolute) {
  EDGEROUTE_SKIP_IF_UNSUPPORTED(GetParam());
  std::vector<float> x;
  for (int i = -100000; i <= 100000; ++i) x.push_back(static_cast<float>(i * 1e-4));
  std::vector<float> y(x.size());
  kernels_for(GetParam()).erf(x.data(), y.data(), static_cast<std::int64_t>(x.size()));
  double worst = 0.0;
  float worst_x = 0.0f;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double d = std::fabs(static_cast<double>(y[i]) - std::erf(static_cast<double>(x[i])));
    if (d > worst) worst = d, worst_x = x[i];
  }
  RecordProperty("max_abs_error", testing::PrintToString(worst));
  EXPECT_LE(worst, 1e-6) << "at x=" << worst_x;
  EXPECT_LE(worst, 4e-7) << "at x=" << worst_x << " (regression guard: the fit measures ~3e-7)";
}

INSTANTIATE_TEST_SUITE_P(Variants, VectorMath, ::testing::ValuesIn(test::kRowSimdVariants), test::variant_name);

// GELU: 0.5 x (1 + erf(x / sqrt 2)); an erf error e moves it by 0.5 |x| e, so
// the bound is 0.5 |x| 1e-6 plus a few roundings of the result.
TEST_P(RowKernelsTest, GeluWithinErfBound) {
  EDGEROUTE_SKIP_IF_UNSUPPORTED(GetParam());
  std::mt19937 rng(45);
  for (std::int64_t count : test::kLengths) {
    auto x = test::random_f32(static_cast<std::size_t>(count), rng, -6.0f, 6.0f);
    auto got = x, want = x;
    kernels_for(GetParam()).gelu(got.data(), count);
    gelu_f32_ref(want.data(), count);
    for (std::size_t i = 0; i < x.size(); ++i)
      ASSERT_NEAR(got[i], want[i], 0.5 * std::fabs(x[i]) * 1e-6 + 4 * kUnitRoundoff * std::fabs(want[i]))
          << "x=" << x[i];
  }
  std::vector<float> grid;
  for (int i = -2000; i <= 2000; ++i) grid.push_back(static_cast<float>(i * 5e-3));
  auto got = grid, want = grid;
  kernels_for(GetParam()).gelu(got.data(), static_cast<std::int64_t>(got.size()));
  gelu_f32_ref(want.data(), static_cast<std::int64_t>(want.size()));
  for (std::size_t i = 0; i < grid.size(); ++i)
    ASSERT_NEAR(got[i], want[i], 0.5 * std::fabs(grid[i]) * 1e-6 + 4 * kUnitRoundoff * std::fabs(want[i]))
        << "x=" << grid[i];
}

// LayerNorm: mean and variance are n-term sums (error <= gamma_n relative to
// the sum of magnitudes, for each of the two evaluations), which shifts the
// normalized value by about gamma_n (max|y| / sigma + |yhat|); the affine
// step adds a few roundings of the output.
TEST_P(RowKernelsTest, AddLayerNormWithinSumBound) {
  EDGEROUTE_SKIP_IF_UNSUPPORTED(GetParam());
  std::mt19937 rng(46);
  for (std::int64_t m : {1, 3, 8})
    for (std::int64_t n : {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 384}) {
      for (bool with_residual : {false, true}) {
        const std::int64_t ld = n + 3;
        auto x = test::random_f32(static_cast<std::size_t>(m * ld), rng, -2.0f, 3.0f);
        const auto r = test::random_f32(static_cast<std::size_t>(m * ld), rng, -1.0f, 1.0f);
        const auto gamma = test::random_f32(static_cast<std::size_t>(n), rng, 0.5f, 1.5f);
        const auto beta = test::random_f32(static_cast<std::size_t>(n), rng, -0.5f, 0.5f);
        const float* res = with_residual ? r.data() : nullptr;
        auto got = x, want = x;
        kernels_for(GetParam()).layer_norm(got.data(), res, m, n, ld, gamma.data(), beta.data(), 1e-12f);
        add_layer_norm_f32_ref(want.data(), res, m, n, ld, gamma.data(), beta.data(), 1e-12f);
        for (std::int64_t i = 0; i < m; ++i) {
          double mean = 0, var = 0, max_abs = 0;
          std::vector<double> y(static_cast<std::size_t>(n));
          for (std::int64_t j = 0; j < n; ++j) {
            const auto at = static_cast<std::size_t>(i * ld + j);
            y[static_cast<std::size_t>(j)] = static_cast<double>(x[at]) + (res ? r[at] : 0.0f);
            mean += y[static_cast<std::size_t>(j)];
            max_abs = std::max(max_abs, std::fabs(y[static_cast<std::size_t>(j)]));
          }
          mean /= static_cast<double>(n);
          for (double v : y) var += (v - mean) * (v - mean);
          const double sigma = std::sqrt(var / static_cast<double>(n) + 1e-12);
          for (std::int64_t j = 0; j < ld; ++j) {
            const auto at = static_cast<std::size_t>(i * ld + j);
            if (j >= n) {
              ASSERT_EQ(got[at], x[at]) << "wrote past n";
              continue;
            }
            const double yhat = (y[static_cast<std::size_t>(j)] - mean) / sigma;
            const double tol =
                4.0 * test::gamma_n(n + 2) * (max_abs / sigma + std::fabs(yhat)) * gamma[static_cast<std::size_t>(j)] +
                8.0 * kUnitRoundoff * (std::fabs(want[at]) + std::fabs(beta[static_cast<std::size_t>(j)]));
            ASSERT_NEAR(got[at], want[at], tol) << isa_name(GetParam()) << " m=" << m << " n=" << n << " j=" << j;
          }
        }
      }
    }
}

// Softmax: each exp within 2 ulp, the n-term sum within gamma_n, then one
// reciprocal and one product: relative error <= 2 gamma_n + 10 u per output.
TEST_P(RowKernelsTest, SoftmaxWithinRelativeBound) {
  EDGEROUTE_SKIP_IF_UNSUPPORTED(GetParam());
  std::mt19937 rng(47);
  for (std::int64_t m : {1, 4})
    for (std::int64_t n : {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 256})
      for (bool with_mask : {false, true}) {
        const std::int64_t ld = n + 2;
        auto x = test::random_f32(static_cast<std::size_t>(m * ld), rng, -8.0f, 8.0f);
        std::vector<float> mask(static_cast<std::size_t>(n), 0.0f);
        // Hugging Face masks padding with the most negative float.
        for (std::int64_t j = 1; j < n; j += 3)
          mask[static_cast<std::size_t>(j)] = std::numeric_limits<float>::lowest();
        const float* mb = with_mask ? mask.data() : nullptr;
        auto got = x, want = x;
        kernels_for(GetParam()).softmax(got.data(), m, n, ld, mb);
        softmax_f32_ref(want.data(), m, n, ld, mb);
        const double rel = 2.0 * test::gamma_n(n) + 10.0 * kUnitRoundoff;
        for (std::int64_t i = 0; i < m; ++i)
          for (std::int64_t j = 0; j < ld; ++j) {
            const auto at = static_cast<std::size_t>(i * ld + j);
            if (j >= n) {
              ASSERT_EQ(got[at], x[at]) << "wrote past n";
              continue;
            }
            ASSERT_NEAR(got[at], want[at], rel * std::fabs(want[at]) + 1e-37)
                << isa_name(GetParam()) << " m=" << m << " n=" << n << " j=" << j;
          }
      }
}

INSTANTIATE_TEST_SUITE_P(Variants, RowKernelsTest, ::testing::ValuesIn(test::kRowVariants), test::variant_name);

// The public entry points dispatch to active_isa()'s variant: same results.
TEST(RowKernelsDispatch, PublicEntryPointsMatchTheActiveVariant) {
  std::mt19937 rng(48);
  auto x = test::random_f32(100, rng, -4.0f, 4.0f);
  auto a = x, b = x;
  gelu_f32(a.data(), 100);
  kernels_for(active_isa()).gelu(b.data(), 100);
  EXPECT_EQ(a, b);
  a = x, b = x;
  softmax_f32(a.data(), 4, 25, 25, nullptr);
  kernels_for(active_isa()).softmax(b.data(), 4, 25, 25, nullptr);
  EXPECT_EQ(a, b);
}

// The fused LayerNorm + quantization equals the two calls it replaces, bit
// for bit, with and without a residual, row strides above n, padding left
// alone, and a constant row (zero variance: the output is beta).
TEST(RowKernelsDispatch, LayerNormQuantizeEqualsLayerNormThenQuantize) {
  std::mt19937 rng(49);
  for (const std::int64_t n : {1, 15, 17, 384})
    for (const std::int64_t m : {1, 3, 16, 33})
      for (const bool with_residual : {false, true}) {
        const std::int64_t ld = n + 5;
        auto x = test::random_f32(static_cast<std::size_t>(m * ld), rng, -3.0f, 3.0f);
        const auto residual = test::random_f32(x.size(), rng, -1.0f, 1.0f);
        const auto gamma = test::random_f32(static_cast<std::size_t>(n), rng, 0.5f, 1.5f);
        const auto beta = test::random_f32(static_cast<std::size_t>(n), rng);
        if (m > 2 && !with_residual) std::fill(x.begin() + 2 * ld, x.begin() + 3 * ld, 0.0f);
        const float* res = with_residual ? residual.data() : nullptr;
        auto fused = x, split = x;
        std::vector<std::int8_t> q(static_cast<std::size_t>(m * n), 99), q_split(q.size(), 99);
        std::vector<float> scale(static_cast<std::size_t>(m), -1.0f), scale_split(scale.size(), -1.0f);
        add_layer_norm_quantize_f32(fused.data(), res, m, n, ld, gamma.data(), beta.data(), 1e-12f, q.data(),
                                    scale.data());
        add_layer_norm_f32(split.data(), res, m, n, ld, gamma.data(), beta.data(), 1e-12f);
        quantize_rows_s8(split.data(), m, n, ld, q_split.data(), scale_split.data());
        ASSERT_EQ(fused, split) << "m=" << m << " n=" << n;
        ASSERT_EQ(q, q_split) << "m=" << m << " n=" << n;
        ASSERT_EQ(scale, scale_split) << "m=" << m << " n=" << n;
      }
}

}  // namespace
}  // namespace edgeroute::engine
