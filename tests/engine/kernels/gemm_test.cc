// INT8 and FP32 GEMM variants against the references: int32 accumulators and
// the fused INT8 epilogue bit-exact, FP32 within the dot-product bound.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "edgeroute/engine/kernels.h"
#include "kernel_test_util.h"
#include "kernels_internal.h"

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

// The GELU each packed ISA fuses into linear_s8_gelu: its own row kernel
// (kAmx packs run the AVX-512 one).
void gelu_of(Isa isa, float* x, std::int64_t count) {
  switch (isa) {
    case Isa::kScalar:
      gelu_f32_ref(x, count);
      return;
    case Isa::kAvx2:
      gelu_f32_avx2(x, count);
      return;
    case Isa::kAvx512Vnni:
    case Isa::kAmx:
      gelu_f32_avx512(x, count);
      return;
  }
}

// The fused bias+GELU epilogue: bit for bit linear_s8 followed by the ISA's
// GELU (so within the GELU bound of the reference), padding columns
// untouched; every path of every driver (few rows, 4-bit weights, tiles).
void check_s8_gelu(Isa isa, std::int64_t m, std::int64_t n, std::int64_t k, const std::vector<std::int8_t>& w,
                   std::mt19937& rng) {
  const auto a = test::random_s8(static_cast<std::size_t>(m * k), rng);
  const auto w_scale = test::random_f32(static_cast<std::size_t>(n), rng, 1e-4f, 2e-2f);
  const auto a_scale = test::random_f32(static_cast<std::size_t>(m), rng, 1e-3f, 1e-1f);
  const auto bias = test::random_f32(static_cast<std::size_t>(n), rng, -3.0f, 3.0f);
  const PackedS8 packed(w.data(), w_scale.data(), n, k, isa);
  const std::int64_t ldc = n + 3;
  std::vector<float> fused(static_cast<std::size_t>(m * ldc), -7.0f), want(fused.size(), -7.0f),
      ref(fused.size(), -7.0f);
  linear_s8_gelu(a.data(), a_scale.data(), m, packed, bias.data(), fused.data(), ldc);
  linear_s8_ref(a.data(), a_scale.data(), m, k, w.data(), w_scale.data(), n, bias.data(), want.data(), ldc);
  const std::vector<float> pre = want;  // the linear outputs GELU is applied to
  for (std::int64_t i = 0; i < m; ++i) gelu_of(isa, want.data() + i * ldc, n);
  linear_s8_gelu_ref(a.data(), a_scale.data(), m, k, w.data(), w_scale.data(), n, bias.data(), ref.data(), ldc);
  for (std::size_t i = 0; i < fused.size(); ++i) {
    ASSERT_EQ(fused[i], want[i]) << isa_name(isa) << " m=" << m << " n=" << n << " k=" << k << " at " << i;
    // The GELU bound of RowKernelsTest: an erf error of 1e-6 moves GELU by
    // 0.5 |x| 1e-6, plus a few roundings of the result.
    const double bound = 0.5 * std::fabs(pre[i]) * 1e-6 + 4 * test::kUnitRoundoff * std::fabs(ref[i]);
    ASSERT_NEAR(fused[i], ref[i], bound) << isa_name(isa) << " x=" << pre[i] << " at " << i;
  }
}

TEST_P(GemmS8, FusedGeluEpilogueMatchesLinearThenGelu) {
  EDGEROUTE_SKIP_IF_UNSUPPORTED(GetParam());
  std::mt19937 rng(19);
  for (std::int64_t m : {1, 3, 4, 5, 15, 16, 17, 33, 49})
    for (const auto& s : std::vector<test::Shape>{{17, 9}, {77, 64}, {1536, 384}}) {
      check_s8_gelu(GetParam(), m, s.n, s.k, test::random_s8(static_cast<std::size_t>(s.n * s.k), rng), rng);
      if (HasFatalFailure()) return;
    }
}

INSTANTIATE_TEST_SUITE_P(Variants, GemmS8, ::testing::ValuesIn(test::kAllVariants), test::variant_name);

// Weights as a 4-bit matrix widened at load leaves them: each channel takes at
// most 15 values per run of `run` columns (a per-run table of q4 * ratio).
std::vector<std::int8_t> widened_like(std::int64_t n, std::int64_t k, std::int64_t run, std::mt19937& rng) {
  std::uniform_int_distribution<int> q4(-7, 7);
  std::uniform_int_distribution<int> ratio(1, 18);
  std::vector<std::int8_t> w(static_cast<std::size_t>(n * k));
  for (std::int64_t r = 0; r < n; ++r)
    for (std::int64_t g = 0; g < k / run; ++g) {
      const int f = ratio(rng);
      for (std::int64_t c = g * run; c < (g + 1) * run; ++c)
        w[static_cast<std::size_t>(r * k + c)] = static_cast<std::int8_t>(q4(rng) * f);
    }
  return w;
}

void check_s8_weights(Isa isa, std::int64_t m, std::int64_t n, std::int64_t k, const std::vector<std::int8_t>& w,
                      std::mt19937& rng) {
  const auto a = test::random_s8(static_cast<std::size_t>(m * k), rng);
  const auto w_scale = test::random_f32(static_cast<std::size_t>(n), rng, 1e-4f, 2e-2f);
  const auto a_scale = test::random_f32(static_cast<std::size_t>(m), rng, 1e-3f, 1e-1f);
  const auto bias = test::random_f32(static_cast<std::size_t>(n), rng);
  const PackedS8 packed(w.data(), w_scale.data(), n, k, isa);
  std::vector<std::int32_t> acc(static_cast<std::size_t>(m * n)), acc_ref(acc.size());
  gemm_s8s8s32(a.data(), m, packed, acc.data());
  gemm_s8s8s32_ref(a.data(), m, k, w.data(), n, acc_ref.data());
  ASSERT_EQ(acc, acc_ref) << isa_name(isa) << " m=" << m << " n=" << n << " k=" << k;
  const std::int64_t ldc = n + 3;
  std::vector<float> c(static_cast<std::size_t>(m * ldc), -7.0f), c_ref(c.size(), -7.0f);
  linear_s8(a.data(), a_scale.data(), m, packed, bias.data(), c.data(), ldc);
  linear_s8_ref(a.data(), a_scale.data(), m, k, w.data(), w_scale.data(), n, bias.data(), c_ref.data(), ldc);
  for (std::size_t i = 0; i < c.size(); ++i) {
    ASSERT_EQ(c[i], c_ref[i]) << isa_name(isa) << " m=" << m << " n=" << n << " k=" << k << " at " << i;
  }
}

// The AMX packer keeps such weights as nibbles plus tables, and products of
// up to 48 rows run on them: every row count of 1..48 (1, 2 or 3 row tiles,
// partial ones), channel counts that leave partial tiles and short blocks,
// runs of 128 and of 64 columns.
TEST(GemmS8Nibbles, AmxBitExactOnWidenedWeights) {
  EDGEROUTE_SKIP_IF_UNSUPPORTED(Isa::kAmx);
  std::mt19937 rng(21);
  const struct {
    std::int64_t n, k, run, expect_run;
  } cases[] = {{1152, 384, 128, 128}, {384, 1536, 128, 128}, {77, 384, 64, 64}, {33, 64, 64, 64}, {17, 128, 128, 128}};
  for (const auto& cs : cases) {
    const auto w = widened_like(cs.n, cs.k, cs.run, rng);
    const std::vector<float> scale(static_cast<std::size_t>(cs.n), 1.0f);
    const PackedS8 packed(w.data(), scale.data(), cs.n, cs.k, Isa::kAmx);
    ASSERT_EQ(packed.impl().lut_group, cs.expect_run) << "n=" << cs.n << " k=" << cs.k;
    for (std::int64_t m = 1; m <= 49; ++m) {
      if (cs.n > 400 && m % 5 != 0 && m > 3 && m != 16 && m != 17 && m != 48) continue;
      check_s8_weights(Isa::kAmx, m, cs.n, cs.k, w, rng);
      if (HasFatalFailure()) return;
    }
    for (std::int64_t m : {2, 5, 16, 17, 48}) {
      check_s8_gelu(Isa::kAmx, m, cs.n, cs.k, w, rng);  // the nibble path with the GELU epilogue
      if (HasFatalFailure()) return;
    }
  }
}

// Weights with more than 16 values in a run, or k not a multiple of 64, keep
// only the int8 form.
TEST(GemmS8Nibbles, AmxPackerKeepsInt8WhenNibblesCannotHoldTheWeights) {
  EDGEROUTE_SKIP_IF_UNSUPPORTED(Isa::kAmx);
  std::mt19937 rng(22);
  const auto dense = test::random_s8(static_cast<std::size_t>(40 * 384), rng);
  const std::vector<float> scale(40, 1.0f);
  EXPECT_EQ(PackedS8(dense.data(), scale.data(), 40, 384, Isa::kAmx).impl().lut_group, 0);
  const auto odd_k = widened_like(40, 96, 32, rng);
  EXPECT_EQ(PackedS8(odd_k.data(), scale.data(), 40, 96, Isa::kAmx).impl().lut_group, 0);
  // One channel with a 17th value in its last run.
  auto almost = widened_like(40, 384, 128, rng);
  for (std::int64_t c = 256; c < 384; ++c)
    almost[static_cast<std::size_t>(39 * 384 + c)] = static_cast<std::int8_t>(c - 300);
  EXPECT_EQ(PackedS8(almost.data(), scale.data(), 40, 384, Isa::kAmx).impl().lut_group, 0);
  check_s8_weights(Isa::kAmx, 9, 40, 384, almost, rng);
}

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
