// edgeroute route: routes a file of texts offline through the same Router the
// service uses, printing one decision per text and a summary (with accuracy
// when the file has labels).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "edgeroute/common/error.h"
#include "edgeroute/router/router.h"
#include "edgeroute/text/table.h"
#include "router_setup.h"

namespace edgeroute::cli {

using text::JsonWriter;

namespace {

struct RouteOptions {
  std::string model, policy, input, summary_json, audit, audit_key_file;
  std::optional<std::string> text_column, label_column;
  bool json = false, quiet = false;
  CloudFlags cloud;
};

std::optional<std::string> find_label_column(const text::TextTable& t, const std::optional<std::string>& requested,
                                             const std::string& text_col) {
  if (requested) return text::resolve_column(t, requested, text::kLabelColumnCandidates, "--label-col");
  for (const std::string_view c : text::kLabelColumnCandidates) {
    for (const std::string& have : t.columns) {
      if (have == c && have != text_col) return have;
    }
  }
  return std::nullopt;
}

void run_route(const RouteOptions& o) {
  engine::ClassifierOptions copts;
  const engine::Classifier edge = engine::Classifier::load(o.model, copts);
  const text::TextTable table = text::read_table(o.input);
  if (table.rows.empty()) throw Error(o.input + ": no rows to route");
  const std::string tc = text::resolve_column(table, o.text_column, text::kTextColumnCandidates, "--text-col");
  const std::optional<std::string> lc = find_label_column(table, o.label_column, tc);
  const std::vector<std::string> texts = table.column(tc);
  std::vector<std::string> truth;
  if (lc) truth = table.column(*lc);

  router::RouterParts parts;
  parts.edge = &edge;
  parts.policy = load_policy(o.policy);
  std::unique_ptr<router::ResilientCloud> cloud = make_cloud(o.cloud, edge, o.model);
  parts.cloud = cloud.get();
  const std::unique_ptr<router::AuditWriter> audit = attach_audit(o.audit, o.audit_key_file, parts);
  router::Router router(std::move(parts));

  engine::Session session;
  std::int64_t labeled = 0, correct = 0, edge_kept = 0, edge_kept_wrong = 0, edge_correct = 0, cloud_n = 0,
               cloud_correct = 0;
  std::vector<double> latencies;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    router::RouteResult r;
    try {
      r = router.route(router::new_request_id(), texts[i], session);
    } catch (const Error& e) {
      throw Error(o.input + ":" + std::to_string(table.source_lines[i]) + ": " + e.what());
    }
    latencies.push_back(r.latency_ms);
    if (lc) {
      if (!edge.labels().id(truth[i])) {
        throw Error(o.input + ":" + std::to_string(table.source_lines[i]) + ": label '" + truth[i] +
                    "' is not one of the model's labels");
      }
      ++labeled;
      const bool ok = r.label == truth[i];
      correct += ok ? 1 : 0;
      edge_correct += r.edge_label == truth[i] ? 1 : 0;
      if (r.route == "edge") {
        ++edge_kept;
        edge_kept_wrong += ok ? 0 : 1;
      } else {
        ++cloud_n;
        cloud_correct += ok ? 1 : 0;
      }
    }
    if (o.json) {
      std::string line;
      JsonWriter w(line);
      w.begin_object();
      r.write_json_members(w, /*with_probabilities=*/false);
      if (lc) w.key("truth").value(truth[i]);
      w.end_object();
      std::cout << line << "\n";
    } else if (!o.quiet) {
      std::string shown = texts[i].substr(0, 60);
      std::printf("%-5s %-22s %-28s %.3f  %s\n", r.route.c_str(), std::string(router::to_string(r.reason)).c_str(),
                  r.label.substr(0, 28).c_str(), r.confidence, shown.c_str());
    }
  }
  nlohmann::json s = router.ledger().stats();
  std::sort(latencies.begin(), latencies.end());
  const auto pct = [&](double q) {
    return latencies[static_cast<std::size_t>(q * static_cast<double>(latencies.size() - 1))];
  };
  s["latency_ms"] = {{"p50", pct(0.5)}, {"p95", pct(0.95)}, {"p99", pct(0.99)}};
  if (labeled > 0) {
    s["system_accuracy"] = static_cast<double>(correct) / static_cast<double>(labeled);
    s["edge_only_accuracy"] = static_cast<double>(edge_correct) / static_cast<double>(labeled);
    s["edge_kept_error"] = edge_kept > 0 ? static_cast<double>(edge_kept_wrong) / static_cast<double>(edge_kept) : 0.0;
    s["cloud_routed_accuracy"] = cloud_n > 0 ? static_cast<double>(cloud_correct) / static_cast<double>(cloud_n) : 0.0;
    s["labeled"] = labeled;
  }
  if (!o.summary_json.empty()) {
    std::ofstream out(o.summary_json);
    if (!out) throw Error("--summary-json " + o.summary_json + ": cannot write");
    out << s.dump(2) << "\n";
  }
  if (!o.json) {
    std::printf("\nrouted %lld texts: edge %.2f%%, cloud %.2f%%, degraded %lld\n",
                static_cast<long long>(s["total_queries"].get<std::int64_t>()),
                100 * s["edge_utilization"].get<double>(), 100 * s["cloud_utilization"].get<double>(),
                static_cast<long long>(s["degraded"].get<std::int64_t>()));
    std::printf("cost $%.4f vs cloud-only $%.4f: savings %.2f%%\n", s["total_cost_usd"].get<double>(),
                s["cloud_only_cost_usd"].get<double>(), 100 * s["savings"].get<double>());
    std::printf("latency ms: p50 %.3f  p95 %.3f  p99 %.3f\n", pct(0.5), pct(0.95), pct(0.99));
    if (labeled > 0) {
      std::printf("accuracy: system %.2f%%, edge-only %.2f%%, edge-kept error %.2f%%\n",
                  100 * s["system_accuracy"].get<double>(), 100 * s["edge_only_accuracy"].get<double>(),
                  100 * s["edge_kept_error"].get<double>());
    }
    std::printf("reasons:");
    for (const auto& [k, v] : s["reasons"].items()) {
      if (v.get<std::int64_t>() > 0) std::printf(" %s=%lld", k.c_str(), static_cast<long long>(v.get<std::int64_t>()));
    }
    std::printf("\n");
  }
}

}  // namespace

void register_route(CLI::App& app) {
  auto o = std::make_shared<RouteOptions>();
  CLI::App* cmd = app.add_subcommand("route", "Route a file of texts offline through the service's code path");
  cmd->add_option("--model", o->model, "Edge model: FILE.edge or a Hugging Face directory")->required();
  cmd->add_option("--policy", o->policy, "policy.toml (default: the seed's thresholds)");
  cmd->add_option("--input", o->input, "CSV, TSV, JSONL or text file")->required();
  cmd->add_option("--text-col", o->text_column, "Text column (default: text, message, ...)");
  cmd->add_option("--label-col", o->label_column,
                  "Label column: adds accuracy to the summary (default: label if present)");
  cmd->add_option("--audit", o->audit, "Also write audit rows: sqlite:PATH or postgresql://...");
  cmd->add_option("--audit-key-file", o->audit_key_file, "HMAC key for the audit log");
  cmd->add_option("--summary-json", o->summary_json, "Write the summary as JSON to this file");
  cmd->add_flag("--json", o->json, "One JSON object per text on stdout, no summary");
  cmd->add_flag("--quiet", o->quiet, "Only the summary");
  add_cloud_flags(*cmd, o->cloud);
  cmd->callback([o] { run_route(*o); });
}

}  // namespace edgeroute::cli
