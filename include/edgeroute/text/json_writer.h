// A JSON writer that appends straight to a std::string: no document tree, no
// allocation per value. The service's answers go through it (an answer names
// every label's probability; building an nlohmann::json object for it cost two
// allocations per label). Output is compact and valid JSON: strings are
// escaped as nlohmann::json does it, with every maximal ill-formed UTF-8
// subpart replaced by U+FFFD (text/utf8.h's kReplace policy),
// doubles are the shortest text that reads back as the same double, floats the
// shortest that reads back as the same float, and NaN or infinities are null.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace edgeroute::text {

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  JsonWriter& begin_object() { return open('{'); }
  JsonWriter& end_object() { return close('}'); }
  JsonWriter& begin_array() { return open('['); }
  JsonWriter& end_array() { return close(']'); }
  // The next value belongs to this key (inside an object).
  JsonWriter& key(std::string_view k);

  JsonWriter& value(std::string_view s);
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(const std::string& s) { return value(std::string_view(s)); }
  JsonWriter& value(double v);
  JsonWriter& value(float v);
  JsonWriter& value(std::int64_t v);
  JsonWriter& value(int v) { return value(static_cast<std::int64_t>(v)); }
  JsonWriter& value(bool v);
  JsonWriter& null();

  // Nesting deeper than this throws edgeroute::Error.
  static constexpr int kMaxDepth = 32;

 private:
  JsonWriter& open(char c);
  JsonWriter& close(char c);
  void separate();  // a comma before every element but the first

  std::string& out_;
  int depth_ = 0;
  bool first_[kMaxDepth + 1] = {true};
  bool after_key_ = false;
};

// `s` as a JSON string literal, quotes included.
void append_json_string(std::string& out, std::string_view s);

}  // namespace edgeroute::text
