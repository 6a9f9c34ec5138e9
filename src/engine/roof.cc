#include "edgeroute/engine/roof.h"

#include <time.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "edgeroute/common/error.h"

namespace edgeroute::engine {
namespace {

// Thread CPU time: the machine is shared, and wall time would count the
// intervals this thread was descheduled as slow cycles.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// The probes are whole loops in inline assembly: the assembler takes any
// instruction whatever this file's -m flags are, and only measure_roof's
// isa_supported check lets them run. Operands start at zero (no subnormals,
// no data-dependent timing); every loop ends in vzeroupper so the baseline
// SSE code after it pays no transition penalty. Each runs `loops` iterations
// of 12 independent accumulator steps.
#define EDGEROUTE_STEP6(OP) OP(0) OP(1) OP(2) OP(3) OP(4) OP(5)
#define EDGEROUTE_STEP12(OP) EDGEROUTE_STEP6(OP) OP(6) OP(7) OP(8) OP(9) OP(10) OP(11)
#define EDGEROUTE_ZERO_Z(i) "vpxord %%zmm" #i ", %%zmm" #i ", %%zmm" #i "\n\t"
#define EDGEROUTE_ZERO_Y(i) "vpxor %%ymm" #i ", %%ymm" #i ", %%ymm" #i "\n\t"
#define EDGEROUTE_DPBUSD_Z(i) "vpdpbusd %%zmm15, %%zmm14, %%zmm" #i "\n\t"
#define EDGEROUTE_FMA_Z(i) "vfmadd231ps %%zmm15, %%zmm14, %%zmm" #i "\n\t"
#define EDGEROUTE_FMA_Y(i) "vfmadd231ps %%ymm15, %%ymm14, %%ymm" #i "\n\t"
// vpmaddwd into ymm12, then vpaddd into accumulator ymm(i): the AVX2 INT8
// kernel's pair. Renaming gives each step's ymm12 its own register, so the
// only dependency is the pair's own.
#define EDGEROUTE_MADDWD_Y(i) "vpmaddwd %%ymm15, %%ymm14, %%ymm12\n\tvpaddd %%ymm12, %%ymm" #i ", %%ymm" #i "\n\t"
// Zero ymm/zmm 0-11 and the operands 14 and 15, then `loops` times the 12
// steps of STEP.
#define EDGEROUTE_PROBE(ZERO, STEP, loops)                                                                             \
  __asm__ volatile(EDGEROUTE_STEP12(ZERO) ZERO(14)                                                                     \
                       ZERO(15) "1:\n\t" EDGEROUTE_STEP12(STEP) "dec %0\n\tjnz 1b\n\tvzeroupper"                       \
                   : "+r"(loops)                                                                                       \
                   :                                                                                                   \
                   : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", \
                     "xmm12", "xmm13", "xmm14", "xmm15", "cc")

enum class Probe { kDpbusdZmm, kFmaZmm, kMaddwdYmm, kFmaYmm };

void run_probe(Probe probe, std::int64_t loops) {
  switch (probe) {
    case Probe::kDpbusdZmm:
      EDGEROUTE_PROBE(EDGEROUTE_ZERO_Z, EDGEROUTE_DPBUSD_Z, loops);
      break;
    case Probe::kFmaZmm:
      EDGEROUTE_PROBE(EDGEROUTE_ZERO_Z, EDGEROUTE_FMA_Z, loops);
      break;
    case Probe::kMaddwdYmm:
      EDGEROUTE_PROBE(EDGEROUTE_ZERO_Y, EDGEROUTE_MADDWD_Y, loops);
      break;
    case Probe::kFmaYmm:
      EDGEROUTE_PROBE(EDGEROUTE_ZERO_Y, EDGEROUTE_FMA_Y, loops);
      break;
  }
}

// G steps per second of CPU time, best of three runs of about 8 ms each.
double steps_per_ns(Probe probe) {
  constexpr std::int64_t kLoops = 2'000'000;  // x 12 steps
  double best = 0;
  for (int i = 0; i < 3; ++i) {
    const double t0 = cpu_seconds();
    run_probe(probe, kLoops);
    const double s = cpu_seconds() - t0;
    if (s > 0) best = std::max(best, static_cast<double>(12 * kLoops) / s * 1e-9);
  }
  return best;
}

}  // namespace

double measure_clock_ghz() {
  // Best of three: a descheduled or throttled sample can only read low.
  constexpr std::int64_t kIters = 100'000'000;
  const std::int64_t one = 1;
  double best = 0;
  for (int run = 0; run < 3; ++run) {
    std::int64_t x = 0;
    const double t0 = cpu_seconds();
    for (std::int64_t i = 0; i < kIters; i += 8) {
      // 8 dependent register-register adds (1 cycle each; add-immediate
      // chains can be folded at rename on recent cores); the loop counter
      // runs in parallel, so the chain's latency sets the pace.
      __asm__ volatile(
          "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t"
          "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0"
          : "+r"(x)
          : "r"(one));
    }
    const double s = cpu_seconds() - t0;
    if (s > 0) best = std::max(best, static_cast<double>(x) / s * 1e-9);
  }
  return best;
}

Roof measure_roof(Isa isa, bool int8, double clock_ghz) {
  if (!isa_supported(isa)) {
    throw Error("roof: ISA " + std::string(isa_name(isa)) + " is not supported on this CPU");
  }
  switch (isa) {
    case Isa::kAmx:
      if (int8) return {kMacsPerCycleS8Amx * clock_ghz, false};
      return {16 * steps_per_ns(Probe::kFmaZmm), true};  // FP32 linears of kAmx run the AVX-512 kernel
    case Isa::kAvx512Vnni:
      return int8 ? Roof{64 * steps_per_ns(Probe::kDpbusdZmm), true} : Roof{16 * steps_per_ns(Probe::kFmaZmm), true};
    case Isa::kAvx2:
      return int8 ? Roof{16 * steps_per_ns(Probe::kMaddwdYmm), true} : Roof{8 * steps_per_ns(Probe::kFmaYmm), true};
    case Isa::kScalar:
      break;
  }
  return {kMacsPerCycleScalar * clock_ghz, false};
}

}  // namespace edgeroute::engine
