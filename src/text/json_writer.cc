#include "edgeroute/text/json_writer.h"

#include <charconv>
#include <cmath>
#include <system_error>

#include "edgeroute/common/error.h"
#include "edgeroute/text/utf8.h"

namespace edgeroute::text {

namespace {

// Shortest round-trip text of a finite number; a ".0" keeps an integral
// value reading back as a floating-point number, as nlohmann::json writes it.
template <typename T>
void append_number(std::string& out, T v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[64];
  const std::to_chars_result r = std::to_chars(buf, buf + sizeof buf, v);
  const std::string_view text(buf, static_cast<std::size_t>(r.ptr - buf));
  out += text;
  if (text.find_first_of(".e") == std::string_view::npos) out += ".0";
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  // Ill-formed input (rare: the service validates its texts) is first
  // repaired the way the tokenizer's kReplace policy does it.
  std::string repaired;
  if (find_invalid_utf8(s)) {
    std::u32string cps;
    decode_utf8(s, Utf8Policy::kReplace, cps);
    repaired = encode_utf8(cps);
    s = repaired;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  std::size_t run = 0;  // start of the bytes not yet copied
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
    }
    run = i + 1;
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

void JsonWriter::separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_[depth_]) out_ += ',';
  first_[depth_] = false;
}

JsonWriter& JsonWriter::open(char c) {
  if (depth_ == kMaxDepth) throw Error("JSON nested deeper than " + std::to_string(kMaxDepth) + " levels");
  separate();
  out_ += c;
  first_[++depth_] = true;
  return *this;
}

JsonWriter& JsonWriter::close(char c) {
  if (depth_ == 0) throw Error(std::string("JSON: '") + c + "' closes nothing");
  --depth_;
  out_ += c;
  return *this;
}

JsonWriter& JsonWriter::key(std::string_view k) {
  separate();
  append_json_string(out_, k);
  out_ += ':';
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view s) {
  separate();
  append_json_string(out_, s);
  return *this;
}

JsonWriter& JsonWriter::value(double v) {
  separate();
  append_number(out_, v);
  return *this;
}

JsonWriter& JsonWriter::value(float v) {
  separate();
  append_number(out_, v);
  return *this;
}

JsonWriter& JsonWriter::value(std::int64_t v) {
  separate();
  char buf[24];
  const std::to_chars_result r = std::to_chars(buf, buf + sizeof buf, v);
  out_.append(buf, static_cast<std::size_t>(r.ptr - buf));
  return *this;
}

JsonWriter& JsonWriter::value(bool v) {
  separate();
  out_ += v ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::null() {
  separate();
  out_ += "null";
  return *this;
}

}  // namespace edgeroute::text
