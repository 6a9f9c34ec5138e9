// quantize_rows_s8: every variant bit-identical to the reference.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "edgeroute/engine/kernels.h"
#include "kernel_test_util.h"
#include "kernels_internal.h"

namespace edgeroute::engine {
namespace {

using QuantizeFn = void (*)(const float*, std::int64_t, std::int64_t, std::int64_t, std::int8_t*, float*);

QuantizeFn quantize_for(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return quantize_rows_s8_ref;
    case Isa::kAvx2:
      return quantize_rows_s8_avx2;
    case Isa::kAvx512Vnni:
    case Isa::kAmx:
      return quantize_rows_s8_avx512;
  }
  return quantize_rows_s8_ref;
}

class QuantizeS8 : public ::testing::TestWithParam<Isa> {};

void check_quantize(Isa isa, const std::vector<float>& a, std::int64_t m, std::int64_t k, std::int64_t lda) {
  std::vector<std::int8_t> q(static_cast<std::size_t>(m * k)), q_ref(q.size());
  std::vector<float> s(static_cast<std::size_t>(m)), s_ref(s.size());
  quantize_for(isa)(a.data(), m, k, lda, q.data(), s.data());
  quantize_rows_s8_ref(a.data(), m, k, lda, q_ref.data(), s_ref.data());
  ASSERT_EQ(s, s_ref) << isa_name(isa) << " m=" << m << " k=" << k;
  ASSERT_EQ(q, q_ref) << isa_name(isa) << " m=" << m << " k=" << k;
}

TEST_P(QuantizeS8, BitExactOverLengthSweep) {
  EDGEROUTE_SKIP_IF_UNSUPPORTED(GetParam());
  std::mt19937 rng(44);
  for (std::int64_t m : test::kLengths)
    for (std::int64_t k : test::kLengths) {
      const std::int64_t lda = k + 1;
      auto a = test::random_f32(static_cast<std::size_t>(m * lda), rng, -3.0f, 3.0f);
      check_quantize(GetParam(), a, m, k, lda);
      if (HasFatalFailure()) return;
    }
  for (const std::int64_t k : {384, 1536, 1537}) {
    auto a = test::random_f32(static_cast<std::size_t>(3 * k), rng, -40.0f, 40.0f);
    check_quantize(GetParam(), a, 3, k, k);
  }
}

// Ties and near-ties: with amax = 127 the scale is exactly 1, so x * inv = x
// and every .5 must round to the even neighbour (vcvtps2dq's rule);
// 0.49999997 must not round up. Plus all-zero and denormal-only rows (scale 1).
TEST_P(QuantizeS8, TiesZeroAndTinyRows) {
  EDGEROUTE_SKIP_IF_UNSUPPORTED(GetParam());
  const std::int64_t k = 37;
  std::vector<float> a(static_cast<std::size_t>(3 * k), 0.0f);
  a[0] = 127.0f;
  const float ties[] = {0.5f,        -0.5f,        1.5f,       -1.5f,       2.5f, -2.5f, 126.5f,     -126.5f,
                        0.49999997f, -0.49999997f, 1.4999999f, -1.4999999f, 0.0f, -0.0f, 3.5000002f, -127.0f};
  for (std::size_t i = 0; i < std::size(ties); ++i) a[i + 1] = ties[i];
  for (std::int64_t j = 0; j < k; ++j) a[static_cast<std::size_t>(2 * k + j)] = (j % 2 ? 1.0f : -1.0f) * 1e-44f;
  check_quantize(GetParam(), a, 3, k, k);

  std::vector<std::int8_t> q(static_cast<std::size_t>(3 * k));
  std::vector<float> s(3);
  quantize_for(GetParam())(a.data(), 3, k, k, q.data(), s.data());
  EXPECT_EQ(s[0], 1.0f);
  const std::int8_t even[] = {0, 0, 2, -2, 2, -2, 126, -126, 0, 0, 1, -1, 0, 0, 4, -127};
  for (std::size_t i = 0; i < std::size(even); ++i) EXPECT_EQ(q[i + 1], even[i]) << "value " << ties[i];
  EXPECT_EQ(s[1], 1.0f);  // all-zero row
  EXPECT_EQ(s[2], 1.0f);  // amax / 127 underflows to 0
}

INSTANTIATE_TEST_SUITE_P(Variants, QuantizeS8, ::testing::ValuesIn(test::kRowVariants), test::variant_name);

}  // namespace
}  // namespace edgeroute::engine
