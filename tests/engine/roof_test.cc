// The benchmark roofs: measured for the ISAs whose inner instruction can be
// timed alone, assumed for AMX INT8 and the scalar references, refused for an
// ISA this CPU lacks. The bounds are loose sanity checks on a ratio of two
// CPU-time measurements (MACs per cycle), not timing assertions: a probe that
// skipped its loop or timed the wrong thing lands orders of magnitude off.
#include <gtest/gtest.h>

#include <cmath>

#include "edgeroute/common/error.h"
#include "edgeroute/engine/roof.h"

namespace edgeroute::engine {
namespace {

struct Expect {
  Isa isa;
  bool int8;
  bool measured;
  double macs_per_instruction;  // per step of the probe (0: assumed roof)
};

constexpr Expect kExpect[] = {
    {Isa::kScalar, true, false, 0}, {Isa::kScalar, false, false, 0},    {Isa::kAvx2, true, true, 16},
    {Isa::kAvx2, false, true, 8},   {Isa::kAvx512Vnni, true, true, 64}, {Isa::kAvx512Vnni, false, true, 16},
    {Isa::kAmx, true, false, 0},    {Isa::kAmx, false, true, 16},
};

TEST(Roof, MeasuredWhereTheInstructionCanBeTimed) {
  const double ghz = measure_clock_ghz();
  ASSERT_TRUE(std::isfinite(ghz));
  ASSERT_GT(ghz, 0.1);
  int ran = 0;
  for (const Expect& e : kExpect) {
    if (!isa_supported(e.isa)) continue;
    ++ran;
    SCOPED_TRACE(std::string(isa_name(e.isa)) + (e.int8 ? " int8" : " fp32"));
    const Roof roof = measure_roof(e.isa, e.int8, ghz);
    EXPECT_EQ(roof.measured, e.measured);
    ASSERT_TRUE(std::isfinite(roof.gmacs_per_s));
    const double per_cycle = roof.gmacs_per_s / ghz;
    if (e.measured) {
      // Real cores issue these at 0.5 to 2 per cycle; allow 4x either way.
      EXPECT_GT(per_cycle, e.macs_per_instruction / 8) << roof.gmacs_per_s << " GMAC/s at " << ghz << " GHz";
      EXPECT_LT(per_cycle, e.macs_per_instruction * 8) << roof.gmacs_per_s << " GMAC/s at " << ghz << " GHz";
    } else {
      const double assumed = e.isa == Isa::kAmx ? kMacsPerCycleS8Amx : kMacsPerCycleScalar;
      EXPECT_NEAR(per_cycle, assumed, assumed * 0.5);
    }
  }
  EXPECT_GE(ran, 2) << "scalar alone ran: no SIMD roof was measured";
}

TEST(Roof, RefusesAnIsaThisCpuLacks) {
  for (const Isa isa : {Isa::kAvx2, Isa::kAvx512Vnni, Isa::kAmx}) {
    if (isa_supported(isa)) continue;
    EXPECT_THROW(static_cast<void>(measure_roof(isa, true, 3.0)), Error) << isa_name(isa);
    return;
  }
  GTEST_SKIP() << "this CPU supports every ISA (avx2, avx512vnni, amx): nothing to refuse";
}

}  // namespace
}  // namespace edgeroute::engine
