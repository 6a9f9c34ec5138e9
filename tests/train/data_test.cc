// Splits, length-bucketed batches and masked-LM masking (data.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "edgeroute/common/error.h"
#include "edgeroute/train/data.h"

namespace {

using namespace edgeroute::train;

std::vector<std::vector<std::int32_t>> sequences(std::size_t n) {
  std::vector<std::vector<std::int32_t>> ids;
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<std::int32_t> row = {2};  // [CLS]
    for (std::size_t j = 0; j < 1 + (i * 7) % 13; ++j) row.push_back(static_cast<std::int32_t>(10 + (i + j) % 20));
    row.push_back(3);  // [SEP]
    ids.push_back(row);
  }
  return ids;
}

edgeroute::text::Tokenizer tokenizer() {
  std::vector<std::string> vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  for (int i = 5; i < 40; ++i) vocab.push_back("w" + std::to_string(i));
  return edgeroute::text::Tokenizer(edgeroute::text::Vocab::from_tokens(vocab), edgeroute::text::TokenizerConfig{});
}

TEST(StratifiedSplit, HoldsOutTheFractionOfEveryClassAndIsSeeded) {
  std::vector<std::int32_t> labels;
  for (int i = 0; i < 100; ++i) labels.push_back(i % 4 == 0 ? 1 : 0);  // 75 / 25
  labels.push_back(2);                                                 // a class of one row stays in training
  const Split a = stratified_split(labels, 0.2, 7);
  EXPECT_EQ(a.held_out.size(), 20u);  // 15 + 5
  EXPECT_EQ(a.kept.size() + a.held_out.size(), labels.size());
  std::map<std::int32_t, int> held;
  for (const auto r : a.held_out) ++held[labels[r]];
  EXPECT_EQ(held[0], 15);
  EXPECT_EQ(held[1], 5);
  EXPECT_EQ(held.count(2), 0u);
  std::set<std::size_t> all(a.kept.begin(), a.kept.end());
  all.insert(a.held_out.begin(), a.held_out.end());
  EXPECT_EQ(all.size(), labels.size());
  EXPECT_EQ(stratified_split(labels, 0.2, 7).held_out, a.held_out);
  EXPECT_NE(stratified_split(labels, 0.2, 8).held_out, a.held_out);
  EXPECT_THROW(stratified_split(labels, 1.0, 7), edgeroute::Error);
}

TEST(LengthBucketedBatches, CoverEveryRowOnceWithLittlePadding) {
  const auto ids = sequences(1000);
  const auto batches = length_bucketed_batches(ids, 16, true, 3);
  std::vector<int> seen(ids.size(), 0);
  std::size_t padded = 0;
  std::size_t real = 0;
  for (const auto& b : batches) {
    EXPECT_LE(b.size(), 16u);
    std::size_t longest = 0;
    for (const auto r : b) {
      ++seen[r];
      longest = std::max(longest, ids[r].size());
      real += ids[r].size();
    }
    padded += longest * b.size();
  }
  EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](int s) { return s == 1; }));
  // Lengths run from 3 to 15; random batches would pad to ~15 everywhere (~70% padding).
  EXPECT_LT(static_cast<double>(padded - real) / static_cast<double>(padded), 0.05);
  EXPECT_EQ(length_bucketed_batches(ids, 16, true, 3), batches);
  EXPECT_NE(length_bucketed_batches(ids, 16, true, 4), batches);
  const auto sorted = length_bucketed_batches(ids, 16, false, 0);
  EXPECT_LE(ids[sorted.front().front()].size(), ids[sorted.back().back()].size());
}

TEST(Collate, PadsToTheLongestRowOnly) {
  const std::vector<std::vector<std::int32_t>> ids = {{2, 11, 3}, {2, 11, 12, 13, 3}};
  const std::vector<std::size_t> rows = {0, 1};
  const Batch b = collate(ids, rows, 0, torch::kCPU);
  ASSERT_EQ(b.input_ids.sizes(), (std::vector<std::int64_t>{2, 5}));
  EXPECT_EQ(b.input_ids[0][3].item<std::int64_t>(), 0);
  EXPECT_EQ(b.attention_mask.sum().item<std::int64_t>(), 8);
}

TEST(MaskTokens, MasksAboutFifteenPercentNeverSpecialsEightyTenTen) {
  const auto tok = tokenizer();
  const auto ids = sequences(4000);
  std::vector<std::size_t> rows(ids.size());
  for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = i;
  std::mt19937_64 rng(5);
  const MaskedBatch mb = mask_tokens(ids, rows, tok, 40, 0.15, rng, torch::kCPU);
  std::size_t candidates = 0;
  for (const auto& r : ids) candidates += r.size() - 2;
  const auto n = static_cast<double>(mb.positions.size(0));
  EXPECT_NEAR(n / static_cast<double>(candidates), 0.15, 0.01);
  const auto t = mb.batch.input_ids.size(1);
  const auto flat = mb.batch.input_ids.reshape({-1});
  int masked = 0;
  int kept = 0;
  for (std::int64_t i = 0; i < mb.positions.size(0); ++i) {
    const auto p = mb.positions[i].item<std::int64_t>();
    const auto target = mb.targets[i].item<std::int64_t>();
    EXPECT_GE(target, 10) << "a special token was chosen";  // ids 10..29 are words here
    const auto original = ids[static_cast<std::size_t>(p / t)][static_cast<std::size_t>(p % t)];
    EXPECT_EQ(target, original);
    const auto now = flat[p].item<std::int64_t>();
    masked += now == tok.mask_id();
    kept += now == target;
  }
  EXPECT_NEAR(masked / n, 0.8, 0.03);
  EXPECT_NEAR(kept / n, 0.1 + 0.1 / 40, 0.03);  // kept, or replaced by itself
  // [CLS] and [SEP] are never touched.
  EXPECT_TRUE((mb.batch.input_ids.select(1, 0) == tok.cls_id()).all().item<bool>());
}

TEST(MaskTokens, ChoosesAtLeastOneTokenPerBatch) {
  const auto tok = tokenizer();
  const std::vector<std::vector<std::int32_t>> ids = {{2, 11, 3}};
  const std::vector<std::size_t> rows = {0};
  std::mt19937_64 rng(1);
  const MaskedBatch mb = mask_tokens(ids, rows, tok, 40, 0.01, rng, torch::kCPU);
  EXPECT_EQ(mb.positions.size(0), 1);
  EXPECT_EQ(mb.targets[0].item<std::int64_t>(), 11);
  const std::vector<std::vector<std::int32_t>> only_specials = {{2, 3}};
  EXPECT_THROW(mask_tokens(only_specials, rows, tok, 40, 0.15, rng, torch::kCPU), edgeroute::Error);
}

}  // namespace
