// Internal: quoting of untrusted names in error messages.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace edgeroute::modelio::detail {

// 'name' with control characters escaped and the length bounded, so that a
// hostile file can neither flood nor garble a log line.
inline std::string quote(std::string_view text) {
  constexpr std::size_t kMaxShown = 120;
  std::string out = "'";
  for (std::size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > kMaxShown) out += "...";
  out += "'";
  return out;
}

}  // namespace edgeroute::modelio::detail
