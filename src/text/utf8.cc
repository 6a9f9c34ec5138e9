#include "edgeroute/text/utf8.h"

#include <cstdint>

#include "edgeroute/common/error.h"

namespace edgeroute::text {

namespace {

// Decodes one well-formed sequence at in[pos]. Returns the number of bytes
// consumed (>= 1). When the sequence is ill-formed, returns the length of its
// maximal subpart and sets `ok` to false: the lead byte plus every following
// byte that could still begin a well-formed sequence (Unicode Table 3-7).
std::size_t decode_one(std::string_view in, std::size_t pos, char32_t& cp, bool& ok) {
  const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(in[i]); };
  const std::uint8_t b0 = byte(pos);
  ok = true;
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  std::size_t need = 0;
  std::uint8_t lo = 0x80;
  std::uint8_t hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
    cp = b0 & 0x1Fu;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    cp = b0 & 0x0Fu;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    cp = b0 & 0x07u;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    ok = false;
    return 1;
  }
  std::size_t i = 1;
  for (; i <= need; ++i) {
    if (pos + i >= in.size()) {
      ok = false;
      return i;
    }
    const std::uint8_t b = byte(pos + i);
    const std::uint8_t min = (i == 1) ? lo : std::uint8_t{0x80};
    const std::uint8_t max = (i == 1) ? hi : std::uint8_t{0xBF};
    if (b < min || b > max) {
      ok = false;
      return i;
    }
    cp = (cp << 6) | (b & 0x3Fu);
  }
  return i;
}

}  // namespace

void decode_utf8(std::string_view in, Utf8Policy policy, std::u32string& out, std::string_view what) {
  std::size_t pos = 0;
  while (pos < in.size()) {
    const auto b0 = static_cast<std::uint8_t>(in[pos]);
    if (b0 < 0x80) {
      out.push_back(b0);
      ++pos;
      continue;
    }
    char32_t cp = 0;
    bool ok = true;
    const std::size_t n = decode_one(in, pos, cp, ok);
    if (ok) {
      out.push_back(cp);
    } else if (policy == Utf8Policy::kReplace) {
      out.push_back(kReplacementChar);
    } else {
      throw Error(std::string(what) + ": invalid UTF-8 at byte " + std::to_string(pos) +
                  " (use --invalid-utf8 replace to substitute U+FFFD)");
    }
    pos += n;
  }
}

std::optional<std::size_t> find_invalid_utf8(std::string_view in) {
  std::size_t pos = 0;
  while (pos < in.size()) {
    char32_t cp = 0;
    bool ok = true;
    const std::size_t n = decode_one(in, pos, cp, ok);
    if (!ok) return pos;
    pos += n;
  }
  return std::nullopt;
}

void append_utf8(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string encode_utf8(std::u32string_view in) {
  std::string out;
  out.reserve(in.size());
  for (const char32_t cp : in) append_utf8(cp, out);
  return out;
}

}  // namespace edgeroute::text
