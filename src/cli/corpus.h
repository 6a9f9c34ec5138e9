// The synthetic customer-support corpus behind `edgeroute corpus` (and
// `make demo` when no real data is given): labeled train/val/test splits,
// unlabeled text for masked-LM adaptation and a realistic query stream with
// off-topic chatter, angry complaints and personal data for the PII path.
//
// Everything is written by us from templates, slot fillers and a seeded PRNG;
// the output is byte-identical for a seed on every platform (no standard
// distribution is used: integers are derived from std::mt19937_64 directly).
// See docs/demo-data.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace edgeroute::cli {

struct CorpusOptions {
  std::uint64_t seed = 42;
  // Labeled texts generated per intent before the split (at least 10).
  std::size_t per_intent = 300;
  // Rows of stream.csv.
  std::size_t stream_rows = 2000;
};

struct CorpusRow {
  std::string text;
  std::string label;      // one of corpus_intents()
  std::string sentiment;  // "positive", "neutral" or "negative"
};

struct StreamRow {
  std::string text;
  std::string kind;       // "in_domain", "off_topic", "complaint" or "pii"
  std::string label;      // the intent; empty for off_topic
  std::string sentiment;  // "positive", "neutral" or "negative"
  // PII types in the text, in order of appearance: "card", "iban", "email",
  // "account", "phone" (written ';'-joined in the `pii` column).
  std::vector<std::string> pii;
  // The PII values exactly as they appear in `text`, parallel to `pii`
  // (in memory only, for tests and callers).
  std::vector<std::string> pii_values;
};

struct Corpus {
  // Labels in summary order: corpus_intents() for a generated corpus, order
  // of first appearance for split_corpus.
  std::vector<std::string> labels;
  // Whether the CSV files have the sentiment column.
  bool has_sentiment = true;
  // split_corpus: rows dropped because their text repeats an earlier one.
  std::size_t duplicates = 0;
  std::vector<CorpusRow> train, val, test;
  // unlabeled.txt: every train text, then extra texts that are in no split.
  std::vector<std::string> unlabeled;
  std::size_t unlabeled_extra = 0;
  std::vector<StreamRow> stream;
};

// The intents, in the order the summary lists them.
const std::vector<std::string>& corpus_intents();

// Generates the corpus. Every text is one line, and no text (after lower-casing
// and dropping everything but letters and digits) is in two splits. Throws
// edgeroute::Error for per_intent < 10 or when the templates cannot give
// per_intent distinct texts for an intent.
Corpus generate_corpus(const CorpusOptions& options);

// Splits a user's labeled rows instead (`edgeroute corpus --split FILE`): texts
// that repeat an earlier one (compared as generate_corpus compares them) are
// dropped, then the same stratified 70/15/15 split (a label with fewer than 3
// rows goes to train only); unlabeled = the train texts; the stream = the
// test rows, kind "in_domain". The sentiment column is written only when some
// row has a sentiment.
Corpus split_corpus(std::vector<CorpusRow> rows, std::uint64_t seed);

// File contents, as written by write_corpus.
std::string csv_field(std::string_view value);  // RFC 4180 quoting when needed
// text,label,sentiment (text,label without sentiment).
std::string labeled_csv(const std::vector<CorpusRow>& rows, bool with_sentiment = true);
std::string stream_csv(const std::vector<StreamRow>& rows);  // text,kind,label,sentiment,pii
std::string unlabeled_txt(const Corpus& corpus);

// The files write_corpus creates in its directory.
inline constexpr std::string_view kCorpusFiles[] = {"train.csv", "val.csv", "test.csv", "unlabeled.txt", "stream.csv"};

// Writes the five files into `dir` (created when missing). Without `force`,
// throws edgeroute::Error naming the first of them that already exists and
// writes nothing.
void write_corpus(const Corpus& corpus, const std::string& dir, bool force);

// Counts per split and intent, unlabeled and stream figures, for the terminal.
std::string corpus_summary(const Corpus& corpus);

// Check digits, exposed for tests. luhn_check_digit takes the digits without
// the check digit; iban_check_digits takes the country code and the BBAN and
// returns the two check digits ("00".."99").
int luhn_check_digit(std::string_view payload_digits);
std::string iban_check_digits(std::string_view country, std::string_view bban);

}  // namespace edgeroute::cli
