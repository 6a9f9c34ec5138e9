// AMX variant of the INT8 GEMM (AMX-TILE + AMX-INT8 on top of the AVX-512
// level; every other kernel of Isa::kAmx is the AVX-512 one). Compiled with
// this file's own ISA flags (CMakeLists.txt); reached only through
// dispatch.cc for weights packed for Isa::kAmx, after isa.cc has asked the
// kernel for permission to use the tile registers.
//
// TDPBSSD multiplies signed by signed bytes, so weights are packed as they
// are (no +128 offset, no per-row compensation). One pass computes up to 16
// rows x 64 channels in four int32 accumulator tiles over the whole K:
//   tmm0      A: rows x 64 bytes of k (activations, row stride k)
//   tmm1-tmm3 B: 16 rows of 4 consecutive k x 16 channels (one panel)
//   tmm4-tmm7 C: rows x 16 int32
// Packed layout (kS8GeometryAmx, kernels_internal.h): blocks of 4 panels;
// within a block, for each group of 4 k, the panels' 64 bytes follow each
// other, so the B tile of (64-k chunk c, panel j) is 16 rows at stride
// nb * 64 bytes, and the 4 tiles of one chunk are one contiguous run. K is
// padded with zeros to a multiple of 64 in the weights; the activations' last
// partial chunk is copied into a zero-filled buffer, so no load reads past a
// row of A. Integer sums are exact in any order: the accumulators equal the
// reference bit for bit, and the float epilogue is kernels_s8_epilogue.h's.
//
// A tile multiply costs the same for 1 row as for 16, so products of at most
// kFewRows rows (the last layer's single [CLS] row) run on vpdpbusd over the
// same packed bytes instead: a group's 64 bytes per panel are one zmm of 16
// channels x 4 k, the activations become the unsigned operand a + 128, and
// the per-channel term 128 * sum_k w (PackedS8::Impl::column_offset) is
// subtracted before the epilogue.
#include <immintrin.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <utility>

#include "kernels_internal.h"
#include "kernels_s8_epilogue.h"

namespace edgeroute::engine {
namespace {

inline std::int64_t min_i64(std::int64_t a, std::int64_t b) { return a < b ? a : b; }

constexpr int kTileRows = 16;
constexpr int kTileBytes = 64;               // bytes per tile row
constexpr std::int64_t kChunk = kTileBytes;  // k per tile multiply
constexpr int kBlockPanels = static_cast<int>(kS8GeometryAmx.block);
static_assert(kS8GeometryAmx.panel == kLanes && kS8GeometryAmx.group == 4 && kS8GeometryAmx.k_align == kChunk);
static_assert(kNibbleMaxRows == 3 * kTileRows && kNibbleBlockTiles == 4);

// The compiler does not see the tile instructions' memory operands (they are
// asm statements with pointer inputs only): this keeps stores to buffers the
// tiles read, and the tile configuration, from being dropped or moved.
inline void compiler_barrier() { __asm__ volatile("" ::: "memory"); }

struct alignas(64) TileConfig {
  std::uint8_t palette_id;
  std::uint8_t start_row;
  std::uint8_t reserved[14];
  std::uint16_t colsb[16];
  std::uint8_t rows[16];
};

void configure_tiles(int rows) {
  TileConfig cfg{};
  cfg.palette_id = 1;
  cfg.rows[0] = static_cast<std::uint8_t>(rows);
  cfg.colsb[0] = kTileBytes;
  for (int t = 1; t <= 3; ++t) {
    cfg.rows[t] = kTileRows;
    cfg.colsb[t] = kTileBytes;
  }
  for (int t = 4; t <= 7; ++t) {
    cfg.rows[t] = static_cast<std::uint8_t>(rows);
    cfg.colsb[t] = kTileBytes;
  }
  compiler_barrier();
  _tile_loadconfig(&cfg);
}

inline std::int32_t load_s32(const std::int8_t* p) {
  std::int32_t v = 0;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

constexpr int kFewRows = 4;

// kRows x (kPanels * 16) outputs of one block over the whole K with
// vpdpbusd. `a` points at the tile's first row (row stride k). Short tiles
// keep two accumulator sets for alternate k-groups so vpdpbusd does not wait
// on its own latency.
template <int kRows, int kPanels, class Epilogue>
void few_rows_tile(const std::int8_t* a, std::int64_t k, const std::int8_t* wb, const std::int32_t* column_offset,
                   const Epilogue& epi, std::int64_t m0, std::int64_t n0) {
  constexpr int kSets = kRows * kPanels >= 8 ? 1 : 2;
  constexpr std::int64_t kGroupBytes = kPanels * kTileBytes;
  __m512i acc[kSets][kRows][kPanels];
#pragma GCC unroll 32
  for (auto& set : acc)
#pragma GCC unroll 32
    for (auto& row : set)
#pragma GCC unroll 32
      for (auto& v : row) v = _mm512_setzero_si512();
  const __m512i offset = _mm512_set1_epi32(static_cast<std::int32_t>(0x80808080u));
  const auto step = [&](int set, const std::int8_t* wp, const std::int32_t(&av)[kRows]) {
    __m512i wv[kPanels];
#pragma GCC unroll 32
    for (int j = 0; j < kPanels; ++j) wv[j] = _mm512_load_si512(wp + kTileBytes * j);
#pragma GCC unroll 32
    for (int i = 0; i < kRows; ++i) {
      const __m512i au = _mm512_xor_si512(_mm512_set1_epi32(av[i]), offset);
#pragma GCC unroll 32
      for (int j = 0; j < kPanels; ++j) acc[set][i][j] = _mm512_dpbusd_epi32(acc[set][i][j], au, wv[j]);
    }
  };
  const std::int64_t groups = k / 4;
  std::int64_t g = 0;
  for (; g + kSets <= groups; g += kSets) {
#pragma GCC unroll 2
    for (int set = 0; set < kSets; ++set) {
      std::int32_t av[kRows];
#pragma GCC unroll 32
      for (int i = 0; i < kRows; ++i) av[i] = load_s32(a + i * k + 4 * (g + set));
      step(set, wb + (g + set) * kGroupBytes, av);
    }
  }
  for (; g < groups; ++g) {
    std::int32_t av[kRows];
#pragma GCC unroll 32
    for (int i = 0; i < kRows; ++i) av[i] = load_s32(a + i * k + 4 * g);
    step(0, wb + g * kGroupBytes, av);
  }
  // K tail: the missing bytes read as 0 and meet zero weights.
  if (const std::int64_t rest = k - 4 * groups; rest != 0) {
    std::int32_t av[kRows];
#pragma GCC unroll 32
    for (int i = 0; i < kRows; ++i) {
      av[i] = 0;
      std::memcpy(&av[i], a + i * k + 4 * groups, static_cast<std::size_t>(rest));
    }
    step(0, wb + groups * kGroupBytes, av);
  }
#pragma GCC unroll 32
  for (int j = 0; j < kPanels; ++j) {
    const __m512i off = _mm512_load_si512(column_offset + n0 + kLanes * j);
#pragma GCC unroll 32
    for (int i = 0; i < kRows; ++i) {
      __m512i v = acc[0][i][j];
#pragma GCC unroll 2
      for (int set = 1; set < kSets; ++set) v = _mm512_add_epi32(v, acc[set][i][j]);
      epi(m0 + i, n0 + kLanes * j, _mm512_sub_epi32(v, off));
    }
  }
}

template <class Epilogue>
using FewRowsTileFn = void (*)(const std::int8_t*, std::int64_t, const std::int8_t*, const std::int32_t*,
                               const Epilogue&, std::int64_t, std::int64_t);

template <class Epilogue, std::size_t... I>
constexpr std::array<FewRowsTileFn<Epilogue>, sizeof...(I)> make_few_rows_tiles(std::index_sequence<I...>) {
  return {&few_rows_tile<static_cast<int>(I / kBlockPanels) + 1, static_cast<int>(I % kBlockPanels) + 1, Epilogue>...};
}

template <class Epilogue>
void few_rows_driver(const std::int8_t* a, std::int64_t m, const PackedS8::Impl& w, const Epilogue& epi) {
  static constexpr auto kTiles = make_few_rows_tiles<Epilogue>(std::make_index_sequence<kFewRows * kBlockPanels>{});
  const std::int64_t panels = w.n_padded / kLanes;
  for (std::int64_t p0 = 0; p0 < panels; p0 += kBlockPanels) {
    const std::int64_t nb = min_i64(kBlockPanels, panels - p0);
    const std::int8_t* wb = w.w8.data() + p0 * kLanes * w.k_padded;
    kTiles[static_cast<std::size_t>((m - 1) * kBlockPanels + (nb - 1))](a, w.k, wb, w.column_offset.data(), epi, 0,
                                                                        p0 * kLanes);
  }
}

inline void prefetch_run(const void* p, std::int64_t bytes) {
  for (std::int64_t off = 0; off < bytes; off += 64) _mm_prefetch(static_cast<const char*>(p) + off, _MM_HINT_T0);
}

// ---------------------------------------------------------------------------
// Products of at most kNibbleMaxRows rows with the 4-bit form (Impl::w4,
// lut4): the roles swap, so a tile row is one channel's 64 consecutive k and
// needs a single 16-entry table, which vpshufb applies to a whole zmm:
//   A (tmm): 16 channels x 64 k, expanded from nibbles into an L1 buffer
//   B (tmm): 16 groups of 4 k x up to 16 rows of activations (transposed once
//            per call into `bt`)
//   C (tmm): 16 channels x up to 16 rows, transposed back for the epilogue.
// kT row tiles (1..3) share each expanded A tile; kH channel tiles per pass
// (4, 2 or 1) keep kT * kH accumulators in tmm4-7 (kT = 3: tmm4-6).

// r[i] = row i of a 16 x 16 int32 matrix in, column i out.
inline void transpose16(__m512i (&r)[16]) {
  __m512i t[16];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  // s[4i + j], 128-bit lane L: column 4L + j of rows 4i..4i+3.
  __m512i s[16];
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    s[4 * i + 0] = _mm512_unpacklo_epi64(t[4 * i + 0], t[4 * i + 2]);
    s[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i + 0], t[4 * i + 2]);
    s[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    s[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) {
    const __m512i u0 = _mm512_shuffle_i32x4(s[j], s[4 + j], _MM_SHUFFLE(2, 0, 2, 0));
    const __m512i u1 = _mm512_shuffle_i32x4(s[j], s[4 + j], _MM_SHUFFLE(3, 1, 3, 1));
    const __m512i u2 = _mm512_shuffle_i32x4(s[8 + j], s[12 + j], _MM_SHUFFLE(2, 0, 2, 0));
    const __m512i u3 = _mm512_shuffle_i32x4(s[8 + j], s[12 + j], _MM_SHUFFLE(3, 1, 3, 1));
    r[j] = _mm512_shuffle_i32x4(u0, u2, _MM_SHUFFLE(2, 0, 2, 0));
    r[8 + j] = _mm512_shuffle_i32x4(u0, u2, _MM_SHUFFLE(3, 1, 3, 1));
    r[4 + j] = _mm512_shuffle_i32x4(u1, u3, _MM_SHUFFLE(2, 0, 2, 0));
    r[12 + j] = _mm512_shuffle_i32x4(u1, u3, _MM_SHUFFLE(3, 1, 3, 1));
  }
}

constexpr int kNibbleRowBytes = kTileBytes / 2;
constexpr int kLutBytes = 16;
constexpr int kTileBufBytes = kTileRows * kTileBytes;

// Configuration for kT row tiles over m rows: tmm0..kT-1 B (rows' k-groups),
// tmm3 (kT = 3) or tmm kT..3 A, tmm4.. C.
void configure_nibble_tiles(std::int64_t m, int row_tiles) {
  TileConfig cfg{};
  cfg.palette_id = 1;
  for (int t = 0; t < 8; ++t) {
    cfg.rows[t] = kTileRows;
    cfg.colsb[t] = kTileBytes;
  }
  for (int j = 0; j < row_tiles; ++j) {
    const auto bytes = static_cast<std::uint16_t>(4 * min_i64(kTileRows, m - kTileRows * j));
    cfg.colsb[j] = bytes;  // B tile j
  }
  const int h = 4 / row_tiles;
  for (int c = 0; c < row_tiles * h; ++c) cfg.colsb[4 + c] = cfg.colsb[c % row_tiles];  // C (h, j) = tmm 4 + h*kT + j
  compiler_barrier();
  _tile_loadconfig(&cfg);
}

// bt[j][c] = the B tile of row tile j and 64-k chunk c: 16 rows (4-k
// groups) x 16 row slots of 4 bytes; rows past m are zero.
void transpose_activations(const std::int8_t* a, std::int64_t m, std::int64_t k, int row_tiles, std::int8_t* bt) {
  const std::int64_t chunks = k / kChunk;
  for (int j = 0; j < row_tiles; ++j) {
    const std::int64_t rows = min_i64(kTileRows, m - kTileRows * j);
    for (std::int64_t c = 0; c < chunks; ++c) {
      __m512i r[16];
      for (int i = 0; i < 16; ++i)
        r[i] = i < rows ? _mm512_loadu_si512(a + (kTileRows * j + i) * k + c * kChunk) : _mm512_setzero_si512();
      transpose16(r);
      std::int8_t* out = bt + (j * chunks + c) * kTileBufBytes;
#pragma GCC unroll 16
      for (int i = 0; i < 16; ++i) _mm512_store_si512(out + i * kTileBytes, r[i]);
    }
  }
}

// 16 channel rows of 64 int8 weights from their nibbles and tables.
inline void expand_tile(const std::uint8_t* nib, const std::int8_t* lut, std::int8_t* out) {
  const __m512i shift = _mm512_set_epi64(4, 4, 4, 4, 0, 0, 0, 0);
  const __m512i low = _mm512_set1_epi8(0x0F);
#pragma GCC unroll 16
  for (int i = 0; i < kTileRows; ++i) {
    __m512i v = _mm512_broadcast_i64x4(_mm256_load_si256(reinterpret_cast<const __m256i*>(nib + i * kNibbleRowBytes)));
    v = _mm512_and_si512(_mm512_srlv_epi64(v, shift), low);
    const __m512i table = _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(lut + i * kLutBytes)));
    _mm512_store_si512(out + i * kTileBytes, _mm512_shuffle_epi8(table, v));
  }
}

// One pass: kH channel tiles (h) x kT row tiles (j) over the whole K.
template <int kT, class Epilogue>
void nibble_pass(const std::int8_t* bt, std::int64_t m, std::int64_t chunks, std::int64_t run_chunks,
                 const std::uint8_t* wblock, const std::int8_t* lblock, int nb, int t0, std::int64_t n0,
                 std::int8_t (*abuf)[kTileBufBytes], const Epilogue& epi) {
  constexpr int kH = 4 / kT;  // channel tiles per pass
  const int h_count = nb - t0 < kH ? nb - t0 : kH;
  // C tile (h, j) is tmm 4 + h * kT + j.
  _tile_zero(4);
  _tile_zero(5);
  _tile_zero(6);
  if constexpr (kT != 3) _tile_zero(7);
  // Chunk c's A tiles are expanded while chunk c - 1 multiplies: a tile
  // load waits until the stores it reads have left the store buffer.
  const auto expand_chunk = [&](std::int64_t c) {
    const std::int64_t g = c / run_chunks;
    const std::uint8_t* nib = wblock + c * nb * kTileRows * kNibbleRowBytes;
    // This pass's nibbles two chunks ahead (past the end: harmless).
    prefetch_run(nib + (2 * nb + t0) * kTileRows * kNibbleRowBytes, h_count * kTileRows * kNibbleRowBytes);
    for (int h = 0; h < h_count; ++h) {
      const int t = t0 + h;
      expand_tile(nib + t * kTileRows * kNibbleRowBytes, lblock + (g * nb + t) * kTileRows * kLutBytes,
                  abuf[(c & 1) * kNibbleBlockTiles + h]);
    }
  };
  expand_chunk(0);
  for (std::int64_t c = 0; c < chunks; ++c) {
    if (c + 1 < chunks) expand_chunk(c + 1);
    compiler_barrier();
    const std::int8_t* b = bt + c * kTileBufBytes;
    const std::int64_t bstride = chunks * kTileBufBytes;
    if constexpr (kT == 1) {
      _tile_loadd(0, b, kTileBytes);
      _tile_loadd(1, abuf[(c & 1) * kNibbleBlockTiles + 0], kTileBytes);
      _tile_dpbssd(4, 1, 0);
      if (h_count > 1) {
        _tile_loadd(2, abuf[(c & 1) * kNibbleBlockTiles + 1], kTileBytes);
        _tile_dpbssd(5, 2, 0);
      }
      if (h_count > 2) {
        _tile_loadd(3, abuf[(c & 1) * kNibbleBlockTiles + 2], kTileBytes);
        _tile_dpbssd(6, 3, 0);
      }
      if (h_count > 3) {
        _tile_loadd(1, abuf[(c & 1) * kNibbleBlockTiles + 3], kTileBytes);
        _tile_dpbssd(7, 1, 0);
      }
    } else if constexpr (kT == 2) {
      _tile_loadd(0, b, kTileBytes);
      _tile_loadd(1, b + bstride, kTileBytes);
      _tile_loadd(2, abuf[(c & 1) * kNibbleBlockTiles + 0], kTileBytes);
      _tile_dpbssd(4, 2, 0);
      _tile_dpbssd(5, 2, 1);
      if (h_count > 1) {
        _tile_loadd(3, abuf[(c & 1) * kNibbleBlockTiles + 1], kTileBytes);
        _tile_dpbssd(6, 3, 0);
        _tile_dpbssd(7, 3, 1);
      }
    } else {
      _tile_loadd(0, b, kTileBytes);
      _tile_loadd(1, b + bstride, kTileBytes);
      _tile_loadd(2, b + 2 * bstride, kTileBytes);
      _tile_loadd(3, abuf[(c & 1) * kNibbleBlockTiles + 0], kTileBytes);
      _tile_dpbssd(4, 3, 0);
      _tile_dpbssd(5, 3, 1);
      _tile_dpbssd(6, 3, 2);
    }
    compiler_barrier();  // the next expansion reuses this chunk's buffers
  }
  alignas(64) std::int32_t ct[4][kTileRows * kLanes];
  _tile_stored(4, ct[0], kLanes * 4);
  if (kT * h_count > 1) _tile_stored(5, ct[1], kLanes * 4);
  if (kT * h_count > 2) _tile_stored(6, ct[2], kLanes * 4);
  if (kT * h_count > 3) _tile_stored(7, ct[3], kLanes * 4);
  compiler_barrier();
  for (int h = 0; h < h_count; ++h) {
    for (int j = 0; j < kT; ++j) {
      __m512i r[16];
      const std::int32_t* tile = ct[h * kT + j];
#pragma GCC unroll 16
      for (int i = 0; i < 16; ++i) r[i] = _mm512_load_si512(tile + i * kLanes);
      transpose16(r);
      const std::int64_t rows = min_i64(kTileRows, m - kTileRows * j);
      for (int i = 0; i < rows; ++i) epi(kTileRows * j + i, n0 + kLanes * h, r[i]);
    }
  }
}

template <int kT, class Epilogue>
void nibble_driver(const std::int8_t* a, std::int64_t m, const PackedS8::Impl& w, const Epilogue& epi) {
  const std::int64_t k = w.k;
  const std::int64_t chunks = k / kChunk;
  const std::int64_t runs = k / w.lut_group;
  // Per thread, grown once: the transposed activations (at most 3 x 24 KiB
  // for k = 1536).
  thread_local AlignedVector<std::int8_t> bt_buf;
  const auto bt_bytes = static_cast<std::size_t>(kT * chunks * kTileBufBytes);
  if (bt_buf.size() < bt_bytes) bt_buf.resize(bt_bytes);
  transpose_activations(a, m, k, kT, bt_buf.data());
  configure_nibble_tiles(m, kT);
  // Two chunks' expanded A tiles, so expanding one overlaps loading the other.
  alignas(64) std::int8_t abuf[8][kTileBufBytes];
  const std::int64_t tiles = w.n_padded / kTileRows;
  for (std::int64_t b0 = 0; b0 < tiles; b0 += kNibbleBlockTiles) {
    const int nb = static_cast<int>(min_i64(kNibbleBlockTiles, tiles - b0));
    const std::uint8_t* wblock = w.w4.data() + b0 * kTileRows * k / 2;
    const std::int8_t* lblock = w.lut4.data() + b0 * kTileRows * runs * kLutBytes;
    for (int t0 = 0; t0 < nb; t0 += 4 / kT)
      nibble_pass<kT>(bt_buf.data(), m, chunks, w.lut_group / kChunk, wblock, lblock, nb, t0, (b0 + t0) * kTileRows,
                      abuf, epi);
  }
  _tile_release();
}

// Blocks of 64 channels outside, passes of 16 rows inside: a block's packed
// weights (64 * k bytes) come from memory once and from cache for the other
// full row passes; a short last pass runs after them over all blocks (from L2).
template <class Epilogue>
void gemm_s8_amx_driver(const std::int8_t* a, std::int64_t m, const PackedS8::Impl& w, const Epilogue& epi) {
  if (m <= 0) return;
  // One or a few rows: vpdpbusd over the int8 bytes costs less than
  // expanding every nibble for a tile multiply that is mostly empty.
  if (w.lut_group != 0 && m > kFewRows && m <= kNibbleMaxRows) {
    if (m <= kTileRows) {
      nibble_driver<1>(a, m, w, epi);
    } else if (m <= 2 * kTileRows) {
      nibble_driver<2>(a, m, w, epi);
    } else {
      nibble_driver<3>(a, m, w, epi);
    }
    return;
  }
  if (m <= kFewRows) {
    few_rows_driver(a, m, w, epi);
    return;
  }
  const std::int64_t k = w.k;
  const std::int64_t chunks = w.k_padded / kChunk;
  const std::int64_t full_chunks = k / kChunk;  // chunks lying wholly inside a row of A
  const std::int64_t panels = w.n_padded / kLanes;
  alignas(64) std::int8_t a_tail[kTileRows * kTileBytes];
  alignas(64) std::int32_t c_tile[4][kTileRows * kLanes];
  // Rows [m_begin, m_end) in passes of `rows` (the last may be shorter only
  // when it is the only pass), over every block of 64 channels.
  const auto row_passes = [&](std::int64_t m_begin, std::int64_t m_end, int rows) {
    configure_tiles(rows);
    for (std::int64_t p0 = 0; p0 < panels; p0 += kBlockPanels) {
      const int nb = static_cast<int>(min_i64(kBlockPanels, panels - p0));
      const std::int64_t stride = nb * kTileBytes;
      const std::int64_t chunk_bytes = kTileRows * stride;
      const std::int8_t* wb = w.w8.data() + p0 * kLanes * w.k_padded;
      for (std::int64_t m0 = m_begin; m0 < m_end; m0 += rows) {
        _tile_zero(4);
        _tile_zero(5);
        _tile_zero(6);
        _tile_zero(7);
        const std::int8_t* am = a + m0 * k;
        for (std::int64_t c = 0; c < chunks; ++c) {
          const std::int8_t* wc = wb + c * chunk_bytes;
          // The next chunk's B tiles: from memory in the first row pass (at
          // batch 1 the weights are streamed once per query), from L2 in the
          // others. Tile loads that miss L1 are slow; a prefetch past the end
          // of the buffer is harmless.
          prefetch_run(wc + chunk_bytes, chunk_bytes);
          if (c < full_chunks) {
            _tile_loadd(0, am + c * kChunk, k);
          } else {
            const std::int64_t rest = k - c * kChunk;
            std::memset(a_tail, 0, sizeof a_tail);
            for (int i = 0; i < rows; ++i)
              std::memcpy(a_tail + i * kTileBytes, am + i * k + c * kChunk, static_cast<std::size_t>(rest));
            compiler_barrier();
            _tile_loadd(0, a_tail, kTileBytes);
          }
          _tile_loadd(1, wc, stride);
          _tile_dpbssd(4, 0, 1);
          if (nb > 1) {
            _tile_loadd(2, wc + kTileBytes, stride);
            _tile_dpbssd(5, 0, 2);
          }
          if (nb > 2) {
            _tile_loadd(3, wc + 2 * kTileBytes, stride);
            _tile_dpbssd(6, 0, 3);
          }
          if (nb > 3) {
            _tile_loadd(1, wc + 3 * kTileBytes, stride);
            _tile_dpbssd(7, 0, 1);
          }
        }
        _tile_stored(4, c_tile[0], kLanes * 4);
        if (nb > 1) _tile_stored(5, c_tile[1], kLanes * 4);
        if (nb > 2) _tile_stored(6, c_tile[2], kLanes * 4);
        if (nb > 3) _tile_stored(7, c_tile[3], kLanes * 4);
        for (int j = 0; j < nb; ++j)
          for (int i = 0; i < rows; ++i) epi(m0 + i, (p0 + j) * kLanes, _mm512_load_si512(c_tile[j] + i * kLanes));
      }
    }
  };
  // Full 16-row passes block by block (a block's weights stay in cache for
  // all of them), then the short last pass over every block: one tile
  // configuration each, instead of two per block (ldtilecfg is not cheap).
  const std::int64_t full_rows = m / kTileRows * kTileRows;
  if (full_rows > 0) row_passes(0, full_rows, kTileRows);
  if (full_rows < m) row_passes(full_rows, m, static_cast<int>(m - full_rows));
  // Back to the initial tile state: the OS then need not save 8 KB of tile
  // data on every context switch of this thread.
  _tile_release();
}

}  // namespace

void gemm_s8s8s32_amx(const std::int8_t* a, std::int64_t m, const PackedS8::Impl& w, std::int32_t* acc) {
  gemm_s8_amx_driver(a, m, w, StoreS32{acc, w.n, {}});
}

void linear_s8_amx(const std::int8_t* a, const float* a_scale, std::int64_t m, const PackedS8::Impl& w,
                   const float* bias, float* c, std::int64_t ldc) {
  gemm_s8_amx_driver(a, m, w, StoreDequant{c, ldc, a_scale, w.scale.data(), bias, w.n, {}});
}

void linear_s8_gelu_amx(const std::int8_t* a, const float* a_scale, std::int64_t m, const PackedS8::Impl& w,
                        const float* bias, float* c, std::int64_t ldc) {
  gemm_s8_amx_driver(a, m, w, StoreDequantGelu{c, ldc, a_scale, w.scale.data(), bias, w.n, {}});
}

}  // namespace edgeroute::engine
