// The roofs benchmarks report against (bench_kernels, edgeroute bench): the
// peak rate of the inner step of each ISA's linear-layer kernel on this core,
// measured where the instruction can be timed on its own, assumed otherwise.
//
// Measured (thread CPU time, best of three, so descheduling on a shared
// machine cannot read as a slow core), 12 independent accumulator chains of:
//   avx512vnni / amx FP32:  vfmadd231ps zmm (16 MACs)
//   avx512vnni INT8:        vpdpbusd zmm (64 MACs)
//   avx2 INT8:              vpmaddwd ymm + vpaddd ymm (16 MACs)
//   avx2 FP32:              vfmadd231ps ymm (8 MACs)
// The issue rate differs by core: two vpdpbusd zmm per cycle on Ice Lake and
// Sapphire Rapids server cores, one on Zen 4, which splits 512-bit work over
// two 256-bit halves. A fixed table would misstate one of them by 2x.
// Assumed: AMX INT8 (one TDPBSSD of 16 x 16 x 64 MACs per 16 cycles, Sapphire
// Rapids) and the scalar references (1 MAC per cycle), times the clock the
// caller measured with measure_clock_ghz().
#pragma once

#include "edgeroute/engine/kernels.h"

namespace edgeroute::engine {

inline constexpr double kMacsPerCycleS8Amx = 1024;
inline constexpr double kMacsPerCycleScalar = 1;

// Core clock in GHz from a chain of dependent register adds (1 cycle each),
// timed with this thread's CPU time, best of three (about 0.1 s).
double measure_clock_ghz();

struct Roof {
  double gmacs_per_s = 0;  // peak G multiply-accumulates per second, one core
  bool measured = false;   // false: an assumed rate per cycle times the measured clock
};

// The roof of the INT8 (int8 = true) or FP32 linear kernels of `isa` on the
// calling thread's core; `clock_ghz` (from measure_clock_ghz()) scales the
// assumed ones. Takes a few tens of milliseconds. Throws edgeroute::Error
// when this CPU does not support `isa`.
Roof measure_roof(Isa isa, bool int8, double clock_ghz);

}  // namespace edgeroute::engine
