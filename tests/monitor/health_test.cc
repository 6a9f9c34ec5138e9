#include "edgeroute/monitor/health.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace edgeroute::monitor {
namespace {

struct ScoreCase {
  std::optional<double> edge, accuracy;
  std::size_t alerts;
  double score;
  const char* status;
};

TEST(Health, ScoreAndStatusFollowTheTable) {
  const std::vector<ScoreCase> cases = {
      {0.95, 0.95, 0, 100, "excellent"},
      {0.90, 0.90, 0, 100, "excellent"},  // the bounds themselves are not penalised
      {0.89, 0.95, 0, 90, "excellent"},
      {0.80, 0.95, 0, 90, "excellent"},
      {0.79, 0.95, 0, 70, "fair"},
      {0.95, 0.89, 0, 85, "good"},
      {0.95, 0.80, 0, 85, "good"},
      {0.95, 0.79, 0, 55, "poor"},
      {0.79, 0.79, 0, 25, "critical"},
      {0.95, 0.95, 1, 95, "excellent"},
      {0.95, 0.95, 3, 85, "good"},
      {0.95, 0.95, 6, 70, "fair"},
      {0.95, 0.95, 20, 70, "fair"},  // alert penalty capped at 30
      {0.79, 0.79, 20, 0, "critical"},  // floor 0
      {0.85, 0.85, 1, 70, "fair"},
      {std::nullopt, std::nullopt, 0, 100, "excellent"},
      {std::nullopt, 0.5, 2, 45, "poor"},
  };
  for (const ScoreCase& c : cases) {
    const double score = health_score(c.edge, c.accuracy, c.alerts);
    EXPECT_DOUBLE_EQ(score, c.score) << c.edge.value_or(-1) << " " << c.accuracy.value_or(-1) << " " << c.alerts;
    EXPECT_EQ(health_status(score), c.status) << score;
  }
}

TEST(Health, StatusBands) {
  const std::vector<std::pair<double, const char*>> bands = {
      {100, "excellent"}, {90, "excellent"}, {89.9, "good"}, {75, "good"},     {74.9, "fair"},
      {60, "fair"},       {59.9, "poor"},    {40, "poor"},   {39.9, "critical"}, {0, "critical"}};
  for (const auto& [score, status] : bands) EXPECT_EQ(health_status(score), status) << score;
  HealthConfig strict;
  strict.excellent = 95;
  EXPECT_EQ(health_status(92, strict), "good");
}

std::vector<std::optional<double>> line(double start, double step, int n) {
  std::vector<std::optional<double>> v;
  for (int i = 0; i < n; ++i) v.push_back(start + step * i);
  return v;
}

TEST(Health, Trends) {
  const auto rising = line(10, 5, 10);
  EXPECT_EQ(trend(rising, false), "declining");  // latency or cost going up is bad
  EXPECT_EQ(trend(rising, true), "improving");   // accuracy or edge share going up is good
  const auto falling = line(0.99, -0.01, 10);
  EXPECT_EQ(trend(falling, true), "declining");
  EXPECT_EQ(trend(falling, false), "improving");
  EXPECT_EQ(trend(line(0.9, 0, 10), true), "stable");
  // Noise around a flat mean is stable.
  const std::vector<std::optional<double>> noisy = {0.90, 0.92, 0.90, 0.92, 0.90, 0.92, 0.90, 0.92, 0.90, 0.92};
  EXPECT_EQ(trend(noisy, true), "stable");
  EXPECT_EQ(trend(line(1, 1, 2), true), "insufficient_data");
  EXPECT_EQ(trend({}, true), "insufficient_data");
  // Missing buckets are skipped, so three values among gaps still make a trend.
  const std::vector<std::optional<double>> gaps = {1.0, std::nullopt, 2.0, std::nullopt, std::nullopt, 3.0};
  EXPECT_EQ(trend(gaps, true), "improving");
  const std::vector<std::optional<double>> too_few = {1.0, std::nullopt, 2.0, std::nullopt};
  EXPECT_EQ(trend(too_few, true), "insufficient_data");
  // Only the last 10 values count: an old decline followed by a flat run is stable.
  std::vector<std::optional<double>> old_then_flat = line(100, -10, 10);
  for (int i = 0; i < 10; ++i) old_then_flat.push_back(5.0);
  EXPECT_EQ(trend(old_then_flat, true), "stable");
}

HealthInput healthy() {
  HealthInput in;
  in.window = "1h";
  in.requests = 1000;
  in.edge_utilization = 0.95;
  in.cost_per_query = 0.001;
  in.mean_complexity = 0.3;
  in.latency_p95_ms = 12;
  in.feedback_total = 50;
  in.feedback_accuracy = 0.96;
  in.cost_usd = 1.0;
  in.cloud_only_cost_usd = 10.0;
  in.span_seconds = 3600;
  return in;
}

std::vector<std::string> codes(const nlohmann::json& report) {
  std::vector<std::string> out;
  for (const auto& r : report["recommendations"]) out.push_back(r["code"]);
  return out;
}

TEST(Health, ReportHasEveryKey) {
  const nlohmann::json r = health_report(healthy());
  for (const char* key : {"score", "status", "window", "accuracy", "edge_utilization", "cost_per_query",
                          "mean_complexity", "latency_p95_ms", "trends", "alerts_fired", "recommendations",
                          "cost_analysis", "notes"})
    EXPECT_TRUE(r.contains(key)) << key;
  EXPECT_EQ(r.size(), 13u);
  for (const char* key : {"accuracy", "edge_share", "latency_p95", "cost_per_query"})
    EXPECT_TRUE(r["trends"].contains(key)) << key;
  EXPECT_EQ(r["score"], 100.0);
  EXPECT_EQ(r["status"], "excellent");
  EXPECT_EQ(r["accuracy"]["source"], "feedback");
  EXPECT_EQ(codes(r), std::vector<std::string>{"ok"});
  EXPECT_EQ(r["recommendations"][0]["text"], "Operating within normal parameters");
}

TEST(Health, AccuracySourceFallsBackToShadowThenNone) {
  HealthInput in = healthy();
  in.feedback_total = 19;
  in.feedback_accuracy = 0.5;
  in.shadow_total = 40;
  in.shadow_agreement = 0.85;
  nlohmann::json r = health_report(in);
  EXPECT_EQ(r["accuracy"]["source"], "shadow");
  EXPECT_DOUBLE_EQ(r["accuracy"]["value"].get<double>(), 0.85);
  EXPECT_EQ(r["score"], 85.0);
  in.shadow_total = 19;
  r = health_report(in);
  EXPECT_EQ(r["accuracy"]["source"], "none");
  EXPECT_TRUE(r["accuracy"]["value"].is_null());
  EXPECT_EQ(r["score"], 100.0);
  ASSERT_FALSE(r["notes"].empty());
  EXPECT_NE(r["notes"][0].get<std::string>().find("accuracy not scored"), std::string::npos);
}

TEST(Health, RecommendationsFollowTheTriggers) {
  HealthInput in = healthy();
  in.edge_utilization = 0.7;
  EXPECT_EQ(codes(health_report(in)), std::vector<std::string>{"raise_edge_utilization"});
  in = healthy();
  in.feedback_accuracy = 0.84;
  EXPECT_EQ(codes(health_report(in)), std::vector<std::string>{"retrain"});
  in = healthy();
  in.cost_per_query = 0.006;
  EXPECT_EQ(codes(health_report(in)), std::vector<std::string>{"reduce_cost"});
  in = healthy();
  in.alerts_fired = 6;
  EXPECT_EQ(codes(health_report(in)), std::vector<std::string>{"review_alerts"});
  in.alerts_fired = 5;
  EXPECT_EQ(codes(health_report(in)), std::vector<std::string>{"ok"});
  in = healthy();
  in.psi_labels = 0.3;
  EXPECT_EQ(codes(health_report(in)), std::vector<std::string>{"drift"});
  in = healthy();
  in.ood_rate = 0.2;
  const nlohmann::json r = health_report(in);
  EXPECT_EQ(codes(r), std::vector<std::string>{"drift"});
  EXPECT_NE(r["recommendations"][0]["text"].get<std::string>().find("retrain"), std::string::npos);
  in = healthy();
  in.shadow_total = 30;
  in.shadow_agreement = 0.8;
  EXPECT_EQ(codes(health_report(in)), std::vector<std::string>{"shadow_disagreement"});
}

TEST(Health, CostAnalysisUsesTheRealSpan) {
  HealthInput in = healthy();
  in.requests = 100;
  in.cost_usd = 0.5;
  in.cloud_only_cost_usd = 2.0;
  in.span_seconds = 3600;
  const nlohmann::json c = health_report(in)["cost_analysis"];
  EXPECT_EQ(c["queries"], 100);
  EXPECT_DOUBLE_EQ(c["span_seconds"].get<double>(), 3600);
  EXPECT_DOUBLE_EQ(c["queries_per_day"].get<double>(), 2400);
  EXPECT_DOUBLE_EQ(c["daily_cost_usd"].get<double>(), 12);
  EXPECT_DOUBLE_EQ(c["monthly_cost_usd"].get<double>(), 360);
  EXPECT_DOUBLE_EQ(c["daily_cloud_only_cost_usd"].get<double>(), 48);
  EXPECT_DOUBLE_EQ(c["monthly_cloud_only_cost_usd"].get<double>(), 1440);
  EXPECT_DOUBLE_EQ(c["savings"].get<double>(), 0.75);
  in.span_seconds = 59;
  const nlohmann::json r = health_report(in);
  EXPECT_TRUE(r["cost_analysis"].is_null());
  bool said_why = false;
  for (const auto& n : r["notes"]) said_why |= n.get<std::string>().find("cost analysis") != std::string::npos;
  EXPECT_TRUE(said_why);
}

}  // namespace
}  // namespace edgeroute::monitor
