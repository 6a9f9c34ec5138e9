#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <string>

#include "edgeroute/common/error.h"
#include "edgeroute/engine/kernels.h"
#include "kernel_test_util.h"
#include "kernels_internal.h"

namespace edgeroute::engine {
namespace {

TEST(Isa, NamesRoundTripThroughTheOverrideParser) {
  for (Isa isa : test::kAllVariants) EXPECT_EQ(parse_isa_override(isa_name(isa), Isa::kAmx), isa);
}

TEST(Isa, UnknownOverrideNameIsAnErrorNamingTheValue) {
  for (const char* bad : {"AVX2", "avx512", "sse4", " avx2", "avx2 ", "native"}) {
    try {
      parse_isa_override(bad, Isa::kAvx512Vnni);
      FAIL() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("'") + bad + "'"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("scalar, avx2, avx512vnni or amx"), std::string::npos) << e.what();
    }
  }
}

TEST(Isa, OverrideAboveTheMachineIsAnError) {
  EXPECT_THROW(parse_isa_override("avx512vnni", Isa::kAvx2), Error);
  EXPECT_THROW(parse_isa_override("avx2", Isa::kScalar), Error);
  EXPECT_EQ(parse_isa_override("avx2", Isa::kAvx2), Isa::kAvx2);
  EXPECT_EQ(parse_isa_override("scalar", Isa::kScalar), Isa::kScalar);
  try {
    parse_isa_override("avx512vnni", Isa::kAvx2);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("best available: avx2"), std::string::npos) << e.what();
  }
}

TEST(Isa, SupportIsOrderedAndIncludesScalar) {
  EXPECT_TRUE(isa_supported(Isa::kScalar));
  EXPECT_TRUE(isa_supported(detect_isa()));
  if (isa_supported(Isa::kAvx512Vnni)) {
    EXPECT_TRUE(isa_supported(Isa::kAvx2));
  }
  EXPECT_EQ(detect_isa(), detect_isa());
}

// Runs the probe with EDGEROUTE_FORCE_ISA set to `value` (unset when null).
std::pair<int, std::string> run_probe(const char* value) {
  std::string cmd = value == nullptr ? std::string("env -u EDGEROUTE_FORCE_ISA ")
                                     : std::string("env EDGEROUTE_FORCE_ISA='") + value + "' ";
  cmd += EDGEROUTE_ISA_PROBE;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return {-1, ""};
  std::string out;
  char buf[256];
  while (fgets(buf, sizeof buf, p) != nullptr) out += buf;
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST(Isa, ActiveIsaHonoursTheOverrideInAFreshProcess) {
  const std::string detected(isa_name(detect_isa()));
  EXPECT_EQ(run_probe(nullptr), std::make_pair(0, detected + " " + detected + "\n"));
  EXPECT_EQ(run_probe(""), std::make_pair(0, detected + " " + detected + "\n"));
  EXPECT_EQ(run_probe("scalar"), std::make_pair(0, std::string("scalar scalar\n")));
  const auto [rc, out] = run_probe("bogus");
  EXPECT_EQ(rc, 2);
  EXPECT_NE(out.find("EDGEROUTE_FORCE_ISA='bogus'"), std::string::npos) << out;
  if (!isa_supported(Isa::kAvx512Vnni)) {
    EXPECT_EQ(run_probe("avx512vnni").first, 2);
  } else {
    EXPECT_EQ(run_probe("avx2"), std::make_pair(0, std::string("avx2 avx2\n")));
  }
}

// A suite whose every variant skipped would pass silently (say, detection
// broke and reports scalar): this fails instead, after running one small
// product on each optimized variant present.
TEST(KernelVariants, AtLeastOneOptimizedVariantRuns) {
  int ran = 0;
  for (Isa isa : test::kSimdVariants) {
    if (!isa_supported(isa)) continue;
    const std::int8_t a[3] = {-128, 127, 5};
    const std::int8_t w[6] = {127, -128, 3, -1, 2, 9};
    const float scale[2] = {1.0f, 1.0f};
    const PackedS8 packed(w, scale, 2, 3, isa);
    std::int32_t acc[2] = {};
    gemm_s8s8s32(a, 1, packed, acc);
    EXPECT_EQ(acc[0], -128 * 127 + 127 * -128 + 5 * 3) << isa_name(isa);
    EXPECT_EQ(acc[1], -128 * -1 + 127 * 2 + 5 * 9) << isa_name(isa);
    ++ran;
  }
  EXPECT_GT(ran, 0) << "no optimized kernel variant (avx2, avx512vnni, amx) ran on this machine (detected: "
                    << isa_name(detect_isa()) << "); the variant suites only skipped";
}

}  // namespace
}  // namespace edgeroute::engine
