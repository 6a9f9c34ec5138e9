// JsonWriter against nlohmann::json's parser: what it writes must parse, and
// read back as the same values (numbers bit for bit).
#include "edgeroute/text/json_writer.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "edgeroute/common/error.h"

namespace edgeroute::text {
namespace {

std::string write_string(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

TEST(JsonWriter, NestedObjectsAndArraysParseBack) {
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  w.key("id").value("abc");
  w.key("n").value(std::int64_t{-42});
  w.key("ok").value(true);
  w.key("none").null();
  w.key("list").begin_array().value(1).value("two").begin_object().key("x").value(false).end_object().end_array();
  w.key("empty").begin_object().end_object();
  w.key("empty_list").begin_array().end_array();
  w.end_object();
  EXPECT_EQ(out,
            R"({"id":"abc","n":-42,"ok":true,"none":null,"list":[1,"two",{"x":false}],"empty":{},"empty_list":[]})");
  EXPECT_FALSE(nlohmann::json::parse(out, nullptr, false).is_discarded());
}

TEST(JsonWriter, EscapesAsNlohmannDoes) {
  std::string all;
  for (int c = 1; c < 0x80; ++c) all += static_cast<char>(c);
  all += "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80";  // 2-, 3- and 4-byte sequences pass through
  EXPECT_EQ(write_string(all), nlohmann::json(all).dump());
  EXPECT_EQ(nlohmann::json::parse(write_string(all)).get<std::string>(), all);
  EXPECT_EQ(write_string(""), "\"\"");
  EXPECT_EQ(write_string("a\"b\\c\n"), R"("a\"b\\c\n")");
}

// Maximal subparts, as Python's bytes.decode("utf-8", errors="replace").
TEST(JsonWriter, InvalidUtf8BecomesTheReplacementCharacter) {
  const std::string fffd = "\xEF\xBF\xBD";
  const struct {
    std::string in, out;
  } cases[] = {
      {"a\xFF" "b", "a" + fffd + "b"},              // never valid
      {"\x80", fffd},                               // stray continuation byte
      {"\xC0\xAF", fffd + fffd},                    // overlong '/'
      {"\xE0\x80\xAF", fffd + fffd + fffd},         // overlong, 3 bytes
      {"\xED\xA0\x80", fffd + fffd + fffd},         // UTF-16 surrogate
      {"\xF4\x90\x80\x80", fffd + fffd + fffd + fffd},  // beyond U+10FFFF
      {"ab\xE2\x82", "ab" + fffd},                  // cut short at the end: one maximal subpart
      {"\xC3\xA9\xC3", "\xC3\xA9" + fffd},          // a valid one, then a cut one
  };
  for (const auto& c : cases) {
    const std::string written = write_string(c.in);
    const nlohmann::json back = nlohmann::json::parse(written, nullptr, false);
    ASSERT_FALSE(back.is_discarded()) << written;
    EXPECT_EQ(back.get<std::string>(), c.out) << written;
  }
}

TEST(JsonWriter, NumbersReadBackExactly) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::uniform_int_distribution<int> exponent(-300, 300);
  for (int i = 0; i < 20000; ++i) {
    const double d = (unit(rng) - 0.5) * std::pow(10.0, exponent(rng));
    const auto f = static_cast<float>(unit(rng));
    std::string out;
    JsonWriter w(out);
    w.begin_array().value(d).value(f).end_array();
    const nlohmann::json back = nlohmann::json::parse(out);
    ASSERT_EQ(back[0].get<double>(), d) << out;
    ASSERT_EQ(back[1].get<float>(), f) << out;
    ASSERT_TRUE(back[0].is_number_float()) << out;
    ASSERT_TRUE(back[1].is_number_float()) << out;
  }
  std::string out;
  JsonWriter w(out);
  w.begin_array()
      .value(0.0)
      .value(1.0)
      .value(-3.0f)
      .value(0.1)
      .value(std::numeric_limits<double>::quiet_NaN())
      .value(std::numeric_limits<double>::infinity())
      .value(-std::numeric_limits<float>::infinity())
      .value(std::numeric_limits<std::int64_t>::min())
      .end_array();
  EXPECT_EQ(out, "[0.0,1.0,-3.0,0.1,null,null,null,-9223372036854775808]");
}

TEST(JsonWriter, RefusesUnbalancedOrTooDeepNesting) {
  std::string out;
  JsonWriter w(out);
  EXPECT_THROW(w.end_object(), Error);
  for (int i = 0; i < JsonWriter::kMaxDepth; ++i) w.begin_array();
  EXPECT_THROW(w.begin_array(), Error);
}

}  // namespace
}  // namespace edgeroute::text
