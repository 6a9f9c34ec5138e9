#include "edgeroute/monitor/alerts.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "edgeroute/common/clock.h"
#include "edgeroute/common/error.h"

namespace edgeroute::monitor {
namespace {

using std::chrono::seconds;

class RecordingSink final : public AlertSink {
 public:
  void notify(const nlohmann::json& event) override { events.push_back(event); }
  std::vector<nlohmann::json> events;
};

// A sample on the bad side (or good side) of a rule, resting on `n` samples.
MetricSample bad(const Rule& r, std::uint64_t n) {
  const double step = std::max(0.001, r.threshold * 0.1);
  return {r.op == Op::kBelow ? r.threshold - step : r.threshold + step, n};
}
MetricSample good(const Rule& r, std::uint64_t n) {
  const double step = std::max(0.001, r.threshold * 0.1);
  return {r.op == Op::kBelow ? r.threshold + step : r.threshold - step, n};
}

TEST(DefaultRules, HaveTheDocumentedThresholds) {
  std::map<std::string, Rule> by_metric;
  for (const Rule& r : default_rules()) by_metric[r.metric] = r;
  ASSERT_EQ(by_metric.size(), 9u);
  const auto expect = [&](const std::string& metric, Op op, double threshold, const std::string& window,
                          std::uint64_t min_requests) {
    ASSERT_TRUE(by_metric.count(metric)) << metric;
    const Rule& r = by_metric[metric];
    EXPECT_EQ(r.op, op) << metric;
    EXPECT_DOUBLE_EQ(r.threshold, threshold) << metric;
    EXPECT_EQ(r.window, window) << metric;
    EXPECT_EQ(r.min_requests, min_requests) << metric;
    EXPECT_EQ(r.for_seconds, 0) << metric;
  };
  expect("edge_utilization", Op::kBelow, 0.80, "1h", 20);
  expect("accuracy", Op::kBelow, 0.85, "1h", 20);
  expect("cost_per_query", Op::kAbove, 0.01, "1h", 20);
  expect("latency_p95_ms", Op::kAbove, 150, "1m", 20);
  expect("error_rate", Op::kAbove, 0.05, "1m", 20);
  expect("psi_confidence", Op::kAbove, 0.25, "1h", 100);
  expect("psi_labels", Op::kAbove, 0.25, "1h", 100);
  expect("ood_rate", Op::kAbove, 0.10, "1h", 100);
  expect("shadow_agreement", Op::kBelow, 0.90, "1h", 20);
}

TEST(AlertEngine, EveryDefaultRuleFiresOnceAndResolvesOnce) {
  for (const Rule& rule : default_rules()) {
    SCOPED_TRACE(rule.name);
    FakeClock clock;
    AlertEngine engine({rule}, &clock, "edge-1");
    auto sink = std::make_shared<RecordingSink>();
    engine.add_sink(sink);
    MetricSample s = good(rule, rule.min_requests);
    const auto eval = [&] { return engine.evaluate([&](const Rule&) { return s; }); };
    EXPECT_TRUE(eval().empty());
    s = bad(rule, rule.min_requests);
    const std::vector<Alert> fired = eval();
    ASSERT_EQ(fired.size(), 1u);
    EXPECT_TRUE(fired[0].firing);
    EXPECT_TRUE(engine.is_firing(rule.name));
    for (int i = 0; i < 5; ++i) {
      clock.advance(seconds(1));
      EXPECT_TRUE(eval().empty());
    }
    s = good(rule, rule.min_requests);
    const std::vector<Alert> resolved = eval();
    ASSERT_EQ(resolved.size(), 1u);
    EXPECT_FALSE(resolved[0].firing);
    EXPECT_TRUE(resolved[0].resolved_at_us);
    EXPECT_FALSE(engine.is_firing(rule.name));
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(eval().empty());
    ASSERT_EQ(sink->events.size(), 2u);
    EXPECT_EQ(sink->events[0]["status"], "firing");
    EXPECT_EQ(sink->events[1]["status"], "resolved");
    EXPECT_EQ(sink->events[0]["node"], "edge-1");
    EXPECT_EQ(sink->events[0]["alert"]["name"], rule.name);
    EXPECT_EQ(sink->events[1]["alert"]["state"], "resolved");
    EXPECT_FALSE(sink->events[1]["alert"]["resolved_at"].is_null());
  }
}

TEST(AlertEngine, ExactlyAtTheThresholdDoesNotFire) {
  for (const Rule& rule : default_rules()) {
    FakeClock clock;
    AlertEngine engine({rule}, &clock, "n");
    EXPECT_TRUE(engine.evaluate([&](const Rule&) { return MetricSample{rule.threshold, 1000}; }).empty())
        << rule.name;
  }
}

TEST(AlertEngine, MinRequestsIsRespected) {
  for (const Rule& rule : default_rules()) {
    SCOPED_TRACE(rule.name);
    FakeClock clock;
    AlertEngine engine({rule}, &clock, "n");
    EXPECT_TRUE(engine.evaluate([&](const Rule&) { return bad(rule, rule.min_requests - 1); }).empty());
    EXPECT_EQ(engine.evaluate([&](const Rule&) { return bad(rule, rule.min_requests); }).size(), 1u);
    // Falling back under min_requests counts as "no data": the episode ends.
    EXPECT_EQ(engine.evaluate([&](const Rule&) { return bad(rule, rule.min_requests - 1); }).size(), 1u);
    EXPECT_FALSE(engine.is_firing(rule.name));
  }
}

TEST(AlertEngine, UnknownValueNeverFires) {
  FakeClock clock;
  AlertEngine engine(default_rules(), &clock, "n");
  EXPECT_TRUE(engine.evaluate([](const Rule&) { return MetricSample{std::nullopt, 1'000'000}; }).empty());
}

TEST(AlertEngine, PendingForSecondsIsRespected) {
  Rule rule = default_rules()[0];
  rule.for_seconds = 30;
  FakeClock clock;
  AlertEngine engine({rule}, &clock, "n");
  MetricSample s = bad(rule, 100);
  const auto eval = [&] { return engine.evaluate([&](const Rule&) { return s; }); };
  EXPECT_TRUE(eval().empty());
  clock.advance(seconds(29));
  EXPECT_TRUE(eval().empty());
  // The condition lapsing restarts the pending period.
  s = good(rule, 100);
  EXPECT_TRUE(eval().empty());
  s = bad(rule, 100);
  clock.advance(seconds(1));
  EXPECT_TRUE(eval().empty());
  clock.advance(seconds(29));
  EXPECT_TRUE(eval().empty());
  clock.advance(seconds(1));
  const auto fired = eval();
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].fired_at_us, clock.unix_micros());
  clock.advance(seconds(1));
  EXPECT_TRUE(eval().empty());
}

TEST(AlertEngine, RecentIsNewestFirstAndBounded) {
  Rule rule = default_rules()[0];
  FakeClock clock;
  AlertEngine engine({rule}, &clock, "n");
  for (int i = 0; i < 40; ++i) {
    engine.evaluate([&](const Rule&) { return bad(rule, 100); });
    clock.advance(seconds(1));
    engine.evaluate([&](const Rule&) { return good(rule, 100); });
    clock.advance(seconds(1));
  }
  const std::vector<Alert> recent = engine.recent();
  ASSERT_EQ(recent.size(), AlertEngine::kRecent);
  EXPECT_FALSE(recent[0].firing);
  EXPECT_TRUE(recent[1].firing);
  EXPECT_GT(recent[1].fired_at_us, recent[3].fired_at_us);
  EXPECT_EQ(engine.fired_since(0), 40u);
  EXPECT_EQ(engine.fired_since(clock.unix_micros() - 10'000'000), 5u);
  EXPECT_TRUE(engine.firing().empty());
}

TEST(AlertEngine, DuplicateNamesAreRejected) {
  FakeClock clock;
  std::vector<Rule> rules = {default_rules()[0], default_rules()[0]};
  EXPECT_THROW(AlertEngine(rules, &clock, "n"), Error);
}

TEST(AlertJson, HasEveryKey) {
  Alert a{default_rules()[3], 212.5, true, 1'764'309'600'000'000, std::nullopt};
  const nlohmann::json j = alert_json(a);
  for (const char* key : {"name", "severity", "metric", "window", "value", "threshold", "op", "state", "fired_at",
                          "resolved_at", "summary"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j.size(), 11u);
  EXPECT_EQ(j["op"], ">");
  EXPECT_EQ(j["state"], "firing");
  EXPECT_EQ(j["fired_at"], "2025-11-28T06:00:00Z");
  EXPECT_TRUE(j["resolved_at"].is_null());
  Rule custom;
  custom.metric = "error_rate";
  custom.op = Op::kBelow;
  custom.threshold = 0.5;
  custom.window = "1m";
  EXPECT_EQ(rule_summary(custom), "error_rate below 0.5 over 1m");
}

TEST(LogSink, WritesOneJsonLinePerEvent) {
  std::ostringstream out;
  LogSink sink(&out);
  sink.notify({{"status", "firing"}, {"alert", {{"name", "x"}}}, {"node", "n"}});
  sink.notify({{"status", "resolved"}, {"alert", {{"name", "x"}}}, {"node", "n"}});
  std::istringstream in(out.str());
  std::string line;
  std::vector<nlohmann::json> lines;
  while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["status"], "firing");
  EXPECT_EQ(lines[1]["status"], "resolved");
  EXPECT_EQ(lines[1]["alert"]["name"], "x");
}

}  // namespace
}  // namespace edgeroute::monitor
