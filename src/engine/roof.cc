#include "edgeroute/engine/roof.h"

#include <time.h>

#include <cstdint>

namespace edgeroute::engine {
namespace {

// Thread CPU time: the machine is shared, and wall time would count the
// intervals this thread was descheduled as slow cycles.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

double measure_clock_ghz() {
  constexpr std::int64_t kIters = 100'000'000;
  std::int64_t x = 0;
  const std::int64_t one = 1;
  const double t0 = cpu_seconds();
  for (std::int64_t i = 0; i < kIters; i += 8) {
    // 8 dependent register-register adds (1 cycle each; add-immediate
    // chains can be folded at rename on recent cores); the loop counter runs
    // in parallel, so the chain's latency sets the pace.
    __asm__ volatile(
        "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t"
        "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0"
        : "+r"(x)
        : "r"(one));
  }
  const double s = cpu_seconds() - t0;
  return static_cast<double>(x) / s * 1e-9;
}

double macs_per_cycle(Isa isa, bool int8) {
  switch (isa) {
    case Isa::kAmx:
      return int8 ? kMacsPerCycleS8Amx : kMacsPerCycleF32Avx512;
    case Isa::kAvx512Vnni:
      return int8 ? kMacsPerCycleS8Avx512Vnni : kMacsPerCycleF32Avx512;
    case Isa::kAvx2:
      return int8 ? kMacsPerCycleS8Avx2 : kMacsPerCycleF32Avx2;
    case Isa::kScalar:
      break;
  }
  return kMacsPerCycleScalar;
}

}  // namespace edgeroute::engine
