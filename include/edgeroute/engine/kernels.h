// Compute kernels of the edge engine: the only code that uses SIMD.
//
// Level: kernels (STYLE.md: kernels -> ops -> layers -> model -> session).
// A kernel never allocates, never parses a file and assumes valid arguments;
// callers validate at the loader and request boundaries.
//
// ISA dispatch: one enum, detected once from CPUID + XGETBV (the OS must
// save the wider registers; for AMX the kernel must also grant the process
// the tile data state), overridable with EDGEROUTE_FORCE_ISA=
// scalar|avx2|avx512vnni|amx. Isa::kAmx runs the INT8 GEMM on AMX tiles and
// every other kernel as kAvx512Vnni does. Every kernel has a scalar twin (*_ref) that is the
// fallback and the test oracle. Each ISA's kernels live in their own
// translation unit compiled with that ISA's flags; the binary never needs
// -march=native.
//
// Layouts: row-major. Linear weights are [N, K] (Hugging Face nn.Linear
// layout: output channel n is row n) and are repacked once at load into a
// Packed* object for the chosen ISA. Activations A are [M, K] with row stride
// lda (elements); outputs C are [M, N] with row stride ldc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace edgeroute::engine {

enum class Isa : std::uint8_t { kScalar, kAvx2, kAvx512Vnni, kAmx };

std::string_view isa_name(Isa isa);
// What this CPU and OS support, ignoring EDGEROUTE_FORCE_ISA.
Isa detect_isa();
// The ISA kernels use: detect_isa(), or EDGEROUTE_FORCE_ISA when set. Forcing
// an ISA the machine lacks, or an unknown name, throws edgeroute::Error.
// Computed once (thread-safe), then cached.
Isa active_isa();
bool isa_supported(Isa isa);

// ---------------------------------------------------------------------------
// INT8: symmetric per-output-channel weights, per-row (per-token) activations.
// acc[m][n] = sum_k a[m][k] * w[n][k] in int32 exactly (no saturation on any
// ISA), then c[m][n] = acc * a_scale[m] * w_scale[n] + bias[n].

// Weights quantized to int8 and repacked for `isa` (for u8*s8 instructions,
// offset to u8 by +128; the kernel then subtracts 128 * sum_k a[m][k] per
// row). Holds the per-channel scales. Immutable after construction;
// shareable by threads.
class PackedS8 {
 public:
  // w: int8 [n, k] row-major; scale: float [n].
  PackedS8(const std::int8_t* w, const float* scale, std::int64_t n, std::int64_t k, Isa isa);
  ~PackedS8();
  PackedS8(PackedS8&&) noexcept;
  PackedS8& operator=(PackedS8&&) noexcept;
  std::int64_t n() const;
  std::int64_t k() const;
  Isa isa() const;
  const float* scales() const;
  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// Quantizes each row of a [m, k] float matrix to int8 with scale amax/127
// (all-zero rows get scale 1): q = round-half-away-from-zero(x / scale),
// clamped to [-127, 127]. Writes q [m, k] (row stride k) and scale [m].
// Exactly: scale = amax / 127.0f (a row whose scale is 0, i.e. all zeros or
// amax below 127 * FLT_TRUE_MIN, gets scale 1); then x / scale is evaluated as
// x * (1.0f / scale) in float, which can differ from a true division in the
// last ulp. Every variant does exactly this, so all are bit-identical.
void quantize_rows_s8(const float* a, std::int64_t m, std::int64_t k, std::int64_t lda, std::int8_t* q, float* scale);
void quantize_rows_s8_ref(const float* a, std::int64_t m, std::int64_t k, std::int64_t lda, std::int8_t* q,
                          float* scale);

// int32 accumulators only (for tests): acc [m, n], row stride n.
void gemm_s8s8s32(const std::int8_t* a, std::int64_t m, const PackedS8& w, std::int32_t* acc);
void gemm_s8s8s32_ref(const std::int8_t* a, std::int64_t m, std::int64_t k, const std::int8_t* w, std::int64_t n,
                      std::int32_t* acc);

// Full INT8 linear: c = dequant(acc) + bias (bias may be null). The epilogue
// is fused into the GEMM (no second pass over c) and evaluated as
// (float(acc) * a_scale[m]) * w_scale[n] + bias[n], in that order, without
// contraction, so every variant is bit-identical to linear_s8_ref.
void linear_s8(const std::int8_t* a, const float* a_scale, std::int64_t m, const PackedS8& w, const float* bias,
               float* c, std::int64_t ldc);
// w: int8 [n, k] row-major (the canonical layout), w_scale: float [n].
void linear_s8_ref(const std::int8_t* a, const float* a_scale, std::int64_t m, std::int64_t k, const std::int8_t* w,
                   const float* w_scale, std::int64_t n, const float* bias, float* c, std::int64_t ldc);

// The INT8 linear with GELU fused into its epilogue (the feed-forward up
// projection): c = gelu(dequant(acc) + bias), GELU as gelu_f32 below. Each
// vector variant equals linear_s8 followed by its own ISA's gelu_f32 bit for
// bit, and so matches linear_s8_gelu_ref within the GELU bound.
void linear_s8_gelu(const std::int8_t* a, const float* a_scale, std::int64_t m, const PackedS8& w, const float* bias,
                    float* c, std::int64_t ldc);
void linear_s8_gelu_ref(const std::int8_t* a, const float* a_scale, std::int64_t m, std::int64_t k,
                        const std::int8_t* w, const float* w_scale, std::int64_t n, const float* bias, float* c,
                        std::int64_t ldc);

// ---------------------------------------------------------------------------
// FP32 linear: c[m][n] = sum_k a[m][k] * w[n][k] + bias[n].

class PackedF32 {
 public:
  PackedF32(const float* w, std::int64_t n, std::int64_t k, Isa isa);
  ~PackedF32();
  PackedF32(PackedF32&&) noexcept;
  PackedF32& operator=(PackedF32&&) noexcept;
  std::int64_t n() const;
  std::int64_t k() const;
  Isa isa() const;
  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

void linear_f32(const float* a, std::int64_t m, std::int64_t lda, const PackedF32& w, const float* bias, float* c,
                std::int64_t ldc);
void linear_f32_ref(const float* a, std::int64_t m, std::int64_t k, std::int64_t lda, const float* w, std::int64_t n,
                    const float* bias, float* c, std::int64_t ldc);

// ---------------------------------------------------------------------------
// Row-wise epilogue kernels (in place, [m, n] with row stride ld). Vector
// variants match the references within the float bounds of docs/kernels.md
// (they sum in a different order and use their own exp/erf); all kernels are
// reentrant and touch only the memory they are given.

// x = LayerNorm(x + residual) * gamma + beta; residual may be null and has
// the same row stride ld; gamma, beta: [n]. Two-pass mean and variance.
void add_layer_norm_f32(float* x, const float* residual, std::int64_t m, std::int64_t n, std::int64_t ld,
                        const float* gamma, const float* beta, float eps);
void add_layer_norm_f32_ref(float* x, const float* residual, std::int64_t m, std::int64_t n, std::int64_t ld,
                            const float* gamma, const float* beta, float eps);
// add_layer_norm_f32 and then quantize_rows_s8 of its output (q [m, n] with
// row stride n, scale [m]), row by row while each row is still in L1: the
// same results as the two calls, bit for bit, for the next INT8 linear.
void add_layer_norm_quantize_f32(float* x, const float* residual, std::int64_t m, std::int64_t n, std::int64_t ld,
                                 const float* gamma, const float* beta, float eps, std::int8_t* q, float* scale);
// x = 0.5 * x * (1 + erf(x / sqrt(2)))  (exact GELU, as Hugging Face's "gelu").
// Vector variants: erf within 1e-6 absolute (measured 3.1e-7) of the true erf.
void gelu_f32(float* x, std::int64_t count);
void gelu_f32_ref(float* x, std::int64_t count);
// Row-wise softmax of x + mask_bias (mask_bias [n] may be null; the same mask
// for every row), in place. Each row needs at least one finite entry after
// masking (Hugging Face's finfo.min masks qualify; an all -inf row is NaN).
// Vector exp is within 2 ulp of exp and flushes results below FLT_MIN to 0.
void softmax_f32(float* x, std::int64_t m, std::int64_t n, std::int64_t ld, const float* mask_bias);
void softmax_f32_ref(float* x, std::int64_t m, std::int64_t n, std::int64_t ld, const float* mask_bias);

// One attention head over one sequence: for each of the m query rows,
// p = softmax(scale * q_i . k_j, j < t) and out_i = sum_j p_j * v_j. q is
// [m, d] with row stride ldq; k and v are [t, d] with row stride ldkv (they
// may be column slices of a fused QKV matrix); out is [m, d] with row stride
// ldo; scratch holds at least t * (m + d) floats. m, t, d >= 1. No mask:
// sequences are packed, never padded.
void attention_head_f32(const float* q, std::int64_t m, const float* k, const float* v, std::int64_t t, std::int64_t d,
                        std::int64_t ldq, std::int64_t ldkv, float scale, float* out, std::int64_t ldo, float* scratch);
void attention_head_f32_ref(const float* q, std::int64_t m, const float* k, const float* v, std::int64_t t,
                            std::int64_t d, std::int64_t ldq, std::int64_t ldkv, float scale, float* out,
                            std::int64_t ldo, float* scratch);

}  // namespace edgeroute::engine
