// Every Unicode scalar value through each normalizer step and character
// class, against what Hugging Face tokenizers does to it. The fixture is
// written at test time by python/gen_unicode_tables.py --dump (ctest fixture
// text.unicode_fixture); the test skips with a message when it is absent.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <unordered_map>

#include "edgeroute/text/normalizer.h"

namespace edgeroute::text {
namespace {

struct Expected {
  int flags = 0;  // 1 removed, 2 whitespace, 4 punctuation
  std::u32string strip;
  std::u32string lower;
};

std::u32string parse_seq(const std::string& s) {
  std::u32string out;
  if (s == "-") return out;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, '.')) out.push_back(static_cast<char32_t>(std::stoul(part, nullptr, 16)));
  return out;
}

std::string hex(char32_t c) {
  std::ostringstream os;
  os << "U+" << std::hex << std::uppercase << static_cast<unsigned>(c);
  return os.str();
}

TEST(UnicodeParity, EveryCodePointMatchesHuggingFace) {
  const std::string path = std::string(EDGEROUTE_TEST_BINARY_DIR) + "/hf_codepoints.txt";
  std::ifstream in(path);
  if (!in) GTEST_SKIP() << path << " is absent: run the ctest fixture text.unicode_fixture (needs the Python venv)";
  std::unordered_map<char32_t, Expected> expected;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::string cp, flags, strip, lower;
    ls >> cp >> flags >> strip >> lower;
    expected[static_cast<char32_t>(std::stoul(cp, nullptr, 16))] = {std::stoi(flags), parse_seq(strip),
                                                                    parse_seq(lower)};
  }
  ASSERT_GT(expected.size(), 100000u) << "fixture looks truncated";

  std::size_t checked = 0;
  std::size_t mismatches = 0;
  std::u32string out;
  for (char32_t c = 0; c <= 0x10FFFF; ++c) {
    if (c >= 0xD800 && c <= 0xDFFF) continue;
    const auto it = expected.find(c);
    const Expected e = it != expected.end() ? it->second : Expected{0, std::u32string(1, c), std::u32string(1, c)};
    const bool removed = is_bert_removed(c);
    const bool space = !removed && is_bert_whitespace(c);
    const bool punct = is_bert_punctuation(c) && !is_bert_whitespace(c);
    const int flags = (removed ? 1 : 0) | (space ? 2 : 0) | (punct ? 4 : 0);
    const std::u32string one(1, c);
    strip_accents(one, out);
    const bool strip_ok = out == e.strip;
    lowercase(one, out);
    const bool lower_ok = out == e.lower;
    if (flags != e.flags || !strip_ok || !lower_ok) {
      if (++mismatches <= 20) {
        ADD_FAILURE() << hex(c) << ": flags " << flags << " vs HF " << e.flags << (strip_ok ? "" : ", strip differs")
                      << (lower_ok ? "" : ", lowercase differs");
      }
    }
    ++checked;
  }
  EXPECT_EQ(mismatches, 0u);
  EXPECT_EQ(checked, 0x110000u - 0x800u);
}

}  // namespace
}  // namespace edgeroute::text
