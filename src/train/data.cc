#include "edgeroute/train/data.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>

#include <torch/torch.h>

#include "edgeroute/common/error.h"
#include "edgeroute/text/table.h"

namespace edgeroute::train {

namespace {

// Tokenizes column `text_col` (and `label_col` when given) of `table` into `out`.
void append_rows(const text::TextTable& table, const std::string& text_col, const std::string* label_col,
                 const text::Tokenizer& tokenizer, std::int64_t max_len, TokenizedTexts& out) {
  const std::vector<std::string> texts = table.column(text_col);
  std::vector<std::string> labels;
  if (label_col != nullptr) labels = table.column(*label_col);
  text::Workspace ws;
  for (std::size_t r = 0; r < texts.size(); ++r) {
    const std::string origin = table.source + ":" + std::to_string(table.source_lines[r]);
    if (texts[r].empty()) {
      if (label_col == nullptr) continue;
      throw Error(origin + ": empty text in column '" + text_col + "'");
    }
    if (label_col != nullptr && labels[r].empty()) {
      throw Error(origin + ": empty label in column '" + *label_col + "'");
    }
    std::vector<std::int32_t> ids;
    try {
      if (tokenizer.encode(texts[r], ids, ws, max_len)) ++out.truncated;
    } catch (const Error& e) {
      throw Error(origin + ": " + e.what());
    }
    out.ids.push_back(std::move(ids));
    out.origins.push_back(origin);
    if (label_col != nullptr) out.labels.push_back(labels[r]);
  }
}

}  // namespace

TokenizedTexts load_texts(std::span<const std::string> paths, const std::optional<std::string>& column,
                          const text::Tokenizer& tokenizer, std::int64_t max_len) {
  if (paths.empty()) throw Error("no text file given");
  TokenizedTexts out;
  for (const std::string& path : paths) {
    const text::TextTable table = text::read_table(path);
    const std::string col = text::resolve_column(table, column, text::kTextColumnCandidates, "--column");
    append_rows(table, col, nullptr, tokenizer, max_len, out);
  }
  if (out.ids.empty()) throw Error(paths.front() + ": no text to train on (every text cell is empty)");
  return out;
}

TokenizedTexts load_labeled(const std::string& path, const std::optional<std::string>& text_column,
                            const std::optional<std::string>& label_column, const text::Tokenizer& tokenizer,
                            std::int64_t max_len) {
  const text::TextTable table = text::read_table(path);
  if (table.rows.empty()) throw Error(path + ": no rows");
  const std::string text_col = text::resolve_column(table, text_column, text::kTextColumnCandidates, "--text-col");
  const std::string label_col = text::resolve_column(table, label_column, text::kLabelColumnCandidates, "--label-col");
  if (text_col == label_col) throw Error(path + ": the text and label columns are both '" + text_col + "'");
  TokenizedTexts out;
  append_rows(table, text_col, &label_col, tokenizer, max_len, out);
  return out;
}

modelio::LabelMap labels_of(const TokenizedTexts& data, const std::string& source) {
  const std::set<std::string> distinct(data.labels.begin(), data.labels.end());
  if (distinct.size() < 2) {
    throw Error(source + ": a classifier needs at least two classes, the data has " +
                (distinct.empty() ? std::string("none") : "only '" + *distinct.begin() + "'"));
  }
  return modelio::LabelMap::from_labels(std::vector<std::string>(distinct.begin(), distinct.end()));
}

std::vector<std::int32_t> label_ids(const TokenizedTexts& data, const modelio::LabelMap& labels) {
  std::vector<std::int32_t> ids;
  ids.reserve(data.labels.size());
  for (std::size_t r = 0; r < data.labels.size(); ++r) {
    const auto id = labels.id(data.labels[r]);
    if (!id) {
      std::string known;
      for (const auto& name : labels.names()) known += (known.empty() ? "" : ", ") + name;
      if (known.size() > 300) known = known.substr(0, 300) + ", ...";
      throw Error(data.origins[r] + ": label '" + data.labels[r] + "' does not occur in the training data (" +
                  std::to_string(labels.size()) + " labels: " + known + ")");
    }
    ids.push_back(static_cast<std::int32_t>(*id));
  }
  return ids;
}

TokenizedTexts subset(const TokenizedTexts& data, std::span<const std::size_t> rows) {
  TokenizedTexts out;
  for (const std::size_t r : rows) {
    out.ids.push_back(data.ids[r]);
    out.origins.push_back(data.origins[r]);
    if (!data.labels.empty()) out.labels.push_back(data.labels[r]);
  }
  return out;
}

Split stratified_split(std::span<const std::int32_t> labels, double fraction, std::uint64_t seed) {
  if (!(fraction > 0.0 && fraction < 1.0)) throw Error("validation fraction must be in (0, 1)");
  std::map<std::int32_t, std::vector<std::size_t>> by_class;
  for (std::size_t r = 0; r < labels.size(); ++r) by_class[labels[r]].push_back(r);
  std::mt19937_64 rng(seed);
  Split split;
  for (auto& [label, rows] : by_class) {
    std::shuffle(rows.begin(), rows.end(), rng);
    auto take = static_cast<std::size_t>(std::llround(fraction * static_cast<double>(rows.size())));
    if (rows.size() >= 2)
      take = std::clamp<std::size_t>(take, 1, rows.size() - 1);
    else
      take = 0;
    split.held_out.insert(split.held_out.end(), rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(take));
    split.kept.insert(split.kept.end(), rows.begin() + static_cast<std::ptrdiff_t>(take), rows.end());
  }
  std::sort(split.kept.begin(), split.kept.end());
  std::sort(split.held_out.begin(), split.held_out.end());
  return split;
}

Split random_split(std::size_t n, double fraction, std::uint64_t seed) {
  if (!(fraction > 0.0 && fraction < 1.0)) throw Error("held-out fraction must be in (0, 1)");
  std::vector<std::size_t> rows(n);
  std::iota(rows.begin(), rows.end(), std::size_t{0});
  std::mt19937_64 rng(seed);
  std::shuffle(rows.begin(), rows.end(), rng);
  auto take = static_cast<std::size_t>(std::llround(fraction * static_cast<double>(n)));
  take = n >= 2 ? std::clamp<std::size_t>(take, 1, n - 1) : 0;
  Split split;
  split.held_out.assign(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(take));
  split.kept.assign(rows.begin() + static_cast<std::ptrdiff_t>(take), rows.end());
  std::sort(split.kept.begin(), split.kept.end());
  std::sort(split.held_out.begin(), split.held_out.end());
  return split;
}

std::vector<std::vector<std::size_t>> length_bucketed_batches(std::span<const std::vector<std::int32_t>> ids,
                                                              std::int64_t batch, bool shuffle, std::uint64_t seed) {
  if (batch <= 0) throw Error("batch size must be positive");
  const auto b = static_cast<std::size_t>(batch);
  std::vector<std::size_t> order(ids.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  const auto by_length = [&](std::size_t x, std::size_t y) {
    return ids[x].size() != ids[y].size() ? ids[x].size() < ids[y].size() : x < y;
  };
  std::mt19937_64 rng(seed);
  if (shuffle) {
    std::shuffle(order.begin(), order.end(), rng);
    const std::size_t window = b * 64;
    for (std::size_t start = 0; start < order.size(); start += window) {
      const auto end = order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), start + window));
      std::sort(order.begin() + static_cast<std::ptrdiff_t>(start), end, by_length);
    }
  } else {
    std::sort(order.begin(), order.end(), by_length);
  }
  std::vector<std::vector<std::size_t>> batches;
  for (std::size_t start = 0; start < order.size(); start += b) {
    batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(start),
                         order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), start + b)));
  }
  if (shuffle) std::shuffle(batches.begin(), batches.end(), rng);
  return batches;
}

Batch collate(std::span<const std::vector<std::int32_t>> ids, std::span<const std::size_t> rows, std::int32_t pad_id,
              const torch::Device& device) {
  std::size_t cols = 0;
  for (const std::size_t r : rows) cols = std::max(cols, ids[r].size());
  const auto b = static_cast<std::int64_t>(rows.size());
  const auto t = static_cast<std::int64_t>(cols);
  torch::Tensor input = torch::full({b, t}, static_cast<std::int64_t>(pad_id), torch::kLong);
  torch::Tensor mask = torch::zeros({b, t}, torch::kLong);
  auto in = input.accessor<std::int64_t, 2>();
  auto m = mask.accessor<std::int64_t, 2>();
  for (std::int64_t i = 0; i < b; ++i) {
    const auto& row = ids[rows[static_cast<std::size_t>(i)]];
    for (std::size_t j = 0; j < row.size(); ++j) {
      in[i][static_cast<std::int64_t>(j)] = row[j];
      m[i][static_cast<std::int64_t>(j)] = 1;
    }
  }
  return {input.to(device), mask.to(device)};
}

MaskedBatch mask_tokens(std::span<const std::vector<std::int32_t>> ids, std::span<const std::size_t> rows,
                        const text::Tokenizer& tokenizer, std::int64_t vocab_size, double probability,
                        std::mt19937_64& rng, const torch::Device& device) {
  if (!(probability > 0.0 && probability < 1.0)) throw Error("--mlm-prob must be in (0, 1)");
  MaskedBatch out;
  out.batch = collate(ids, rows, tokenizer.pad_id(), torch::kCPU);
  torch::Tensor& input = out.batch.input_ids;
  const std::int64_t t = input.size(1);
  const std::int32_t specials[] = {tokenizer.cls_id(), tokenizer.sep_id(), tokenizer.pad_id(), tokenizer.unk_id(),
                                   tokenizer.mask_id()};
  const auto is_special = [&](std::int32_t id) {
    return std::find(std::begin(specials), std::end(specials), id) != std::end(specials);
  };

  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::uniform_int_distribution<std::int64_t> random_token(0, vocab_size - 1);
  std::vector<std::int64_t> positions;
  std::vector<std::int64_t> targets;
  std::vector<std::int64_t> candidates;
  auto in = input.accessor<std::int64_t, 2>();
  const auto corrupt = [&](std::int64_t i, std::int64_t j) {
    const std::int64_t original = in[i][j];
    positions.push_back(i * t + j);
    targets.push_back(original);
    const double u = unit(rng);
    if (u < 0.8)
      in[i][j] = tokenizer.mask_id();
    else if (u < 0.9)
      in[i][j] = random_token(rng);
  };
  for (std::int64_t i = 0; i < input.size(0); ++i) {
    const auto& row = ids[rows[static_cast<std::size_t>(i)]];
    for (std::size_t j = 0; j < row.size(); ++j) {
      if (is_special(row[j])) continue;
      candidates.push_back(i * t + static_cast<std::int64_t>(j));
      if (unit(rng) < probability) corrupt(i, static_cast<std::int64_t>(j));
    }
  }
  if (positions.empty()) {
    if (candidates.empty()) throw Error("a batch has no maskable token (only special tokens)");
    std::uniform_int_distribution<std::size_t> pick(0, candidates.size() - 1);
    const std::int64_t flat = candidates[pick(rng)];
    corrupt(flat / t, flat % t);
  }
  const auto n = static_cast<std::int64_t>(positions.size());
  out.positions = torch::from_blob(positions.data(), {n}, torch::kLong).clone().to(device);
  out.targets = torch::from_blob(targets.data(), {n}, torch::kLong).clone().to(device);
  out.batch.input_ids = input.to(device);
  out.batch.attention_mask = out.batch.attention_mask.to(device);
  return out;
}

}  // namespace edgeroute::train
