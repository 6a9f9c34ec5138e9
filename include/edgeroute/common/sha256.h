// SHA-256 (FIPS 180-4), used to fingerprint model files and tensors so that a
// checkpoint can be identified in metadata, audit rows and benchmark rows.
//
// Not constant-time and not meant for keyed hashing (use HMAC built on it for
// that). A Sha256 object is not thread-safe; the free functions are.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace edgeroute {

using Sha256Digest = std::array<std::uint8_t, 32>;

// Incremental hasher: update() any number of times, then finish() once.
class Sha256 {
 public:
  Sha256();
  void update(std::span<const std::byte> data);
  void update(std::string_view text);
  // Returns the digest; the object must not be updated afterwards.
  Sha256Digest finish();

 private:
  void compress(const std::uint8_t* block);

  std::array<std::uint32_t, 8> state_;
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t total_bytes_ = 0;
};

Sha256Digest sha256(std::span<const std::byte> data);
// Lower-case hexadecimal, 64 characters.
std::string to_hex(const Sha256Digest& digest);
std::string sha256_hex(std::span<const std::byte> data);
std::string sha256_hex(std::string_view text);

}  // namespace edgeroute
