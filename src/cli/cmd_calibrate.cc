// edgeroute calibrate: runs the edge model and the cloud on labeled
// validation data, prints the edge-share / accuracy / cost curve and writes
// the policy with the thresholds the target asks for.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "commands.h"
#include "edgeroute/common/error.h"
#include "edgeroute/common/sha256.h"
#include "edgeroute/router/calibrate.h"
#include "edgeroute/router/router.h"
#include "edgeroute/text/pii.h"
#include "edgeroute/text/table.h"
#include "router_setup.h"

namespace edgeroute::cli {

namespace {

struct CalibrateOptions {
  std::string model, val, out, base_policy, curve_csv, target_accuracy;
  std::optional<std::string> text_column, label_column;
  std::optional<double> max_cloud_share, alpha;
  double delta = 0.1;
  double ood_quantile = 0.995;
  bool force = false;
  CloudFlags cloud;
};

// Answers of the cloud tier for the (redacted) validation texts: a local
// model directory/file, or the HTTP backend the service would call.
std::vector<std::string> cloud_labels(const CalibrateOptions& o, const engine::Classifier& edge,
                                      const std::vector<std::string>& texts) {
  std::vector<std::string> out;
  out.reserve(texts.size());
  if (o.cloud.url.find("://") == std::string::npos) {
    engine::ClassifierOptions copts;
    copts.precision = engine::Precision::kFp32;
    const engine::Classifier cloud = engine::Classifier::load(o.cloud.url, copts);
    if (cloud.labels().names() != edge.labels().names()) {
      throw Error("--cloud " + o.cloud.url + ": its labels differ from the edge model's");
    }
    engine::Session session;
    std::vector<engine::Prediction> preds;
    for (std::size_t i = 0; i < texts.size(); i += 32) {
      std::vector<std::string_view> views(texts.begin() + static_cast<std::ptrdiff_t>(i),
                                          texts.begin() + static_cast<std::ptrdiff_t>(std::min(texts.size(), i + 32)));
      cloud.classify(views, session, preds);
      for (const auto& p : preds) out.push_back(cloud.labels().name(p.label));
    }
    return out;
  }
  const std::unique_ptr<router::ResilientCloud> cloud = make_cloud(o.cloud, edge, o.model);
  std::size_t failed = 0;
  for (const std::string& t : texts) {
    const router::CloudOutcome r = cloud->call(router::new_request_id(), t);
    if (!r.ok) ++failed;
    out.push_back(r.ok ? r.answer.label : std::string());  // a failed call counts as a wrong cloud answer
  }
  if (failed > 0)
    std::fprintf(stderr, "calibrate: %zu of %zu cloud calls failed (counted as wrong)\n", failed, texts.size());
  return out;
}

std::string file_sha256(const std::string& path) {
  if (std::filesystem::is_directory(path)) return {};
  std::ifstream in(path, std::ios::binary);
  Sha256 h;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h.update(std::string_view(buf.data(), static_cast<std::size_t>(in.gcount())));
  }
  const Sha256Digest d = h.finish();
  std::string hex;
  char b[3];
  for (const auto x : d) {
    std::snprintf(b, sizeof b, "%02x", x);
    hex += b;
  }
  return hex;
}

void print_point(const char* tag, const router::CurvePoint& p) {
  std::printf("%-8s %8.3f %8.2f %8.2f%% %9.2f%% %9.2f%% %11.5f %8.2f%%\n", tag, p.min_confidence,
              std::isinf(p.max_complexity) ? 99.0 : p.max_complexity, 100 * p.edge_share, 100 * p.system_accuracy,
              100 * p.edge_kept_error, p.cost_per_query, 100 * p.savings);
}

void run_calibrate(const CalibrateOptions& o) {
  if (std::filesystem::exists(o.out) && !o.force) throw Error(o.out + " exists; pass --force to overwrite it");
  if (o.cloud.url.empty()) throw Error("--cloud is required: a URL or a model directory/file");
  router::Target target;
  if (!o.target_accuracy.empty()) {
    if (o.target_accuracy == "cloud") {
      target.accuracy_of_cloud = true;
    } else {
      try {
        target.accuracy = std::stod(o.target_accuracy);
      } catch (const std::exception&) {
        throw Error("--target-accuracy must be a number in (0, 1] or 'cloud', got '" + o.target_accuracy + "'");
      }
      if (!(*target.accuracy > 0 && *target.accuracy <= 1)) throw Error("--target-accuracy must be in (0, 1]");
    }
  }
  target.max_cloud_share = o.max_cloud_share;
  target.alpha = o.alpha;
  target.delta = o.delta;

  engine::ClassifierOptions copts;
  const engine::Classifier edge = engine::Classifier::load(o.model, copts);
  router::Policy policy = load_policy(o.base_policy);
  const text::TextTable table = text::read_table(o.val);
  if (table.rows.empty()) throw Error(o.val + ": no rows");
  const std::string tc = text::resolve_column(table, o.text_column, text::kTextColumnCandidates, "--text-col");
  const std::string lc = text::resolve_column(table, o.label_column, text::kLabelColumnCandidates, "--label-col");
  const std::vector<std::string> texts = table.column(tc);
  const std::vector<std::string> truth = table.column(lc);
  for (std::size_t i = 0; i < truth.size(); ++i) {
    if (!edge.labels().id(truth[i])) {
      throw Error(o.val + ":" + std::to_string(table.source_lines[i]) + ": label '" + truth[i] +
                  "' is not one of the model's labels");
    }
  }

  const auto t0 = std::chrono::steady_clock::now();
  text::PiiOptions pii_opts;
  pii_opts.account_patterns = policy.account_patterns;
  const text::PiiDetector pii(pii_opts);
  std::vector<router::CalibrationExample> ex(texts.size());
  std::vector<std::string> redacted(texts.size());
  engine::Session session;
  std::vector<engine::Prediction> preds;
  for (std::size_t i = 0; i < texts.size(); i += 32) {
    const std::size_t end = std::min(texts.size(), i + 32);
    std::vector<std::string_view> views(texts.begin() + static_cast<std::ptrdiff_t>(i),
                                        texts.begin() + static_cast<std::ptrdiff_t>(end));
    edge.classify(views, session, preds);
    for (std::size_t j = i; j < end; ++j) {
      const engine::Prediction& p = preds[j - i];
      router::CalibrationExample& e = ex[j];
      e.text = texts[j];
      e.edge_label = edge.labels().name(p.label);
      router::Signals s;
      router::fill_signals(s, p.probabilities, p.logits, edge.temperature());
      e.confidence = s.confidence;
      e.margin = s.margin;
      e.entropy = s.entropy;
      e.energy = s.energy;
      auto red = pii.redact(texts[j]);
      e.pii_found = !red.spans.empty();
      redacted[j] = std::move(red.text);
      e.edge_correct = e.edge_label == truth[j];
    }
  }
  const double edge_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto t1 = std::chrono::steady_clock::now();
  const std::vector<std::string> cloud = cloud_labels(o, edge, redacted);
  const double cloud_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  for (std::size_t i = 0; i < ex.size(); ++i) ex[i].cloud_correct = cloud[i] == truth[i];

  // Out-of-distribution threshold: a high quantile of the validation
  // energies (in-distribution by construction).
  if (o.ood_quantile > 0) {
    std::vector<double> energies;
    for (const auto& e : ex) energies.push_back(e.energy);
    std::sort(energies.begin(), energies.end());
    policy.max_energy = energies[static_cast<std::size_t>(o.ood_quantile * static_cast<double>(energies.size() - 1))];
  }

  const router::CalibrationResult r = router::calibrate(ex, policy, target);
  std::printf("validation: %zu examples (%s); edge %.1f s, cloud %.1f s\n", ex.size(), o.val.c_str(), edge_s, cloud_s);
  std::printf("edge-only accuracy %.2f%%, cloud-only accuracy %.2f%%\n\n", 100 * r.edge_only_accuracy,
              100 * r.cloud_only_accuracy);
  std::printf("%-8s %8s %8s %9s %10s %10s %11s %9s\n", "", "min_conf", "max_cx", "edge", "system_acc", "edge_err",
              "$/query", "savings");
  // The curve at the policy's complexity threshold (the risk-control grid
  // when alpha is set), from all-cloud to all-edge, one row per 2.5 points of
  // edge share.
  double next = 0.0;
  for (auto it = r.curve.rbegin(); it != r.curve.rend(); ++it) {
    if (!target.alpha && it->max_complexity != policy.max_complexity) continue;
    if (it->edge_share + 1e-12 >= next) {
      print_point("curve", *it);
      next = it->edge_share + 0.025;
    }
  }
  if (!o.curve_csv.empty()) {
    std::ofstream csv(o.curve_csv);
    if (!csv) throw Error("--curve " + o.curve_csv + ": cannot write");
    csv << "min_confidence,max_complexity,edge_share,system_accuracy,edge_kept_error,cost_per_query,savings\n";
    for (const auto& p : r.curve) {
      csv << p.min_confidence << "," << p.max_complexity << "," << p.edge_share << "," << p.system_accuracy << ","
          << p.edge_kept_error << "," << p.cost_per_query << "," << p.savings << "\n";
    }
  }
  if (target.alpha) {
    std::printf("\nrisk control: alpha %.3f, delta %.3f (Learn-then-Test, Holm over %zu thresholds)\n", *target.alpha,
                target.delta, r.risk_steps.size());
  }
  if (!r.found) throw Error("calibrate: " + r.message);
  std::printf("\n");
  print_point("chosen", r.chosen);

  policy.min_confidence = std::min(r.chosen.min_confidence, 1.0);
  policy.max_complexity = r.chosen.max_complexity;
  nlohmann::json cal = {
      {"model", o.model},
      {"model_sha256", file_sha256(o.model)},
      {"validation", o.val},
      {"examples", static_cast<std::int64_t>(ex.size())},
      {"cloud", o.cloud.url},
      {"edge_only_accuracy", r.edge_only_accuracy},
      {"cloud_only_accuracy", r.cloud_only_accuracy},
      {"edge_share", r.chosen.edge_share},
      {"system_accuracy", r.chosen.system_accuracy},
      {"edge_kept_error", r.chosen.edge_kept_error},
      {"cost_per_query_usd", r.chosen.cost_per_query},
      {"savings", r.chosen.savings},
      {"ood_quantile", o.ood_quantile},
      {"reference", router::reference_distributions(ex, edge.labels().names())},
  };
  if (target.accuracy_of_cloud) cal["target"] = "system accuracy >= cloud-only accuracy";
  if (target.accuracy) cal["target"] = "system accuracy >= " + std::to_string(*target.accuracy);
  if (target.max_cloud_share) cal["target"] = "cloud share <= " + std::to_string(*target.max_cloud_share);
  if (target.alpha) {
    cal["target"] = "edge-kept error <= alpha with probability >= 1 - delta";
    cal["alpha"] = *target.alpha;
    cal["delta"] = target.delta;
  }
  policy.calibration = cal;
  if (std::isinf(policy.max_complexity)) policy.max_complexity = 1e9;
  const std::string tmp = o.out + ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) throw Error(o.out + ": cannot write");
    out << policy.to_toml();
  }
  std::filesystem::rename(tmp, o.out);
  std::printf("wrote %s\n", o.out.c_str());
}

}  // namespace

void register_calibrate(CLI::App& app) {
  auto o = std::make_shared<CalibrateOptions>();
  CLI::App* cmd = app.add_subcommand("calibrate", "Choose routing thresholds on labeled validation data");
  cmd->add_option("--model", o->model, "Edge model (the INT8 .edge you will serve)")->required();
  cmd->add_option("--val", o->val, "Labeled validation data (CSV, TSV, JSONL)")->required();
  cmd->add_option("--out", o->out, "policy.toml to write")->required();
  cmd->add_option("--policy", o->base_policy, "Start from this policy (rules, prices, keywords)");
  cmd->add_option("--target-accuracy", o->target_accuracy,
                  "System accuracy to reach (a number, or 'cloud' for the cloud-only accuracy); maximises edge share");
  cmd->add_option("--max-cloud-share", o->max_cloud_share, "Cap on the escalated share; maximises accuracy")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--alpha", o->alpha, "Risk control: edge-kept error rate bound")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--delta", o->delta, "Risk control: allowed failure probability")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--ood-quantile", o->ood_quantile,
                  "Energy quantile of the validation set above which a query is OOD (0: off)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--curve", o->curve_csv, "Write every curve point as CSV");
  cmd->add_flag("--force", o->force, "Overwrite --out");
  cmd->add_option("--text-col", o->text_column, "Text column");
  cmd->add_option("--label-col", o->label_column, "Label column");
  add_cloud_flags(*cmd, o->cloud);
  cmd->callback([o] { run_calibrate(*o); });
}

}  // namespace edgeroute::cli
