// Internal contract between the dispatcher (dispatch.cc), the packers and the
// per-ISA translation units. Not installed; tests and benchmarks include it to
// reach individual variants.
//
// Packed layouts (see docs/kernels.md for pictures):
//   Output channels are grouped in panels of kPanel channels (16 for AVX-512,
//   8 for AVX2), panels in blocks of kBlock panels (the micro-kernel's N
//   tile). Within a block, for each group of kGroup consecutive k, the block's
//   panels follow each other, each panel holding kPanel channels x kGroup k:
//     offset(block b, group g, panel p, channel c, j) =
//       b*kBlock*kPanel*kp + ((g*nb + p)*kPanel + c)*kGroup + j
//   where nb is the number of panels in that block (kBlock except maybe the
//   last) and kp is k rounded up to kGroup. Channels >= n and k >= k are zero,
//   so the micro-kernel streams one contiguous run of memory per block and
//   never needs an N or K tail in the weights.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <string_view>
#include <vector>

#include "edgeroute/engine/kernels.h"

namespace edgeroute::engine {

// Allocator returning 64-byte aligned storage (one cache line, one zmm), so
// packed weights can be read with aligned loads.
template <class T>
struct AlignedAllocator {
  using value_type = T;
  static constexpr std::size_t kAlignment = 64;
  AlignedAllocator() noexcept = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U>&) noexcept {}  // NOLINT(google-explicit-constructor)
  T* allocate(std::size_t count) {
    return static_cast<T*>(::operator new (count * sizeof(T), std::align_val_t{kAlignment}));
  }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete (p, std::align_val_t{kAlignment}); }
  template <class U>
  bool operator==(const AlignedAllocator<U>&) const noexcept {
    return true;
  }
};

template <class T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

// Geometry of one packed layout (see the file comment).
struct PackGeometry {
  std::int64_t panel;        // output channels per panel
  std::int64_t group;        // consecutive k per panel row
  std::int64_t block;        // panels per micro-kernel tile
  std::int64_t k_align = 0;  // k is zero-padded to a multiple of this (0: of group)
};

inline constexpr PackGeometry kS8GeometryAvx512{16, 4, 2};  // u8 (w ^ 0x80), vpdpbusd: 16 ch x 4 k = one zmm
inline constexpr PackGeometry kS8GeometryAvx2{8, 2, 2};     // s16, vpmaddwd: 8 ch x 2 k = one ymm
// s8 as is, TDPBSSD: a B tile is 16 groups of 4 k x one panel of 16 channels.
inline constexpr PackGeometry kS8GeometryAmx{16, 4, 4, 64};
inline constexpr PackGeometry kF32GeometryAvx512{16, 1, 4};
inline constexpr PackGeometry kF32GeometryAvx2{8, 1, 2};

inline constexpr std::int64_t round_up(std::int64_t v, std::int64_t to) { return (v + to - 1) / to * to; }

struct PackedS8::Impl {
  std::int64_t n = 0;
  std::int64_t k = 0;
  Isa isa = Isa::kScalar;
  std::int64_t k_padded = 0;  // k rounded up to the geometry's group (kAmx: to 64)
  std::int64_t n_padded = 0;  // n rounded up to the geometry's panel
  // kScalar: the canonical [n, k] rows. kAvx512Vnni: packed, each byte
  // w ^ 0x80 = w + 128 read as u8 (the vpdpbusd unsigned operand; padding
  // holds 0x80, i.e. w = 0). kAmx: packed, signed, zero padding.
  AlignedVector<std::int8_t> w8;
  // kAvx2: packed and sign-extended to s16 (vpmaddwd operand).
  AlignedVector<std::int16_t> w16;
  // Per-channel scales, [n_padded] (zero past n) so epilogues load full vectors.
  AlignedVector<float> scale;
  // kAmx only: 128 * sum_k w[n][k], [n_padded]. Few-row products run on
  // vpdpbusd with the activations offset to u8 (a + 128) and subtract this.
  AlignedVector<std::int32_t> column_offset;
  // kAmx only, and only when every channel takes at most 16 distinct values
  // in each run of `lut_group` consecutive k (a 4-bit matrix widened at
  // load; PackedS8 finds this itself): the same weights as 4-bit indices into
  // a 16-entry int8 table per (channel, run), which products of at most
  // kNibbleMaxRows rows expand on the fly. They stream 0.625 bytes per weight
  // instead of 1 and give the same integers. lut_group is 0 when absent.
  //   w4: per block of kNibbleBlockTiles tiles of 16 channels (fewer in the
  //     last block), per 64-k chunk c, per tile t, per channel row: 32 bytes,
  //     byte j = index of k = 64c + j (low nibble) | index of 64c + 32 + j
  //     (high nibble). Block at panel p0 starts at p0 * 16 * k / 2.
  //   lut4: per block, per run g, per tile t, per channel row: 16 bytes.
  //     Block at panel p0 starts at p0 * 16 * (k / lut_group) * 16.
  std::int64_t lut_group = 0;
  AlignedVector<std::uint8_t> w4;
  AlignedVector<std::int8_t> lut4;
};

inline constexpr std::int64_t kNibbleBlockTiles = 4;
inline constexpr std::int64_t kNibbleMaxRows = 48;

struct PackedF32::Impl {
  std::int64_t n = 0;
  std::int64_t k = 0;
  Isa isa = Isa::kScalar;
  std::int64_t n_padded = 0;
  // kScalar: the canonical [n, k] rows; otherwise the packed layout.
  AlignedVector<float> w;
};

// Parses an EDGEROUTE_FORCE_ISA value against what the machine supports
// (`detected`). Throws edgeroute::Error naming the value for an unknown name
// or an ISA above `detected`. ISAs are ordered: scalar < avx2 < avx512vnni <
// amx.
Isa parse_isa_override(std::string_view value, Isa detected);

// ---------------------------------------------------------------------------
// Per-ISA variants. Contracts are those of the public functions in kernels.h;
// the Packed* arguments must have been packed for the variant's ISA.

void gemm_s8s8s32_avx2(const std::int8_t* a, std::int64_t m, const PackedS8::Impl& w, std::int32_t* acc);
void linear_s8_avx2(const std::int8_t* a, const float* a_scale, std::int64_t m, const PackedS8::Impl& w,
                    const float* bias, float* c, std::int64_t ldc);
void linear_s8_gelu_avx2(const std::int8_t* a, const float* a_scale, std::int64_t m, const PackedS8::Impl& w,
                         const float* bias, float* c, std::int64_t ldc);
void linear_f32_avx2(const float* a, std::int64_t m, std::int64_t lda, const PackedF32::Impl& w, const float* bias,
                     float* c, std::int64_t ldc);
void quantize_rows_s8_avx2(const float* a, std::int64_t m, std::int64_t k, std::int64_t lda, std::int8_t* q,
                           float* scale);
void add_layer_norm_f32_avx2(float* x, const float* residual, std::int64_t m, std::int64_t n, std::int64_t ld,
                             const float* gamma, const float* beta, float eps);
void gelu_f32_avx2(float* x, std::int64_t count);
void softmax_f32_avx2(float* x, std::int64_t m, std::int64_t n, std::int64_t ld, const float* mask_bias);
void attention_head_f32_avx2(const float* q, std::int64_t m, const float* k, const float* v, std::int64_t t,
                             std::int64_t d, std::int64_t ldq, std::int64_t ldkv, float scale, float* out,
                             std::int64_t ldo, float* scratch);
void exp_f32_avx2(const float* x, float* y, std::int64_t count);  // for tests: the vector exp
void erf_f32_avx2(const float* x, float* y, std::int64_t count);  // for tests: the vector erf

void gemm_s8s8s32_avx512vnni(const std::int8_t* a, std::int64_t m, const PackedS8::Impl& w, std::int32_t* acc);
void linear_s8_avx512vnni(const std::int8_t* a, const float* a_scale, std::int64_t m, const PackedS8::Impl& w,
                          const float* bias, float* c, std::int64_t ldc);
void linear_s8_gelu_avx512vnni(const std::int8_t* a, const float* a_scale, std::int64_t m, const PackedS8::Impl& w,
                               const float* bias, float* c, std::int64_t ldc);
void linear_f32_avx512(const float* a, std::int64_t m, std::int64_t lda, const PackedF32::Impl& w, const float* bias,
                       float* c, std::int64_t ldc);
void quantize_rows_s8_avx512(const float* a, std::int64_t m, std::int64_t k, std::int64_t lda, std::int8_t* q,
                             float* scale);
void add_layer_norm_f32_avx512(float* x, const float* residual, std::int64_t m, std::int64_t n, std::int64_t ld,
                               const float* gamma, const float* beta, float eps);
void gelu_f32_avx512(float* x, std::int64_t count);
void softmax_f32_avx512(float* x, std::int64_t m, std::int64_t n, std::int64_t ld, const float* mask_bias);
void attention_head_f32_avx512(const float* q, std::int64_t m, const float* k, const float* v, std::int64_t t,
                               std::int64_t d, std::int64_t ldq, std::int64_t ldkv, float scale, float* out,
                               std::int64_t ldo, float* scratch);
void exp_f32_avx512(const float* x, float* y, std::int64_t count);
void erf_f32_avx512(const float* x, float* y, std::int64_t count);

// Isa::kAmx: the INT8 GEMM on AMX tiles; every other kernel is the AVX-512 one.
void gemm_s8s8s32_amx(const std::int8_t* a, std::int64_t m, const PackedS8::Impl& w, std::int32_t* acc);
void linear_s8_amx(const std::int8_t* a, const float* a_scale, std::int64_t m, const PackedS8::Impl& w,
                   const float* bias, float* c, std::int64_t ldc);
void linear_s8_gelu_amx(const std::int8_t* a, const float* a_scale, std::int64_t m, const PackedS8::Impl& w,
                        const float* bias, float* c, std::int64_t ldc);

}  // namespace edgeroute::engine
