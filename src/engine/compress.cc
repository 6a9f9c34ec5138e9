#include "edgeroute/engine/compress.h"

#include <algorithm>
#include <filesystem>
#include <regex>
#include <set>

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
  const fs::path weights_path = fs::path(o.model_dir) / "model.safetensors";
  const modelio::EncoderConfig config = modelio::load_hf_config(o.model_dir);
  const modelio::SafetensorsFile file = modelio::SafetensorsFile::open(weights_path.string());
  const HfWeights weights(config, file);
  const text::Tokenizer tokenizer = text::Tokenizer::from_pretrained(o.model_dir);
  const float temperature = hf_temperature(config, (fs::path(o.model_dir) / "config.json").string());

  std::vector<std::regex> patterns;
  for (const std::string& p : o.keep_fp32) {
    try {
      patterns.emplace_back(p);
    } catch (const std::regex_error& e) {
      throw Error("--keep-fp32 '" + p + "' is not a valid regular expression: " + e.what());
    }
  }
  std::set<std::string> fp32;
  for (const std::string& g : quantization_groups(config)) {
    for (const auto& re : patterns) {
      if (std::regex_search(g, re)) fp32.insert(g);
    }
  }

  CompressReport report;
  report.source_bytes = static_cast<std::uint64_t>(fs::file_size(weights_path));
  ClassifierOptions fp32_options;
  fp32_options.precision = Precision::kFp32;
  const auto int8_options = [&](const std::set<std::string>& keep) {
    ClassifierOptions c;
    c.precision = Precision::kInt8;
    c.keep_fp32 = [keep](const std::string& g) { return keep.count(g) > 0; };
    return c;
  };
  for (const std::string& g : quantization_groups(config)) report.groups.push_back({g, -1.0, false});

  if (!o.check_path.empty()) {
    const Classifier reference = Classifier::build_from(config, tokenizer, weights, temperature, fp32_options);
    const CheckData check = read_check(o, config.labels);
    report.check_rows = static_cast<std::int64_t>(check.texts.size());
    say("fp32: classifying " + std::to_string(check.texts.size()) + " check rows");
    const std::vector<Prediction> ref = run(reference, check.texts, check.texts.size());
    report.fp32_accuracy = accuracy(ref, check.labels);
    const std::vector<Prediction> ref_head(
        ref.begin(), ref.begin() + static_cast<std::ptrdiff_t>(std::min(ref.size(), o.sensitivity_rows)));

    // Sensitivity of each group alone.
    const std::vector<std::string> groups = quantization_groups(config);
    for (std::size_t gi = 0; gi < groups.size(); ++gi) {
      if (fp32.count(groups[gi])) continue;
      std::set<std::string> all_but_one(groups.begin(), groups.end());
      all_but_one.erase(groups[gi]);
      const Classifier one = Classifier::build_from(config, tokenizer, weights, temperature, int8_options(all_but_one));
      report.groups[gi].nmse = embedding_nmse(ref_head, run(one, check.texts, o.sensitivity_rows));
      say("sensitivity " + std::to_string(gi + 1) + "/" + std::to_string(groups.size()) + ": " + groups[gi]);
    }

    // Fall back, most sensitive first, until the loss fits the budget.
    for (;;) {
      const Classifier q = Classifier::build_from(config, tokenizer, weights, temperature, int8_options(fp32));
      const std::vector<Prediction> got = run(q, check.texts, check.texts.size());
      report.int8_accuracy = accuracy(got, check.labels);
      std::size_t agree = 0;
      for (std::size_t i = 0; i < got.size(); ++i) agree += got[i].label == ref[i].label ? 1 : 0;
      report.agreement = static_cast<double>(agree) / static_cast<double>(got.size());
      const double loss = (report.fp32_accuracy - report.int8_accuracy) * 100.0;
      say("int8 with " + std::to_string(fp32.size()) + " fp32 groups: accuracy " +
          std::to_string(report.int8_accuracy * 100.0) + "%, loss " + std::to_string(loss) + " points");
      if (loss <= o.max_loss_points) break;
      const GroupFigure* worst = nullptr;
      for (const GroupFigure& g : report.groups) {
        if (!fp32.count(g.group) && (worst == nullptr || g.nmse > worst->nmse)) worst = &g;
      }
      if (worst == nullptr) break;
      fp32.insert(worst->group);
    }
  }
  for (GroupFigure& g : report.groups) g.fp32 = fp32.count(g.group) > 0;

  const MappedFile mapped(weights_path.string());
  nlohmann::json figures = {
      {"source_bytes", report.source_bytes},   {"check_rows", report.check_rows},       {"check_data", o.check_path},
      {"fp32_accuracy", report.fp32_accuracy}, {"int8_accuracy", report.int8_accuracy}, {"agreement", report.agreement},
      {"max_loss_points", o.max_loss_points}};
  for (const GroupFigure& g : report.groups) {
    figures["groups"].push_back({{"group", g.group}, {"nmse", g.nmse}, {"fp32", g.fp32}});
  }
  EdgeWriteRequest req;
  req.config = &config;
  req.weights = &weights;
  req.tokenizer = &tokenizer;
  req.temperature = temperature;
  req.int8_group = [&fp32](const std::string& g) { return fp32.count(g) == 0; };
  req.source_sha256 = sha256_hex(mapped.bytes());
  req.figures = figures;
  say("writing " + o.out);
  report.edge_bytes = write_edge_file(o.out, req);
  return report;
}

}  // namespace edgeroute::engine
