// Health report: score, status band, trends, recommendations and the cost
// analysis. Pure functions of a window's numbers, shared by the live
// service (GET /v1/health/report) and the offline `edgeroute report`.
//
// Score (defaults): start 100; -10 if edge utilization < 0.9, another -20 if
// < 0.8; -15 if accuracy < 0.9, another -30 if < 0.8 (accuracy = feedback
// accuracy with >= 20 feedback rows, else shadow agreement with >= 20 shadow
// pairs, else not scored); -5 per alert fired in the window, at most -30;
// floor 0. Status: >= 90 excellent, >= 75 good, >= 60 fair, >= 40 poor,
// else critical.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace edgeroute::monitor {

struct HealthConfig {
  double excellent = 90, good = 75, fair = 60, poor = 40;  // status band lower bounds
  double edge_warn = 0.9, edge_bad = 0.8;                  // score penalties 10 and 20 more
  double edge_penalty_warn = 10, edge_penalty_bad = 20;
  double accuracy_warn = 0.9, accuracy_bad = 0.8;
  double accuracy_penalty_warn = 15, accuracy_penalty_bad = 30;
  double alert_penalty = 5, alert_penalty_max = 30;
  std::uint64_t min_accuracy_samples = 20;
  // Recommendation triggers.
  double recommend_edge_below = 0.8;
  double recommend_accuracy_below = 0.85;
  double recommend_cost_above = 0.005;
  std::size_t recommend_alerts_above = 5;
  double recommend_shadow_below = 0.9;
  double ood_rate_above = 0.10;
  double min_span_seconds = 60;  // shorter spans give no cost analysis
};

// The score from the numbers already chosen: pass nullopt for a value that is
// not scored (no answers, or too few accuracy samples).
double health_score(std::optional<double> edge_utilization, std::optional<double> accuracy,
                    std::size_t alerts_fired, const HealthConfig& config = {});
// "excellent", "good", "fair", "poor" or "critical".
std::string health_status(double score, const HealthConfig& config = {});

// Trend over the last 10 values present in `values` (oldest first): the
// least-squares slope against their order; fewer than 3 values:
// "insufficient_data"; |slope| <= 0.1 * standard deviation: "stable"; else a
// rise is "improving" when `higher_is_better`, "declining" otherwise.
std::string trend(std::span<const std::optional<double>> values, bool higher_is_better);

struct HealthInput {
  std::string window;  // "1m", "1h", "24h" or "span" (offline)
  std::uint64_t requests = 0;
  std::optional<double> edge_utilization, cost_per_query, mean_complexity, latency_p95_ms;
  std::uint64_t feedback_total = 0;
  std::optional<double> feedback_accuracy;
  std::uint64_t shadow_total = 0;
  std::optional<double> shadow_agreement;
  std::optional<double> psi_confidence, psi_labels, ood_rate;
  std::size_t alerts_fired = 0;
  double cost_usd = 0, cloud_only_cost_usd = 0;
  double span_seconds = 0;  // first to last answer in the window
  // Per-bucket values, oldest first, for the trends.
  std::vector<std::optional<double>> accuracy_series, edge_share_series, latency_p95_series, cost_per_query_series;
};

// {"score","status","window","accuracy":{"value","source"},"edge_utilization",
//  "cost_per_query","mean_complexity","latency_p95_ms",
//  "trends":{"accuracy","edge_share","latency_p95","cost_per_query"},
//  "alerts_fired","recommendations":[{"code","text"}],"cost_analysis":{...}|null,"notes":[...]}
// accuracy.source is "feedback", "shadow" or "none". cost_analysis is null
// (with a note saying why) when span_seconds < min_span_seconds; otherwise
// {"queries","span_seconds","cost_usd","cloud_only_cost_usd","savings",
//  "queries_per_day","daily_cost_usd","monthly_cost_usd",
//  "daily_cloud_only_cost_usd","monthly_cloud_only_cost_usd"} (monthly = 30 days).
nlohmann::json health_report(const HealthInput& input, const HealthConfig& config = {});

}  // namespace edgeroute::monitor
