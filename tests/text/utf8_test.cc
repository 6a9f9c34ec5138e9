#include "edgeroute/text/utf8.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "edgeroute/common/error.h"

namespace edgeroute::text {
namespace {

struct ReplaceCase {
  std::string bytes;
  std::u32string expected;  // what Python's bytes.decode("utf-8", "replace") gives
};

// Printed (and so named by ctest) as the input bytes in hex.
void PrintTo(const ReplaceCase& c, std::ostream* os) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (const char ch : c.bytes) {
    const auto b = static_cast<unsigned char>(ch);
    *os << kHex[b >> 4] << kHex[b & 15];
  }
}

class Utf8Replace : public ::testing::TestWithParam<ReplaceCase> {};

TEST_P(Utf8Replace, MatchesPythonMaximalSubparts) {
  const auto& c = GetParam();
  std::u32string out;
  decode_utf8(c.bytes, Utf8Policy::kReplace, out);
  EXPECT_EQ(out, c.expected);
  const bool valid =
      c.expected.find(kReplacementChar) == std::u32string::npos || c.bytes.find("\xEF\xBF\xBD") != std::string::npos;
  EXPECT_EQ(find_invalid_utf8(c.bytes).has_value(), !valid);
}

constexpr char32_t R = kReplacementChar;

// Expected values were produced by CPython 3.11's decoder.
INSTANTIATE_TEST_SUITE_P(
    Python, Utf8Replace,
    ::testing::Values(ReplaceCase{"\x80", {R}}, ReplaceCase{"\xC0\x80", {R, R}}, ReplaceCase{"\xC2", {R}},
                      ReplaceCase{"\xC2\x41", {R, U'A'}}, ReplaceCase{"\xE2\x82", {R}},
                      ReplaceCase{"\xE2\x82\x41", {R, U'A'}}, ReplaceCase{"\xED\xA0\x80", {R, R, R}},
                      ReplaceCase{"\xF0\x80\x80\x80", {R, R, R, R}}, ReplaceCase{"\xF4\x90\x80\x80", {R, R, R, R}},
                      ReplaceCase{"\xF0\x9F\x98", {R}}, ReplaceCase{"\xF0\x9F\x98\x80", {0x1F600}},
                      ReplaceCase{"\xFF\xFE", {R, R}},
                      ReplaceCase{"a\xE0\x80"
                                  "b",
                                  {U'a', R, R, U'b'}},
                      ReplaceCase{"\xEF\xBF\xBD", {R}}, ReplaceCase{"\xF5\x80", {R, R}},
                      ReplaceCase{"\xE0\xA0\x80", {0x800}},
                      ReplaceCase{"\xF0\x90\x80\x80\xF4\x8F\xBF\xBF", {0x10000, 0x10FFFF}}, ReplaceCase{"", {}},
                      ReplaceCase{std::string("a\0b", 3), {U'a', 0, U'b'}}),
    [](const ::testing::TestParamInfo<ReplaceCase>& param) { return "case" + std::to_string(param.index); });

TEST(Utf8, StrictNamesInputAndOffset) {
  std::u32string out;
  try {
    decode_utf8("abc\xE2\x82", Utf8Policy::kStrict, out, "input line 7");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("input line 7"), std::string::npos) << msg;
    EXPECT_NE(msg.find("byte 3"), std::string::npos) << msg;
  }
}

TEST(Utf8, EncodeDecodeRoundTripsEveryScalarValue) {
  std::u32string all;
  for (char32_t c = 0; c <= 0x10FFFF; ++c) {
    if (c < 0xD800 || c > 0xDFFF) all.push_back(c);
  }
  const std::string bytes = encode_utf8(all);
  EXPECT_FALSE(find_invalid_utf8(bytes).has_value());
  std::u32string back;
  decode_utf8(bytes, Utf8Policy::kStrict, back);
  EXPECT_EQ(back, all);
}

}  // namespace
}  // namespace edgeroute::text
