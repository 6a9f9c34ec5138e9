// edgeroute report: the monitor's document and health report, computed
// offline from an audit log (the same logic the service runs live).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "edgeroute/common/error.h"
#include "edgeroute/monitor/dashboard.h"
#include "edgeroute/monitor/monitor.h"
#include "edgeroute/router/audit.h"
#include "router_setup.h"

namespace edgeroute::cli {

namespace {

using nlohmann::json;

struct ReportOptions {
  std::string audit;
  std::string policy;
  std::string since;
  std::string format = "text";
  std::string out;
  std::size_t max_rows = 1'000'000;
};

// "2026-11-28T06:00:00Z" (UTC), or a duration back from now: "90m", "24h", "7d".
std::int64_t parse_since(const std::string& s, std::int64_t now_us) {
  if (s.empty()) return 0;
  const char unit = s.back();
  if (unit == 's' || unit == 'm' || unit == 'h' || unit == 'd') {
    const std::string num = s.substr(0, s.size() - 1);
    std::size_t used = 0;
    double v = -1;
    try {
      v = std::stod(num, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == num.size() && !num.empty() && v >= 0 && std::isfinite(v)) {
      const double mult = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : 86400;
      return now_us - static_cast<std::int64_t>(v * mult * 1e6);
    }
  }
  std::tm tm{};
  std::istringstream in(s);
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
  if (!in.fail()) {
    char z = 0;
    in >> z;
    if (z == 'Z' && in.peek() == std::char_traits<char>::eof()) {
      return static_cast<std::int64_t>(timegm(&tm)) * 1'000'000;
    }
  }
  throw Error("--since " + s + ": expected an ISO 8601 UTC time (2026-11-28T06:00:00Z) or a duration (90m, 24h, 7d)");
}

std::string fmt(const json& v, int digits = 4, double scale = 1, const char* suffix = "") {
  if (!v.is_number()) return "n/a";
  std::ostringstream os;
  os << std::fixed << std::setprecision(digits) << v.get<double>() * scale << suffix;
  return os.str();
}

std::string percent(const json& v) { return fmt(v, 2, 100, "%"); }

std::string iso(std::int64_t unix_s) {
  const std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void write_text(std::ostream& os, const json& doc, const std::string& uri, std::size_t rows) {
  const json& s = doc["summary"];
  const json& h = doc["health"];
  os << "edgeroute report: " << uri << ", " << rows << " answers";
  if (!doc["series"].empty()) {
    os << " from " << iso(doc["series"].front()["t"].get<std::int64_t>()) << " to "
       << iso(doc["series"].back()["t"].get<std::int64_t>() + doc["bucket_seconds"].get<std::int64_t>());
  }
  os << "\n\n";
  os << "Health: " << h["score"].get<double>() << " (" << h["status"].get<std::string>() << ")\n";
  os << "  edge utilization  " << percent(s["edge_share"]) << "  (trend " << h["trends"]["edge_share"].get<std::string>()
     << ")\n";
  os << "  accuracy          " << percent(h["accuracy"]["value"]) << "  (source "
     << h["accuracy"]["source"].get<std::string>() << ", trend " << h["trends"]["accuracy"].get<std::string>() << ")\n";
  os << "  cost per query    $" << fmt(s["cost_per_query"], 5) << " vs $" << fmt(s["cloud_only_per_query"], 5)
     << " cloud-only (savings " << percent(s["savings"]) << ", trend " << h["trends"]["cost_per_query"].get<std::string>()
     << ")\n";
  const json& lat = s["latency_ms"];
  const auto pct = [](const json& p) {
    return p.is_object() ? fmt(p["p50"], 2) + " / " + fmt(p["p95"], 2) + " / " + fmt(p["p99"], 2) + " ms" : "n/a";
  };
  os << "  latency p50/p95/p99: edge " << pct(lat["edge"]) << ", escalated " << pct(lat["cloud"]) << "  (p95 trend "
     << h["trends"]["latency_p95"].get<std::string>() << ")\n";
  os << "  errors            " << s["errors"].get<std::int64_t>() << ", degraded " << s["degraded"].get<std::int64_t>()
     << "\n";
  const json& fb = s["feedback"];
  os << "  feedback          " << fb["correct"].get<std::int64_t>() << " / " << fb["total"].get<std::int64_t>()
     << " correct\n";
  const json& sh = s["shadow"];
  os << "  shadow agreement  " << percent(sh["agreement"]) << " of " << sh["total"].get<std::int64_t>()
     << " (cost $" << fmt(sh["cost_usd"], 4) << ")\n";
  const json& d = s["drift"];
  os << "  drift             PSI confidence " << fmt(d["psi_confidence"], 3) << ", labels " << fmt(d["psi_labels"], 3)
     << ", OOD rate " << percent(d["ood_rate"]) << " (" << d["band"].get<std::string>() << ")\n";
  os << "\nReasons:\n";
  std::vector<std::pair<std::int64_t, std::string>> reasons;
  for (const auto& [k, v] : s["reasons"].items()) reasons.emplace_back(v.get<std::int64_t>(), k);
  std::sort(reasons.rbegin(), reasons.rend());
  for (const auto& [n, k] : reasons) {
    if (n > 0) os << "  " << std::left << std::setw(24) << k << std::right << n << "\n";
  }
  os << "\nAlerts over the span:";
  if (doc["alerts"]["firing"].empty()) os << " none";
  os << "\n";
  for (const json& a : doc["alerts"]["firing"]) {
    os << "  [" << a["severity"].get<std::string>() << "] " << a["name"].get<std::string>() << ": "
       << a["metric"].get<std::string>() << " = " << fmt(a["value"], 4) << " " << a["op"].get<std::string>() << " "
       << fmt(a["threshold"], 4) << "\n";
  }
  os << "\nRecommendations:\n";
  for (const json& r : h["recommendations"]) os << "  - " << r["text"].get<std::string>() << "\n";
  const json& c = h["cost_analysis"];
  os << "\nCost analysis (from the real span):\n";
  if (c.is_object()) {
    os << "  " << c["queries"].get<std::int64_t>() << " queries over " << fmt(c["span_seconds"], 0) << " s ("
       << fmt(c["queries_per_day"], 0) << " per day)\n";
    os << "  daily $" << fmt(c["daily_cost_usd"], 2) << " vs $" << fmt(c["daily_cloud_only_cost_usd"], 2)
       << " cloud-only; 30 days $" << fmt(c["monthly_cost_usd"], 2) << " vs $"
       << fmt(c["monthly_cloud_only_cost_usd"], 2) << "\n";
  }
  for (const json& n : h["notes"]) os << "  note: " << n.get<std::string>() << "\n";
}

void run_report(const ReportOptions& o) {
  if (o.format != "text" && o.format != "json" && o.format != "html") {
    throw Error("--format must be text, json or html, got '" + o.format + "'");
  }
  const router::Policy policy = load_policy(o.policy);
  const std::string source = o.policy.empty() ? std::string("the default policy") : o.policy;
  const monitor::MonitorConfig config = monitor::monitor_config_from_json(policy.monitor, source);
  const json reference = policy.calibration.contains("reference") ? policy.calibration["reference"] : json();

  const std::int64_t now_us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  const std::int64_t since_us = parse_since(o.since, now_us);
  router::AuditOptions ao;
  ao.create = false;
  const std::unique_ptr<router::AuditSink> sink = router::open_audit(o.audit, ao);
  const std::string uri = router::redact_audit_uri(o.audit);
  const std::vector<router::AuditRecord> rows = sink->read(since_us, o.max_rows + 1);
  if (rows.empty()) throw Error(uri + ": no answers" + (o.since.empty() ? "" : " since " + o.since));
  if (rows.size() > o.max_rows) {
    throw Error(uri + ": more than " + std::to_string(o.max_rows) + " answers in the span; narrow it with --since " +
                "or raise --max-rows");
  }

  // Labels: the reference's, else every label the log names, sorted.
  std::vector<std::string> labels;
  if (reference.is_object() && reference.contains("label_shares")) {
    for (const auto& [k, v] : reference["label_shares"].items()) labels.push_back(k);
  } else {
    std::set<std::string> seen;
    for (const router::AuditRecord& r : rows) seen.insert(r.edge_label);
    labels.assign(seen.begin(), seen.end());
  }

  std::int64_t first = rows.front().ts_us, last = rows.front().ts_us;
  for (const router::AuditRecord& r : rows) {
    first = std::min(first, r.ts_us);
    last = std::max(last, r.ts_us);
  }
  monitor::SpanReport report(labels, reason_names(), reference, config, first, last, rows.front().node);
  std::map<std::string, std::pair<std::string, std::string>> answered;  // request id -> (route, label)
  for (const router::AuditRecord& r : rows) {
    monitor::Observation ob;
    ob.ts_us = r.ts_us;
    ob.cloud = r.route == "cloud";
    ob.reason = report.builder().reason_index(r.reason);
    ob.degraded = r.degraded;
    ob.cost_usd = r.cost_usd;
    ob.cloud_only_cost_usd = r.cloud_only_cost_usd;
    ob.latency_ms = r.latency_ms;
    ob.edge_confidence = r.edge_confidence;
    ob.edge_label = report.builder().label_index(r.edge_label);
    const json details = json::parse(r.details_json, nullptr, false);
    if (details.is_object()) {
      if (details.contains("energy") && details["energy"].is_number()) ob.energy = details["energy"].get<double>();
      if (details.contains("complexity") && details["complexity"].is_number()) {
        ob.complexity = details["complexity"].get<double>();
      }
    }
    report.record(ob);
    answered[r.request_id] = {r.route, r.label};
  }
  for (const router::Feedback& f : sink->read_feedback(since_us, o.max_rows)) {
    const auto it = answered.find(f.request_id);
    if (it == answered.end()) continue;  // its answer lies before the span
    report.record_feedback(f.ts_us, it->second.first == "cloud", it->second.second == f.label);
  }
  const json doc = report.document(now_us);

  std::ostringstream body;
  if (o.format == "json") {
    body << doc.dump(2) << "\n";
  } else if (o.format == "html") {
    body << monitor::report_html(doc);
  } else {
    write_text(body, doc, uri, rows.size());
  }
  if (o.out.empty()) {
    std::cout << body.str();
    return;
  }
  const std::string tmp = o.out + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    if (!(f << body.str()) || !f.flush()) throw Error(o.out + ": cannot write the report");
  }
  if (std::rename(tmp.c_str(), o.out.c_str()) != 0) throw Error(o.out + ": cannot write the report");
  std::cerr << "edgeroute report: " << rows.size() << " answers -> " << o.out << "\n";
}

}  // namespace

void register_report(CLI::App& app) {
  auto o = std::make_shared<ReportOptions>();
  CLI::App* cmd = app.add_subcommand(
      "report", "Health report, trends, drift and cost analysis from an audit log (text, JSON or an HTML page)");
  cmd->add_option("--audit", o->audit, "Audit log: sqlite:PATH or postgresql://user@host:port/db")->required();
  cmd->add_option("--policy", o->policy,
                  "policy.toml: [monitor] alert rules and the [calibration] reference for drift (default: none)");
  cmd->add_option("--since", o->since, "Only answers from this time: 2026-11-28T06:00:00Z, or 90m / 24h / 7d ago");
  cmd->add_option("--format", o->format, "text, json or html")->capture_default_str();
  cmd->add_option("--out", o->out, "Write here instead of stdout");
  cmd->add_option("--max-rows", o->max_rows, "Refuse spans with more answers than this")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100'000'000}))
      ->capture_default_str();
  cmd->callback([o] { run_report(*o); });
}

}  // namespace edgeroute::cli
