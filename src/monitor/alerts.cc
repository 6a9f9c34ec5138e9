#include "edgeroute/monitor/alerts.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <set>
#include <utility>

#include "edgeroute/common/error.h"

namespace edgeroute::monitor {

namespace {

constexpr std::int64_t kDayUs = 86'400'000'000;

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

const std::vector<std::string>& alert_metrics() {
  static const std::vector<std::string> metrics = {
      "edge_utilization", "accuracy",     "shadow_agreement", "cost_per_query", "latency_p95_ms",     "error_rate",
      "degraded_rate",    "psi_confidence", "psi_labels",     "ood_rate",       "audit_commit_ms_max"};
  return metrics;
}

const std::vector<std::string>& alert_windows() {
  static const std::vector<std::string> windows = {"1m", "1h", "24h"};
  return windows;
}

std::vector<Rule> default_rules() {
  const auto rule = [](std::string name, std::string metric, Op op, double threshold, std::string window,
                       std::uint64_t min_requests, std::string severity, std::string summary) {
    Rule r;
    r.name = std::move(name);
    r.metric = std::move(metric);
    r.op = op;
    r.threshold = threshold;
    r.window = std::move(window);
    r.min_requests = min_requests;
    r.severity = std::move(severity);
    r.summary = std::move(summary);
    return r;
  };
  return {
      rule("edge_utilization_low", "edge_utilization", Op::kBelow, 0.80, "1h", 20, "warning",
           "Less than 80% of queries stayed on the edge over the last hour"),
      rule("accuracy_low", "accuracy", Op::kBelow, 0.85, "1h", 20, "critical",
           "Feedback accuracy fell below 85% over the last hour"),
      rule("cost_per_query_high", "cost_per_query", Op::kAbove, 0.01, "1h", 20, "warning",
           "Cost per query rose above $0.01 over the last hour"),
      rule("latency_p95_high", "latency_p95_ms", Op::kAbove, 150, "1m", 20, "warning",
           "p95 answer latency rose above 150 ms over the last minute"),
      rule("error_rate_high", "error_rate", Op::kAbove, 0.05, "1m", 20, "critical",
           "More than 5% of classify requests failed over the last minute"),
      rule("confidence_drift", "psi_confidence", Op::kAbove, 0.25, "1h", 100, "warning",
           "Edge confidence distribution drifted from calibration (PSI > 0.25)"),
      rule("label_drift", "psi_labels", Op::kAbove, 0.25, "1h", 100, "warning",
           "Predicted label distribution drifted from calibration (PSI > 0.25)"),
      rule("ood_rate_high", "ood_rate", Op::kAbove, 0.10, "1h", 100, "warning",
           "More than 10% of queries look out of distribution"),
      rule("shadow_agreement_low", "shadow_agreement", Op::kBelow, 0.90, "1h", 20, "warning",
           "Edge and cloud agree on less than 90% of shadowed queries"),
  };
}

std::string rule_summary(const Rule& rule) {
  if (!rule.summary.empty()) return rule.summary;
  return rule.metric + (rule.op == Op::kBelow ? " below " : " above ") + format_number(rule.threshold) +
         " over " + rule.window;
}

bool condition_holds(const Rule& rule, const MetricSample& sample) {
  if (!sample.value || sample.n < rule.min_requests) return false;
  return rule.op == Op::kBelow ? *sample.value < rule.threshold : *sample.value > rule.threshold;
}

std::string iso8601(std::int64_t unix_us) {
  const std::time_t t = static_cast<std::time_t>(unix_us / 1'000'000 - (unix_us % 1'000'000 < 0 ? 1 : 0));
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json alert_json(const Alert& a) {
  return {{"name", a.rule.name},
          {"severity", a.rule.severity},
          {"metric", a.rule.metric},
          {"window", a.rule.window},
          {"value", a.value},
          {"threshold", a.rule.threshold},
          {"op", a.rule.op == Op::kBelow ? "<" : ">"},
          {"state", a.firing ? "firing" : "resolved"},
          {"fired_at", iso8601(a.fired_at_us)},
          {"resolved_at", a.resolved_at_us ? nlohmann::json(iso8601(*a.resolved_at_us)) : nlohmann::json()},
          {"summary", rule_summary(a.rule)}};
}

LogSink::LogSink(std::ostream* out) : out_(out != nullptr ? out : &std::cerr) {}

void LogSink::notify(const nlohmann::json& event) {
  nlohmann::json line = event;
  line["event"] = "alert";
  const std::string text = line.dump();
  const std::lock_guard lock(mu_);
  *out_ << text << '\n' << std::flush;
}

AlertEngine::AlertEngine(std::vector<Rule> rules, const Clock* clock, std::string node)
    : rules_(std::move(rules)), clock_(clock), node_(std::move(node)), states_(rules_.size()) {
  std::set<std::string> names;
  for (const Rule& r : rules_)
    if (!names.insert(r.name).second) throw Error("alert rules: duplicate rule name '" + r.name + "'");
}

void AlertEngine::add_sink(std::shared_ptr<AlertSink> sink) {
  const std::lock_guard lock(mu_);
  sinks_.push_back(std::move(sink));
}

std::vector<Alert> AlertEngine::evaluate(const std::function<MetricSample(const Rule&)>& sample) {
  std::vector<MetricSample> samples;
  samples.reserve(rules_.size());
  for (const Rule& r : rules_) samples.push_back(sample(r));
  const Clock::time_point now = clock_->now();
  const std::int64_t now_us = clock_->unix_micros();
  std::vector<Alert> events;
  std::vector<std::shared_ptr<AlertSink>> sinks;
  {
    const std::lock_guard lock(mu_);
    for (std::size_t i = 0; i < rules_.size(); ++i) {
      const Rule& rule = rules_[i];
      RuleState& s = states_[i];
      const bool holds = condition_holds(rule, samples[i]);
      if (!holds) {
        if (s.state == State::kFiring) {
          s.alert.firing = false;
          s.alert.resolved_at_us = now_us;
          if (samples[i].value) s.alert.value = *samples[i].value;
          events.push_back(s.alert);
        }
        s.state = State::kInactive;
        continue;
      }
      if (s.state == State::kFiring) continue;
      if (s.state == State::kInactive) {
        s.state = State::kPending;
        s.pending_since = now;
      }
      const auto held = std::chrono::duration<double>(now - s.pending_since).count();
      if (held < rule.for_seconds) continue;
      s.state = State::kFiring;
      s.alert = Alert{rule, *samples[i].value, true, now_us, std::nullopt};
      events.push_back(s.alert);
      fired_times_.push_back(now_us);
    }
    while (!fired_times_.empty() && fired_times_.front() < now_us - kDayUs) fired_times_.pop_front();
    for (const Alert& e : events) {
      recent_.push_front(e);
      if (recent_.size() > kRecent) recent_.pop_back();
    }
    if (!events.empty()) sinks = sinks_;
  }
  for (const Alert& e : events) {
    const nlohmann::json payload = {
        {"status", e.firing ? "firing" : "resolved"}, {"alert", alert_json(e)}, {"node", node_}};
    for (const auto& sink : sinks) sink->notify(payload);
  }
  return events;
}

std::vector<Alert> AlertEngine::firing() const {
  const std::lock_guard lock(mu_);
  std::vector<Alert> out;
  for (const RuleState& s : states_)
    if (s.state == State::kFiring) out.push_back(s.alert);
  return out;
}

std::vector<Alert> AlertEngine::recent() const {
  const std::lock_guard lock(mu_);
  return {recent_.begin(), recent_.end()};
}

bool AlertEngine::is_firing(const std::string& name) const {
  const std::lock_guard lock(mu_);
  for (std::size_t i = 0; i < rules_.size(); ++i)
    if (rules_[i].name == name) return states_[i].state == State::kFiring;
  return false;
}

std::size_t AlertEngine::fired_since(std::int64_t since_us) const {
  const std::lock_guard lock(mu_);
  return static_cast<std::size_t>(
      std::count_if(fired_times_.begin(), fired_times_.end(), [&](std::int64_t t) { return t >= since_us; }));
}

}  // namespace edgeroute::monitor
