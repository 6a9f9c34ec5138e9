// The roofs benchmarks report against (bench_kernels, edgeroute bench):
// per-ISA peak multiply-accumulates per cycle of each kernel's inner
// instruction (an assumption about the core, stated here), times the clock
// measured on this run.
#pragma once

#include "edgeroute/engine/kernels.h"

namespace edgeroute::engine {

// Assumed issue rates for a core with two 512-bit FMA/VNNI pipes (Ice Lake /
// Sapphire Rapids server cores: ports 0 and 5):
//   vpdpbusd zmm: 64 u8*s8 MACs x 2 per cycle;  vfmadd231ps zmm: 16 x 2;
//   vpmaddwd ymm: 16 s16 MACs x 2 per cycle;    vfmadd231ps ymm: 8 x 2;
//   scalar references: 1 MAC per cycle (generous for their loops).
//   AMX tiles: see kMacsPerCycleS8Amx.
inline constexpr double kMacsPerCycleS8Avx512Vnni = 128;
inline constexpr double kMacsPerCycleF32Avx512 = 32;
inline constexpr double kMacsPerCycleS8Avx2 = 32;
inline constexpr double kMacsPerCycleF32Avx2 = 16;
inline constexpr double kMacsPerCycleScalar = 1;
// AMX (Sapphire Rapids): one TDPBSSD, 16 x 16 x 64 s8 MACs, issued every 16
// cycles. FP32 linears of Isa::kAmx run the AVX-512 kernel.
inline constexpr double kMacsPerCycleS8Amx = 1024;

// Core clock in GHz from a chain of dependent register adds (1 cycle each),
// timed with this thread's CPU time so descheduling on a shared machine does
// not read as a slow clock.
double measure_clock_ghz();

// Assumed peak MACs per cycle of the linear-layer kernels for `isa` in INT8
// (int8 = true) or FP32.
double macs_per_cycle(Isa isa, bool int8);

}  // namespace edgeroute::engine
