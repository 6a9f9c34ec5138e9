// Training data for edgeroute_train: reading labeled and unlabeled text
// files into token ids, stratified validation splits, length-bucketed
// batches with dynamic padding, and masked-LM masking.
//
// Files are anything edgeroute::text::read_table reads (CSV/TSV with a
// header, JSON Lines, plain lines); columns are auto-detected from the common
// names (text/transcript/utterance/...; label/category/sentiment/intent/...)
// unless named. Texts are tokenized exactly as Hugging Face's
// BertTokenizerFast does (edgeroute::text::Tokenizer), truncated to max_len
// ids; invalid UTF-8 is an Error naming file:line.
//
// Randomness comes only from the seeds passed in (std::mt19937_64), so the
// same seed gives the same splits, batches and masks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <torch/types.h>

#include "edgeroute/modelio/label_map.h"
#include "edgeroute/text/tokenizer.h"

namespace edgeroute::train {

struct TokenizedTexts {
  std::vector<std::vector<std::int32_t>> ids;
  std::vector<std::string> labels;   // raw label per row (labeled files only)
  std::vector<std::string> origins;  // "file:line" per row, for messages
  std::int64_t truncated = 0;        // rows cut to max_len
};

// Unlabeled text: the text column of every file, concatenated in order;
// empty cells are skipped. Error when nothing is left.
TokenizedTexts load_texts(std::span<const std::string> paths, const std::optional<std::string>& column,
                          const text::Tokenizer& tokenizer, std::int64_t max_len);

// Labeled text: text and label columns of one file. Empty texts or labels
// are an Error naming the line; an empty file is an Error.
TokenizedTexts load_labeled(const std::string& path, const std::optional<std::string>& text_column,
                            const std::optional<std::string>& label_column, const text::Tokenizer& tokenizer,
                            std::int64_t max_len);

// The sorted distinct labels of `data`. Error (naming `source`) with fewer
// than two classes.
modelio::LabelMap labels_of(const TokenizedTexts& data, const std::string& source);

// Label ids of every row under `labels`. A label `labels` lacks is an Error
// naming it, its file:line and the known labels.
std::vector<std::int32_t> label_ids(const TokenizedTexts& data, const modelio::LabelMap& labels);

// Keeps the rows in `rows` (in that order).
TokenizedTexts subset(const TokenizedTexts& data, std::span<const std::size_t> rows);

// A stratified split: from every class, round(fraction * count) rows go to
// `held_out` (at least one when the class has two or more rows, never all of
// them), chosen by a seeded shuffle. Both lists are sorted.
struct Split {
  std::vector<std::size_t> kept;
  std::vector<std::size_t> held_out;
};
Split stratified_split(std::span<const std::int32_t> labels, double fraction, std::uint64_t seed);
// The same without classes: round(fraction * n) rows (at least one when
// n >= 2) held out.
Split random_split(std::size_t n, double fraction, std::uint64_t seed);

// Batches of at most `batch` row indices. With `shuffle`, rows are shuffled,
// grouped into windows of 64 batches, sorted by length inside each window and
// cut into batches whose order is shuffled again: similar lengths share a
// batch (little padding), yet every epoch differs. Without `shuffle`, rows
// are sorted by length (evaluation). Deterministic for a given seed.
std::vector<std::vector<std::size_t>> length_bucketed_batches(std::span<const std::vector<std::int32_t>> ids,
                                                              std::int64_t batch, bool shuffle, std::uint64_t seed);

// Right-padded int64 ids and attention mask [B, T], T the longest row.
struct Batch {
  torch::Tensor input_ids;
  torch::Tensor attention_mask;
};
Batch collate(std::span<const std::vector<std::int32_t>> ids, std::span<const std::size_t> rows, std::int32_t pad_id,
              const torch::Device& device);

// BERT's masked-LM corruption: every token that is not special
// ([CLS], [SEP], [PAD], [UNK], [MASK]) is chosen with `probability`; a chosen
// token becomes [MASK] (80%), a random vocabulary token (10%) or stays (10%).
// At least one token per batch is chosen. `positions` are the flat indices
// (row * T + t) of the chosen tokens and `targets` their original ids, so the
// loss needs the vocabulary projection only there.
struct MaskedBatch {
  Batch batch;
  torch::Tensor positions;  // [N] int64
  torch::Tensor targets;    // [N] int64
};
MaskedBatch mask_tokens(std::span<const std::vector<std::int32_t>> ids, std::span<const std::size_t> rows,
                        const text::Tokenizer& tokenizer, std::int64_t vocab_size, double probability,
                        std::mt19937_64& rng, const torch::Device& device);

}  // namespace edgeroute::train
