// Overflow-checked int64 arithmetic for sizes read from untrusted files.
#pragma once

#include <cstdint>

namespace edgeroute::modelio {

// out = a * b; returns false (out unspecified) on overflow. Never UB.
inline bool checked_mul(std::int64_t a, std::int64_t b, std::int64_t& out) {
  return !__builtin_mul_overflow(a, b, &out);
}

// out = a + b; returns false on overflow.
inline bool checked_add(std::int64_t a, std::int64_t b, std::int64_t& out) {
  return !__builtin_add_overflow(a, b, &out);
}

}  // namespace edgeroute::modelio
