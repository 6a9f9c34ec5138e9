#include "edgeroute/text/tokenizer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "edgeroute/common/error.h"
#include "edgeroute/text/normalizer.h"

namespace edgeroute::text {
namespace {

// A tiny vocabulary whose ids are easy to read in expectations.
Vocab tiny_vocab() {
  return Vocab::from_tokens({"[PAD]", "[UNK]",    "[CLS]",  "[SEP]", "[MASK]",  // 0-4
                             "un",    "##aff",    "##able", "hello", "world",   // 5-9
                             "!",     ",",        "cafe",   "中",    "##s",     // 10-14
                             "i",     "\xCC\x87", "a",      "##a",   "Cafe"});  // 15-19
}

Tokenizer tiny(bool lowercase = true, std::optional<bool> strip = std::nullopt) {
  TokenizerConfig c;
  c.normalizer.lowercase = lowercase;
  c.normalizer.strip_accents = strip.value_or(lowercase);
  return Tokenizer(tiny_vocab(), c);
}

using Ids = std::vector<std::int32_t>;

TEST(Tokenizer, GreedyLongestMatchWithContinuations) { EXPECT_EQ(tiny().encode("unaffable"), (Ids{2, 5, 6, 7, 3})); }

TEST(Tokenizer, UnmatchedRestMakesWholeWordUnknown) { EXPECT_EQ(tiny().encode("unaffablex hello"), (Ids{2, 1, 8, 3})); }

TEST(Tokenizer, PunctuationIsolatedAndWhitespaceDropped) {
  EXPECT_EQ(tiny().encode("  hello,world!  "), (Ids{2, 8, 11, 9, 10, 3}));
}

TEST(Tokenizer, LowercaseAndStripAccents) {
  EXPECT_EQ(tiny().encode("CAFÉ"), (Ids{2, 12, 3}));
  EXPECT_EQ(tiny().encode("Cafe\xCC\x81"), (Ids{2, 12, 3}));  // decomposed input
}

TEST(Tokenizer, CasedKeepsCase) {
  EXPECT_EQ(tiny(false).encode("Cafe cafe"), (Ids{2, 19, 12, 3}));
  EXPECT_EQ(tiny(false).encode("Café"), (Ids{2, 1, 3}));
  EXPECT_EQ(tiny(false, true).encode("Café"), (Ids{2, 19, 3}));
}

TEST(Tokenizer, DottedCapitalIFollowsStepOrder) {
  // Hugging Face strips accents before lowercasing: with stripping, NFD turns
  // U+0130 into I + U+0307 and the mark goes; without it, the full lowercase
  // mapping yields i + U+0307.
  std::u32string out, scratch;
  bert_normalize(U"\u0130", BertNormalizerOptions{}, out, scratch);
  EXPECT_EQ(out, U"i");
  bert_normalize(U"\u0130", BertNormalizerOptions{.lowercase = true, .strip_accents = false}, out, scratch);
  EXPECT_EQ(out, (std::u32string{U'i', 0x307}));
}

TEST(Tokenizer, CjkCharactersAreSeparateWords) { EXPECT_EQ(tiny().encode("hello中world"), (Ids{2, 8, 13, 9, 3})); }

TEST(Tokenizer, ControlAndZeroWidthCharactersRemoved) {
  EXPECT_EQ(tiny().encode(std::string("hel\x00lo\xE2\x80\x8B", 9)), (Ids{2, 8, 3}));
  EXPECT_EQ(tiny().encode("hello\tworld\r\n"), (Ids{2, 8, 9, 3}));
}

TEST(Tokenizer, LongWordsBecomeUnknown) {
  const std::string a100(100, 'a');
  const Ids ok = tiny().encode(a100, 1000);
  EXPECT_EQ(ok.size(), 102u);  // a ##a x99
  EXPECT_EQ(tiny().encode(a100 + "a"), (Ids{2, 1, 3}));
}

TEST(Tokenizer, SpecialTokensInTextAreMatchedCaseSensitively) {
  EXPECT_EQ(tiny().encode("hello[SEP]world"), (Ids{2, 8, 3, 9, 3}));
  EXPECT_EQ(tiny().encode("[MASK][MASK]"), (Ids{2, 4, 4, 3}));
  EXPECT_EQ(tiny().encode("[mask]"), (Ids{2, 1, 1, 1, 3}));  // '[' 'mask' ']' are not in the tiny vocab
}

TEST(Tokenizer, TruncatesToMaxLenIncludingSpecials) {
  const Tokenizer t = tiny();
  std::vector<std::int32_t> ids;
  Workspace ws;
  EXPECT_TRUE(t.encode("hello world hello world", ids, ws, 4));
  EXPECT_EQ(ids, (Ids{2, 8, 9, 3}));
  ids.clear();
  EXPECT_FALSE(t.encode("hello world", ids, ws, 4));
  EXPECT_EQ(ids, (Ids{2, 8, 9, 3}));
  ids.clear();
  EXPECT_TRUE(t.encode("hello", ids, ws, 2));
  EXPECT_EQ(ids, (Ids{2, 3}));
  EXPECT_THROW(t.encode("hello", ids, ws, 1), Error);
}

TEST(Tokenizer, HugeInputStopsEarlyAndTruncates) {
  std::string big;
  for (int i = 0; i < 200000; ++i) big += "hello ";
  const Ids ids = tiny().encode(big, 16);
  ASSERT_EQ(ids.size(), 16u);
  EXPECT_EQ(ids.front(), 2);
  EXPECT_EQ(ids.back(), 3);
}

TEST(Tokenizer, EmptyAndWhitespaceOnly) {
  EXPECT_EQ(tiny().encode(""), (Ids{2, 3}));
  EXPECT_EQ(tiny().encode(" \t\n\xC2\xA0\xE3\x80\x80"), (Ids{2, 3}));
}

TEST(Tokenizer, InvalidUtf8PolicyStrictThrowsReplaceDrops) {
  EXPECT_THROW(tiny().encode("hello \xFF world"), Error);
  // U+FFFD is removed by the clean step, as in Hugging Face.
  EXPECT_EQ(tiny().encode("hello \xFF world", 0, Utf8Policy::kReplace), (Ids{2, 8, 9, 3}));
  EXPECT_EQ(tiny().encode("hel\xFFlo", 0, Utf8Policy::kReplace), (Ids{2, 8, 3}));
}

TEST(Tokenizer, MissingSpecialTokenIsAnError) {
  TokenizerConfig c;
  c.mask_token = "<mask>";
  try {
    Tokenizer t(tiny_vocab(), c);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("<mask>"), std::string::npos);
  }
}

TEST(Tokenizer, TokenizeReturnsPieces) {
  EXPECT_EQ(tiny().tokenize("unaffable, hello"), (std::vector<std::string>{"un", "##aff", "##able", ",", "hello"}));
}

TEST(TokenBatch, PadsToLongestWithMask) {
  const std::vector<std::vector<std::int32_t>> seqs{{2, 8, 3}, {2, 3}};
  const TokenBatch b = pad_batch(seqs, 0);
  EXPECT_EQ(b.rows, 2);
  EXPECT_EQ(b.cols, 3);
  EXPECT_EQ(b.ids, (Ids{2, 8, 3, 2, 3, 0}));
  EXPECT_EQ(b.attention_mask, (Ids{1, 1, 1, 1, 1, 0}));
}

class TokenizerConfigFile : public ::testing::Test {
 protected:
  void SetUp() override {
    // One directory per test: ctest runs the tests of this file in parallel.
    dir_ = std::filesystem::path(EDGEROUTE_TEST_BINARY_DIR) / "tokenizer_config_test" /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "vocab.txt") << "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\r\n";
  }
  void write_config(const std::string& json) { std::ofstream(dir_ / "tokenizer_config.json") << json; }
  std::filesystem::path dir_;
};

TEST_F(TokenizerConfigFile, DefaultsWhenAbsent) {
  const Tokenizer t = Tokenizer::from_pretrained(dir_.string());
  EXPECT_TRUE(t.config().normalizer.lowercase);
  EXPECT_TRUE(t.config().normalizer.strip_accents);
  EXPECT_EQ(t.vocab().find("hello"), 5);  // trailing CR dropped
}

TEST_F(TokenizerConfigFile, ReadsSettingsAndAddedTokenObjects) {
  write_config(R"({"do_lower_case": false, "strip_accents": null, "tokenize_chinese_chars": false,
                   "model_max_length": 1000000000000000019884624838656, "unk_token": {"content": "[UNK]"}})");
  std::ofstream(dir_ / "config.json") << R"({"max_position_embeddings": 128})";
  const TokenizerConfig c = load_tokenizer_config(dir_.string());
  EXPECT_FALSE(c.normalizer.lowercase);
  EXPECT_FALSE(c.normalizer.strip_accents);
  EXPECT_FALSE(c.normalizer.handle_chinese_chars);
  EXPECT_EQ(c.model_max_length, 128);
}

TEST_F(TokenizerConfigFile, RejectsBadValuesWithFileName) {
  write_config(R"({"do_lower_case": "yes"})");
  try {
    load_tokenizer_config(dir_.string());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer_config.json"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("do_lower_case"), std::string::npos);
  }
  write_config("{not json");
  EXPECT_THROW(load_tokenizer_config(dir_.string()), Error);
  write_config(R"({"tokenizer_class": "GPT2Tokenizer"})");
  EXPECT_THROW(load_tokenizer_config(dir_.string()), Error);
}

TEST(TokenizerDirectory, MissingVocabIsAClearError) {
  try {
    Tokenizer::from_pretrained("/nonexistent-model-dir");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("vocab.txt"), std::string::npos);
  }
}

}  // namespace
}  // namespace edgeroute::text
