// edgeroute compress: FP32 classifier directory -> INT8 .edge file, checked
// against labeled data when --check is given.
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "edgeroute/engine/compress.h"

namespace edgeroute::cli {

namespace {

void print_report(const engine::CompressOptions& o, const engine::CompressReport& r) {
  const double mb = 1024.0 * 1024.0;
  std::printf("\nsize: %.2f MiB -> %.2f MiB (%.1f%% smaller)\n", static_cast<double>(r.source_bytes) / mb,
              static_cast<double>(r.edge_bytes) / mb,
              100.0 * (1.0 - static_cast<double>(r.edge_bytes) / static_cast<double>(r.source_bytes)));
  if (r.vocab_rows != r.vocab_rows_source) {
    std::printf("vocabulary: %lld of %lld tokens kept (--trim-vocab %s)\n", static_cast<long long>(r.vocab_rows),
                static_cast<long long>(r.vocab_rows_source), engine::vocab_trim_name(o.trim));
  }
  if (r.check_rows > 0) {
    std::printf("accuracy on %lld check rows: fp32 %.2f%%, edge %.2f%% (loss %.2f points, budget %.2f), "
                "agreement %.2f%%\n",
                static_cast<long long>(r.check_rows), r.fp32_accuracy * 100.0, r.int8_accuracy * 100.0,
                (r.fp32_accuracy - r.int8_accuracy) * 100.0, o.max_loss_points, r.agreement * 100.0);
  } else {
    std::printf("accuracy: not checked (pass --check FILE with labeled data)\n");
  }
  const auto cell = [](double v) {
    if (v < 0.0) return std::string("-");
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", v);
    return std::string(buf);
  };
  std::printf("\n| group | stored | [CLS] NMSE alone int8 | alone int4 |\n|---|---|---|---|\n");
  for (const auto& g : r.groups) {
    std::printf("| %s | %s | %s | %s |\n", g.group.c_str(), engine::storage_name(g.storage), cell(g.nmse).c_str(),
                cell(g.nmse4).c_str());
  }
}

}  // namespace

void register_compress(CLI::App& app) {
  auto o = std::make_shared<engine::CompressOptions>();
  CLI::App* cmd = app.add_subcommand("compress", "Quantize a classifier directory into an .edge file (INT8, optionally 4-bit)");
  cmd->add_option("--model", o->model_dir, "Hugging Face classifier directory (FP32)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--out", o->out, "Output .edge file")->required();
  cmd->add_option("--check", o->check_path, "Labeled data to measure FP32 vs INT8 accuracy and fall back layer by layer")
      ->check(CLI::ExistingFile);
  cmd->add_option("--text-col", o->text_column, "Text column of --check (default: auto-detected)");
  cmd->add_option("--label-col", o->label_column, "Label column of --check (default: auto-detected)");
  cmd->add_option("--max-loss", o->max_loss_points, "Accuracy points INT8 may lose against FP32 (default 0.3)")
      ->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--keep-fp32", o->keep_fp32,
                  "Regex of groups to keep in FP32 (repeatable), e.g. 'ffn.down' or 'layers.5.'");
  cmd->add_option("--check-limit", o->check_limit, "Use only the first N check rows (0: all)");
  cmd->add_flag("--int4", o->int4,
                 "Store groups in 4 bits where the --check accuracy budget allows (falls back to int8, then fp32)");
  cmd->add_option("--int4-group", o->int4_group, "Columns per 4-bit scale (default 128; even, divides the rows)")
      ->check(CLI::Range(std::int64_t{2}, std::int64_t{1} << 20));
  auto trim = std::make_shared<std::string>("none");
  cmd->add_option("--trim-vocab", *trim,
                  "Drop vocabulary rows the tokenizer never produces: none, unused ([unusedN] placeholders; "
                  "identical results), latin (also non-Latin-script tokens)")
      ->check(CLI::IsMember({"none", "unused", "latin"}));
  cmd->add_flag("--force", o->force, "Overwrite --out if it exists");
  cmd->callback([o, trim]() {
    o->trim = engine::parse_vocab_trim(*trim);
    o->progress = [](const std::string& m) { std::fprintf(stderr, "compress: %s\n", m.c_str()); };
    const engine::CompressReport r = engine::compress(*o);
    print_report(*o, r);
  });
}

}  // namespace edgeroute::cli
