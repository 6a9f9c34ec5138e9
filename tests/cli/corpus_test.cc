// `edgeroute corpus`: the generator (src/cli/corpus.cc, compiled into this
// test) and the subcommand run as a user runs it.
#include "corpus.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "../common/run_command.h"
#include "edgeroute/common/error.h"
#include "edgeroute/text/table.h"

namespace fs = std::filesystem;
using edgeroute::cli::Corpus;
using edgeroute::cli::CorpusOptions;
using edgeroute::cli::CorpusRow;
using edgeroute::cli::generate_corpus;

namespace {

CorpusOptions small(std::uint64_t seed = 42) {
  CorpusOptions o;
  o.seed = seed;
  o.per_intent = 60;
  o.stream_rows = 600;
  return o;
}

std::string key(const std::string& s) {
  std::string k;
  for (const char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c)))
      k += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return k;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Independent checks of the check digits (not the generator's code).
bool luhn_ok(const std::string& number) {
  std::string digits;
  for (const char c : number) {
    if (c >= '0' && c <= '9') digits += c;
  }
  if (digits.size() < 13) return false;
  int sum = 0;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    int d = digits[digits.size() - 1 - i] - '0';
    if (i % 2 == 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 == 0;
}

bool iban_ok(const std::string& iban) {
  std::string compact;
  for (const char c : iban) {
    if (c != ' ') compact += c;
  }
  if (compact.size() < 15) return false;
  const std::string moved = compact.substr(4) + compact.substr(0, 4);
  std::string number;
  for (const char c : moved) {
    if (c >= 'A' && c <= 'Z') {
      number += std::to_string(c - 'A' + 10);
    } else {
      number += c;
    }
  }
  int rem = 0;
  for (const char c : number) rem = (rem * 10 + (c - '0')) % 97;
  return rem == 1;
}

class CorpusDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(EDGEROUTE_TEST_BINARY_DIR) / "corpus_test" /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
  }
  fs::path dir_;
};

TEST(Corpus, CheckDigitsMatchKnownExamples) {
  EXPECT_EQ(edgeroute::cli::luhn_check_digit("7992739871"), 3);
  EXPECT_EQ(edgeroute::cli::luhn_check_digit("411111111111111"), 1);
  EXPECT_EQ(edgeroute::cli::iban_check_digits("GB", "WEST12345698765432"), "82");
  EXPECT_EQ(edgeroute::cli::iban_check_digits("DE", "370400440532013000"), "89");
}

TEST(Corpus, SameSeedSameBytesOtherSeedOtherBytes) {
  const Corpus a = generate_corpus(small(42));
  const Corpus b = generate_corpus(small(42));
  const Corpus c = generate_corpus(small(43));
  EXPECT_EQ(edgeroute::cli::labeled_csv(a.train), edgeroute::cli::labeled_csv(b.train));
  EXPECT_EQ(edgeroute::cli::labeled_csv(a.val), edgeroute::cli::labeled_csv(b.val));
  EXPECT_EQ(edgeroute::cli::labeled_csv(a.test), edgeroute::cli::labeled_csv(b.test));
  EXPECT_EQ(edgeroute::cli::unlabeled_txt(a), edgeroute::cli::unlabeled_txt(b));
  EXPECT_EQ(edgeroute::cli::stream_csv(a.stream), edgeroute::cli::stream_csv(b.stream));
  EXPECT_NE(edgeroute::cli::labeled_csv(a.train), edgeroute::cli::labeled_csv(c.train));
  EXPECT_NE(edgeroute::cli::stream_csv(a.stream), edgeroute::cli::stream_csv(c.stream));
}

TEST(Corpus, SplitsAreDisjointAndStratified) {
  const Corpus c = generate_corpus(small());
  std::map<std::string, int> owner;  // key -> split
  int split = 0;
  for (const auto* rows : {&c.train, &c.val, &c.test}) {
    for (const CorpusRow& r : *rows) {
      const auto [it, inserted] = owner.emplace(key(r.text), split);
      EXPECT_TRUE(inserted) << "'" << r.text << "' is in split " << it->second << " and split " << split;
    }
    ++split;
  }
  const std::size_t total = c.train.size() + c.val.size() + c.test.size();
  EXPECT_EQ(total, 60 * edgeroute::cli::corpus_intents().size());
  EXPECT_NEAR(static_cast<double>(c.train.size()) / static_cast<double>(total), 0.70, 0.03);
  EXPECT_NEAR(static_cast<double>(c.val.size()) / static_cast<double>(total), 0.15, 0.03);
  // Extra unlabeled texts never repeat a validation or test text.
  for (std::size_t i = c.unlabeled.size() - c.unlabeled_extra; i < c.unlabeled.size(); ++i) {
    const auto it = owner.find(key(c.unlabeled[i]));
    EXPECT_TRUE(it == owner.end()) << c.unlabeled[i];
  }
  EXPECT_GT(c.unlabeled_extra, 0u);
  for (std::size_t i = 0; i < c.train.size(); ++i) EXPECT_EQ(c.unlabeled[i], c.train[i].text);
}

TEST(Corpus, EveryIntentAndSentimentInEverySplit) {
  const Corpus c = generate_corpus(small());
  const auto& intents = edgeroute::cli::corpus_intents();
  EXPECT_GE(intents.size(), 10u);
  for (const auto* rows : {&c.train, &c.val, &c.test}) {
    std::set<std::string> labels;
    std::set<std::string> sentiments;
    for (const CorpusRow& r : *rows) {
      labels.insert(r.label);
      sentiments.insert(r.sentiment);
      EXPECT_EQ(r.text.find('\n'), std::string::npos);
      EXPECT_FALSE(r.text.empty());
    }
    EXPECT_EQ(labels, std::set<std::string>(intents.begin(), intents.end()));
    EXPECT_EQ(sentiments, (std::set<std::string>{"negative", "neutral", "positive"}));
  }
}

TEST(Corpus, TextsHaveNoiseAndVariety) {
  const Corpus c = generate_corpus(small());
  std::size_t lower_only = 0;
  std::size_t multi_sentence = 0;
  std::size_t quoted = 0;
  std::set<std::string> distinct;
  for (const CorpusRow& r : c.train) {
    distinct.insert(r.text);
    const bool has_upper = std::any_of(r.text.begin(), r.text.end(), [](char ch) { return ch >= 'A' && ch <= 'Z'; });
    lower_only += has_upper ? 0 : 1;
    const std::size_t stop = r.text.find_first_of(".?!");
    multi_sentence += (stop != std::string::npos && stop + 2 < r.text.size()) ? 1 : 0;
    quoted += edgeroute::cli::csv_field(r.text).front() == '"' ? 1 : 0;
  }
  EXPECT_EQ(distinct.size(), c.train.size());
  EXPECT_GT(lower_only, c.train.size() / 50);
  EXPECT_GT(multi_sentence, c.train.size() / 5);
  EXPECT_GT(quoted, 0u);
}

TEST(Corpus, StreamHasEveryKindAndValidPersonalData) {
  const Corpus c = generate_corpus(small());
  ASSERT_EQ(c.stream.size(), 600u);
  std::map<std::string, std::size_t> kinds;
  std::map<std::string, std::size_t> pii;
  std::size_t manager = 0;
  for (const edgeroute::cli::StreamRow& r : c.stream) {
    ++kinds[r.kind];
    ASSERT_EQ(r.pii.size(), r.pii_values.size());
    for (std::size_t i = 0; i < r.pii.size(); ++i) {
      ++pii[r.pii[i]];
      EXPECT_NE(r.text.find(r.pii_values[i]), std::string::npos) << r.text;
      if (r.pii[i] == "card") {
        EXPECT_TRUE(luhn_ok(r.pii_values[i])) << r.pii_values[i];
      }
      if (r.pii[i] == "iban") {
        EXPECT_TRUE(iban_ok(r.pii_values[i])) << r.pii_values[i];
      }
      if (r.pii[i] == "email") {
        EXPECT_NE(r.pii_values[i].find('@'), std::string::npos);
      }
    }
    if (r.kind == "off_topic") {
      EXPECT_EQ(r.label, "");
    }
    if (r.kind == "complaint") {
      EXPECT_EQ(r.sentiment, "negative");
      const std::string k = key(r.text);
      manager += (k.find("manager") != std::string::npos || k.find("supervisor") != std::string::npos ||
                  k.find("senior") != std::string::npos || k.find("escalat") != std::string::npos)
                     ? 1
                     : 0;
    }
  }
  EXPECT_GT(kinds["in_domain"], 300u);
  EXPECT_GT(kinds["off_topic"], 20u);
  EXPECT_GT(kinds["complaint"], 20u);
  EXPECT_GT(kinds["pii"], 20u);
  EXPECT_EQ(manager, kinds["complaint"]);
  for (const char* type : {"card", "iban", "email", "account"}) EXPECT_GT(pii[type], 0u) << type;
}

TEST(Corpus, SplitOfUserRowsIsStratifiedAndDropsRepeats) {
  std::vector<CorpusRow> rows;
  for (int i = 0; i < 40; ++i) rows.push_back({"alpha text " + std::to_string(i), "a", ""});
  for (int i = 0; i < 20; ++i) rows.push_back({"beta text " + std::to_string(i), "b", ""});
  rows.push_back({"Alpha text, 3!", "a", ""});  // the same text as "alpha text 3" once normalised
  rows.push_back({"rare one", "c", ""});
  const Corpus c = edgeroute::cli::split_corpus(rows, 5);
  EXPECT_EQ(c.duplicates, 1u);
  EXPECT_FALSE(c.has_sentiment);
  EXPECT_EQ(c.labels, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(c.train.size() + c.val.size() + c.test.size(), 61u);
  std::map<std::string, std::array<int, 3>> counts;
  std::set<std::string> keys;
  int split = 0;
  for (const auto* part : {&c.train, &c.val, &c.test}) {
    for (const CorpusRow& r : *part) {
      ++counts[r.label][static_cast<std::size_t>(split)];
      EXPECT_TRUE(keys.insert(key(r.text)).second) << r.text;
    }
    ++split;
  }
  EXPECT_EQ(counts["a"], (std::array<int, 3>{28, 6, 6}));
  EXPECT_EQ(counts["b"], (std::array<int, 3>{14, 3, 3}));
  EXPECT_EQ(counts["c"], (std::array<int, 3>{1, 0, 0}));
  EXPECT_EQ(c.unlabeled.size(), c.train.size());
  EXPECT_EQ(c.stream.size(), c.test.size());
  EXPECT_EQ(edgeroute::cli::labeled_csv(c.val, c.has_sentiment).substr(0, 11), "text,label\n");
  EXPECT_EQ(edgeroute::cli::labeled_csv(edgeroute::cli::split_corpus(rows, 5).train, false),
            edgeroute::cli::labeled_csv(c.train, false));
}

TEST(Corpus, TooFewPerIntentIsAnError) {
  CorpusOptions o = small();
  o.per_intent = 5;
  EXPECT_THROW(generate_corpus(o), edgeroute::Error);
}

TEST_F(CorpusDir, FilesParseBackAndOverwriteNeedsForce) {
  const Corpus c = generate_corpus(small());
  edgeroute::cli::write_corpus(c, dir_.string(), false);
  const struct {
    const char* file;
    const std::vector<CorpusRow>* rows;
  } splits[] = {{"train.csv", &c.train}, {"val.csv", &c.val}, {"test.csv", &c.test}};
  for (const auto& s : splits) {
    const edgeroute::text::TextTable t = edgeroute::text::read_table((dir_ / s.file).string());
    EXPECT_EQ(t.columns, (std::vector<std::string>{"text", "label", "sentiment"}));
    ASSERT_EQ(t.rows.size(), s.rows->size()) << s.file;
    for (std::size_t i = 0; i < t.rows.size(); ++i) {
      EXPECT_EQ(t.rows[i][0], (*s.rows)[i].text);
      EXPECT_EQ(t.rows[i][1], (*s.rows)[i].label);
      EXPECT_EQ(t.rows[i][2], (*s.rows)[i].sentiment);
    }
  }
  const edgeroute::text::TextTable stream = edgeroute::text::read_table((dir_ / "stream.csv").string());
  EXPECT_EQ(stream.columns, (std::vector<std::string>{"text", "kind", "label", "sentiment", "pii"}));
  ASSERT_EQ(stream.rows.size(), c.stream.size());
  for (std::size_t i = 0; i < stream.rows.size(); ++i) EXPECT_EQ(stream.rows[i][0], c.stream[i].text);
  const edgeroute::text::TextTable lines = edgeroute::text::read_table((dir_ / "unlabeled.txt").string());
  ASSERT_EQ(lines.rows.size(), c.unlabeled.size());
  EXPECT_EQ(lines.rows.back()[0], c.unlabeled.back());

  EXPECT_THROW(edgeroute::cli::write_corpus(c, dir_.string(), false), edgeroute::Error);
  EXPECT_NO_THROW(edgeroute::cli::write_corpus(c, dir_.string(), true));
}

TEST_F(CorpusDir, CommandWritesTheGeneratorsBytesAndRefusesToOverwrite) {
  const std::string bin = EDGEROUTE_BIN;
  const std::string out = (dir_ / "out").string();
  const auto r =
      edgeroute::test::run_command(bin + " corpus --out " + out + " --seed 7 --per-intent 20 --stream-rows 50");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("card_declined"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("stream.csv: 50 rows"), std::string::npos) << r.out;
  CorpusOptions o;
  o.seed = 7;
  o.per_intent = 20;
  o.stream_rows = 50;
  const Corpus c = generate_corpus(o);
  EXPECT_EQ(read_file(dir_ / "out" / "train.csv"), edgeroute::cli::labeled_csv(c.train));
  EXPECT_EQ(read_file(dir_ / "out" / "test.csv"), edgeroute::cli::labeled_csv(c.test));
  EXPECT_EQ(read_file(dir_ / "out" / "stream.csv"), edgeroute::cli::stream_csv(c.stream));
  EXPECT_EQ(read_file(dir_ / "out" / "unlabeled.txt"), edgeroute::cli::unlabeled_txt(c));

  const auto again = edgeroute::test::run_command(bin + " corpus --out " + out + " --per-intent 20");
  EXPECT_EQ(again.code, 1) << again.out;
  EXPECT_NE(again.out.find("--force"), std::string::npos) << again.out;
  EXPECT_EQ(read_file(dir_ / "out" / "train.csv"), edgeroute::cli::labeled_csv(c.train));  // untouched
  const auto forced =
      edgeroute::test::run_command(bin + " corpus --out " + out + " --per-intent 20 --stream-rows 50 --force");
  EXPECT_EQ(forced.code, 0) << forced.out;
  EXPECT_NE(read_file(dir_ / "out" / "train.csv"), edgeroute::cli::labeled_csv(c.train));  // seed 42 now
  EXPECT_EQ(edgeroute::test::run_command(bin + " corpus --out " + out + " --per-intent 3").code, 2);

  // --split lays out a user's file the same way; the sentiment column is kept.
  const auto split = edgeroute::test::run_command(bin + " corpus --split " + (dir_ / "out" / "train.csv").string() +
                                                  " --out " + (dir_ / "split").string());
  ASSERT_EQ(split.code, 0) << split.out;
  for (const std::string_view name : edgeroute::cli::kCorpusFiles) EXPECT_TRUE(fs::exists(dir_ / "split" / name));
  const edgeroute::text::TextTable t = edgeroute::text::read_table((dir_ / "split" / "val.csv").string());
  EXPECT_EQ(t.columns, (std::vector<std::string>{"text", "label", "sentiment"}));
  std::ofstream(dir_ / "bad.csv") << "text,label\nhello,\n";
  const auto bad = edgeroute::test::run_command(bin + " corpus --split " + (dir_ / "bad.csv").string() + " --out " +
                                                (dir_ / "bad").string());
  EXPECT_EQ(bad.code, 1) << bad.out;
  EXPECT_NE(bad.out.find("bad.csv:2: empty label"), std::string::npos) << bad.out;
}

}  // namespace
