// Kernel micro-benchmarks: linear_s8 / linear_f32 per ISA over the encoder's
// shapes, and the row-wise kernels. Every GEMM row reports GMAC/s and the
// roof it is held against: the peak rate of the kernel's inner instruction
// on this core, measured at start-up (roof.h; AMX INT8 and scalar assumed).
//
//   bench_kernels --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "edgeroute/engine/kernels.h"
#include "edgeroute/engine/roof.h"
#include "kernels_internal.h"

namespace edgeroute::engine {
namespace {

struct Shape {
  const char* name;
  std::int64_t n, k;
};
constexpr Shape kShapes[] = {{"qkv_1152x384", 1152, 384},
                             {"attn_out_384x384", 384, 384},
                             {"ffn_up_1536x384", 1536, 384},
                             {"ffn_down_384x1536", 384, 1536}};
constexpr std::int64_t kMs[] = {1, 15, 16, 32, 128};

struct Roofs {
  double s8[4] = {0, 0, 0, 0};   // GMAC/s by Isa
  double f32[4] = {0, 0, 0, 0};  // GMAC/s by Isa
};
Roofs g_roofs;

std::vector<float> random_f32(std::size_t count, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(count);
  for (auto& x : v) x = d(rng);
  return v;
}

std::vector<std::int8_t> random_s8(std::size_t count, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(-127, 127);
  std::vector<std::int8_t> v(count);
  for (auto& x : v) x = static_cast<std::int8_t>(d(rng));
  return v;
}

// Weights as a 4-bit matrix widened at load leaves them (15 values per run of
// 128 columns of a channel), which the AMX packer keeps as nibbles.
std::vector<std::int8_t> widened4_s8(std::int64_t n, std::int64_t k, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> q4(-7, 7), ratio(1, 18);
  std::vector<std::int8_t> v(static_cast<std::size_t>(n * k));
  const std::int64_t run = std::min<std::int64_t>(128, k);
  for (std::int64_t r = 0; r < n; ++r)
    for (std::int64_t g = 0; g < k / run; ++g) {
      const int f = ratio(rng);
      for (std::int64_t c = g * run; c < (g + 1) * run; ++c)
        v[static_cast<std::size_t>(r * k + c)] = static_cast<std::int8_t>(q4(rng) * f);
    }
  return v;
}

void set_gemm_counters(benchmark::State& state, std::int64_t m, const Shape& s, double roof) {
  const double macs = static_cast<double>(m * s.n * s.k);
  state.counters["GMAC/s"] = benchmark::Counter(macs * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["roof_GMAC/s"] = roof;
}

// `copies` packed copies of the weights, used in turn: with enough of them
// (kStreamCopies) each call's weights come from L3 or memory, as in the
// encoder at batch 1, instead of from L2.
void bm_linear_s8(benchmark::State& state, Isa isa, Shape s, std::int64_t m, bool widened4, int copies) {
  const auto w = widened4 ? widened4_s8(s.n, s.k, 1) : random_s8(static_cast<std::size_t>(s.n * s.k), 1);
  const auto w_scale = random_f32(static_cast<std::size_t>(s.n), 2);
  const auto bias = random_f32(static_cast<std::size_t>(s.n), 3);
  const auto a = random_s8(static_cast<std::size_t>(m * s.k), 4);
  const std::vector<float> a_scale(static_cast<std::size_t>(m), 0.01f);
  std::vector<float> c(static_cast<std::size_t>(m * s.n));
  std::vector<PackedS8> packed;
  for (int i = 0; i < copies; ++i) packed.emplace_back(w.data(), w_scale.data(), s.n, s.k, isa);
  std::size_t next = 0;
  for (auto _ : state) {
    linear_s8(a.data(), a_scale.data(), m, packed[next], bias.data(), c.data(), s.n);
    next = next + 1 == packed.size() ? 0 : next + 1;
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  set_gemm_counters(state, m, s, g_roofs.s8[static_cast<int>(isa)]);
}

// Copies of one encoder linear's weights that together exceed a 2 MiB L2
// many times over (the encoder streams 10.6 MB per query).
constexpr int kStreamCopies = 24;

void bm_linear_f32(benchmark::State& state, Isa isa, Shape s, std::int64_t m) {
  const auto w = random_f32(static_cast<std::size_t>(s.n * s.k), 1);
  const auto bias = random_f32(static_cast<std::size_t>(s.n), 3);
  const auto a = random_f32(static_cast<std::size_t>(m * s.k), 4);
  std::vector<float> c(static_cast<std::size_t>(m * s.n));
  const PackedF32 packed(w.data(), s.n, s.k, isa);
  for (auto _ : state) {
    linear_f32(a.data(), m, s.k, packed, bias.data(), c.data(), s.n);
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  set_gemm_counters(state, m, s, g_roofs.f32[static_cast<int>(isa)]);
}

struct RowVariant {
  void (*quantize)(const float*, std::int64_t, std::int64_t, std::int64_t, std::int8_t*, float*);
  void (*layer_norm)(float*, const float*, std::int64_t, std::int64_t, std::int64_t, const float*, const float*, float);
  void (*gelu)(float*, std::int64_t);
  void (*softmax)(float*, std::int64_t, std::int64_t, std::int64_t, const float*);
  void (*attention)(const float*, std::int64_t, const float*, const float*, std::int64_t, std::int64_t, std::int64_t,
                    std::int64_t, float, float*, std::int64_t, float*);
};

RowVariant row_variant(Isa isa) {
  switch (isa) {
    case Isa::kAvx2:
      return {quantize_rows_s8_avx2, add_layer_norm_f32_avx2, gelu_f32_avx2, softmax_f32_avx2, attention_head_f32_avx2};
    case Isa::kAvx512Vnni:
    case Isa::kAmx:
      return {quantize_rows_s8_avx512, add_layer_norm_f32_avx512, gelu_f32_avx512, softmax_f32_avx512,
              attention_head_f32_avx512};
    case Isa::kScalar:
      break;
  }
  return {quantize_rows_s8_ref, add_layer_norm_f32_ref, gelu_f32_ref, softmax_f32_ref, attention_head_f32_ref};
}

void set_element_counter(benchmark::State& state, std::int64_t elements) {
  state.counters["Gelem/s"] =
      benchmark::Counter(static_cast<double>(elements) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// 32 tokens, hidden 384: the per-layer LayerNorm.
void bm_add_layer_norm(benchmark::State& state, Isa isa) {
  constexpr std::int64_t kM = 32, kN = 384;
  auto x = random_f32(kM * kN, 5);
  const auto r = random_f32(kM * kN, 6), gamma = random_f32(kN, 7), beta = random_f32(kN, 8);
  const auto fn = row_variant(isa).layer_norm;
  for (auto _ : state) {
    fn(x.data(), r.data(), kM, kN, kN, gamma.data(), beta.data(), 1e-12f);
    benchmark::ClobberMemory();
  }
  set_element_counter(state, kM * kN);
}

// 32 tokens x FFN width 1536. Each call gets the original input back
// (untimed): GELU of GELU drifts into subnormals, which are far slower.
void bm_gelu(benchmark::State& state, Isa isa) {
  constexpr std::int64_t kCount = 32 * 1536;
  const auto src = random_f32(kCount, 9);
  auto x = src;
  const auto fn = row_variant(isa).gelu;
  for (auto _ : state) {
    fn(x.data(), kCount);
    benchmark::ClobberMemory();
    state.PauseTiming();
    x = src;
    state.ResumeTiming();
  }
  set_element_counter(state, kCount);
}

// 12 heads x 32 queries x 32 keys, with a padding mask.
void bm_softmax(benchmark::State& state, Isa isa) {
  constexpr std::int64_t kRows = 12 * 32, kN = 32;
  auto x = random_f32(kRows * kN, 10);
  std::vector<float> mask(kN, 0.0f);
  mask[kN - 1] = -1e30f;
  const auto fn = row_variant(isa).softmax;
  for (auto _ : state) {
    fn(x.data(), kRows, kN, kN, mask.data());
    benchmark::ClobberMemory();
  }
  set_element_counter(state, kRows * kN);
}

// Per-token activation quantization before each INT8 linear: 32 x 384.
void bm_quantize_rows(benchmark::State& state, Isa isa) {
  constexpr std::int64_t kM = 32, kK = 384;
  const auto x = random_f32(kM * kK, 11);
  std::vector<std::int8_t> q(kM * kK);
  std::vector<float> scale(kM);
  const auto fn = row_variant(isa).quantize;
  for (auto _ : state) {
    fn(x.data(), kM, kK, kK, q.data(), scale.data());
    benchmark::ClobberMemory();
  }
  set_element_counter(state, kM * kK);
}

// One layer's self-attention at batch 1: 12 heads of one 15-token sequence,
// head width 32, q/k/v as column slices of the fused QKV rows.
void bm_attention(benchmark::State& state, Isa isa) {
  constexpr std::int64_t kHeads = 12, kT = 15, kD = 32, kH = kHeads * kD;
  const auto qkv = random_f32(kT * 3 * kH, 12);
  std::vector<float> out(kT * kH), scratch(kT * (kT + kD));
  const auto fn = row_variant(isa).attention;
  for (auto _ : state) {
    for (std::int64_t h = 0; h < kHeads; ++h) {
      const float* q = qkv.data() + h * kD;
      fn(q, kT, q + kH, q + 2 * kH, kT, kD, 3 * kH, 3 * kH, 0.17677670f, out.data() + h * kD, kH, scratch.data());
    }
    benchmark::ClobberMemory();
  }
  set_element_counter(state, kHeads * kT * kT * kD * 2);
}

void register_all() {
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512Vnni, Isa::kAmx}) {
    if (!isa_supported(isa)) {
      std::fprintf(stderr, "note: ISA %s not supported on this CPU; its rows are skipped\n",
                   std::string(isa_name(isa)).c_str());
      continue;
    }
    const std::string tag(isa_name(isa));
    for (const Shape& s : kShapes)
      for (std::int64_t m : kMs) {
        // The scalar reference is a baseline, not a contender: one small M.
        if (isa == Isa::kScalar && m != 16) continue;
        const std::string suffix = "/" + tag + "/" + s.name + "/M=" + std::to_string(m);
        benchmark::RegisterBenchmark(("linear_s8" + suffix).c_str(), bm_linear_s8, isa, s, m, false, 1);
        if (isa != Isa::kScalar && m <= 32) {
          benchmark::RegisterBenchmark(("linear_s8_stream" + suffix).c_str(), bm_linear_s8, isa, s, m, false,
                                       kStreamCopies);
          benchmark::RegisterBenchmark(("linear_s8w4" + suffix).c_str(), bm_linear_s8, isa, s, m, true, 1);
          benchmark::RegisterBenchmark(("linear_s8w4_stream" + suffix).c_str(), bm_linear_s8, isa, s, m, true,
                                       kStreamCopies);
        }
        benchmark::RegisterBenchmark(("linear_f32" + suffix).c_str(), bm_linear_f32, isa, s, m);
      }
    benchmark::RegisterBenchmark(("quantize_rows_s8/" + tag + "/32x384").c_str(), bm_quantize_rows, isa);
    benchmark::RegisterBenchmark(("add_layer_norm_f32/" + tag + "/32x384").c_str(), bm_add_layer_norm, isa);
    benchmark::RegisterBenchmark(("gelu_f32/" + tag + "/32x1536").c_str(), bm_gelu, isa);
    benchmark::RegisterBenchmark(("softmax_f32/" + tag + "/384x32").c_str(), bm_softmax, isa);
    benchmark::RegisterBenchmark(("attention_head_f32/" + tag + "/12x15x32").c_str(), bm_attention, isa);
  }
}

void measure_roofs() {
  const double ghz = measure_clock_ghz();
  benchmark::AddCustomContext("clock_ghz_measured", std::to_string(ghz));
  std::string how;
  for (const Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512Vnni, Isa::kAmx}) {
    if (!isa_supported(isa)) continue;
    const Roof s8 = measure_roof(isa, true, ghz);
    const Roof f32 = measure_roof(isa, false, ghz);
    g_roofs.s8[static_cast<int>(isa)] = s8.gmacs_per_s;
    g_roofs.f32[static_cast<int>(isa)] = f32.gmacs_per_s;
    char line[160];
    std::snprintf(line, sizeof(line), "%s%s s8 %.0f (%s), f32 %.0f (%s)", how.empty() ? "" : "; ",
                  std::string(isa_name(isa)).c_str(), s8.gmacs_per_s, s8.measured ? "measured" : "assumed",
                  f32.gmacs_per_s, f32.measured ? "measured" : "assumed");
    how += line;
  }
  benchmark::AddCustomContext("roof_gmacs_per_s", how + " (include/edgeroute/engine/roof.h)");
}

}  // namespace
}  // namespace edgeroute::engine

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("commit", EDGEROUTE_COMMIT);
  benchmark::AddCustomContext("detected_isa",
                              std::string(edgeroute::engine::isa_name(edgeroute::engine::detect_isa())));
  benchmark::AddCustomContext("threads", "1");
  edgeroute::engine::measure_roofs();
  edgeroute::engine::register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
