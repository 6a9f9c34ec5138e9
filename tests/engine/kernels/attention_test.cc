// attention_head_f32: every variant against the scalar reference, over the
// length sweep, several head sizes, one query row ([CLS]) or all rows, with
// strides of a fused QKV matrix.
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

using AttentionFn = void (*)(const float*, std::int64_t, const float*, const float*, std::int64_t, std::int64_t,
                             std::int64_t, std::int64_t, float, float*, std::int64_t, float*);

AttentionFn attention_for(Isa isa) {
  switch (isa) {
    case Isa::kAvx2:
      return attention_head_f32_avx2;
    case Isa::kAvx512Vnni:
    case Isa::kAmx:
      return attention_head_f32_avx512;
    case Isa::kScalar:
      break;
  }
  return attention_head_f32_ref;
}

class AttentionTest : public ::testing::TestWithParam<Isa> {};

// With |q|, |k|, |v| <= 1: each score (d-term dot, times scale) is within
// gamma_d * d * scale absolute; a score error e changes each probability by a
// relative 2e at most; softmax itself is within 2 gamma_t + 10u relative; the
// output (a t-term convex combination of v) adds gamma_t. Doubled for margin.
double tolerance(std::int64_t t, std::int64_t d, float scale) {
  const double score_err = test::gamma_n(d) * static_cast<double>(d) * scale;
  return 2.0 * (2.0 * score_err + 2.0 * test::gamma_n(t) + 10.0 * test::kUnitRoundoff + test::gamma_n(t));
}

TEST_P(AttentionTest, MatchesReferenceOverLengths) {
  EDGEROUTE_SKIP_IF_UNSUPPORTED(GetParam());
  std::mt19937 rng(53);
  for (const std::int64_t d : {8, 17, 32, 64}) {
    for (const std::int64_t t : test::kLengths) {
      for (const bool cls_only : {true, false}) {
        const std::int64_t m = cls_only ? 1 : t;
        const std::int64_t ld = 3 * d + 5;  // like a fused QKV row, plus slack
        const auto qkv = test::random_f32(static_cast<std::size_t>(t * ld), rng);
        const float* q = qkv.data();
        const float* k = q + d;
        const float* v = q + 2 * d;
        const float scale = 1.0f / std::sqrt(static_cast<float>(d));
        const std::int64_t ldo = d + 3;
        const float sentinel = 12345.0f;
        std::vector<float> got(static_cast<std::size_t>(m * ldo), sentinel);
        std::vector<float> want(static_cast<std::size_t>(m * ldo), sentinel);
        std::vector<float> scratch(static_cast<std::size_t>(t * (m + d)));
        attention_for(GetParam())(q, m, k, v, t, d, ld, ld, scale, got.data(), ldo, scratch.data());
        attention_head_f32_ref(q, m, k, v, t, d, ld, ld, scale, want.data(), ldo, scratch.data());
        const double tol = tolerance(t, d, scale);
        for (std::int64_t i = 0; i < m; ++i) {
          for (std::int64_t c = 0; c < ldo; ++c) {
            const auto at = static_cast<std::size_t>(i * ldo + c);
            if (c >= d) {
              ASSERT_EQ(got[at], sentinel) << "wrote past d";
              continue;
            }
            ASSERT_NEAR(got[at], want[at], tol) << isa_name(GetParam()) << " d=" << d << " t=" << t << " m=" << m;
          }
        }
      }
    }
  }
}

TEST(Attention, SingleKeyReturnsItsValue) {
  // With one key the softmax is exactly 1, so the output is the value row.
  const std::vector<float> q{0.5f, -1.0f}, k{2.0f, 3.0f}, v{0.25f, -0.75f};
  std::vector<float> out(2), scratch(4);
  attention_head_f32(q.data(), 1, k.data(), v.data(), 1, 2, 2, 2, 1.0f, out.data(), 2, scratch.data());
  EXPECT_EQ(out, v);
}

INSTANTIATE_TEST_SUITE_P(Variants, AttentionTest, ::testing::ValuesIn(test::kRowSimdVariants), test::variant_name);

}  // namespace
}  // namespace edgeroute::engine
