#include "edgeroute/monitor/monitor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "edgeroute/common/clock.h"
#include "edgeroute/common/error.h"

namespace edgeroute::monitor {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const std::vector<std::string> kLabels = {"a", "b", "c", "d"};
const std::vector<std::string> kReasons = {"optimal_edge", "low_confidence", "out_of_distribution", "complexity"};

// A deterministic uniform stream in [0, 1).
class Uniform {
 public:
  explicit Uniform(std::uint64_t seed) : state_(seed) {}
  double operator()() {
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state_ >> 11) / 9007199254740992.0;
  }

 private:
  std::uint64_t state_;
};

// In distribution: confident, labels 40/30/20/10 %, energy in [-8, -5).
// Shifted: unsure, everything predicted as "d", energy above every reference quantile.
Observation draw(Uniform& u, bool shifted, std::int64_t ts_us) {
  Observation o;
  o.ts_us = ts_us;
  o.reason = 0;
  o.latency_ms = 2.0;
  o.cost_usd = 0.0001;
  o.cloud_only_cost_usd = 0.002;
  if (shifted) {
    o.edge_confidence = 0.2 + 0.5 * u();
    o.edge_label = 3;
    o.energy = -2.0;
  } else {
    o.edge_confidence = 0.7 + 0.3 * u();
    const double l = u();
    o.edge_label = l < 0.4 ? 0 : l < 0.7 ? 1 : l < 0.9 ? 2 : 3;
    o.energy = -8.0 + 3.0 * u();
  }
  return o;
}

nlohmann::json make_reference() {
  Uniform u(99);
  std::vector<double> hist(20, 0.0);
  std::vector<double> shares(4, 0.0);
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const Observation o = draw(u, false, 0);
    hist[static_cast<std::size_t>(confidence_bin(o.edge_confidence))] += 1.0 / n;
    shares[static_cast<std::size_t>(o.edge_label)] += 1.0 / n;
  }
  return {{"confidence_histogram", hist},
          {"label_shares", {{"a", shares[0]}, {"b", shares[1]}, {"c", shares[2]}, {"d", shares[3]}}},
          {"energy_quantiles", {{"p50", -6.5}, {"p90", -5.3}, {"p99", -5.03}, {"p995", -5.015}}}};
}

MonitorConfig quiet_config() {
  MonitorConfig c;
  c.log_alerts = false;
  return c;
}

std::set<std::string> keys(const nlohmann::json& j) {
  std::set<std::string> out;
  for (const auto& [k, v] : j.items()) out.insert(k);
  return out;
}

void expect_json_near(const nlohmann::json& a, const nlohmann::json& b, const std::string& path) {
  if (a.is_number_float() || b.is_number_float()) {
    ASSERT_TRUE(a.is_number() && b.is_number()) << path;
    EXPECT_NEAR(a.get<double>(), b.get<double>(), 1e-12 * std::max(1.0, std::abs(b.get<double>()))) << path;
    return;
  }
  ASSERT_EQ(a.type(), b.type()) << path;
  if (a.is_object()) {
    EXPECT_EQ(keys(a), keys(b)) << path;
    for (const auto& [k, v] : a.items())
      if (b.contains(k)) expect_json_near(v, b[k], path + "." + k);
  } else if (a.is_array()) {
    ASSERT_EQ(a.size(), b.size()) << path;
    for (std::size_t i = 0; i < a.size(); ++i) expect_json_near(a[i], b[i], path + "[" + std::to_string(i) + "]");
  } else {
    EXPECT_EQ(a, b) << path;
  }
}

bool fired(const std::vector<Alert>& events, const std::string& name, bool firing = true) {
  for (const Alert& a : events)
    if (a.rule.name == name && a.firing == firing) return true;
  return false;
}

TEST(Monitor, DocumentHasEveryKeyOfTheSpec) {
  FakeClock clock;
  Monitor m(kLabels, kReasons, make_reference(), quiet_config(), &clock, "edge-1");
  Uniform u(1);
  for (int i = 0; i < 30; ++i) {
    Observation o = draw(u, false, clock.unix_micros());
    o.cloud = i % 3 == 0;
    o.edge_confidence = 0.1;  // low edge share and confidence: alerts fire
    m.record(o);
    clock.advance(milliseconds(100));
  }
  m.record_feedback(clock.unix_micros(), false, true);
  m.record_shadow(clock.unix_micros(), true, 0.001);
  m.record_audit_commit(clock.unix_micros(), 0.003);
  m.set_breaker_state("closed");
  m.evaluate_alerts();

  const nlohmann::json d = m.document("1h");
  EXPECT_EQ(keys(d), (std::set<std::string>{"generated_at", "node", "source", "window", "bucket_seconds", "series",
                                             "summary", "windows", "alerts", "health"}));
  EXPECT_EQ(d["source"], "live");
  EXPECT_EQ(d["node"], "edge-1");
  EXPECT_EQ(d["window"], "1h");
  EXPECT_EQ(d["bucket_seconds"], 60);
  EXPECT_EQ(d["generated_at"], iso8601(clock.unix_micros()));
  ASSERT_EQ(d["series"].size(), 60u);
  const std::set<std::string> bucket_keys = {"t",          "requests",       "edge",
                                             "cloud",      "degraded",       "errors",
                                             "edge_share", "cost_per_query", "cloud_only_per_query",
                                             "latency_ms", "accuracy",       "shadow_agreement",
                                             "psi_confidence", "ood_rate"};
  for (const auto& b : d["series"]) EXPECT_EQ(keys(b), bucket_keys);
  const nlohmann::json& last = d["series"].back();
  EXPECT_EQ(last["requests"], 30);
  EXPECT_EQ(last["cloud"], 10);
  EXPECT_EQ(keys(last["latency_ms"]), (std::set<std::string>{"edge", "cloud"}));
  EXPECT_EQ(keys(last["latency_ms"]["edge"]), (std::set<std::string>{"p50", "p95", "p99"}));
  const nlohmann::json& empty = d["series"].front();
  EXPECT_EQ(empty["requests"], 0);
  for (const char* k : {"edge_share", "cost_per_query", "cloud_only_per_query", "accuracy", "shadow_agreement",
                        "psi_confidence", "ood_rate"})
    EXPECT_TRUE(empty[k].is_null()) << k;
  EXPECT_TRUE(empty["latency_ms"]["edge"].is_null());
  EXPECT_EQ(d["series"][1]["t"].get<std::int64_t>() - d["series"][0]["t"].get<std::int64_t>(), 60);

  const std::set<std::string> summary_keys = {
      "requests",       "edge",          "cloud",       "degraded",   "errors",
      "edge_share",     "error_rate",    "degraded_rate", "cost_usd", "cloud_only_cost_usd",
      "cost_per_query", "cloud_only_per_query", "savings", "latency_ms", "reasons",
      "confidence_histogram", "reference_confidence_histogram", "labels", "feedback", "shadow",
      "drift",          "audit",         "breaker"};
  const nlohmann::json& s = d["summary"];
  EXPECT_EQ(keys(s), summary_keys);
  EXPECT_EQ(keys(s["latency_ms"]), (std::set<std::string>{"edge", "cloud", "all"}));
  EXPECT_EQ(keys(s["reasons"]), std::set<std::string>(kReasons.begin(), kReasons.end()));
  EXPECT_EQ(s["reasons"]["optimal_edge"], 30);
  EXPECT_EQ(s["reasons"]["complexity"], 0);
  EXPECT_EQ(s["confidence_histogram"].size(), 20u);
  EXPECT_DOUBLE_EQ(s["confidence_histogram"][2].get<double>(), 1.0);
  EXPECT_EQ(s["reference_confidence_histogram"].size(), 20u);
  EXPECT_EQ(keys(s["feedback"]), (std::set<std::string>{"total", "correct", "accuracy", "edge", "cloud"}));
  EXPECT_EQ(keys(s["feedback"]["edge"]), (std::set<std::string>{"total", "correct", "accuracy"}));
  EXPECT_EQ(keys(s["shadow"]), (std::set<std::string>{"total", "agree", "agreement", "ci95", "cost_usd"}));
  EXPECT_EQ(keys(s["drift"]),
            (std::set<std::string>{"psi_confidence", "psi_labels", "ood_rate", "ood_energy_threshold", "band"}));
  EXPECT_EQ(keys(s["audit"]), (std::set<std::string>{"commits", "mean_ms", "max_ms"}));
  EXPECT_DOUBLE_EQ(s["audit"]["max_ms"].get<double>(), 3.0);
  EXPECT_EQ(s["breaker"], "closed");
  EXPECT_DOUBLE_EQ(s["drift"]["ood_energy_threshold"].get<double>(), -5.03);

  EXPECT_EQ(keys(d["windows"]), (std::set<std::string>{"1m", "1h", "24h"}));
  for (const auto& [name, w] : d["windows"].items()) EXPECT_EQ(keys(w), summary_keys) << name;
  EXPECT_EQ(d["windows"]["1h"], d["summary"]);

  EXPECT_EQ(keys(d["alerts"]), (std::set<std::string>{"firing", "recent"}));
  ASSERT_FALSE(d["alerts"]["firing"].empty());
  for (const auto& a : d["alerts"]["firing"])
    EXPECT_EQ(keys(a), (std::set<std::string>{"name", "severity", "metric", "window", "value", "threshold", "op",
                                              "state", "fired_at", "resolved_at", "summary"}));
  EXPECT_EQ(d["alerts"]["recent"].size(), d["alerts"]["firing"].size());
  EXPECT_EQ(d["health"]["window"], "1h");
  EXPECT_TRUE(d["health"].contains("score"));

  EXPECT_EQ(m.document("1m")["series"].size(), 60u);
  EXPECT_EQ(m.document("1m")["bucket_seconds"], 1);
  EXPECT_EQ(m.document("24h")["series"].size(), 96u);
  EXPECT_EQ(m.document("24h")["bucket_seconds"], 900);
  EXPECT_THROW(m.document("5m"), Error);
}

TEST(Monitor, FeedbackAccuracyAndShadowAgreementMatchHandComputedValues) {
  FakeClock clock;
  Monitor m(kLabels, kReasons, nullptr, quiet_config(), &clock, "n");
  // Edge route: 17 of 20 correct; cloud route: 10 of 10.
  for (int i = 0; i < 20; ++i) m.record_feedback(clock.unix_micros(), false, i >= 3);
  for (int i = 0; i < 10; ++i) m.record_feedback(clock.unix_micros(), true, true);
  // Shadow: 45 of 50 agree, $0.002 each.
  for (int i = 0; i < 50; ++i) m.record_shadow(clock.unix_micros(), i % 10 != 0, 0.002);
  const nlohmann::json s = m.document("1h")["summary"];
  EXPECT_EQ(s["feedback"]["total"], 30);
  EXPECT_EQ(s["feedback"]["correct"], 27);
  EXPECT_DOUBLE_EQ(s["feedback"]["accuracy"].get<double>(), 0.9);
  EXPECT_DOUBLE_EQ(s["feedback"]["edge"]["accuracy"].get<double>(), 0.85);
  EXPECT_DOUBLE_EQ(s["feedback"]["cloud"]["accuracy"].get<double>(), 1.0);
  EXPECT_EQ(s["shadow"]["total"], 50);
  EXPECT_EQ(s["shadow"]["agree"], 45);
  EXPECT_DOUBLE_EQ(s["shadow"]["agreement"].get<double>(), 0.9);
  // Wilson 95% interval for 45/50: (p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n).
  EXPECT_NEAR(s["shadow"]["ci95"][0].get<double>(), 0.7863976856, 1e-9);
  EXPECT_NEAR(s["shadow"]["ci95"][1].get<double>(), 0.9565242351, 1e-9);
  EXPECT_NEAR(s["shadow"]["cost_usd"].get<double>(), 0.1, 1e-12);
  const nlohmann::json h = m.health_report("1h");
  EXPECT_EQ(h["accuracy"]["source"], "feedback");
  EXPECT_DOUBLE_EQ(h["accuracy"]["value"].get<double>(), 0.9);
  EXPECT_DOUBLE_EQ(h["score"].get<double>(), 100.0);
  // No answers: no shadow interval in the 1m window of an idle monitor once the minute passes.
  clock.advance(seconds(61));
  EXPECT_TRUE(m.document("1m")["summary"]["shadow"]["ci95"].is_null());
}

struct DriftRun {
  nlohmann::json summary;
  std::vector<Alert> events;
  nlohmann::json health;
};

DriftRun run_stream(bool shifted, const nlohmann::json& reference) {
  FakeClock clock;
  Monitor m(kLabels, kReasons, reference, quiet_config(), &clock, "n");
  Uniform u(shifted ? 7 : 8);
  for (int i = 0; i < 2000; ++i) {
    m.record(draw(u, shifted, clock.unix_micros()));
    clock.advance(milliseconds(1));
  }
  DriftRun r;
  r.events = m.evaluate_alerts();
  const nlohmann::json d = m.document("1h");
  r.summary = d["summary"];
  r.health = d["health"];
  return r;
}

TEST(Monitor, PsiSeparatesShiftedFromUnshiftedStreams) {
  const nlohmann::json reference = make_reference();
  const DriftRun same = run_stream(false, reference);
  EXPECT_LT(same.summary["drift"]["psi_confidence"].get<double>(), 0.1);
  EXPECT_LT(same.summary["drift"]["psi_labels"].get<double>(), 0.1);
  EXPECT_LT(same.summary["drift"]["ood_rate"].get<double>(), 0.03);
  EXPECT_EQ(same.summary["drift"]["band"], "stable");
  EXPECT_FALSE(fired(same.events, "confidence_drift"));
  EXPECT_FALSE(fired(same.events, "label_drift"));
  EXPECT_FALSE(fired(same.events, "ood_rate_high"));

  const DriftRun shifted = run_stream(true, reference);
  EXPECT_GT(shifted.summary["drift"]["psi_confidence"].get<double>(), 0.25);
  EXPECT_GT(shifted.summary["drift"]["psi_labels"].get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(shifted.summary["drift"]["ood_rate"].get<double>(), 1.0);
  EXPECT_EQ(shifted.summary["drift"]["band"], "significant");
  EXPECT_TRUE(fired(shifted.events, "confidence_drift"));
  EXPECT_TRUE(fired(shifted.events, "label_drift"));
  EXPECT_TRUE(fired(shifted.events, "ood_rate_high"));
  bool drift_advice = false;
  for (const auto& r : shifted.health["recommendations"]) drift_advice |= r["code"] == "drift";
  EXPECT_TRUE(drift_advice);
}

TEST(Monitor, WithoutAReferenceDriftIsUnknownAndNeverAlerts) {
  const DriftRun shifted = run_stream(true, nullptr);
  for (const char* k : {"psi_confidence", "psi_labels", "ood_rate", "ood_energy_threshold"})
    EXPECT_TRUE(shifted.summary["drift"][k].is_null()) << k;
  EXPECT_EQ(shifted.summary["drift"]["band"], "unknown");
  EXPECT_TRUE(shifted.summary["reference_confidence_histogram"].is_null());
  EXPECT_FALSE(fired(shifted.events, "confidence_drift"));
  EXPECT_FALSE(fired(shifted.events, "ood_rate_high"));
}

TEST(Monitor, PsiNeedsMinRequests) {
  FakeClock clock;
  Monitor m(kLabels, kReasons, make_reference(), quiet_config(), &clock, "n");
  Uniform u(3);
  for (int i = 0; i < 99; ++i) m.record(draw(u, true, clock.unix_micros()));
  EXPECT_FALSE(m.psi_labels());
  m.record(draw(u, true, clock.unix_micros()));
  EXPECT_TRUE(m.psi_labels());  // 4 labels: drift_min_requests (100) rules
  // 20 confidence bins: 10 x 19 = 190 answers.
  for (int i = 100; i < 189; ++i) m.record(draw(u, true, clock.unix_micros()));
  EXPECT_FALSE(m.psi_confidence());
  m.record(draw(u, true, clock.unix_micros()));
  EXPECT_TRUE(m.psi_confidence());
}

TEST(Monitor, AlertsFireAndResolveAsWindowsMove) {
  FakeClock clock;
  Monitor m(kLabels, kReasons, nullptr, quiet_config(), &clock, "n");
  Uniform u(5);
  // 25 slow cloud answers: edge utilization 0 over 1h, p95 300 ms over 1m.
  for (int i = 0; i < 25; ++i) {
    Observation o = draw(u, false, clock.unix_micros());
    o.cloud = true;
    o.latency_ms = 300;
    m.record(o);
  }
  for (int i = 0; i < 5; ++i) m.record_error(clock.unix_micros(), 503);
  m.record_error(clock.unix_micros(), 200);  // not an error
  std::vector<Alert> events = m.evaluate_alerts();
  EXPECT_TRUE(fired(events, "edge_utilization_low"));
  EXPECT_TRUE(fired(events, "latency_p95_high"));
  EXPECT_TRUE(fired(events, "error_rate_high"));  // 5 / 30
  EXPECT_FALSE(fired(events, "accuracy_low"));    // no feedback
  EXPECT_EQ(m.document("1m")["summary"]["errors"], 5);
  EXPECT_TRUE(m.evaluate_alerts().empty());
  // The 1m window empties: its alerts resolve; the 1h alert stays.
  clock.advance(seconds(61));
  events = m.evaluate_alerts();
  EXPECT_TRUE(fired(events, "latency_p95_high", false));
  EXPECT_TRUE(fired(events, "error_rate_high", false));
  EXPECT_EQ(events.size(), 2u);
  EXPECT_TRUE(m.alerts().is_firing("edge_utilization_low"));
  const Monitor::Gauges g = m.gauges();
  for (const auto& [name, on] : g.alerts_firing) EXPECT_EQ(on, name == "edge_utilization_low") << name;
  EXPECT_EQ(g.alerts_firing.size(), default_rules().size());
  // 3 alerts fired in the last hour, edge utilization 0: 100 - 30 - 15.
  EXPECT_DOUBLE_EQ(g.health_score, 55);
  clock.advance(seconds(3600));
  events = m.evaluate_alerts();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(fired(events, "edge_utilization_low", false));
  const nlohmann::json recent = m.document("1h")["alerts"]["recent"];
  ASSERT_EQ(recent.size(), 6u);
  EXPECT_EQ(recent[0]["name"], "edge_utilization_low");
  EXPECT_EQ(recent[0]["state"], "resolved");
  EXPECT_TRUE(m.document("1h")["alerts"]["firing"].empty());
}

TEST(Monitor, GaugesPerWindow) {
  FakeClock clock;
  Monitor m(kLabels, kReasons, nullptr, quiet_config(), &clock, "n");
  Uniform u(6);
  for (int i = 0; i < 4; ++i) {
    Observation o = draw(u, false, clock.unix_micros());
    o.cloud = i == 0;
    m.record(o);
  }
  clock.advance(seconds(120));
  for (int i = 0; i < 4; ++i) m.record(draw(u, false, clock.unix_micros()));
  EXPECT_DOUBLE_EQ(*m.edge_share("1m"), 1.0);
  EXPECT_DOUBLE_EQ(*m.edge_share("1h"), 7.0 / 8.0);
  EXPECT_DOUBLE_EQ(*m.edge_share("24h"), 7.0 / 8.0);
  const Monitor::Gauges g = m.gauges();
  EXPECT_DOUBLE_EQ(*g.edge_share[0], 1.0);
  EXPECT_DOUBLE_EQ(*g.edge_share[1], 7.0 / 8.0);
  EXPECT_FALSE(g.psi_confidence);
  EXPECT_FALSE(g.ood_rate);
  EXPECT_DOUBLE_EQ(m.health_score(), 90);  // edge utilization 0.875 < 0.9
  clock.advance(seconds(2 * 86400));
  EXPECT_FALSE(m.edge_share("24h"));
}

TEST(Monitor, CostAnalysisFromTheRealSpan) {
  FakeClock clock;
  Monitor m(kLabels, kReasons, nullptr, quiet_config(), &clock, "n");
  Uniform u(4);
  // 100 answers 6 s apart: first to last is 594 s.
  for (int i = 0; i < 100; ++i) {
    Observation o = draw(u, false, clock.unix_micros());
    o.cost_usd = 0.001;
    o.cloud_only_cost_usd = 0.01;
    m.record(o);
    if (i < 99) clock.advance(seconds(6));
  }
  const nlohmann::json c = m.health_report("1h")["cost_analysis"];
  ASSERT_FALSE(c.is_null());
  EXPECT_EQ(c["queries"], 100);
  EXPECT_DOUBLE_EQ(c["span_seconds"].get<double>(), 594);
  EXPECT_NEAR(c["queries_per_day"].get<double>(), 100.0 / 594 * 86400, 1e-6);
  EXPECT_NEAR(c["daily_cost_usd"].get<double>(), 0.1 / 594 * 86400, 1e-9);
  EXPECT_NEAR(c["monthly_cost_usd"].get<double>(), 0.1 / 594 * 86400 * 30, 1e-7);
  EXPECT_NEAR(c["daily_cloud_only_cost_usd"].get<double>(), 1.0 / 594 * 86400, 1e-8);
  EXPECT_NEAR(c["savings"].get<double>(), 0.9, 1e-12);
  // The 1m window holds 10 answers over 54 s: too short to extrapolate.
  EXPECT_TRUE(m.health_report("1m")["cost_analysis"].is_null());
}

TEST(Monitor, LabelsAreTheTopTwentyByCount) {
  std::vector<std::string> labels;
  for (int i = 0; i < 30; ++i) labels.push_back("l" + std::to_string(i));
  FakeClock clock;
  Monitor m(labels, kReasons, nullptr, quiet_config(), &clock, "n");
  for (int l = 0; l < 30; ++l)
    for (int k = 0; k <= l; ++k) {
      Observation o;
      o.ts_us = clock.unix_micros();
      o.edge_label = l;
      m.record(o);
    }
  const nlohmann::json s = m.document("1h")["summary"]["labels"];
  ASSERT_EQ(s.size(), 20u);
  EXPECT_EQ(s["l29"], 30);
  EXPECT_EQ(s["l10"], 11);
  EXPECT_FALSE(s.contains("l9"));
}

TEST(SpanReport, ReplayGivesTheSameSummaryAsTheLiveMonitor) {
  FakeClock clock;
  const nlohmann::json reference = make_reference();
  Monitor live(kLabels, kReasons, reference, quiet_config(), &clock, "n");
  std::vector<Observation> rows;
  Uniform u(11);
  for (int i = 0; i < 400; ++i) {
    Observation o = draw(u, i % 4 == 0, clock.unix_micros());
    o.cloud = i % 5 == 0;
    o.reason = i % 4;
    o.degraded = i % 50 == 0;
    o.latency_ms = 1 + i % 37;
    rows.push_back(o);
    if (i < 399) clock.advance(seconds(3));
  }
  const std::int64_t first = rows.front().ts_us, last = rows.back().ts_us;
  SpanReport report(kLabels, kReasons, reference, quiet_config(), first, last, "n");
  for (const Observation& o : rows) {
    live.record(o);
    report.record(o);
  }
  for (int i = 0; i < 40; ++i) {
    const std::int64_t ts = first + i * 10'000'000;
    live.record_feedback(ts, i % 2 == 0, i % 8 != 0);
    report.record_feedback(ts, i % 2 == 0, i % 8 != 0);
    live.record_shadow(ts, i % 5 != 0, 0.001);
    report.record_shadow(ts, i % 5 != 0, 0.001);
  }
  ASSERT_EQ(clock.unix_micros(), last);
  const nlohmann::json d = report.document(last);
  // Sums are grouped by different bucket sizes, so money may differ in the last bits.
  expect_json_near(d["summary"], live.document("1h")["summary"], "summary");
  EXPECT_EQ(d["source"], "audit");
  EXPECT_EQ(d["window"], "span");
  EXPECT_FALSE(d.contains("windows"));
  EXPECT_EQ(keys(d), (std::set<std::string>{"generated_at", "node", "source", "window", "bucket_seconds", "series",
                                             "summary", "alerts", "health"}));
  EXPECT_LE(d["series"].size(), 101u);
  std::uint64_t total = 0;
  for (const auto& b : d["series"]) total += b["requests"].get<std::uint64_t>();
  EXPECT_EQ(total, 400u);
  EXPECT_EQ(d["bucket_seconds"], 12);  // 1198 s over 100 buckets
  EXPECT_TRUE(d["alerts"]["recent"].empty());
  // A quarter of the traffic is shifted: the drift rules hold over the span.
  std::set<std::string> firing;
  for (const auto& a : d["alerts"]["firing"]) firing.insert(a["name"]);
  EXPECT_TRUE(firing.count("ood_rate_high"));
  EXPECT_EQ(d["health"]["window"], "span");
  EXPECT_EQ(d["health"]["alerts_fired"], firing.size());
  EXPECT_DOUBLE_EQ(d["health"]["cost_analysis"]["span_seconds"].get<double>(), 1197);
  EXPECT_EQ(report.health_report(), d["health"]);
}

TEST(DocumentBuilder, MapsNamesToIndices) {
  const DocumentBuilder b(kLabels, kReasons, nullptr, quiet_config());
  EXPECT_EQ(b.label_index("c"), 2);
  EXPECT_EQ(b.label_index("zzz"), -1);
  EXPECT_EQ(b.reason_index("complexity"), 3);
  EXPECT_EQ(b.reason_index("nope"), -1);
}

TEST(DocumentBuilder, LabelPsiWaitsForTenAnswersPerExtraLabel) {
  // 77 labels, uniform reference: PSI's noise floor at n answers is about
  // 76 / n, so 100 answers drawn from the reference itself would look drifted.
  std::vector<std::string> labels;
  nlohmann::json shares = nlohmann::json::object();
  for (int i = 0; i < 77; ++i) {
    labels.push_back("l" + std::to_string(i));
    shares[labels.back()] = 1.0 / 77;
  }
  nlohmann::json hist = nlohmann::json::array();
  for (int i = 0; i < 20; ++i) hist.push_back(i == 19 ? 1.0 : 0.0);
  const nlohmann::json ref = {{"confidence_histogram", hist},
                              {"label_shares", shares},
                              {"energy_quantiles", {{"p50", -9.0}, {"p90", -8.0}, {"p99", -7.0}, {"p995", -6.5}}}};
  const DocumentBuilder b(labels, kReasons, ref, quiet_config());
  EXPECT_EQ(b.psi_min_requests(77), 760u);
  EXPECT_EQ(b.psi_min_requests(20), 190u);
  EXPECT_EQ(b.psi_min_requests(3), 100u);  // drift_min_requests when it is larger
  Series series(1, 1, kReasons.size(), labels.size());
  Observation o;
  o.edge_confidence = 0.99;
  for (int i = 0; i < 759; ++i) {
    o.edge_label = i % 77;
    series.record(o, std::nullopt);
  }
  EXPECT_FALSE(b.psi_labels(series.aggregate(o.ts_us)).has_value());
  o.edge_label = 759 % 77;
  series.record(o, std::nullopt);
  const std::optional<double> psi = b.psi_labels(series.aggregate(o.ts_us));
  ASSERT_TRUE(psi.has_value());
  EXPECT_LT(*psi, 0.1);
}

TEST(SpanReport, FeedbackAfterTheLastAnswerCountsInTheLastBucket) {
  const std::int64_t first = 1'764'309'600'000'000, last = first + 3'600'000'000;
  SpanReport report(kLabels, kReasons, nullptr, quiet_config(), first, last, "n");
  Observation o;
  o.ts_us = first;
  report.record(o);
  o.ts_us = last;
  report.record(o);
  // Unclamped it would lie past the window (and could clear a ring slot still in use).
  report.record_feedback(last + 3'636'000'000, false, true);
  const nlohmann::json d = report.document(last);
  EXPECT_EQ(d["summary"]["requests"], 2);
  EXPECT_EQ(d["summary"]["feedback"]["total"], 1);
  EXPECT_EQ(d["series"].back()["accuracy"], 1.0);
}

TEST(SpanReport, RejectsABackwardsSpan) {
  EXPECT_THROW(SpanReport(kLabels, kReasons, nullptr, quiet_config(), 10'000'000, 0, "n"), Error);
}

void expect_config_error(const nlohmann::json& j, const std::string& needle) {
  try {
    monitor_config_from_json(j, "policy.toml");
    FAIL() << "no error for " << j.dump();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("policy.toml"), std::string::npos) << e.what();
  }
}

TEST(MonitorConfig, ParsesEveryKey) {
  const nlohmann::json j = {
      {"shadow_fraction", 0.05},
      {"shadow_seed", 42},
      {"webhook_url", "http://127.0.0.1:9/hook"},
      {"webhook_timeout_ms", 500},
      {"webhook_queue", 16},
      {"log_alerts", false},
      {"default_alerts", true},
      {"ood_energy_threshold", -4.0},
      {"drift_min_requests", 50},
      {"health", {{"excellent", 95}, {"good", 80}, {"fair", 60}, {"poor", 40}}},
      {"alerts",
       {{{"name", "edge_utilization_low"}, {"metric", "edge_utilization"}, {"op", "<"}, {"threshold", 0.7}},
        {{"name", "slow_audit"},
         {"metric", "audit_commit_ms_max"},
         {"op", "above"},
         {"threshold", 50},
         {"window", "1m"},
         {"min_requests", 1},
         {"for_seconds", 30},
         {"severity", "critical"},
         {"summary", "audit commits are slow"}}}}};
  const MonitorConfig c = monitor_config_from_json(j, "policy.toml");
  EXPECT_DOUBLE_EQ(c.shadow_fraction, 0.05);
  EXPECT_EQ(c.shadow_seed, 42u);
  EXPECT_EQ(c.webhook_url, "http://127.0.0.1:9/hook");
  EXPECT_EQ(c.webhook_timeout_ms, 500);
  EXPECT_EQ(c.webhook_queue, 16u);
  EXPECT_FALSE(c.log_alerts);
  EXPECT_DOUBLE_EQ(*c.ood_energy_threshold, -4.0);
  EXPECT_EQ(c.drift_min_requests, 50u);
  EXPECT_DOUBLE_EQ(c.health.excellent, 95);
  const std::vector<Rule> rules = c.rules();
  ASSERT_EQ(rules.size(), default_rules().size() + 1);
  EXPECT_EQ(rules[0].name, "edge_utilization_low");
  EXPECT_DOUBLE_EQ(rules[0].threshold, 0.7);  // replaced the default in place
  const Rule& audit = rules.back();
  EXPECT_EQ(audit.metric, "audit_commit_ms_max");
  EXPECT_EQ(audit.op, Op::kAbove);
  EXPECT_EQ(audit.window, "1m");
  EXPECT_EQ(audit.min_requests, 1u);
  EXPECT_DOUBLE_EQ(audit.for_seconds, 30);
  EXPECT_EQ(audit.severity, "critical");
  EXPECT_EQ(audit.summary, "audit commits are slow");

  const MonitorConfig only_custom =
      monitor_config_from_json({{"default_alerts", false}, {"alerts", j["alerts"]}}, "policy.toml");
  EXPECT_EQ(only_custom.rules().size(), 2u);
  const MonitorConfig defaults = monitor_config_from_json(nullptr, "policy.toml");
  EXPECT_EQ(defaults.rules().size(), default_rules().size());
  EXPECT_TRUE(defaults.log_alerts);
}

TEST(MonitorConfig, BadInputNamesTheKey) {
  expect_config_error({{"shadow_fractoin", 0.1}}, "shadow_fractoin");
  expect_config_error({{"shadow_fraction", "0.1"}}, "shadow_fraction");
  expect_config_error({{"shadow_fraction", 1.5}}, "shadow_fraction");
  expect_config_error({{"shadow_seed", -1}}, "shadow_seed");
  expect_config_error({{"webhook_timeout_ms", 0}}, "webhook_timeout_ms");
  expect_config_error({{"webhook_url", 5}}, "webhook_url");
  expect_config_error({{"default_alerts", "yes"}}, "default_alerts");
  expect_config_error({{"health", {{"great", 1}}}}, "great");
  expect_config_error({{"health", {{"good", 95}}}}, "excellent >= good");
  expect_config_error({{"alerts", {{"name", "x"}}}}, "array of tables");
  const nlohmann::json rule = {{"name", "x"}, {"metric", "edge_utilization"}, {"op", "<"}, {"threshold", 0.5}};
  const auto with = [&](const char* key, const nlohmann::json& value) {
    nlohmann::json r = rule;
    r[key] = value;
    return nlohmann::json{{"alerts", nlohmann::json::array({r})}};
  };
  expect_config_error(with("metric", "p99"), "unknown value 'p99'");
  expect_config_error(with("op", ">="), "op");
  expect_config_error(with("window", "5m"), "window");
  expect_config_error(with("severity", "page"), "severity");
  expect_config_error(with("threshold", "high"), "threshold");
  expect_config_error(with("min_requests", 1.5), "min_requests");
  expect_config_error(with("colour", "red"), "colour");
  nlohmann::json missing = rule;
  missing.erase("threshold");
  expect_config_error({{"alerts", {missing}}}, "threshold: required");
  expect_config_error({{"alerts", {rule, rule}}}, "duplicate alert name 'x'");
  expect_config_error(nlohmann::json::array(), "expected a table");
}

TEST(Monitor, BadWebhookUrlFailsAtConstruction) {
  FakeClock clock;
  MonitorConfig c = quiet_config();
  c.webhook_url = "hooks.example.com/x";
  EXPECT_THROW(Monitor(kLabels, kReasons, nullptr, c, &clock, "n"), Error);
}

}  // namespace
}  // namespace edgeroute::monitor
