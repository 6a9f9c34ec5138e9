// Reading and writing safetensors files (https://github.com/huggingface/safetensors).
//
// Format
// ------
//   bytes [0, 8)        N, the header length: unsigned 64-bit little-endian.
//   bytes [8, 8+N)      the header: UTF-8 JSON object
//                         { "<tensor name>": { "dtype": "F32",
//                                              "shape": [d0, d1, ...],
//                                              "data_offsets": [begin, end] },
//                           ...,
//                           "__metadata__": { "<key>": "<string value>", ... } }
//                       "__metadata__" is optional. The JSON may be followed by
//                       spaces (writers pad with them to align the data).
//   bytes [8+N, EOF)    the data buffer. data_offsets are relative to its start,
//                       [begin, end) with end - begin == numel * dtype_size.
//                       Tensors are stored row-major (C order), little-endian.
//
// Strictness (see docs/safetensors.md): model files are untrusted input. The
// reader accepts only files that Hugging Face's own safetensors library also
// accepts, and rejects anything else with edgeroute::Error naming the file and
// the offending field or tensor: a header length of 0, over
// kMaxHeaderBytes or past the end of the file; a header that is not a JSON
// object; duplicate tensor names; missing or extra fields; unknown dtypes;
// ranks over kMaxRank; shapes whose element or byte count overflows int64;
// sizes that disagree with the shape; overlapping tensors; gaps between
// tensors or bytes after the last one (sorted by offset, tensors must tile the
// data buffer exactly, as Hugging Face requires); a __metadata__ that is not
// an object of strings; empty tensor names.
//
// Alignment guarantee of SafetensorsWriter
// ----------------------------------------
// The data buffer starts at a file offset that is a multiple of 64 (the JSON
// header is padded with trailing spaces). Tensors are then laid out without
// gaps (Hugging Face rejects gaps) in this order:
//   1. every tensor whose byte size is a multiple of 64 (zero-size included),
//      by name: each starts at a 64-byte-aligned file offset;
//   2. the others by element size descending (8, 4, 2, 1 bytes), then by name:
//      each starts at a file offset that is a multiple of its element size.
// So a mapped file (page-aligned) can be read in place with aligned loads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "edgeroute/common/error.h"
#include "edgeroute/modelio/dtype.h"

namespace edgeroute::modelio {

// Limits applied when reading (and, where relevant, writing).
inline constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;  // Hugging Face's own limit
inline constexpr std::size_t kMaxRank = 8;
// Offset of the data buffer and of every tensor whose size is a multiple of it.
inline constexpr std::int64_t kDataAlignment = 64;

// A view of one tensor inside a SafetensorsFile. `data` points into the file
// (mapped or owned) and is valid as long as the SafetensorsFile lives; moving
// the SafetensorsFile keeps it valid.
struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<std::int64_t> shape;  // row-major; empty for a scalar
  std::int64_t offset = 0;          // of data within the data buffer, in bytes
  std::span<const std::byte> data;

  std::int64_t numel() const;

  // The data as elements of T (float, double, int64_t, int32_t, int16_t,
  // int8_t, uint8_t; uint8_t also reads BOOL; uint16_t reads the raw bits of
  // F16 and BF16). Throws Error when the dtype does not match T or the data is
  // not aligned for T.
  template <class T>
  std::span<const T> as() const;

 private:
  void check_view(bool dtype_ok, std::string_view wanted, std::size_t alignment) const;
};

// Converts F64, F32, F16 or BF16 data to float (F64 rounds to nearest).
// Throws Error for integer and bool tensors.
std::vector<float> to_float32(const TensorView& tensor);

// A validated safetensors file. Immutable after construction, so concurrent
// reads from several threads are safe. Move-only.
class SafetensorsFile {
 public:
  // Maps `path` read-only (zero-copy) and validates it. Throws Error.
  static SafetensorsFile open(const std::string& path);
  // Takes ownership of `bytes` and validates them; `source_name` stands for
  // the file name in error messages and path().
  static SafetensorsFile from_bytes(std::vector<std::byte> bytes, std::string source_name);

  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  ~SafetensorsFile();

  // Sorted by data offset (zero-size tensors by name among equal offsets).
  const std::vector<TensorView>& tensors() const { return tensors_; }
  // nullptr when absent.
  const TensorView* find(std::string_view name) const;
  // Throws Error naming the file and the tensor when absent.
  const TensorView& at(std::string_view name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::string& path() const { return path_; }
  // The JSON header length N and the file offset of the data buffer (8 + N).
  std::uint64_t header_size() const { return header_size_; }
  std::int64_t data_offset() const { return static_cast<std::int64_t>(8 + header_size_); }
  // The whole file.
  std::span<const std::byte> bytes() const;

 private:
  struct Storage;
  SafetensorsFile(std::unique_ptr<Storage> storage, std::string path);
  void parse();

  std::unique_ptr<Storage> storage_;
  std::string path_;
  std::uint64_t header_size_ = 0;
  std::vector<TensorView> tensors_;
  std::map<std::string, std::size_t, std::less<>> index_;
  std::map<std::string, std::string> metadata_;
};

// Builds a safetensors file. add() copies the data, so the caller's buffers
// may be released right away; memory use is the sum of the tensors. Not
// thread-safe.
class SafetensorsWriter {
 public:
  // Validates now: non-empty name other than "__metadata__", not added
  // before, rank <= kMaxRank, non-negative dims, no int64 overflow, and
  // data.size() == numel * dtype_size. Throws Error.
  void add(std::string name, DType dtype, std::vector<std::int64_t> shape, std::span<const std::byte> data);
  // Typed convenience: the dtype follows T (see DTypeOf).
  template <class T>
  void add(std::string name, std::vector<std::int64_t> shape, std::span<const T> values) {
    add(std::move(name), DTypeOf<T>::kValue, std::move(shape), std::as_bytes(values));
  }
  // F16 / BF16 from raw bits (e.g. from float_to_half).
  void add(std::string name, DType dtype, std::vector<std::int64_t> shape, std::span<const std::uint16_t> bits);
  // Sets (or replaces) one __metadata__ entry.
  void set_metadata(std::string key, std::string value);

  std::size_t size() const { return tensors_.size(); }

  // The whole file in memory, laid out as described at the top of this header.
  std::vector<std::byte> serialize() const;
  // Writes atomically: to `path + ".tmp"`, fsync, rename over `path`, fsync of
  // the directory. On failure `path` is left as it was, the temporary file is
  // removed, and Error names the path and the reason.
  void write(const std::string& path) const;

 private:
  struct Pending {
    std::string name;
    DType dtype;
    std::vector<std::int64_t> shape;
    std::vector<std::byte> data;
  };
  struct Layout {
    std::string header;                 // JSON plus padding; 8 + size is a multiple of 64
    std::vector<const Pending*> order;  // data buffer order
  };
  Layout layout() const;

  std::vector<Pending> tensors_;
  std::map<std::string, std::size_t, std::less<>> index_;
  std::map<std::string, std::string> metadata_;
};

template <class T>
std::span<const T> TensorView::as() const {
  bool ok = false;
  std::string_view wanted;
  if constexpr (std::is_same_v<T, std::uint16_t>) {
    ok = dtype == DType::kF16 || dtype == DType::kBF16;
    wanted = "uint16_t (F16/BF16 bits)";
  } else if constexpr (std::is_same_v<T, std::uint8_t>) {
    ok = dtype == DType::kU8 || dtype == DType::kBool;
    wanted = "uint8_t (U8/BOOL)";
  } else {
    ok = dtype == DTypeOf<T>::kValue;
    wanted = dtype_name(DTypeOf<T>::kValue);
  }
  check_view(ok, wanted, alignof(T));
  return {reinterpret_cast<const T*>(data.data()), data.size() / sizeof(T)};
}

}  // namespace edgeroute::modelio
