// edgeroute eval: accuracy, macro-F1, per-class figures, the largest
// confusions and calibration (before and after the model's stored
// temperature) of a classifier on labeled data, through the edge runtime.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "edgeroute/common/error.h"
#include "edgeroute/engine/classifier.h"
#include "edgeroute/eval/metrics.h"
#include "edgeroute/text/table.h"
#include "edgeroute_commit.h"

namespace edgeroute::cli {

namespace {

struct EvalOptions {
  std::string model;
  std::string data;
  std::optional<std::string> text_column;
  std::optional<std::string> label_column;
  engine::Precision precision = engine::Precision::kFp32;
  std::int64_t max_len = 0;
  std::size_t batch = 32;
  text::Utf8Policy invalid_utf8 = text::Utf8Policy::kStrict;
  bool json = false;
  std::string logits_out;
};

struct LabeledData {
  std::vector<std::string> texts;
  std::vector<std::int32_t> labels;  // model label ids
  std::vector<std::size_t> lines;    // source line of each row
};

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

LabeledData read_labeled(const EvalOptions& o, const modelio::LabelMap& names) {
  const text::TextTable table = text::read_table(o.data);
  if (table.rows.empty()) throw Error(o.data + ": no rows to evaluate");
  const std::string tc = text::resolve_column(table, o.text_column, text::kTextColumnCandidates, "--text-col");
  const std::string lc = text::resolve_column(table, o.label_column, text::kLabelColumnCandidates, "--label-col");
  LabeledData d;
  d.texts = table.column(tc);
  d.lines = table.source_lines;
  const std::vector<std::string> label_names = table.column(lc);
  d.labels.reserve(label_names.size());
  for (std::size_t i = 0; i < label_names.size(); ++i) {
    const auto id = names.id(label_names[i]);
    if (!id) {
      throw Error(o.data + ":" + std::to_string(d.lines[i]) + ": label '" + label_names[i] +
                  "' is not one of the model's labels (" + join(names.names()) + ")");
    }
    d.labels.push_back(static_cast<std::int32_t>(*id));
  }
  return d;
}

// A batch failed: classifies its rows one at a time, in input order, so that
// the message names the line of the first row that fails on its own.
[[noreturn]] void rethrow_at_row(const engine::Classifier& c, const EvalOptions& o, const LabeledData& d,
                                 std::vector<std::size_t> rows, const Error& batch_error) {
  std::sort(rows.begin(), rows.end());
  engine::Session session;
  std::vector<engine::Prediction> preds;
  for (const std::size_t r : rows) {
    const std::string_view text = d.texts[r];
    try {
      c.classify(std::span(&text, 1), session, preds);
    } catch (const Error& e) {
      throw Error(o.data + ":" + std::to_string(d.lines[r]) + ": " + e.what());
    }
  }
  throw Error(o.data + ": " + batch_error.what());
}

void run_eval(const EvalOptions& o) {
  engine::ClassifierOptions copts;
  copts.precision = o.precision;
  copts.max_len = o.max_len;
  copts.utf8 = o.invalid_utf8;
  const engine::Classifier c = engine::Classifier::load(o.model, copts);
  const LabeledData d = read_labeled(o, c.labels());
  const std::size_t n = d.texts.size();
  const auto k = static_cast<std::size_t>(c.labels().size());

  // Length-bucketed batches: rows sorted by byte length pack texts of similar
  // token counts together; results go back to input order.
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return d.texts[a].size() < d.texts[b].size(); });
  std::vector<float> logits(n * k);
  std::size_t truncated = 0;
  double seconds = 0.0;
  engine::Session session;
  std::vector<engine::Prediction> preds;
  std::vector<std::string_view> views;
  for (std::size_t start = 0; start < n; start += o.batch) {
    const std::vector<std::size_t> rows(order.begin() + static_cast<std::ptrdiff_t>(start),
                                        order.begin() + static_cast<std::ptrdiff_t>(std::min(n, start + o.batch)));
    views.clear();
    for (const std::size_t r : rows) views.emplace_back(d.texts[r]);
    const auto t0 = std::chrono::steady_clock::now();
    try {
      c.classify(views, session, preds);
    } catch (const Error& e) {
      rethrow_at_row(c, o, d, rows, e);
    }
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (std::size_t i = 0; i < rows.size(); ++i) {
      std::copy(preds[i].logits.begin(), preds[i].logits.end(),
                logits.begin() + static_cast<std::ptrdiff_t>(rows[i] * k));
      truncated += preds[i].truncated ? 1 : 0;
    }
  }

  eval::Report report = eval::evaluate(logits, d.labels, c.labels(), c.temperature());
  report.examples_per_second = seconds > 0.0 ? static_cast<double>(n) / seconds : 0.0;

  if (!o.logits_out.empty()) {
    std::ofstream out(o.logits_out, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(o.logits_out + ": cannot open for writing");
    for (std::size_t r = 0; r < n; ++r) {
      const auto first = logits.begin() + static_cast<std::ptrdiff_t>(r * k);
      const auto best = std::max_element(first, first + static_cast<std::ptrdiff_t>(k)) - first;
      const nlohmann::ordered_json line = {
          {"row", r},
          {"logits", std::vector<float>(first, first + static_cast<std::ptrdiff_t>(k))},
          {"label", c.labels().name(d.labels[r])},
          {"predicted", c.labels().name(best)}};
      out << line.dump() << '\n';
    }
    out.close();
    if (!out) throw Error(o.logits_out + ": write failed");
  }

  const std::int64_t max_len =
      std::min(o.max_len > 0 ? o.max_len : c.tokenizer().config().model_max_length, c.config().max_position_embeddings);
  if (truncated > 0) {
    std::cerr << "edgeroute eval: " << truncated << " of " << n << " texts were truncated to " << max_len
              << " tokens\n";
  }
  const std::string precision = c.encoder().precision() == engine::Precision::kInt8 ? "int8" : "fp32";
  if (o.json) {
    nlohmann::json j = eval::to_json(report);
    j["model"] = o.model;
    j["data"] = o.data;
    j["precision"] = precision;
    j["threads"] = 1;
    j["max_len"] = max_len;
    j["truncated"] = truncated;
    j["commit"] = EDGEROUTE_COMMIT;
    std::cout << j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    return;
  }
  std::printf("model %s (%s, 1 thread), data %s, commit %s\n\n%s", o.model.c_str(), precision.c_str(), o.data.c_str(),
              EDGEROUTE_COMMIT, eval::to_text(report).c_str());
}

}  // namespace

void register_eval(CLI::App& app) {
  auto o = std::make_shared<EvalOptions>();
  CLI::App* cmd = app.add_subcommand(
      "eval", "Accuracy, macro-F1, per-class figures, confusions and calibration of a classifier on labeled data");
  cmd->add_option("--model", o->model, "Hugging Face classifier directory or .edge file")
      ->required()
      ->check(CLI::ExistingPath);
  cmd->add_option("--data", o->data, "Labeled data (.csv/.tsv/.jsonl) with a text and a label column")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--text-col", o->text_column, "Text column (default: auto-detected)");
  cmd->add_option("--label-col", o->label_column, "Label column (default: auto-detected)");
  const std::map<std::string, engine::Precision> precisions{{"int8", engine::Precision::kInt8},
                                                            {"fp32", engine::Precision::kFp32}};
  cmd->add_option("--precision", o->precision, "fp32 (default) or int8 for a directory; an .edge file runs as stored")
      ->transform(CLI::CheckedTransformer(precisions, CLI::ignore_case));
  cmd->add_option("--max-len", o->max_len, "Truncate to N tokens (default: the model's maximum)")
      ->check(CLI::Range(std::int64_t{2}, std::int64_t{1} << 20));
  cmd->add_option("--batch", o->batch, "Texts per encoder call (rows sorted by length)")->check(CLI::Range(1, 4096));
  const std::map<std::string, text::Utf8Policy> policies{{"strict", text::Utf8Policy::kStrict},
                                                         {"replace", text::Utf8Policy::kReplace}};
  cmd->add_option("--invalid-utf8", o->invalid_utf8,
                  "Bytes that are not UTF-8: 'strict' stops with an error naming the line, "
                  "'replace' substitutes U+FFFD")
      ->transform(CLI::CheckedTransformer(policies, CLI::ignore_case));
  cmd->add_flag("--json", o->json, "Print the report as one JSON object");
  cmd->add_option("--logits", o->logits_out,
                  "Also write one JSON line per row, in input order: {\"row\", \"logits\", \"label\", \"predicted\"}");
  cmd->callback([o]() { run_eval(*o); });
}

}  // namespace edgeroute::cli
