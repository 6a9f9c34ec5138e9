// Weight packing and the one place that maps an Isa to a kernel variant.
#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#include "edgeroute/engine/kernels.h"
#include "kernels_internal.h"

namespace edgeroute::engine {
namespace {

// Repacks canonical [n, k] rows into the panel/block layout of
// kernels_internal.h, zero-filling channels >= n and k >= k.
template <class Dst, class Src>
void pack_panels(const Src* w, std::int64_t n, std::int64_t k, const PackGeometry& g, AlignedVector<Dst>& out,
                 std::int64_t& n_padded, std::int64_t& k_padded) {
  n_padded = round_up(n, g.panel);
  k_padded = round_up(k, g.k_align != 0 ? g.k_align : g.group);
  out.assign(static_cast<std::size_t>(n_padded * k_padded), Dst{});
  const std::int64_t panels = n_padded / g.panel;
  const std::int64_t groups = k_padded / g.group;
  for (std::int64_t p0 = 0; p0 < panels; p0 += g.block) {
    const std::int64_t nb = std::min(g.block, panels - p0);
    Dst* block = out.data() + p0 * g.panel * k_padded;
    for (std::int64_t grp = 0; grp < groups; ++grp) {
      for (std::int64_t p = 0; p < nb; ++p) {
        for (std::int64_t c = 0; c < g.panel; ++c) {
          const std::int64_t row = (p0 + p) * g.panel + c;
          for (std::int64_t j = 0; j < g.group; ++j) {
            const std::int64_t col = grp * g.group + j;
            if (row < n && col < k)
              block[((grp * nb + p) * g.panel + c) * g.group + j] = static_cast<Dst>(w[row * k + col]);
          }
        }
      }
    }
  }
}

// Builds Impl::w4/lut4 (layout in kernels_internal.h) when every channel
// takes at most 16 values per run of `run` k; returns false, leaving them
// empty, otherwise.
bool pack_nibbles_with_run(const std::int8_t* w, std::int64_t n, std::int64_t k, std::int64_t run, PackedS8::Impl& p) {
  constexpr std::int64_t kTile = 16, kRowBytes = 32, kChunk = 64, kLut = 16;
  const std::int64_t runs = k / run;
  const std::int64_t n_padded = round_up(n, kTile);
  AlignedVector<std::uint8_t> w4(static_cast<std::size_t>(n_padded * k / 2), 0);
  AlignedVector<std::int8_t> lut4(static_cast<std::size_t>(n_padded * runs * kLut), 0);
  const std::int64_t tiles = n_padded / kTile;
  for (std::int64_t t0 = 0; t0 < tiles; t0 += kNibbleBlockTiles) {
    const std::int64_t nb = std::min(kNibbleBlockTiles, tiles - t0);
    std::uint8_t* wblock = w4.data() + t0 * kTile * k / 2;
    std::int8_t* lblock = lut4.data() + t0 * kTile * runs * kLut;
    for (std::int64_t t = 0; t < nb; ++t) {
      for (std::int64_t r = 0; r < kTile; ++r) {
        const std::int64_t row = (t0 + t) * kTile + r;
        if (row >= n) continue;  // zero indices into an all-zero table
        for (std::int64_t g = 0; g < runs; ++g) {
          std::int8_t* lut = lblock + ((g * nb + t) * kTile + r) * kLut;
          std::array<int, 256> index;
          index.fill(-1);
          int values = 0;
          for (std::int64_t col = g * run; col < (g + 1) * run; ++col) {
            const std::int8_t v = w[row * k + col];
            int& idx = index[static_cast<std::uint8_t>(v)];
            if (idx < 0) {
              if (values == kLut) return false;
              lut[values] = v;
              idx = values++;
            }
            const std::int64_t c = col / kChunk, j = col % kChunk;
            std::uint8_t& byte = wblock[((c * nb + t) * kTile + r) * kRowBytes + j % kRowBytes];
            byte = static_cast<std::uint8_t>(byte | (idx << (j < kRowBytes ? 0 : 4)));
          }
        }
      }
    }
  }
  p.lut_group = run;
  p.w4 = std::move(w4);
  p.lut4 = std::move(lut4);
  return true;
}

void pack_nibbles(const std::int8_t* w, std::int64_t n, std::int64_t k, PackedS8::Impl& p) {
  if (k % 64 != 0) return;
  // The widened 4-bit files use runs of 128 columns by default; a coarser
  // run means smaller tables, so try it first.
  if (k % 128 == 0 && pack_nibbles_with_run(w, n, k, 128, p)) return;
  pack_nibbles_with_run(w, n, k, 64, p);
}

}  // namespace

// ---------------------------------------------------------------------------
// PackedS8

PackedS8::PackedS8(const std::int8_t* w, const float* scale, std::int64_t n, std::int64_t k, Isa isa)
    : impl_(std::make_unique<Impl>()) {
  Impl& p = *impl_;
  p.n = n;
  p.k = k;
  p.isa = isa;
  switch (isa) {
    case Isa::kScalar:
      p.n_padded = n;
      p.k_padded = k;
      p.w8.assign(w, w + n * k);
      break;
    case Isa::kAvx2:
      pack_panels(w, n, k, kS8GeometryAvx2, p.w16, p.n_padded, p.k_padded);
      break;
    case Isa::kAvx512Vnni:
      pack_panels(w, n, k, kS8GeometryAvx512, p.w8, p.n_padded, p.k_padded);
      // vpdpbusd multiplies u8 x s8: the weights become the unsigned operand
      // w + 128 and the kernel subtracts 128 * sum_k a[m][k] per row.
      for (std::int8_t& v : p.w8) v = static_cast<std::int8_t>(static_cast<std::uint8_t>(v) ^ 0x80u);
      break;
    case Isa::kAmx:
      pack_panels(w, n, k, kS8GeometryAmx, p.w8, p.n_padded, p.k_padded);
      p.column_offset.assign(static_cast<std::size_t>(p.n_padded), 0);
      for (std::int64_t row = 0; row < n; ++row) {
        std::int32_t sum = 0;
        for (std::int64_t col = 0; col < k; ++col) sum += w[row * k + col];
        p.column_offset[static_cast<std::size_t>(row)] = 128 * sum;
      }
      pack_nibbles(w, n, k, p);
      break;
  }
  p.scale.assign(static_cast<std::size_t>(p.n_padded), 0.0f);
  std::copy(scale, scale + n, p.scale.begin());
}

PackedS8::~PackedS8() = default;
PackedS8::PackedS8(PackedS8&&) noexcept = default;
PackedS8& PackedS8::operator=(PackedS8&&) noexcept = default;
std::int64_t PackedS8::n() const { return impl_->n; }
std::int64_t PackedS8::k() const { return impl_->k; }
Isa PackedS8::isa() const { return impl_->isa; }
const float* PackedS8::scales() const { return impl_->scale.data(); }

// ---------------------------------------------------------------------------
// PackedF32

PackedF32::PackedF32(const float* w, std::int64_t n, std::int64_t k, Isa isa) : impl_(std::make_unique<Impl>()) {
  Impl& p = *impl_;
  p.n = n;
  p.k = k;
  p.isa = isa;
  std::int64_t k_padded = k;
  switch (isa) {
    case Isa::kScalar:
      p.n_padded = n;
      p.w.assign(w, w + n * k);
      break;
    case Isa::kAvx2:
      pack_panels(w, n, k, kF32GeometryAvx2, p.w, p.n_padded, k_padded);
      break;
    case Isa::kAvx512Vnni:
    case Isa::kAmx:
      pack_panels(w, n, k, kF32GeometryAvx512, p.w, p.n_padded, k_padded);
      break;
  }
}

PackedF32::~PackedF32() = default;
PackedF32::PackedF32(PackedF32&&) noexcept = default;
PackedF32& PackedF32::operator=(PackedF32&&) noexcept = default;
std::int64_t PackedF32::n() const { return impl_->n; }
std::int64_t PackedF32::k() const { return impl_->k; }
Isa PackedF32::isa() const { return impl_->isa; }

// ---------------------------------------------------------------------------
// Dispatch: one table of variants per ISA, chosen by one switch. GEMMs follow
// the ISA their weights were packed for; row-wise kernels follow active_isa().

namespace {

struct KernelTable {
  void (*gemm_s8s8s32)(const std::int8_t*, std::int64_t, const PackedS8::Impl&, std::int32_t*);
  void (*linear_s8)(const std::int8_t*, const float*, std::int64_t, const PackedS8::Impl&, const float*, float*,
                    std::int64_t);
  void (*linear_s8_gelu)(const std::int8_t*, const float*, std::int64_t, const PackedS8::Impl&, const float*, float*,
                         std::int64_t);
  void (*linear_f32)(const float*, std::int64_t, std::int64_t, const PackedF32::Impl&, const float*, float*,
                     std::int64_t);
  void (*quantize_rows_s8)(const float*, std::int64_t, std::int64_t, std::int64_t, std::int8_t*, float*);
  void (*add_layer_norm_f32)(float*, const float*, std::int64_t, std::int64_t, std::int64_t, const float*, const float*,
                             float);
  void (*gelu_f32)(float*, std::int64_t);
  void (*softmax_f32)(float*, std::int64_t, std::int64_t, std::int64_t, const float*);
  void (*attention_head_f32)(const float*, std::int64_t, const float*, const float*, std::int64_t, std::int64_t,
                             std::int64_t, std::int64_t, float, float*, std::int64_t, float*);
};

// The scalar variants of the packed kernels run the references on the
// canonical rows that kScalar packing keeps.
void gemm_s8s8s32_scalar(const std::int8_t* a, std::int64_t m, const PackedS8::Impl& w, std::int32_t* acc) {
  gemm_s8s8s32_ref(a, m, w.k, w.w8.data(), w.n, acc);
}
void linear_s8_scalar(const std::int8_t* a, const float* a_scale, std::int64_t m, const PackedS8::Impl& w,
                      const float* bias, float* c, std::int64_t ldc) {
  linear_s8_ref(a, a_scale, m, w.k, w.w8.data(), w.scale.data(), w.n, bias, c, ldc);
}
void linear_s8_gelu_scalar(const std::int8_t* a, const float* a_scale, std::int64_t m, const PackedS8::Impl& w,
                           const float* bias, float* c, std::int64_t ldc) {
  linear_s8_gelu_ref(a, a_scale, m, w.k, w.w8.data(), w.scale.data(), w.n, bias, c, ldc);
}
void linear_f32_scalar(const float* a, std::int64_t m, std::int64_t lda, const PackedF32::Impl& w, const float* bias,
                       float* c, std::int64_t ldc) {
  linear_f32_ref(a, m, w.k, lda, w.w.data(), w.n, bias, c, ldc);
}

constexpr KernelTable kScalarKernels{gemm_s8s8s32_scalar, linear_s8_scalar,     linear_s8_gelu_scalar,
                                     linear_f32_scalar,   quantize_rows_s8_ref, add_layer_norm_f32_ref,
                                     gelu_f32_ref,        softmax_f32_ref,      attention_head_f32_ref};
constexpr KernelTable kAvx2Kernels{gemm_s8s8s32_avx2, linear_s8_avx2,        linear_s8_gelu_avx2,
                                   linear_f32_avx2,   quantize_rows_s8_avx2, add_layer_norm_f32_avx2,
                                   gelu_f32_avx2,     softmax_f32_avx2,      attention_head_f32_avx2};
constexpr KernelTable kAvx512Kernels{gemm_s8s8s32_avx512vnni, linear_s8_avx512vnni,    linear_s8_gelu_avx512vnni,
                                     linear_f32_avx512,       quantize_rows_s8_avx512, add_layer_norm_f32_avx512,
                                     gelu_f32_avx512,         softmax_f32_avx512,      attention_head_f32_avx512};
constexpr KernelTable kAmxKernels{gemm_s8s8s32_amx,  linear_s8_amx,           linear_s8_gelu_amx,
                                  linear_f32_avx512, quantize_rows_s8_avx512, add_layer_norm_f32_avx512,
                                  gelu_f32_avx512,   softmax_f32_avx512,      attention_head_f32_avx512};

const KernelTable& kernels_for(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return kScalarKernels;
    case Isa::kAvx2:
      return kAvx2Kernels;
    case Isa::kAvx512Vnni:
      return kAvx512Kernels;
    case Isa::kAmx:
      return kAmxKernels;
  }
  return kScalarKernels;
}

}  // namespace

void gemm_s8s8s32(const std::int8_t* a, std::int64_t m, const PackedS8& w, std::int32_t* acc) {
  kernels_for(w.isa()).gemm_s8s8s32(a, m, w.impl(), acc);
}

void linear_s8(const std::int8_t* a, const float* a_scale, std::int64_t m, const PackedS8& w, const float* bias,
               float* c, std::int64_t ldc) {
  kernels_for(w.isa()).linear_s8(a, a_scale, m, w.impl(), bias, c, ldc);
}

void linear_s8_gelu(const std::int8_t* a, const float* a_scale, std::int64_t m, const PackedS8& w, const float* bias,
                    float* c, std::int64_t ldc) {
  kernels_for(w.isa()).linear_s8_gelu(a, a_scale, m, w.impl(), bias, c, ldc);
}

void linear_f32(const float* a, std::int64_t m, std::int64_t lda, const PackedF32& w, const float* bias, float* c,
                std::int64_t ldc) {
  kernels_for(w.isa()).linear_f32(a, m, lda, w.impl(), bias, c, ldc);
}

void quantize_rows_s8(const float* a, std::int64_t m, std::int64_t k, std::int64_t lda, std::int8_t* q, float* scale) {
  kernels_for(active_isa()).quantize_rows_s8(a, m, k, lda, q, scale);
}

void add_layer_norm_f32(float* x, const float* residual, std::int64_t m, std::int64_t n, std::int64_t ld,
                        const float* gamma, const float* beta, float eps) {
  kernels_for(active_isa()).add_layer_norm_f32(x, residual, m, n, ld, gamma, beta, eps);
}

void add_layer_norm_quantize_f32(float* x, const float* residual, std::int64_t m, std::int64_t n, std::int64_t ld,
                                 const float* gamma, const float* beta, float eps, std::int8_t* q, float* scale) {
  const KernelTable& kt = kernels_for(active_isa());
  for (std::int64_t i = 0; i < m; ++i) {
    float* row = x + i * ld;
    kt.add_layer_norm_f32(row, residual != nullptr ? residual + i * ld : nullptr, 1, n, ld, gamma, beta, eps);
    kt.quantize_rows_s8(row, 1, n, ld, q + i * n, scale + i);
  }
}

void gelu_f32(float* x, std::int64_t count) { kernels_for(active_isa()).gelu_f32(x, count); }

void softmax_f32(float* x, std::int64_t m, std::int64_t n, std::int64_t ld, const float* mask_bias) {
  kernels_for(active_isa()).softmax_f32(x, m, n, ld, mask_bias);
}

void attention_head_f32(const float* q, std::int64_t m, const float* k, const float* v, std::int64_t t, std::int64_t d,
                        std::int64_t ldq, std::int64_t ldkv, float scale, float* out, std::int64_t ldo,
                        float* scratch) {
  kernels_for(active_isa()).attention_head_f32(q, m, k, v, t, d, ldq, ldkv, scale, out, ldo, scratch);
}

}  // namespace edgeroute::engine
