// INT8 and FP32 GEMM variants against the references: int32 accumulators and
// the fused INT8 epilogue bit-exact, FP32 within the dot-product bound.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "edgeroute/engine/kernels.h"
#include "kernel_test_util.h"

namespace edgeroute::engine {
namespace {

using test::kLengths;
using test::kOddN;
using test::kRealShapes;

class GemmS8 : public ::testing::TestWithParam<Isa> {};
class LinearF32 : public ::testing::TestWithParam<Isa> {};

// One INT8 case: int32 accumulators and the dequantized output must equal the
// references bit for bit. Every input is an exact-size vector (ASan).
void check_s8(Isa isa, std::int64_t m, std::int64_t n, std::int64_t k, std::mt19937& rng, bool with_bias) {
  const auto a = test::random_s8(static_cast<std::size_t>(m * k), rng);
  const auto w = test::random_s8(static_cast<std::size_t>(n * k), rng);
  const auto w_scale = test::random_f32(static_cast<std::size_t>(n), rng, 1e-4f, 2e-2f);
  const auto a_scale = test::random_f32(static_cast<std::size_t>(m), rng, 1e-3f, 1e-1f);
  const auto bias = test::random_f32(static_cast<std::size_t>(n), rng);
  const PackedS8 packed(w.data(), w_scale.data(), n, k, isa);
  ASSERT_EQ(packed.n(), n);
  ASSERT_EQ(packed.k(), k);

  std::vector<std::int32_t> acc(static_cast<std::size_t>(m * n)), acc_ref(acc.size());
  gemm_s8s8s32(a.data(), m, packed, acc.data());
  gemm_s8s8s32_ref(a.data(), m, k, w.data(), n, acc_ref.data());
  ASSERT_EQ(acc, acc_ref) << isa_name(isa) << " m=" << m << " n=" << n << " k=" << k;

  // ldc > n: the padding columns must stay untouched.
  const std::int64_t ldc = n + 3;
  const float* b = with_bias ? bias.data() : nullptr;
  std::vector<float> c(static_cast<std::size_t>(m * ldc), -7.0f), c_ref(c.size(), -7.0f);
  linear_s8(a.data(), a_scale.data(), m, packed, b, c.data(), ldc);
  linear_s8_ref(a.data(), a_scale.data(), m, k, w.data(), w_scale.data(), n, b, c_ref.data(), ldc);
  for (std::size_t i = 0; i < c.size(); ++i) {
    ASSERT_EQ(c[i], c_ref[i]) << isa_name(isa) << " m=" << m << " n=" << n << " k=" << k << " at " << i;
  }
}

TEST_P(GemmS8, BitExactOverLengthSweep) {
  EDGEROUTE_SKIP_IF_UNSUPPORTED(GetParam());
  std::mt19937 rng(42);
  int cases = 0;
  for (std::int64_t m : kLengths)
    for (std::int64_t k : kLengths)
      for (std::int64_t n : kOddN) {
        check_s8(GetParam(), m, n, k, rng, (cases++ % 2) == 0);
        if (HasFatalFailure()) return;
      }
}

TEST_P(GemmS8, BitExactOnEncoderShapes) {
  EDGEROUTE_SKIP_IF_UNSUPPORTED(GetParam());
  std::mt19937 rng(7);
  for (const auto& s : kRealShapes)
    for (std::int64_t m : {1, 5, 15, 16, 32}) {
      check_s8(GetParam(), m, s.n, s.k, rng, true);
      if (HasFatalFailure()) return;
    }
}

// Tall activations: the AVX-512 kernel splits rows into chunks (240 rows,
// each with its own compensation) and each chunk into tiles of near-equal
// height; row counts around those boundaries, with K tails.
TEST_P(GemmS8, BitExactAcrossRowChunks) {
  EDGEROUTE_SKIP_IF_UNSUPPORTED(GetParam());
  std::mt19937 rng(11);
  for (std::int64_t m : {239, 240, 241, 255, 481})
    for (std::int64_t k : {5, 64, 385}) {
      check_s8(GetParam(), m, 47, k, rng, true);
      if (HasFatalFailure()) return;
    }
}

// Extreme operands: every product at +-128*127 or 128*128, long K; would
// expose any saturating instruction (vpmaddubsw) or int16 accumulation.
TEST_P(GemmS8, NoSaturationAtFullRange) {
  EDGEROUTE_SKIP_IF_UNSUPPORTED(GetParam());
  for (std::int64_t k : {64, 1536, 1537}) {
    const std::int64_t m = 5, n = 19;
    std::vector<std::int8_t> a(static_cast<std::size_t>(m * k)), w(static_cast<std::size_t>(n * k));
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = (i % 3 == 0) ? std::int8_t{127} : std::int8_t{-128};
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = (i % 5 == 0) ? std::int8_t{127} : std::int8_t{-128};
    const std::vector<float> scale(static_cast<std::size_t>(n), 1.0f);
    const PackedS8 packed(w.data(), scale.data(), n, k, GetParam());
    std::vector<std::int32_t> acc(static_cast<std::size_t>(m * n)), acc_ref(acc.size());
    gemm_s8s8s32(a.data(), m, packed, acc.data());
    gemm_s8s8s32_ref(a.data(), m, k, w.data(), n, acc_ref.data());
    EXPECT_EQ(acc, acc_ref) << "k=" << k;
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, GemmS8, ::testing::ValuesIn(test::kAllVariants), test::variant_name);

void check_f32(Isa isa, std::int64_t m, std::int64_t n, std::int64_t k, std::mt19937& rng, bool with_bias) {
  const std::int64_t lda = k + 2, ldc = n + 5;
  const auto a = test::random_f32(static_cast<std::size_t>(m * lda), rng);
  const auto w = test::random_f32(static_cast<std::size_t>(n * k), rng);
  const auto bias = test::random_f32(static_cast<std::size_t>(n), rng);
  const float* b = with_bias ? bias.data() : nullptr;
  const PackedF32 packed(w.data(), n, k, isa);
  std::vector<float> c(static_cast<std::size_t>(m * ldc), -7.0f), c_ref(c.size(), -7.0f);
  linear_f32(a.data(), m, lda, packed, b, c.data(), ldc);
  linear_f32_ref(a.data(), m, k, lda, w.data(), n, b, c_ref.data(), ldc);
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < ldc; ++j) {
      const auto at = static_cast<std::size_t>(i * ldc + j);
      if (j >= n) {
        ASSERT_EQ(c[at], -7.0f) << "wrote past n at row " << i << " col " << j;
        continue;
      }
      double abs_dot = with_bias ? std::fabs(bias[static_cast<std::size_t>(j)]) : 0.0;
      for (std::int64_t p = 0; p < k; ++p)
        abs_dot += std::fabs(static_cast<double>(a[static_cast<std::size_t>(i * lda + p)]) *
                             w[static_cast<std::size_t>(j * k + p)]);
      ASSERT_NEAR(c[at], c_ref[at], test::dot_tolerance(k, abs_dot))
          << isa_name(isa) << " m=" << m << " n=" << n << " k=" << k << " at (" << i << "," << j << ")";
    }
  }
}

TEST_P(LinearF32, WithinDotBoundOverLengthSweep) {
  EDGEROUTE_SKIP_IF_UNSUPPORTED(GetParam());
  std::mt19937 rng(43);
  int cases = 0;
  for (std::int64_t m : kLengths)
    for (std::int64_t k : kLengths)
      for (std::int64_t n : kOddN) {
        check_f32(GetParam(), m, n, k, rng, (cases++ % 2) == 0);
        if (HasFatalFailure()) return;
      }
}

TEST_P(LinearF32, WithinDotBoundOnEncoderShapes) {
  EDGEROUTE_SKIP_IF_UNSUPPORTED(GetParam());
  std::mt19937 rng(8);
  for (const auto& s : kRealShapes)
    for (std::int64_t m : {1, 6}) {
      check_f32(GetParam(), m, s.n, s.k, rng, true);
      if (HasFatalFailure()) return;
    }
}

INSTANTIATE_TEST_SUITE_P(Variants, LinearF32, ::testing::ValuesIn(test::kAllVariants), test::variant_name);

}  // namespace
}  // namespace edgeroute::engine
