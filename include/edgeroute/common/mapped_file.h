// Read-only memory mapping of a whole file.
//
// The mapping lives as long as the MappedFile object; views into it must not
// outlive it. Empty files are valid and map to an empty span. Thread-safe for
// concurrent reads once constructed.
#pragma once

#include <cstddef>
#include <span>
#include <string>

namespace edgeroute {

class MappedFile {
 public:
  // Maps `path` read-only. Throws edgeroute::Error naming the path when the
  // file cannot be opened, is not a regular file, or cannot be mapped.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;

  std::span<const std::byte> bytes() const { return {data_, size_}; }
  std::size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  void release() noexcept;

  std::string path_;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

// Reads a whole (small) file into a string; throws edgeroute::Error naming the
// path on failure. For configs and vocabularies, not for weights.
std::string read_text_file(const std::string& path);

}  // namespace edgeroute
