#include "edgeroute/engine/compress.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>

#include <nlohmann/json.hpp>

#include "edgeroute/common/error.h"
#include "edgeroute/common/mapped_file.h"
#include "edgeroute/common/sha256.h"
#include "edgeroute/engine/classifier.h"
#include "edgeroute/engine/edge_file.h"
#include "edgeroute/text/table.h"

namespace edgeroute::engine {

namespace {

namespace fs = std::filesystem;

struct CheckData {
  std::vector<std::string> texts;
  std::vector<std::int32_t> labels;
};

CheckData read_check(const CompressOptions& o, const modelio::LabelMap& labels) {
  const text::TextTable t = text::read_table(o.check_path);
  const std::string tc = text::resolve_column(t, o.text_column, text::kTextColumnCandidates, "--text-col");
  const std::string lc = text::resolve_column(t, o.label_column, text::kLabelColumnCandidates, "--label-col");
  CheckData d;
  d.texts = t.column(tc);
  const std::vector<std::string> names = t.column(lc);
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto id = labels.id(names[i]);
    if (!id) {
      throw Error(o.check_path + ":" + std::to_string(t.source_lines[i]) + ": label '" + names[i] +
                  "' is not one of the model's " + std::to_string(labels.size()) + " labels");
    }
    d.labels.push_back(static_cast<std::int32_t>(*id));
  }
  if (o.check_limit > 0 && d.texts.size() > o.check_limit) {
    d.texts.resize(o.check_limit);
    d.labels.resize(o.check_limit);
  }
  if (d.texts.empty()) throw Error(o.check_path + ": no check rows");
  return d;
}

std::vector<Prediction> run(const Classifier& c, const std::vector<std::string>& texts, std::size_t limit) {
  const std::size_t n = std::min(limit, texts.size());
  std::vector<Prediction> all;
  all.reserve(n);
  Session s;
  std::vector<Prediction> batch;
  for (std::size_t start = 0; start < n; start += 32) {
    const std::size_t end = std::min(n, start + 32);
    const std::vector<std::string_view> views(texts.begin() + static_cast<std::ptrdiff_t>(start),
                                              texts.begin() + static_cast<std::ptrdiff_t>(end));
    c.classify(views, s, batch);
    for (auto& p : batch) all.push_back(std::move(p));
  }
  return all;
}

double accuracy(const std::vector<Prediction>& p, const std::vector<std::int32_t>& y) {
  std::size_t ok = 0;
  for (std::size_t i = 0; i < p.size(); ++i) ok += p[i].label == y[i] ? 1 : 0;
  return static_cast<double>(ok) / static_cast<double>(p.size());
}

double embedding_nmse(const std::vector<Prediction>& ref, const std::vector<Prediction>& got) {
  double err = 0.0;
  double norm = 0.0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    for (std::size_t j = 0; j < ref[i].embedding.size(); ++j) {
      const double d = static_cast<double>(ref[i].embedding[j]) - got[i].embedding[j];
      err += d * d;
      norm += static_cast<double>(ref[i].embedding[j]) * ref[i].embedding[j];
    }
  }
  return err / std::max(norm, 1e-30);
}

}  // namespace

CompressReport compress(const CompressOptions& o) {
  const auto say = [&](const std::string& m) {
    if (o.progress) o.progress(m);
  };
  if (fs::exists(o.out) && !o.force) throw Error(o.out + ": exists; pass --force to overwrite it");
  if (o.int4 && o.check_path.empty()) {
    throw Error("--int4 needs --check: 4-bit groups are kept only where the accuracy budget holds on labeled data");
  }
  const fs::path weights_path = fs::path(o.model_dir) / "model.safetensors";
  const modelio::EncoderConfig config = modelio::load_hf_config(o.model_dir);
  if (o.int4) {
    for (const std::int64_t cols : {config.hidden_size, config.intermediate_size}) {
      const std::int64_t g = std::min(o.int4_group, cols);
      if (g <= 0 || g % 2 != 0 || cols % g != 0) {
        throw Error("--int4-group " + std::to_string(o.int4_group) + " must be even and divide hidden_size (" +
                    std::to_string(config.hidden_size) + ") and intermediate_size (" +
                    std::to_string(config.intermediate_size) + ")");
      }
    }
  }
  const modelio::SafetensorsFile file = modelio::SafetensorsFile::open(weights_path.string());
  const HfWeights weights(config, file);
  const text::Tokenizer tokenizer = text::Tokenizer::from_pretrained(o.model_dir);
  const float temperature = hf_temperature(config, (fs::path(o.model_dir) / "config.json").string());

  // The vocabulary as written: every variant below uses it, so the measured
  // figures are those of the file.
  const std::vector<std::int64_t> kept = kept_tokens(tokenizer.vocab(), tokenizer.config(), o.trim);
  modelio::EncoderConfig edge_config = config;
  edge_config.vocab_size = static_cast<std::int64_t>(kept.size());
  const auto pad = std::lower_bound(kept.begin(), kept.end(), config.pad_token_id);
  if (pad != kept.end() && *pad == config.pad_token_id) edge_config.pad_token_id = pad - kept.begin();
  std::vector<std::string> kept_names;
  kept_names.reserve(kept.size());
  for (const std::int64_t id : kept) kept_names.push_back(tokenizer.vocab().tokens()[static_cast<std::size_t>(id)]);
  const text::Tokenizer edge_tokenizer(
      text::Vocab::from_tokens(std::move(kept_names), tokenizer.config().continuing_prefix), tokenizer.config());
  const TrimmedWeights trimmed(weights, kept, config.vocab_size);
  if (o.trim != VocabTrim::kNone) {
    say("vocabulary: " + std::string(vocab_trim_name(o.trim)) + " trim keeps " + std::to_string(kept.size()) + " of " +
        std::to_string(config.vocab_size) + " tokens");
  }

  std::vector<std::regex> patterns;
  for (const std::string& p : o.keep_fp32) {
    try {
      patterns.emplace_back(p);
    } catch (const std::regex_error& e) {
      throw Error("--keep-fp32 '" + p + "' is not a valid regular expression: " + e.what());
    }
  }
  const std::vector<std::string> groups = quantization_groups(config);
  using Levels = std::map<std::string, Storage>;
  Levels level;
  for (const std::string& g : groups) {
    const bool keep = std::any_of(patterns.begin(), patterns.end(), [&](const auto& re) { return std::regex_search(g, re); });
    level[g] = keep ? Storage::kFp32 : (o.int4 ? Storage::kInt4 : Storage::kInt8);
  }
  const auto build = [&](const Levels& lv) {
    const Int4View view(
        trimmed, [&lv](const std::string& g) { return lv.at(g) == Storage::kInt4; }, o.int4_group);
    ClassifierOptions c;
    c.precision = Precision::kInt8;
    c.keep_fp32 = [&lv](const std::string& g) { return lv.at(g) == Storage::kFp32; };
    return Classifier::build_from(edge_config, edge_tokenizer, view, temperature, c);
  };

  CompressReport report;
  report.source_bytes = static_cast<std::uint64_t>(fs::file_size(weights_path));
  report.vocab_rows = edge_config.vocab_size;
  report.vocab_rows_source = config.vocab_size;
  for (const std::string& g : groups) report.groups.push_back({g, -1.0, -1.0, level[g]});

  if (!o.check_path.empty()) {
    ClassifierOptions fp32_options;
    fp32_options.precision = Precision::kFp32;
    const Classifier reference = Classifier::build_from(config, tokenizer, weights, temperature, fp32_options);
    const CheckData check = read_check(o, config.labels);
    report.check_rows = static_cast<std::int64_t>(check.texts.size());
    say("fp32: classifying " + std::to_string(check.texts.size()) + " check rows");
    const std::vector<Prediction> ref = run(reference, check.texts, check.texts.size());
    report.fp32_accuracy = accuracy(ref, check.labels);
    const std::vector<Prediction> ref_head(
        ref.begin(), ref.begin() + static_cast<std::ptrdiff_t>(std::min(ref.size(), o.sensitivity_rows)));

    // Sensitivity of each group alone, at each storage it may take.
    for (std::size_t gi = 0; gi < groups.size(); ++gi) {
      if (level[groups[gi]] == Storage::kFp32) continue;
      Levels alone;
      for (const std::string& g : groups) alone[g] = Storage::kFp32;
      alone[groups[gi]] = Storage::kInt8;
      report.groups[gi].nmse = embedding_nmse(ref_head, run(build(alone), check.texts, o.sensitivity_rows));
      if (o.int4) {
        alone[groups[gi]] = Storage::kInt4;
        report.groups[gi].nmse4 = embedding_nmse(ref_head, run(build(alone), check.texts, o.sensitivity_rows));
      }
      say("sensitivity " + std::to_string(gi + 1) + "/" + std::to_string(groups.size()) + ": " + groups[gi]);
    }

    // Move the most sensitive group one step up until the loss fits the budget.
    for (;;) {
      const std::vector<Prediction> got = run(build(level), check.texts, check.texts.size());
      report.int8_accuracy = accuracy(got, check.labels);
      std::size_t agree = 0;
      for (std::size_t i = 0; i < got.size(); ++i) agree += got[i].label == ref[i].label ? 1 : 0;
      report.agreement = static_cast<double>(agree) / static_cast<double>(got.size());
      const double loss = (report.fp32_accuracy - report.int8_accuracy) * 100.0;
      std::map<Storage, int> counts;
      for (const auto& [g, s] : level) ++counts[s];
      say("int4 " + std::to_string(counts[Storage::kInt4]) + ", int8 " + std::to_string(counts[Storage::kInt8]) +
          ", fp32 " + std::to_string(counts[Storage::kFp32]) + " groups: accuracy " +
          std::to_string(report.int8_accuracy * 100.0) + "%, loss " + std::to_string(loss) + " points");
      if (loss <= o.max_loss_points) break;
      const GroupFigure* worst = nullptr;
      double worst_nmse = -1.0;
      for (const GroupFigure& g : report.groups) {
        const Storage s = level[g.group];
        if (s == Storage::kFp32) continue;
        const double n = s == Storage::kInt4 ? g.nmse4 : g.nmse;
        if (worst == nullptr || n > worst_nmse) {
          worst = &g;
          worst_nmse = n;
        }
      }
      if (worst == nullptr) {
        say("the budget does not hold even with every group in FP32");
        break;
      }
      Storage& s = level[worst->group];
      s = s == Storage::kInt4 ? Storage::kInt8 : Storage::kFp32;
    }
  }
  for (GroupFigure& g : report.groups) g.storage = level[g.group];

  const MappedFile mapped(weights_path.string());
  nlohmann::json figures = {{"source_bytes", report.source_bytes},
                            {"check_rows", report.check_rows},
                            {"check_data", o.check_path},
                            {"fp32_accuracy", report.fp32_accuracy},
                            {"int8_accuracy", report.int8_accuracy},
                            {"agreement", report.agreement},
                            {"max_loss_points", o.max_loss_points},
                            {"vocab_trim", vocab_trim_name(o.trim)},
                            {"vocab_rows", report.vocab_rows},
                            {"vocab_rows_source", report.vocab_rows_source}};
  for (const GroupFigure& g : report.groups) {
    figures["groups"].push_back({{"group", g.group},
                                 {"nmse", g.nmse},
                                 {"nmse4", g.nmse4},
                                 {"storage", storage_name(g.storage)},
                                 {"fp32", g.storage == Storage::kFp32}});
  }
  EdgeWriteRequest req;
  req.config = &edge_config;
  req.weights = &trimmed;
  req.tokenizer = &edge_tokenizer;
  req.temperature = temperature;
  req.storage = [&level](const std::string& g) { return level.at(g); };
  req.int4_group = o.int4_group;
  req.vocab_trim = vocab_trim_name(o.trim);
  req.source_sha256 = sha256_hex(mapped.bytes());
  req.figures = figures;
  say("writing " + o.out);
  report.edge_bytes = write_edge_file(o.out, req);
  return report;
}

}  // namespace edgeroute::engine
