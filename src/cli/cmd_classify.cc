// edgeroute classify: label, confidence and probabilities for each text, from
// a Hugging Face classifier directory through the edge runtime.
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "edgeroute/common/error.h"
#include "edgeroute/engine/classifier.h"
#include "edgeroute/text/table.h"

namespace edgeroute::cli {

namespace {

struct ClassifyOptions {
  std::string model;
  std::string input;
  std::vector<std::string> texts;
  std::optional<std::string> column;
  engine::Precision precision = engine::Precision::kInt8;
  std::int64_t max_len = 0;
  bool json = false;
  std::size_t batch = 32;
};

void print_prediction(const engine::Classifier& c, std::string_view text, const engine::Prediction& p, bool json) {
  const auto& labels = c.labels();
  if (json) {
    nlohmann::json probs = nlohmann::json::object();
    for (std::size_t j = 0; j < p.probabilities.size(); ++j) {
      probs[labels.name(static_cast<std::int64_t>(j))] = p.probabilities[j];
    }
    const nlohmann::json out = {{"text", std::string(text)},
                                {"label", labels.name(p.label)},
                                {"confidence", p.confidence},
                                {"probabilities", probs},
                                {"tokens", p.tokens},
                                {"truncated", p.truncated}};
    std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    return;
  }
  std::printf("%-24s %.4f  %.*s\n", labels.name(p.label).c_str(), static_cast<double>(p.confidence),
              static_cast<int>(std::min<std::size_t>(text.size(), 80)), text.data());
}

void run_classify(const ClassifyOptions& o) {
  if (o.input.empty() == o.texts.empty()) throw Error("classify: give either --input FILE or TEXT arguments");
  engine::ClassifierOptions copts;
  copts.precision = o.precision;
  copts.max_len = o.max_len;
  const engine::Classifier c = engine::Classifier::load(o.model, copts);
  std::vector<std::string> texts = o.texts;
  std::vector<std::size_t> lines;
  if (!o.input.empty()) {
    const text::TextTable table = text::read_table(o.input);
    const std::string column = text::resolve_column(table, o.column, text::kTextColumnCandidates, "--column");
    texts = table.column(column);
    lines = table.source_lines;
  }
  engine::Session session;
  std::vector<engine::Prediction> preds;
  for (std::size_t start = 0; start < texts.size(); start += o.batch) {
    const std::size_t end = std::min(texts.size(), start + o.batch);
    std::vector<std::string_view> views(texts.begin() + static_cast<std::ptrdiff_t>(start),
                                        texts.begin() + static_cast<std::ptrdiff_t>(end));
    try {
      c.classify(views, session, preds);
    } catch (const Error& e) {
      const std::string where = lines.empty() ? "argument" : o.input + ":" + std::to_string(lines[start]);
      throw Error(where + " (batch starting there): " + e.what());
    }
    for (std::size_t i = 0; i < preds.size(); ++i) print_prediction(c, views[i], preds[i], o.json);
  }
}

}  // namespace

void register_classify(CLI::App& app) {
  auto opts = std::make_shared<ClassifyOptions>();
  CLI::App* cmd = app.add_subcommand("classify", "Label texts with a classifier through the edge runtime");
  cmd->add_option("--model", opts->model, "Hugging Face classifier directory or .edge file")
      ->required()
      ->check(CLI::ExistingPath);
  cmd->add_option("--input", opts->input, "Data file (.csv/.tsv/.jsonl or plain lines)")->check(CLI::ExistingFile);
  cmd->add_option("texts", opts->texts, "Texts to classify (instead of --input)");
  cmd->add_option("--column", opts->column, "Text column of --input (default: auto-detected)");
  const std::map<std::string, engine::Precision> precisions{{"int8", engine::Precision::kInt8},
                                                            {"fp32", engine::Precision::kFp32}};
  cmd->add_option("--precision", opts->precision, "int8 (default) or fp32")
      ->transform(CLI::CheckedTransformer(precisions, CLI::ignore_case));
  cmd->add_option("--max-len", opts->max_len, "Truncate to N tokens (default: the model's maximum)")
      ->check(CLI::Range(std::int64_t{2}, std::int64_t{1} << 20));
  cmd->add_option("--batch", opts->batch, "Texts per encoder call")->check(CLI::Range(1, 4096));
  cmd->add_flag("--json", opts->json, "One JSON object per text");
  cmd->callback([opts]() { run_classify(*opts); });
}

}  // namespace edgeroute::cli
