// Alert rules over window summaries, evaluated by one engine that keeps each
// rule's episode state: inactive -> pending (condition true, waiting
// for_seconds) -> firing (emits ONE "firing" event) -> inactive (condition
// false again: emits ONE "resolved" event). A rule whose value is unknown or
// whose sample count is below min_requests counts as "condition false", as a
// Prometheus expression with no data does.
//
// Sinks receive each event as the JSON payload
//   {"status": "firing"|"resolved", "alert": <Alert JSON>, "node": NAME}
// and must not block: evaluate() calls them with no lock held.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "edgeroute/common/clock.h"

namespace edgeroute::monitor {

enum class Op { kBelow, kAbove };

// The metrics a rule can name (from a window summary).
const std::vector<std::string>& alert_metrics();
// The windows a rule can name: "1m", "1h", "24h".
const std::vector<std::string>& alert_windows();

struct Rule {
  std::string name;
  std::string metric;  // one of alert_metrics()
  Op op = Op::kAbove;
  double threshold = 0;
  std::string window = "1h";        // one of alert_windows()
  std::uint64_t min_requests = 20;  // samples the metric needs: requests, feedback rows, shadow pairs, ...
  double for_seconds = 0;           // how long the condition must hold before firing
  std::string severity = "warning"; // "warning" or "critical"
  std::string summary;              // human text; empty: generated from the rule
};

// edge_utilization < 0.80 (1h), accuracy < 0.85 (1h, 20 feedback rows),
// cost_per_query > 0.01 (1h), latency_p95_ms > 150 (1m), error_rate > 0.05
// (1m), psi_confidence > 0.25 (1h, 100), psi_labels > 0.25 (1h, 100),
// ood_rate > 0.10 (1h, 100), shadow_agreement < 0.90 (1h, 20 shadow pairs).
std::vector<Rule> default_rules();

// The rule's summary, or a generated one ("edge_utilization below 0.8 over 1h").
std::string rule_summary(const Rule& rule);

// A metric's value in a window and how many samples it rests on.
struct MetricSample {
  std::optional<double> value;
  std::uint64_t n = 0;
};

// Whether `rule`'s condition holds for `sample`.
bool condition_holds(const Rule& rule, const MetricSample& sample);

struct Alert {
  Rule rule;
  double value = 0;  // the value when it fired (firing) or when it resolved (resolved)
  bool firing = true;
  std::int64_t fired_at_us = 0;
  std::optional<std::int64_t> resolved_at_us;
};

// {"name","severity","metric","window","value","threshold","op":"<"|">",
//  "state":"firing"|"resolved","fired_at","resolved_at"|null,"summary"}
nlohmann::json alert_json(const Alert& alert);

// "2026-11-28T06:00:00Z" (whole seconds, UTC).
std::string iso8601(std::int64_t unix_us);

class AlertSink {
 public:
  virtual ~AlertSink() = default;
  // `event` = {"status","alert","node"}. Must return quickly.
  virtual void notify(const nlohmann::json& event) = 0;
};

// Writes each event as one JSON line to a stream (std::cerr by default).
class LogSink final : public AlertSink {
 public:
  explicit LogSink(std::ostream* out = nullptr);
  void notify(const nlohmann::json& event) override;

 private:
  std::mutex mu_;
  std::ostream* out_;
};

class AlertEngine {
 public:
  static constexpr std::size_t kRecent = 50;

  // `clock` outlives the engine: its now() times pending periods, its
  // unix_micros() stamps events. Throws edgeroute::Error on duplicate rule
  // names.
  AlertEngine(std::vector<Rule> rules, const Clock* clock, std::string node);

  void add_sink(std::shared_ptr<AlertSink> sink);

  // Evaluates every rule with `sample(rule)` and returns the events emitted
  // (each also sent to every sink). Thread-safe; meant for one caller at a
  // time (the service's 1-second thread).
  std::vector<Alert> evaluate(const std::function<MetricSample(const Rule&)>& sample);

  std::vector<Alert> firing() const;  // in rule order
  std::vector<Alert> recent() const;  // the last kRecent events, newest first
  bool is_firing(const std::string& name) const;
  // Firing events stamped at or after `since_us` (kept for 24 h).
  std::size_t fired_since(std::int64_t since_us) const;
  const std::vector<Rule>& rules() const { return rules_; }
  const std::string& node() const { return node_; }

 private:
  enum class State { kInactive, kPending, kFiring };
  struct RuleState {
    State state = State::kInactive;
    Clock::time_point pending_since{};
    Alert alert;
  };

  std::vector<Rule> rules_;
  const Clock* clock_;
  std::string node_;
  mutable std::mutex mu_;
  std::vector<RuleState> states_;
  std::deque<Alert> recent_;
  std::deque<std::int64_t> fired_times_;
  std::vector<std::shared_ptr<AlertSink>> sinks_;
};

}  // namespace edgeroute::monitor
