#include "edgeroute/monitor/health.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "edgeroute/monitor/drift.h"

namespace edgeroute::monitor {

namespace {

constexpr std::size_t kTrendPoints = 10;

nlohmann::json opt(std::optional<double> v) { return v ? nlohmann::json(*v) : nlohmann::json(); }

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace

double health_score(std::optional<double> edge_utilization, std::optional<double> accuracy,
                    std::size_t alerts_fired, const HealthConfig& c) {
  double score = 100;
  if (edge_utilization) {
    if (*edge_utilization < c.edge_warn) score -= c.edge_penalty_warn;
    if (*edge_utilization < c.edge_bad) score -= c.edge_penalty_bad;
  }
  if (accuracy) {
    if (*accuracy < c.accuracy_warn) score -= c.accuracy_penalty_warn;
    if (*accuracy < c.accuracy_bad) score -= c.accuracy_penalty_bad;
  }
  score -= std::min(c.alert_penalty * static_cast<double>(alerts_fired), c.alert_penalty_max);
  return std::max(score, 0.0);
}

std::string health_status(double score, const HealthConfig& c) {
  if (score >= c.excellent) return "excellent";
  if (score >= c.good) return "good";
  if (score >= c.fair) return "fair";
  if (score >= c.poor) return "poor";
  return "critical";
}

std::string trend(std::span<const std::optional<double>> values, bool higher_is_better) {
  std::vector<double> ys;
  for (auto it = values.rbegin(); it != values.rend() && ys.size() < kTrendPoints; ++it)
    if (*it && std::isfinite(**it)) ys.push_back(**it);
  if (ys.size() < 3) return "insufficient_data";
  std::reverse(ys.begin(), ys.end());
  const auto n = static_cast<double>(ys.size());
  const double mean_x = (n - 1) / 2;
  double mean_y = 0;
  for (const double y : ys) mean_y += y;
  mean_y /= n;
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < ys.size(); ++i) {
    const double dx = static_cast<double>(i) - mean_x;
    const double dy = ys[i] - mean_y;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  const double slope = sxy / sxx;
  const double sd = std::sqrt(syy / n);
  if (std::abs(slope) <= 0.1 * sd) return "stable";
  return (slope > 0) == higher_is_better ? "improving" : "declining";
}

nlohmann::json health_report(const HealthInput& in, const HealthConfig& c) {
  nlohmann::json notes = nlohmann::json::array();
  std::optional<double> accuracy;
  std::string accuracy_source = "none";
  if (in.feedback_accuracy && in.feedback_total >= c.min_accuracy_samples) {
    accuracy = in.feedback_accuracy;
    accuracy_source = "feedback";
  } else if (in.shadow_agreement && in.shadow_total >= c.min_accuracy_samples) {
    accuracy = in.shadow_agreement;
    accuracy_source = "shadow";
  } else {
    notes.push_back("accuracy not scored: fewer than " + std::to_string(c.min_accuracy_samples) +
                    " feedback rows (" + std::to_string(in.feedback_total) + ") and shadow pairs (" +
                    std::to_string(in.shadow_total) + ") in the window");
  }
  if (!in.edge_utilization) notes.push_back("edge utilization not scored: no answers in the window");
  const double score = health_score(in.edge_utilization, accuracy, in.alerts_fired, c);

  nlohmann::json recs = nlohmann::json::array();
  const auto recommend = [&](const char* code, std::string text) {
    recs.push_back({{"code", code}, {"text", std::move(text)}});
  };
  if (in.edge_utilization && *in.edge_utilization < c.recommend_edge_below)
    recommend("raise_edge_utilization",
              "Edge utilization is " + fixed(*in.edge_utilization * 100, 1) +
                  "%: lower the complexity or confidence threshold (re-run `edgeroute calibrate` with a lower "
                  "target) so more queries stay on the edge");
  if (accuracy && *accuracy < c.recommend_accuracy_below)
    recommend("retrain", "Accuracy (" + accuracy_source + ") is " + fixed(*accuracy * 100, 1) +
                             "%: review the feedback corrections and retrain the edge model");
  if (in.cost_per_query && *in.cost_per_query > c.recommend_cost_above)
    recommend("reduce_cost", "Cost per query is $" + fixed(*in.cost_per_query, 5) +
                                 ": raise edge utilization to escalate fewer queries to the cloud");
  if (in.alerts_fired > c.recommend_alerts_above)
    recommend("review_alerts", std::to_string(in.alerts_fired) +
                                   " alerts fired in the window: review the alert thresholds for noise");
  const bool psi_significant = (in.psi_confidence && *in.psi_confidence > kPsiSignificant) ||
                               (in.psi_labels && *in.psi_labels > kPsiSignificant);
  const bool ood_high = in.ood_rate && *in.ood_rate > c.ood_rate_above;
  if (psi_significant || ood_high)
    recommend("drift",
              "Traffic has shifted away from the training data (" +
                  std::string(psi_significant ? "PSI above 0.25" : "") + (psi_significant && ood_high ? ", " : "") +
                  (ood_high ? "OOD rate " + fixed(*in.ood_rate * 100, 1) + "%" : "") +
                  "): collect and label recent queries, retrain (dapt + train) and re-run `edgeroute calibrate`");
  if (in.shadow_agreement && in.shadow_total >= c.min_accuracy_samples && *in.shadow_agreement < c.recommend_shadow_below)
    recommend("shadow_disagreement", "Edge and cloud agree on " + fixed(*in.shadow_agreement * 100, 1) +
                                         "% of shadowed queries: inspect the disagreements, label them and retrain "
                                         "or raise the confidence threshold");
  if (recs.empty()) recommend("ok", "Operating within normal parameters");

  nlohmann::json cost = nullptr;
  if (in.span_seconds >= c.min_span_seconds) {
    const double per_day = 86'400 / in.span_seconds;
    const double daily = in.cost_usd * per_day;
    const double daily_cloud = in.cloud_only_cost_usd * per_day;
    cost = {{"queries", in.requests},
            {"span_seconds", in.span_seconds},
            {"cost_usd", in.cost_usd},
            {"cloud_only_cost_usd", in.cloud_only_cost_usd},
            {"savings", in.cloud_only_cost_usd > 0 ? nlohmann::json(1 - in.cost_usd / in.cloud_only_cost_usd)
                                                   : nlohmann::json()},
            {"queries_per_day", static_cast<double>(in.requests) * per_day},
            {"daily_cost_usd", daily},
            {"monthly_cost_usd", daily * 30},
            {"daily_cloud_only_cost_usd", daily_cloud},
            {"monthly_cloud_only_cost_usd", daily_cloud * 30}};
  } else {
    notes.push_back("cost analysis needs at least " + fixed(c.min_span_seconds, 0) +
                    " s between the first and last answer; the window holds " + fixed(in.span_seconds, 1) + " s");
  }

  return {{"score", score},
          {"status", health_status(score, c)},
          {"window", in.window},
          {"accuracy", {{"value", opt(accuracy)}, {"source", accuracy_source}}},
          {"edge_utilization", opt(in.edge_utilization)},
          {"cost_per_query", opt(in.cost_per_query)},
          {"mean_complexity", opt(in.mean_complexity)},
          {"latency_p95_ms", opt(in.latency_p95_ms)},
          {"trends",
           {{"accuracy", trend(in.accuracy_series, true)},
            {"edge_share", trend(in.edge_share_series, true)},
            {"latency_p95", trend(in.latency_p95_series, false)},
            {"cost_per_query", trend(in.cost_per_query_series, false)}}},
          {"alerts_fired", in.alerts_fired},
          {"recommendations", recs},
          {"cost_analysis", cost},
          {"notes", notes}};
}

}  // namespace edgeroute::monitor
