#include "edgeroute/modelio/safetensors.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>

#include "edgeroute/common/mapped_file.h"
#include "edgeroute/modelio/checked_math.h"
#include "quote.h"

namespace edgeroute::modelio {

namespace {

using nlohmann::json;

constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();
// Deepest JSON nesting a valid header has: object > entry > shape array.
constexpr std::size_t kMaxJsonDepth = 3;

using detail::quote;

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

// A JSON value that is a non-negative integer fitting int64.
std::optional<std::int64_t> as_index(const json& value) {
  if (!value.is_number_unsigned()) return std::nullopt;
  const auto v = value.get<std::uint64_t>();
  if (v > static_cast<std::uint64_t>(kInt64Max)) return std::nullopt;
  return static_cast<std::int64_t>(v);
}

struct DepthLimitExceeded {};
struct DuplicateKey {
  std::string key;
  std::size_t depth;
};

// Parses the header, rejecting duplicate keys at any level (nlohmann would
// silently keep the last one) and nesting deeper than a valid header has.
json parse_header(std::string_view text, const std::string& source) {
  std::vector<std::set<std::string>> keys_stack;
  auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (static_cast<std::size_t>(depth) >= kMaxJsonDepth) throw DepthLimitExceeded{};
        if (event == json::parse_event_t::object_start) keys_stack.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!keys_stack.empty()) keys_stack.pop_back();
        break;
      case json::parse_event_t::key:
        if (!keys_stack.empty() && parsed.is_string()) {
          const auto& key = parsed.get_ref<const std::string&>();
          if (!keys_stack.back().insert(key).second) {
            throw DuplicateKey{key, static_cast<std::size_t>(depth)};
          }
        }
        break;
      default:
        break;
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), callback);
  } catch (const json::exception& e) {
    throw Error(source + ": header is not valid JSON: " + e.what());
  } catch (const DepthLimitExceeded&) {
    throw Error(source + ": header nests JSON deeper than a safetensors header can (" + std::to_string(kMaxJsonDepth) +
                " levels)");
  } catch (const DuplicateKey& dup) {
    if (dup.depth <= 1) throw Error(source + ": duplicate tensor name " + quote(dup.key));
    throw Error(source + ": duplicate JSON key " + quote(dup.key) + " in the header");
  }
}

}  // namespace

// ---------------------------------------------------------------- TensorView

std::int64_t TensorView::numel() const {
  std::int64_t n = 1;
  for (const std::int64_t d : shape) n *= d;  // validated against overflow at load
  return n;
}

void TensorView::check_view(bool dtype_ok, std::string_view wanted, std::size_t alignment) const {
  if (!dtype_ok) {
    throw Error("tensor " + quote(name) + " has dtype " + std::string(dtype_name(dtype)) + ", cannot be read as " +
                std::string(wanted));
  }
  if (reinterpret_cast<std::uintptr_t>(data.data()) % alignment != 0) {
    throw Error("tensor " + quote(name) + " data is not " + std::to_string(alignment) +
                "-byte aligned; use to_float32 or copy it");
  }
}

std::vector<float> to_float32(const TensorView& tensor) {
  const std::size_t n = static_cast<std::size_t>(tensor.numel());
  std::vector<float> out(n);
  const std::byte* p = tensor.data.data();
  // memcpy per element: the data need not be aligned.
  switch (tensor.dtype) {
    case DType::kF32:
      if (n > 0) std::memcpy(out.data(), p, n * sizeof(float));
      break;
    case DType::kF64:
      for (std::size_t i = 0; i < n; ++i) {
        double v;
        std::memcpy(&v, p + i * sizeof v, sizeof v);
        out[i] = static_cast<float>(v);
      }
      break;
    case DType::kF16:
    case DType::kBF16:
      for (std::size_t i = 0; i < n; ++i) {
        std::uint16_t v;
        std::memcpy(&v, p + i * sizeof v, sizeof v);
        out[i] = tensor.dtype == DType::kF16 ? half_to_float(v) : bf16_to_float(v);
      }
      break;
    default:
      throw Error("tensor " + quote(tensor.name) + " has dtype " + std::string(dtype_name(tensor.dtype)) +
                  ", not a float type");
  }
  return out;
}

// ----------------------------------------------------------- SafetensorsFile

struct SafetensorsFile::Storage {
  std::optional<MappedFile> mapped;
  std::vector<std::byte> owned;

  std::span<const std::byte> bytes() const { return mapped ? mapped->bytes() : std::span<const std::byte>(owned); }
};

SafetensorsFile::SafetensorsFile(std::unique_ptr<Storage> storage, std::string path)
    : storage_(std::move(storage)), path_(std::move(path)) {}
SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;
SafetensorsFile::~SafetensorsFile() = default;

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  auto storage = std::make_unique<Storage>();
  storage->mapped.emplace(path);
  SafetensorsFile file(std::move(storage), path);
  file.parse();
  return file;
}

SafetensorsFile SafetensorsFile::from_bytes(std::vector<std::byte> bytes, std::string source_name) {
  auto storage = std::make_unique<Storage>();
  storage->owned = std::move(bytes);
  SafetensorsFile file(std::move(storage), std::move(source_name));
  file.parse();
  return file;
}

std::span<const std::byte> SafetensorsFile::bytes() const { return storage_->bytes(); }

const TensorView* SafetensorsFile::find(std::string_view name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const TensorView& SafetensorsFile::at(std::string_view name) const {
  const TensorView* t = find(name);
  if (t == nullptr) throw Error(path_ + ": no tensor named " + quote(name));
  return *t;
}

void SafetensorsFile::parse() {
  const std::span<const std::byte> file = storage_->bytes();
  const std::string& src = path_;
  if (file.size() < 8) {
    throw Error(src + ": file is " + std::to_string(file.size()) +
                " bytes, shorter than the 8-byte header length field");
  }
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | std::to_integer<std::uint64_t>(file[static_cast<std::size_t>(i)]);
  if (n == 0) throw Error(src + ": header length is 0");
  if (n > kMaxHeaderBytes) {
    throw Error(src + ": header length " + std::to_string(n) + " exceeds the limit of " +
                std::to_string(kMaxHeaderBytes) + " bytes");
  }
  if (n > file.size() - 8) {
    throw Error(src + ": header length " + std::to_string(n) + " runs past the end of the file (" +
                std::to_string(file.size()) + " bytes)");
  }
  header_size_ = n;
  const std::string_view text(reinterpret_cast<const char*>(file.data()) + 8, n);
  if (text.front() != '{') throw Error(src + ": header does not start with '{'");
  // nlohmann stops at a NUL as if the input ended there; a JSON text never
  // holds a raw NUL, and Hugging Face rejects it, so must we.
  if (text.find('\0') != std::string_view::npos) throw Error(src + ": header contains a NUL byte");
  const json header = parse_header(text, src);
  if (!header.is_object()) throw Error(src + ": header is not a JSON object");

  const std::span<const std::byte> buffer = file.subspan(8 + n);
  const auto buffer_size = static_cast<std::int64_t>(buffer.size());
  std::vector<TensorView> tensors;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) throw Error(src + ": __metadata__ is not a JSON object");
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string()) {
          throw Error(src + ": __metadata__ value of " + quote(key) + " is not a string");
        }
        metadata_.emplace(key, value.get<std::string>());
      }
      continue;
    }
    const std::string where = src + ": tensor " + quote(name);
    if (name.empty()) throw Error(src + ": empty tensor name");
    if (!entry.is_object()) throw Error(where + ": entry is not a JSON object");
    for (const char* field : {"dtype", "shape", "data_offsets"}) {
      if (!entry.contains(field)) throw Error(where + ": missing field '" + field + "'");
    }
    for (const auto& [key, value] : entry.items()) {
      if (key != "dtype" && key != "shape" && key != "data_offsets") {
        throw Error(where + ": unexpected field " + quote(key));
      }
    }
    TensorView t;
    t.name = name;
    const json& dtype = entry["dtype"];
    if (!dtype.is_string()) throw Error(where + ": dtype is not a string");
    const std::optional<DType> parsed = parse_dtype(dtype.get_ref<const std::string&>());
    if (!parsed) {
      throw Error(where + ": unknown dtype " + quote(dtype.get_ref<const std::string&>()) +
                  " (supported: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL)");
    }
    t.dtype = *parsed;

    const json& shape = entry["shape"];
    if (!shape.is_array()) throw Error(where + ": shape is not an array");
    if (shape.size() > kMaxRank) {
      throw Error(where + ": rank " + std::to_string(shape.size()) + " exceeds the limit of " +
                  std::to_string(kMaxRank));
    }
    std::int64_t numel = 1;
    for (const json& dim : shape) {
      const std::optional<std::int64_t> d = as_index(dim);
      if (!d) throw Error(where + ": shape " + shape.dump() + " is not an array of non-negative integers");
      t.shape.push_back(*d);
      if (!checked_mul(numel, *d, numel)) {
        throw Error(where + ": element count of shape " + shape.dump() + " overflows int64");
      }
    }
    std::int64_t byte_count = 0;
    if (!checked_mul(numel, dtype_size(t.dtype), byte_count)) {
      throw Error(where + ": byte count of shape " + shape.dump() + " overflows int64");
    }

    const json& offsets = entry["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !as_index(offsets[0]) || !as_index(offsets[1])) {
      throw Error(where + ": data_offsets " + offsets.dump() + " is not two non-negative integers");
    }
    const std::int64_t begin = *as_index(offsets[0]);
    const std::int64_t end = *as_index(offsets[1]);
    if (begin > end) {
      throw Error(where + ": data_offsets begin " + std::to_string(begin) + " > end " + std::to_string(end));
    }
    if (end > buffer_size) {
      throw Error(where + ": data_offsets end " + std::to_string(end) + " is past the end of the data buffer (" +
                  std::to_string(buffer_size) + " bytes)");
    }
    if (end - begin != byte_count) {
      throw Error(where + ": data_offsets span " + std::to_string(end - begin) + " bytes but shape " +
                  shape_text(t.shape) + " of " + std::string(dtype_name(t.dtype)) + " needs " +
                  std::to_string(byte_count));
    }
    t.offset = begin;
    t.data = buffer.subspan(static_cast<std::size_t>(begin), static_cast<std::size_t>(byte_count));
    tensors.push_back(std::move(t));
  }

  std::sort(tensors.begin(), tensors.end(), [](const TensorView& a, const TensorView& b) {
    const auto a_end = a.offset + static_cast<std::int64_t>(a.data.size());
    const auto b_end = b.offset + static_cast<std::int64_t>(b.data.size());
    return std::tie(a.offset, a_end, a.name) < std::tie(b.offset, b_end, b.name);
  });
  // Hugging Face requires the tensors, in offset order, to tile the buffer.
  std::int64_t covered = 0;
  const TensorView* previous = nullptr;
  for (const TensorView& t : tensors) {
    if (t.offset < covered) {
      throw Error(src + ": tensor " + quote(t.name) + " at data_offsets " + std::to_string(t.offset) +
                  " overlaps tensor " + quote(previous->name) + " ending at " + std::to_string(covered));
    }
    if (t.offset > covered) {
      throw Error(src + ": gap in the data buffer: bytes [" + std::to_string(covered) + ", " +
                  std::to_string(t.offset) + ") before tensor " + quote(t.name) +
                  " belong to no tensor (tensors must be contiguous)");
    }
    covered = t.offset + static_cast<std::int64_t>(t.data.size());
    previous = &t;
  }
  if (covered != buffer_size) {
    throw Error(src + ": data buffer not fully covered: bytes [" + std::to_string(covered) + ", " +
                std::to_string(buffer_size) + ") belong to no tensor");
  }
  tensors_ = std::move(tensors);
  for (std::size_t i = 0; i < tensors_.size(); ++i) index_.emplace(tensors_[i].name, i);
}

// --------------------------------------------------------- SafetensorsWriter

void SafetensorsWriter::add(std::string name, DType dtype, std::vector<std::int64_t> shape,
                            std::span<const std::byte> data) {
  const std::string where = "safetensors writer: tensor " + quote(name);
  if (name.empty()) throw Error("safetensors writer: empty tensor name");
  if (name == "__metadata__") throw Error(where + ": name is reserved");
  if (index_.count(name) != 0) throw Error(where + ": added twice");
  if (shape.size() > kMaxRank) {
    throw Error(where + ": rank " + std::to_string(shape.size()) + " exceeds " + std::to_string(kMaxRank));
  }
  std::int64_t numel = 1;
  for (const std::int64_t d : shape) {
    if (d < 0) throw Error(where + ": negative dimension in shape " + shape_text(shape));
    if (!checked_mul(numel, d, numel)) throw Error(where + ": shape " + shape_text(shape) + " overflows int64");
  }
  std::int64_t byte_count = 0;
  if (!checked_mul(numel, dtype_size(dtype), byte_count) || static_cast<std::uint64_t>(byte_count) != data.size()) {
    throw Error(where + ": " + std::to_string(data.size()) + " bytes given, shape " + shape_text(shape) + " of " +
                std::string(dtype_name(dtype)) + " needs " + std::to_string(numel) + " x " +
                std::to_string(dtype_size(dtype)));
  }
  index_.emplace(name, tensors_.size());
  tensors_.push_back(
      Pending{std::move(name), dtype, std::move(shape), std::vector<std::byte>(data.begin(), data.end())});
}

void SafetensorsWriter::add(std::string name, DType dtype, std::vector<std::int64_t> shape,
                            std::span<const std::uint16_t> bits) {
  if (dtype != DType::kF16 && dtype != DType::kBF16) {
    throw Error("safetensors writer: tensor " + quote(name) + ": 16-bit data given for dtype " +
                std::string(dtype_name(dtype)));
  }
  add(std::move(name), dtype, std::move(shape), std::as_bytes(bits));
}

void SafetensorsWriter::set_metadata(std::string key, std::string value) {
  metadata_[std::move(key)] = std::move(value);
}

SafetensorsWriter::Layout SafetensorsWriter::layout() const {
  Layout plan;
  for (const Pending& t : tensors_) plan.order.push_back(&t);
  const auto rank = [](const Pending* t) {
    const bool block = t->data.size() % kDataAlignment == 0;
    return std::make_tuple(block ? 0 : 1, block ? 0 : -dtype_size(t->dtype));
  };
  std::sort(plan.order.begin(), plan.order.end(), [&](const Pending* a, const Pending* b) {
    return std::tuple_cat(rank(a), std::tie(a->name)) < std::tuple_cat(rank(b), std::tie(b->name));
  });
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  std::int64_t offset = 0;
  for (const Pending* t : plan.order) {
    const std::int64_t end = offset + static_cast<std::int64_t>(t->data.size());
    header[t->name] = {
        {"dtype", std::string(dtype_name(t->dtype))}, {"shape", t->shape}, {"data_offsets", {offset, end}}};
    offset = end;
  }
  try {
    plan.header = header.dump();
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("safetensors writer: a tensor name or metadata entry is not valid UTF-8: ") + e.what());
  }
  const std::size_t unaligned = (8 + plan.header.size()) % kDataAlignment;
  if (unaligned != 0) plan.header.append(kDataAlignment - unaligned, ' ');
  if (plan.header.size() > kMaxHeaderBytes) {
    throw Error("safetensors writer: header of " + std::to_string(plan.header.size()) + " bytes exceeds the limit of " +
                std::to_string(kMaxHeaderBytes));
  }
  return plan;
}

namespace {

std::array<std::byte, 8> length_prefix(std::uint64_t n) {
  std::array<std::byte, 8> out{};
  for (std::size_t i = 0; i < 8; ++i) out[i] = static_cast<std::byte>((n >> (8 * i)) & 0xff);
  return out;
}

// Owns the temporary file until it is renamed into place; removes it on
// failure so that no partial file is ever left behind.
class TempFile {
 public:
  explicit TempFile(std::string target) : target_(std::move(target)), path_(target_ + ".tmp") {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) fail("cannot create", path_);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(path_.c_str());
  }

  void write(std::span<const std::byte> data) {
    while (!data.empty()) {
      const ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail("cannot write", path_);
      data = data.subspan(static_cast<std::size_t>(n));
    }
  }

  void commit() {
    if (::fsync(fd_) != 0) fail("cannot fsync", path_);
    const int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0) fail("cannot close", path_);
    if (::rename(path_.c_str(), target_.c_str()) != 0) fail("cannot rename", path_);
    committed_ = true;
    // Persist the rename itself; the data is already durable.
    std::filesystem::path dir = std::filesystem::path(target_).parent_path();
    if (dir.empty()) dir = ".";
    const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) fail("cannot open directory", dir.string());
    if (::fsync(dir_fd) != 0) {
      const int err = errno;
      ::close(dir_fd);
      errno = err;
      fail("cannot fsync directory", dir.string());
    }
    ::close(dir_fd);
  }

 private:
  // Takes no temporaries so that errno is read before anything can change it.
  [[noreturn]] void fail(const char* what, const std::string& object) const {
    const int err = errno;
    throw Error(target_ + ": " + what + " " + object + ": " + std::strerror(err));
  }

  std::string target_;
  std::string path_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace

std::vector<std::byte> SafetensorsWriter::serialize() const {
  const Layout plan = layout();
  std::size_t total = 8 + plan.header.size();
  for (const Pending* t : plan.order) total += t->data.size();
  std::vector<std::byte> out;
  out.reserve(total);
  const auto prefix = length_prefix(plan.header.size());
  out.insert(out.end(), prefix.begin(), prefix.end());
  const auto header = std::as_bytes(std::span<const char>(plan.header));
  out.insert(out.end(), header.begin(), header.end());
  for (const Pending* t : plan.order) out.insert(out.end(), t->data.begin(), t->data.end());
  return out;
}

void SafetensorsWriter::write(const std::string& path) const {
  const Layout plan = layout();
  TempFile file(path);
  // Streamed tensor by tensor so that writing needs no second copy of the model.
  file.write(length_prefix(plan.header.size()));
  file.write(std::as_bytes(std::span<const char>(plan.header)));
  for (const Pending* t : plan.order) file.write(t->data);
  file.commit();
}

}  // namespace edgeroute::modelio
