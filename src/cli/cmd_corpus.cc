// edgeroute corpus: writes the synthetic customer-support corpus (labeled
// splits, unlabeled text, a query stream) that `make demo` uses when no real
// data is given, or with --split lays out a user's labeled file the same way.
// The generator lives in corpus.cc; see docs/demo-data.md.
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "commands.h"
#include "corpus.h"
#include "edgeroute/common/error.h"
#include "edgeroute/text/table.h"

namespace edgeroute::cli {

namespace {

struct CorpusCommandOptions {
  std::string out;
  CorpusOptions corpus;
  bool force = false;
  std::string split;
  std::optional<std::string> text_column;
  std::optional<std::string> label_column;
};

void run_split(const CorpusCommandOptions& o) {
  const text::TextTable table = text::read_table(o.split);
  if (table.rows.empty()) throw Error(o.split + ": no rows to split");
  const std::string tc = text::resolve_column(table, o.text_column, text::kTextColumnCandidates, "--text-col");
  const std::string lc = text::resolve_column(table, o.label_column, text::kLabelColumnCandidates, "--label-col");
  const std::size_t ti = table.column_index(tc);
  const std::size_t li = table.column_index(lc);
  std::optional<std::size_t> si;
  for (std::size_t c = 0; c < table.columns.size(); ++c) {
    if (table.columns[c] == "sentiment" && c != li) si = c;
  }
  std::vector<CorpusRow> rows;
  rows.reserve(table.rows.size());
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const auto& cells = table.rows[r];
    if (cells[li].empty()) throw Error(o.split + ":" + std::to_string(table.source_lines[r]) + ": empty label");
    rows.push_back({cells[ti], cells[li], si ? cells[*si] : std::string()});
  }
  const Corpus corpus = split_corpus(std::move(rows), o.corpus.seed);
  write_corpus(corpus, o.out, o.force);
  std::cout << "edgeroute corpus: split " << o.split << " into " << o.out << " (seed " << o.corpus.seed << ", "
            << corpus.labels.size() << " labels, " << corpus.duplicates << " repeated texts dropped)\n\n"
            << corpus_summary(corpus);
}

void run_corpus(const CorpusCommandOptions& o) {
  if (!o.split.empty()) {
    run_split(o);
    return;
  }
  const Corpus corpus = generate_corpus(o.corpus);
  write_corpus(corpus, o.out, o.force);
  std::cout << "edgeroute corpus: wrote " << o.out << " (seed " << o.corpus.seed << ", " << corpus_intents().size()
            << " intents, " << o.corpus.per_intent << " texts per intent before the 70/15/15 split)\n\n"
            << corpus_summary(corpus);
}

}  // namespace

void register_corpus(CLI::App& app) {
  auto o = std::make_shared<CorpusCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "corpus", "Write a synthetic customer-support corpus (train/val/test.csv, unlabeled.txt, stream.csv)");
  cmd->add_option("--out", o->out, "Directory to write (created when missing)")->required();
  cmd->add_option("--seed", o->corpus.seed, "Seed; the same seed gives the same bytes")->capture_default_str();
  cmd->add_option("--per-intent", o->corpus.per_intent, "Labeled texts per intent before the split")
      ->check(CLI::Range(std::size_t{10}, std::size_t{100000}))
      ->capture_default_str();
  cmd->add_option("--stream-rows", o->corpus.stream_rows, "Rows of stream.csv")
      ->check(CLI::Range(std::size_t{0}, std::size_t{10000000}))
      ->capture_default_str();
  cmd->add_flag("--force", o->force, "Overwrite the files when they exist");
  cmd->add_option("--split", o->split,
                  "Instead of generating, split this labeled file (.csv/.tsv/.jsonl) 70/15/15 by label into the same "
                  "layout (unlabeled.txt = train texts, stream.csv = test rows)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--text-col", o->text_column, "With --split: text column (default: auto-detected)");
  cmd->add_option("--label-col", o->label_column, "With --split: label column (default: auto-detected)");
  cmd->callback([o]() { run_corpus(*o); });
}

}  // namespace edgeroute::cli
