// BERT WordPiece tokenizer whose token ids are identical to Hugging Face's
// BertTokenizerFast for single sequences (no pairs).
//
// Pipeline, as Hugging Face runs it:
//   1. special tokens written literally in the text ("[SEP]", "[MASK]", ...)
//      are split out first and map to their ids (case-sensitive, leftmost
//      longest match, never normalized);
//   2. the rest is normalized (normalizer.h) and split on whitespace and
//      punctuation (each punctuation character is its own word);
//   3. each word of more than max_input_chars_per_word (100) code points is
//      [UNK]; otherwise it is split greedily, longest match first, into vocab
//      pieces, continuation pieces carrying "##"; a word with any unmatched
//      rest becomes a single [UNK];
//   4. [CLS] ... [SEP], truncated on the right to max_len ids in total.
// Input bytes that are not UTF-8 follow the caller's Utf8Policy (utf8.h).
//
// Thread-safety: a Tokenizer is immutable after construction and may be
// shared; each thread passes its own Workspace to encode().
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "edgeroute/text/normalizer.h"
#include "edgeroute/text/utf8.h"
#include "edgeroute/text/vocab.h"

namespace edgeroute::text {

struct TokenizerConfig {
  BertNormalizerOptions normalizer;
  std::string unk_token = "[UNK]";
  std::string cls_token = "[CLS]";
  std::string sep_token = "[SEP]";
  std::string pad_token = "[PAD]";
  std::string mask_token = "[MASK]";
  std::string continuing_prefix = "##";
  std::int64_t max_input_chars_per_word = 100;
  // Default truncation length: tokenizer_config.json's model_max_length,
  // capped by config.json's max_position_embeddings when both are known.
  std::int64_t model_max_length = 512;
};

// Reads DIR/tokenizer_config.json (optional; Hugging Face defaults when
// absent) and DIR/config.json (optional; for max_position_embeddings).
// do_lower_case, strip_accents (null = follow do_lower_case),
// tokenize_chinese_chars, model_max_length and the special tokens are read;
// a tokenizer_class other than (DistilBert|Bert)Tokenizer[Fast] is an error.
TokenizerConfig load_tokenizer_config(const std::string& dir);

// Per-thread scratch space; reuse it across calls to avoid allocation.
struct Workspace {
  std::u32string decoded;
  std::u32string normalized;
  std::u32string scratch;
  std::string word;
  std::vector<std::uint32_t> char_ends;
};

class Tokenizer {
 public:
  Tokenizer(Vocab vocab, TokenizerConfig config);
  // vocab.txt + tokenizer_config.json + config.json from a Hugging Face
  // model directory.
  static Tokenizer from_pretrained(const std::string& dir);

  // Appends [CLS] pieces [SEP] for `text` to `ids` (not cleared), at most
  // `max_len` ids (<= 0: config().model_max_length; must otherwise be >= 2).
  // Returns true when the text was truncated.
  bool encode(std::string_view text, std::vector<std::int32_t>& ids, Workspace& ws, std::int64_t max_len = 0,
              Utf8Policy policy = Utf8Policy::kStrict) const;
  // Convenience form that allocates.
  std::vector<std::int32_t> encode(std::string_view text, std::int64_t max_len = 0,
                                   Utf8Policy policy = Utf8Policy::kStrict) const;
  // The WordPiece tokens of `text` without [CLS]/[SEP] and without truncation.
  std::vector<std::string> tokenize(std::string_view text, Utf8Policy policy = Utf8Policy::kStrict) const;

  const Vocab& vocab() const { return vocab_; }
  const TokenizerConfig& config() const { return config_; }
  std::int32_t cls_id() const { return cls_id_; }
  std::int32_t sep_id() const { return sep_id_; }
  std::int32_t pad_id() const { return pad_id_; }
  std::int32_t unk_id() const { return unk_id_; }
  std::int32_t mask_id() const { return mask_id_; }

 private:
  struct Special {
    std::string text;
    std::int32_t id;
  };

  // Appends the pieces of one normalized segment; stops once `limit` ids
  // have been appended past `base` and returns false if it stopped early.
  bool encode_segment(std::string_view segment, std::vector<std::int32_t>& ids, std::size_t limit, Workspace& ws,
                      Utf8Policy policy) const;
  void encode_word(std::vector<std::int32_t>& ids, Workspace& ws) const;
  // Length of the special token that starts at text[pos], and its id.
  const Special* special_at(std::string_view text, std::size_t pos) const;

  Vocab vocab_;
  TokenizerConfig config_;
  std::vector<Special> specials_;  // longest first
  bool special_first_byte_[256] = {};
  std::int32_t cls_id_ = 0;
  std::int32_t sep_id_ = 0;
  std::int32_t pad_id_ = 0;
  std::int32_t unk_id_ = 0;
  std::int32_t mask_id_ = 0;
};

// A right-padded batch: ids and attention mask, row-major [rows, cols], cols =
// the longest sequence (never a fixed length).
struct TokenBatch {
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::vector<std::int32_t> ids;
  std::vector<std::int32_t> attention_mask;
};
TokenBatch pad_batch(std::span<const std::vector<std::int32_t>> sequences, std::int32_t pad_id);

}  // namespace edgeroute::text
