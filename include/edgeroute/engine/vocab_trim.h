// Vocabulary trimming for .edge files: drop word-embedding rows that the
// tokenizer can never produce for the target text. Level: model loading.
//
//   unused  "[unusedN]" placeholders. BERT's basic tokenizer splits "[" and
//           "]" off as punctuation, and only the special tokens are matched
//           whole, so no input yields them: the trimmed model gives identical
//           results on every input.
//   latin   also tokens with a letter of a non-Latin script (Greek, Cyrillic,
//           Hebrew, Arabic, Indic, Thai, CJK, kana, Hangul, ...; the ranges are
//           in vocab_trim.cc). Text in Latin script never reaches them (word
//           pieces only match characters of the word), so results on such
//           text are identical; a word containing one of those letters
//           becomes [UNK], as an out-of-vocabulary word does.
//
// Trimming renumbers token ids (special tokens included); the .edge file
// carries its own vocabulary, so every reader sees consistent ids.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "edgeroute/engine/weights.h"
#include "edgeroute/text/tokenizer.h"

namespace edgeroute::engine {

enum class VocabTrim : std::uint8_t { kNone, kUnused, kLatin };

// "none", "unused" or "latin"; throws edgeroute::Error otherwise.
VocabTrim parse_vocab_trim(std::string_view name);
const char* vocab_trim_name(VocabTrim trim);

// True when `cp` is a letter of a script other than Latin (the `latin` rule).
bool is_non_latin_script(char32_t cp);

// Ids of the tokens to keep, ascending. The special tokens of `config` are
// always kept.
std::vector<std::int64_t> kept_tokens(const text::Vocab& vocab, const text::TokenizerConfig& config, VocabTrim trim);

// A weight source whose embeddings.word.weight holds only the rows `kept`
// lists, in that order; every other tensor passes through.
class TrimmedWeights final : public WeightSource {
 public:
  TrimmedWeights(const WeightSource& base, std::vector<std::int64_t> kept, std::int64_t full_rows)
      : base_(base), kept_(std::move(kept)), full_rows_(full_rows) {}
  const std::string& source() const override { return base_.source(); }
  bool has(const std::string& canonical) const override { return base_.has(canonical); }
  std::vector<float> vector(const std::string& canonical, const std::vector<std::int64_t>& shape) const override;
  StoredMatrix matrix(const std::string& canonical, std::int64_t rows, std::int64_t cols) const override;

 private:
  const WeightSource& base_;
  std::vector<std::int64_t> kept_;
  std::int64_t full_rows_;
};

}  // namespace edgeroute::engine
