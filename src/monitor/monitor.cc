#include "edgeroute/monitor/monitor.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <utility>

#include "edgeroute/common/error.h"
#include "edgeroute/monitor/webhook.h"

namespace edgeroute::monitor {

namespace {

constexpr std::size_t kTopLabels = 20;
constexpr double kZ95 = 1.959963984540054;

nlohmann::json opt(std::optional<double> v) { return v ? nlohmann::json(*v) : nlohmann::json(); }

std::optional<double> ratio(double num, double den) {
  if (!(den > 0)) return std::nullopt;
  return num / den;
}

std::optional<double> ratio(std::uint64_t num, std::uint64_t den) {
  return ratio(static_cast<double>(num), static_cast<double>(den));
}

// Wilson score interval for k successes out of n.
std::optional<std::pair<double, double>> wilson95(std::uint64_t k, std::uint64_t n) {
  if (n == 0) return std::nullopt;
  const double nn = static_cast<double>(n);
  const double p = static_cast<double>(k) / nn;
  const double z2 = kZ95 * kZ95;
  const double denom = 1 + z2 / nn;
  const double center = (p + z2 / (2 * nn)) / denom;
  const double half = kZ95 * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / denom;
  return std::pair{std::max(0.0, center - half), std::min(1.0, center + half)};
}

nlohmann::json percentiles(const LatencyHistogram& h) {
  if (h.count() == 0) return nullptr;
  return {{"p50", *h.percentile(0.50)}, {"p95", *h.percentile(0.95)}, {"p99", *h.percentile(0.99)}};
}

LatencyHistogram all_latency(const Bucket& b) {
  LatencyHistogram all = b.latency_edge;
  all.merge(b.latency_cloud);
  return all;
}

std::uint64_t feedback_total(const Bucket& b) { return b.feedback_total[0] + b.feedback_total[1]; }
std::uint64_t feedback_correct(const Bucket& b) { return b.feedback_correct[0] + b.feedback_correct[1]; }

double span_seconds(const Bucket& total) {
  if (total.requests == 0) return 0;
  return static_cast<double>(total.last_us - total.first_us) / 1e6;
}

// Reads typed values out of one JSON table, naming the key in errors.
class TableReader {
 public:
  TableReader(const nlohmann::json& table, std::string where) : table_(table), where_(std::move(where)) {
    if (!table_.is_object()) throw Error(where_ + ": expected a table, got " + table_.dump());
  }

  void allow(std::initializer_list<const char*> keys) const {
    const std::set<std::string> known(keys.begin(), keys.end());
    for (const auto& [key, value] : table_.items())
      if (!known.count(key)) {
        std::string list;
        for (const char* k : keys) list += std::string(list.empty() ? "" : ", ") + k;
        throw Error(where_ + ": unknown key '" + key + "' (known: " + list + ")");
      }
  }

  const nlohmann::json* find(const char* key) const {
    const auto it = table_.find(key);
    return it == table_.end() || it->is_null() ? nullptr : &*it;
  }

  std::string name(const char* key) const { return where_ + "." + key; }

  std::optional<double> number(const char* key, double lo, double hi) const {
    const nlohmann::json* v = find(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_number()) throw Error(name(key) + ": expected a number, got " + v->dump());
    const double d = v->get<double>();
    if (!std::isfinite(d) || d < lo || d > hi)
      throw Error(name(key) + ": " + v->dump() + " is out of range [" + fmt(lo) + ", " + fmt(hi) + "]");
    return d;
  }

  std::optional<std::int64_t> integer(const char* key, std::int64_t lo) const {
    const nlohmann::json* v = find(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_number_integer()) throw Error(name(key) + ": expected an integer, got " + v->dump());
    if (v->is_number_unsigned() && v->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
      throw Error(name(key) + ": " + v->dump() + " is too large");
    const auto i = v->get<std::int64_t>();
    if (i < lo) throw Error(name(key) + ": " + v->dump() + " must be >= " + std::to_string(lo));
    return i;
  }

  std::optional<std::uint64_t> unsigned_integer(const char* key) const {
    const nlohmann::json* v = find(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_number_integer() || (v->is_number_integer() && !v->is_number_unsigned() && v->get<std::int64_t>() < 0))
      throw Error(name(key) + ": expected a non-negative integer, got " + v->dump());
    return v->get<std::uint64_t>();
  }

  std::optional<bool> boolean(const char* key) const {
    const nlohmann::json* v = find(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_boolean()) throw Error(name(key) + ": expected true or false, got " + v->dump());
    return v->get<bool>();
  }

  std::optional<std::string> string(const char* key) const {
    const nlohmann::json* v = find(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_string()) throw Error(name(key) + ": expected a string, got " + v->dump());
    return v->get<std::string>();
  }

  std::optional<std::string> one_of(const char* key, const std::vector<std::string>& allowed) const {
    std::optional<std::string> s = string(key);
    if (s && std::find(allowed.begin(), allowed.end(), *s) == allowed.end()) {
      std::string list;
      for (const std::string& a : allowed) list += (list.empty() ? "" : ", ") + a;
      throw Error(name(key) + ": unknown value '" + *s + "' (expected one of: " + list + ")");
    }
    return s;
  }

 private:
  static std::string fmt(double d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", d);
    return buf;
  }

  const nlohmann::json& table_;
  std::string where_;
};

Rule parse_rule(const nlohmann::json& j, const std::string& where) {
  const TableReader t(j, where);
  t.allow({"name", "metric", "op", "threshold", "window", "min_requests", "for_seconds", "severity", "summary"});
  Rule r;
  const auto required = [&](const char* key) {
    if (t.find(key) == nullptr) throw Error(t.name(key) + ": required");
  };
  for (const char* key : {"name", "metric", "op", "threshold"}) required(key);
  r.name = *t.string("name");
  if (r.name.empty()) throw Error(t.name("name") + ": must not be empty");
  r.metric = *t.one_of("metric", alert_metrics());
  const std::string op = *t.one_of("op", {"<", ">", "below", "above"});
  r.op = (op == "<" || op == "below") ? Op::kBelow : Op::kAbove;
  r.threshold = *t.number("threshold", -1e300, 1e300);
  if (auto w = t.one_of("window", alert_windows())) r.window = *w;
  if (auto m = t.unsigned_integer("min_requests")) r.min_requests = *m;
  if (auto f = t.number("for_seconds", 0, 1e9)) r.for_seconds = *f;
  if (auto s = t.one_of("severity", {"warning", "critical"})) r.severity = *s;
  if (auto s = t.string("summary")) r.summary = *s;
  return r;
}

}  // namespace

std::vector<Rule> MonitorConfig::rules() const {
  std::vector<Rule> out = default_alerts ? default_rules() : std::vector<Rule>{};
  for (const Rule& r : alerts) {
    const auto same = std::find_if(out.begin(), out.end(), [&](const Rule& d) { return d.name == r.name; });
    if (same != out.end()) {
      *same = r;
    } else {
      out.push_back(r);
    }
  }
  return out;
}

MonitorConfig monitor_config_from_json(const nlohmann::json& table, const std::string& source) {
  MonitorConfig c;
  if (table.is_null()) return c;
  const TableReader t(table, source + ": [monitor]");
  t.allow({"shadow_fraction", "shadow_seed", "webhook_url", "webhook_timeout_ms", "webhook_queue", "log_alerts",
           "default_alerts", "ood_energy_threshold", "drift_min_requests", "health", "alerts"});
  if (auto v = t.number("shadow_fraction", 0, 1)) c.shadow_fraction = *v;
  if (auto v = t.unsigned_integer("shadow_seed")) c.shadow_seed = *v;
  if (auto v = t.string("webhook_url")) c.webhook_url = *v;
  if (auto v = t.integer("webhook_timeout_ms", 1)) c.webhook_timeout_ms = *v;
  if (auto v = t.integer("webhook_queue", 1)) c.webhook_queue = static_cast<std::size_t>(*v);
  if (auto v = t.boolean("log_alerts")) c.log_alerts = *v;
  if (auto v = t.boolean("default_alerts")) c.default_alerts = *v;
  if (auto v = t.number("ood_energy_threshold", -1e300, 1e300)) c.ood_energy_threshold = *v;
  if (auto v = t.integer("drift_min_requests", 1)) c.drift_min_requests = static_cast<std::uint64_t>(*v);
  if (const nlohmann::json* h = t.find("health")) {
    const TableReader ht(*h, source + ": [monitor.health]");
    ht.allow({"excellent", "good", "fair", "poor"});
    if (auto v = ht.number("excellent", 0, 100)) c.health.excellent = *v;
    if (auto v = ht.number("good", 0, 100)) c.health.good = *v;
    if (auto v = ht.number("fair", 0, 100)) c.health.fair = *v;
    if (auto v = ht.number("poor", 0, 100)) c.health.poor = *v;
    if (!(c.health.excellent >= c.health.good && c.health.good >= c.health.fair && c.health.fair >= c.health.poor))
      throw Error(source + ": [monitor.health]: bands must satisfy excellent >= good >= fair >= poor");
  }
  if (const nlohmann::json* a = t.find("alerts")) {
    if (!a->is_array()) throw Error(source + ": [monitor].alerts: expected an array of tables ([[monitor.alerts]])");
    std::set<std::string> names;
    for (std::size_t i = 0; i < a->size(); ++i) {
      Rule r = parse_rule((*a)[i], source + ": [[monitor.alerts]] #" + std::to_string(i + 1));
      if (!names.insert(r.name).second)
        throw Error(source + ": [[monitor.alerts]] #" + std::to_string(i + 1) + ".name: duplicate alert name '" +
                    r.name + "'");
      c.alerts.push_back(std::move(r));
    }
  }
  return c;
}

DocumentBuilder::DocumentBuilder(std::vector<std::string> labels, std::vector<std::string> reasons,
                                 const nlohmann::json& reference, const MonitorConfig& config)
    : labels_(std::move(labels)),
      reasons_(std::move(reasons)),
      reference_(parse_reference(reference, labels_, "policy [calibration]")),
      ood_threshold_(config.ood_energy_threshold ? config.ood_energy_threshold : default_ood_threshold(reference_)),
      drift_min_requests_(config.drift_min_requests),
      health_(config.health) {}

namespace {

int index_of(const std::vector<std::string>& names, std::string_view name) {
  const auto it = std::find(names.begin(), names.end(), name);
  return it == names.end() ? -1 : static_cast<int>(it - names.begin());
}

}  // namespace

int DocumentBuilder::label_index(std::string_view label) const { return index_of(labels_, label); }
int DocumentBuilder::reason_index(std::string_view reason) const { return index_of(reasons_, reason); }

// With n answers over k bins and no drift at all, PSI still averages about
// (k - 1) / n (it is close to a chi-square statistic over n). Asking for
// 10 (k - 1) answers keeps that noise floor near 0.1, below the 0.25 alert,
// whatever drift_min_requests says: 77 labels need 760 answers, not 100.
std::uint64_t DocumentBuilder::psi_min_requests(std::size_t bins) const {
  return std::max<std::uint64_t>(drift_min_requests_, 10 * static_cast<std::uint64_t>(bins > 0 ? bins - 1 : 0));
}

std::optional<double> DocumentBuilder::psi_confidence(const Bucket& b) const {
  if (!reference_ || b.inferred < psi_min_requests(static_cast<std::size_t>(kConfidenceBins))) return std::nullopt;
  std::array<double, kConfidenceBins> current{};
  for (std::size_t i = 0; i < current.size(); ++i) current[i] = static_cast<double>(b.confidence[i]);
  return psi(reference_->confidence_histogram, current);
}

std::optional<double> DocumentBuilder::psi_labels(const Bucket& b) const {
  if (!reference_ || b.inferred < psi_min_requests(labels_.size())) return std::nullopt;
  std::vector<double> current(b.labels.begin(), b.labels.end());
  return psi(reference_->label_shares, current);
}

std::optional<double> DocumentBuilder::ood_rate(const Bucket& b) const {
  if (!ood_threshold_) return std::nullopt;
  return ratio(b.ood, b.inferred);
}

nlohmann::json DocumentBuilder::bucket_json(const Bucket& b) const {
  const std::uint64_t fb = feedback_total(b);
  return {{"t", b.start_s},
          {"requests", b.requests},
          {"edge", b.edge},
          {"cloud", b.cloud},
          {"degraded", b.degraded},
          {"errors", b.errors},
          {"edge_share", opt(ratio(b.edge, b.requests))},
          {"cost_per_query", opt(ratio(b.cost_usd, static_cast<double>(b.requests)))},
          {"cloud_only_per_query", opt(ratio(b.cloud_only_cost_usd, static_cast<double>(b.requests)))},
          {"latency_ms", {{"edge", percentiles(b.latency_edge)}, {"cloud", percentiles(b.latency_cloud)}}},
          {"accuracy", opt(ratio(feedback_correct(b), fb))},
          {"shadow_agreement", opt(ratio(b.shadow_agree, b.shadow_total))},
          {"psi_confidence", opt(psi_confidence(b))},
          {"ood_rate", opt(ood_rate(b))}};
}

nlohmann::json DocumentBuilder::summary_json(const Bucket& t, const std::string& breaker) const {
  const auto requests = static_cast<double>(t.requests);
  nlohmann::json reasons = nlohmann::json::object();
  for (std::size_t i = 0; i < reasons_.size(); ++i) reasons[reasons_[i]] = t.reasons[i];

  nlohmann::json confidence = nullptr;
  if (t.inferred > 0) {
    confidence = nlohmann::json::array();
    for (const std::uint64_t c : t.confidence) confidence.push_back(static_cast<double>(c) / static_cast<double>(t.inferred));
  }
  const nlohmann::json reference_confidence =
      reference_ ? nlohmann::json(reference_->confidence_histogram) : nlohmann::json();

  std::vector<std::size_t> order(labels_.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return t.labels[a] > t.labels[b]; });
  nlohmann::json labels = nlohmann::json::object();
  for (std::size_t k = 0; k < order.size() && k < kTopLabels && t.labels[order[k]] > 0; ++k)
    labels[labels_[order[k]]] = t.labels[order[k]];

  const auto feedback_route = [&](std::size_t r) {
    return nlohmann::json{{"total", t.feedback_total[r]},
                          {"correct", t.feedback_correct[r]},
                          {"accuracy", opt(ratio(t.feedback_correct[r], t.feedback_total[r]))}};
  };
  const auto ci = wilson95(t.shadow_agree, t.shadow_total);
  const std::optional<double> psi_c = psi_confidence(t), psi_l = psi_labels(t);
  const std::optional<double> worst =
      psi_c && psi_l ? std::optional<double>(std::max(*psi_c, *psi_l)) : (psi_c ? psi_c : psi_l);
  const LatencyHistogram all = all_latency(t);

  return {
      {"requests", t.requests},
      {"edge", t.edge},
      {"cloud", t.cloud},
      {"degraded", t.degraded},
      {"errors", t.errors},
      {"edge_share", opt(ratio(t.edge, t.requests))},
      {"error_rate", opt(ratio(t.errors, t.requests + t.errors))},
      {"degraded_rate", opt(ratio(t.degraded, t.requests))},
      {"cost_usd", t.cost_usd},
      {"cloud_only_cost_usd", t.cloud_only_cost_usd},
      {"cost_per_query", opt(ratio(t.cost_usd, requests))},
      {"cloud_only_per_query", opt(ratio(t.cloud_only_cost_usd, requests))},
      {"savings", opt(t.cloud_only_cost_usd > 0 ? std::optional<double>(1 - t.cost_usd / t.cloud_only_cost_usd)
                                                : std::nullopt)},
      {"latency_ms",
       {{"edge", percentiles(t.latency_edge)}, {"cloud", percentiles(t.latency_cloud)}, {"all", percentiles(all)}}},
      {"reasons", reasons},
      {"confidence_histogram", confidence},
      {"reference_confidence_histogram", reference_confidence},
      {"labels", labels},
      {"feedback",
       {{"total", feedback_total(t)},
        {"correct", feedback_correct(t)},
        {"accuracy", opt(ratio(feedback_correct(t), feedback_total(t)))},
        {"edge", feedback_route(0)},
        {"cloud", feedback_route(1)}}},
      {"shadow",
       {{"total", t.shadow_total},
        {"agree", t.shadow_agree},
        {"agreement", opt(ratio(t.shadow_agree, t.shadow_total))},
        {"ci95", ci ? nlohmann::json::array({ci->first, ci->second}) : nlohmann::json()},
        {"cost_usd", t.shadow_cost_usd}}},
      {"drift",
       {{"psi_confidence", opt(psi_c)},
        {"psi_labels", opt(psi_l)},
        {"ood_rate", opt(ood_rate(t))},
        {"ood_energy_threshold", opt(ood_threshold_)},
        {"band", psi_band(worst)}}},
      {"audit",
       {{"commits", t.audit_commits},
        {"mean_ms", opt(ratio(t.audit_seconds_sum * 1000, static_cast<double>(t.audit_commits)))},
        {"max_ms", t.audit_commits > 0 ? nlohmann::json(t.audit_seconds_max * 1000) : nlohmann::json()}}},
      {"breaker", breaker}};
}

MetricSample DocumentBuilder::sample(const Bucket& t, const std::string& metric) const {
  if (metric == "edge_utilization") return {ratio(t.edge, t.requests), t.requests};
  if (metric == "accuracy") return {ratio(feedback_correct(t), feedback_total(t)), feedback_total(t)};
  if (metric == "shadow_agreement") return {ratio(t.shadow_agree, t.shadow_total), t.shadow_total};
  if (metric == "cost_per_query") return {ratio(t.cost_usd, static_cast<double>(t.requests)), t.requests};
  if (metric == "latency_p95_ms") {
    const LatencyHistogram all = all_latency(t);
    return {all.percentile(0.95), all.count()};
  }
  if (metric == "error_rate") return {ratio(t.errors, t.requests + t.errors), t.requests + t.errors};
  if (metric == "degraded_rate") return {ratio(t.degraded, t.requests), t.requests};
  if (metric == "psi_confidence") return {psi_confidence(t), t.inferred};
  if (metric == "psi_labels") return {psi_labels(t), t.inferred};
  if (metric == "ood_rate") return {ood_rate(t), t.inferred};
  if (metric == "audit_commit_ms_max")
    return {t.audit_commits > 0 ? std::optional<double>(t.audit_seconds_max * 1000) : std::nullopt, t.audit_commits};
  throw Error("monitor: unknown alert metric '" + metric + "'");
}

HealthInput DocumentBuilder::health_input(const std::string& window, const Bucket& t, const std::vector<Bucket>& buckets,
                                          std::size_t alerts_fired) const {
  HealthInput in;
  in.window = window;
  in.requests = t.requests;
  in.edge_utilization = ratio(t.edge, t.requests);
  in.cost_per_query = ratio(t.cost_usd, static_cast<double>(t.requests));
  in.mean_complexity = ratio(t.complexity_sum, static_cast<double>(t.requests));
  in.latency_p95_ms = all_latency(t).percentile(0.95);
  in.feedback_total = feedback_total(t);
  in.feedback_accuracy = ratio(feedback_correct(t), feedback_total(t));
  in.shadow_total = t.shadow_total;
  in.shadow_agreement = ratio(t.shadow_agree, t.shadow_total);
  in.psi_confidence = psi_confidence(t);
  in.psi_labels = psi_labels(t);
  in.ood_rate = ood_rate(t);
  in.alerts_fired = alerts_fired;
  in.cost_usd = t.cost_usd;
  in.cloud_only_cost_usd = t.cloud_only_cost_usd;
  in.span_seconds = span_seconds(t);
  for (const Bucket& b : buckets) {
    in.accuracy_series.push_back(ratio(feedback_correct(b), feedback_total(b)));
    in.edge_share_series.push_back(ratio(b.edge, b.requests));
    in.latency_p95_series.push_back(all_latency(b).percentile(0.95));
    in.cost_per_query_series.push_back(ratio(b.cost_usd, static_cast<double>(b.requests)));
  }
  return in;
}

Monitor::Monitor(std::vector<std::string> labels, std::vector<std::string> reasons, const nlohmann::json& reference,
                 MonitorConfig config, const Clock* clock, std::string node)
    : config_(std::move(config)),
      builder_(std::move(labels), std::move(reasons), reference, config_),
      clock_(clock),
      node_(std::move(node)),
      series_{Series(1, 60, builder_.reasons().size(), builder_.labels().size()),
              Series(60, 60, builder_.reasons().size(), builder_.labels().size()),
              Series(900, 96, builder_.reasons().size(), builder_.labels().size())},
      alerts_(std::make_unique<AlertEngine>(config_.rules(), clock_, node_)) {
  if (config_.log_alerts) alerts_->add_sink(std::make_shared<LogSink>());
  if (!config_.webhook_url.empty()) {
    WebhookOptions w;
    w.url = config_.webhook_url;
    w.timeout = std::chrono::milliseconds(config_.webhook_timeout_ms);
    w.queue_capacity = config_.webhook_queue;
    alerts_->add_sink(std::make_shared<WebhookSink>(std::move(w)));
  }
}

Monitor::~Monitor() = default;

void Monitor::record(const Observation& o) {
  const std::optional<double> threshold = builder_.ood_threshold();
  const std::lock_guard lock(mu_);
  for (Series& s : series_) s.record(o, threshold);
}

void Monitor::record_error(std::int64_t ts_us, int http_status) {
  if (http_status < 400 || http_status > 599) return;
  const std::lock_guard lock(mu_);
  for (Series& s : series_) s.record_error(ts_us);
}

void Monitor::record_audit_commit(std::int64_t ts_us, double seconds) {
  const std::lock_guard lock(mu_);
  for (Series& s : series_) s.record_audit_commit(ts_us, seconds);
}

void Monitor::record_feedback(std::int64_t ts_us, bool cloud_route, bool correct) {
  const std::lock_guard lock(mu_);
  for (Series& s : series_) s.record_feedback(ts_us, cloud_route, correct);
}

void Monitor::record_shadow(std::int64_t ts_us, bool agree, double cost_usd) {
  const std::lock_guard lock(mu_);
  for (Series& s : series_) s.record_shadow(ts_us, agree, cost_usd);
}

void Monitor::set_breaker_state(const std::string& state) {
  const std::lock_guard lock(mu_);
  breaker_ = state;
}

std::size_t Monitor::window_index(const std::string& window) const {
  for (std::size_t i = 0; i < kWindows.size(); ++i)
    if (window == kWindows[i]) return i;
  throw Error("monitor: unknown window '" + window + "' (expected 1m, 1h or 24h)");
}

std::array<Bucket, 3> Monitor::aggregates_locked(std::int64_t now_us) const {
  return {series_[0].aggregate(now_us), series_[1].aggregate(now_us), series_[2].aggregate(now_us)};
}

nlohmann::json Monitor::health_for(std::size_t w, const Bucket& total, const std::vector<Bucket>& buckets,
                                   std::int64_t now_us) const {
  const std::int64_t since = now_us - series_[w].window_seconds() * 1'000'000;
  return monitor::health_report(builder_.health_input(kWindows[w], total, buckets, alerts_->fired_since(since)),
                                builder_.health_config());
}

nlohmann::json Monitor::document(const std::string& window) const {
  const std::size_t w = window_index(window);
  const std::int64_t now_us = clock_->unix_micros();
  std::vector<Bucket> buckets;
  std::string breaker;
  const std::array<Bucket, 3> totals = [&] {
    const std::lock_guard lock(mu_);
    series_[w].snapshot(now_us, buckets);
    breaker = breaker_;
    return aggregates_locked(now_us);
  }();
  nlohmann::json series = nlohmann::json::array();
  for (const Bucket& b : buckets) series.push_back(builder_.bucket_json(b));
  nlohmann::json windows = nlohmann::json::object();
  for (std::size_t i = 0; i < kWindows.size(); ++i) windows[kWindows[i]] = builder_.summary_json(totals[i], breaker);
  nlohmann::json firing = nlohmann::json::array(), recent = nlohmann::json::array();
  for (const Alert& a : alerts_->firing()) firing.push_back(alert_json(a));
  for (const Alert& a : alerts_->recent()) recent.push_back(alert_json(a));
  return {{"generated_at", iso8601(now_us)},
          {"node", node_},
          {"source", "live"},
          {"window", window},
          {"bucket_seconds", series_[w].bucket_seconds()},
          {"series", series},
          {"summary", windows[window]},
          {"windows", windows},
          {"alerts", {{"firing", firing}, {"recent", recent}}},
          {"health", health_for(w, totals[w], buckets, now_us)}};
}

nlohmann::json Monitor::health_report(const std::string& window) const {
  const std::size_t w = window_index(window);
  const std::int64_t now_us = clock_->unix_micros();
  std::vector<Bucket> buckets;
  Bucket total(0, 0);
  {
    const std::lock_guard lock(mu_);
    series_[w].snapshot(now_us, buckets);
    total = series_[w].aggregate(now_us);
  }
  return health_for(w, total, buckets, now_us);
}

std::vector<Alert> Monitor::evaluate_alerts() {
  const std::array<Bucket, 3> totals = [&] {
    const std::lock_guard lock(mu_);
    return aggregates_locked(clock_->unix_micros());
  }();
  return alerts_->evaluate(
      [&](const Rule& r) { return builder_.sample(totals[window_index(r.window)], r.metric); });
}

void Monitor::add_sink(std::shared_ptr<AlertSink> sink) { alerts_->add_sink(std::move(sink)); }

Monitor::Gauges Monitor::gauges() const {
  const std::int64_t now_us = clock_->unix_micros();
  const std::array<Bucket, 3> totals = [&] {
    const std::lock_guard lock(mu_);
    return aggregates_locked(now_us);
  }();
  Gauges g;
  for (std::size_t i = 0; i < totals.size(); ++i) g.edge_share[i] = ratio(totals[i].edge, totals[i].requests);
  g.psi_confidence = builder_.psi_confidence(totals[1]);
  g.psi_labels = builder_.psi_labels(totals[1]);
  g.ood_rate = builder_.ood_rate(totals[1]);
  for (const Rule& r : alerts_->rules()) g.alerts_firing.emplace_back(r.name, alerts_->is_firing(r.name));
  g.health_score = health_for(1, totals[1], {}, now_us)["score"].get<double>();
  return g;
}

std::optional<double> Monitor::edge_share(const std::string& window) const {
  const std::size_t w = window_index(window);
  Bucket total(0, 0);
  {
    const std::lock_guard lock(mu_);
    total = series_[w].aggregate(clock_->unix_micros());
  }
  return ratio(total.edge, total.requests);
}

std::optional<double> Monitor::psi_confidence() const { return gauges().psi_confidence; }
std::optional<double> Monitor::psi_labels() const { return gauges().psi_labels; }
std::optional<double> Monitor::ood_rate() const { return gauges().ood_rate; }
double Monitor::health_score() const { return gauges().health_score; }

namespace {

std::int64_t span_bucket_seconds(std::int64_t first_us, std::int64_t last_us, std::size_t max_buckets) {
  if (last_us < first_us) throw Error("monitor report: the span ends before it starts");
  if (max_buckets == 0) throw Error("monitor report: needs at least one bucket");
  const std::int64_t span_s = last_us / 1'000'000 - first_us / 1'000'000 + 1;
  const auto n = static_cast<std::int64_t>(max_buckets);
  return std::max<std::int64_t>(1, (span_s + n - 1) / n);
}

std::size_t span_buckets(std::int64_t first_us, std::int64_t last_us, std::int64_t w) {
  const auto floor_div = [](std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0 && a < 0) ? 1 : 0); };
  const std::int64_t first = floor_div(floor_div(first_us, 1'000'000), w);
  const std::int64_t last = floor_div(floor_div(last_us, 1'000'000), w);
  return static_cast<std::size_t>(last - first + 1);
}

}  // namespace

SpanReport::SpanReport(std::vector<std::string> labels, std::vector<std::string> reasons,
                       const nlohmann::json& reference, const MonitorConfig& config, std::int64_t first_us,
                       std::int64_t last_us, std::string node, std::size_t max_buckets)
    : config_(config),
      builder_(std::move(labels), std::move(reasons), reference, config_),
      node_(std::move(node)),
      first_us_(first_us),
      last_us_(last_us),
      series_(span_bucket_seconds(first_us, last_us, max_buckets),
              span_buckets(first_us, last_us, span_bucket_seconds(first_us, last_us, max_buckets)),
              builder_.reasons().size(), builder_.labels().size()) {}

void SpanReport::record(const Observation& o) {
  Observation clamped = o;
  clamped.ts_us = clamp(o.ts_us);
  series_.record(clamped, builder_.ood_threshold());
}
void SpanReport::record_error(std::int64_t ts_us, int http_status) {
  if (http_status >= 400 && http_status <= 599) series_.record_error(clamp(ts_us));
}
void SpanReport::record_audit_commit(std::int64_t ts_us, double seconds) {
  series_.record_audit_commit(clamp(ts_us), seconds);
}
void SpanReport::record_feedback(std::int64_t ts_us, bool cloud_route, bool correct) {
  series_.record_feedback(clamp(ts_us), cloud_route, correct);
}
void SpanReport::record_shadow(std::int64_t ts_us, bool agree, double cost_usd) {
  series_.record_shadow(clamp(ts_us), agree, cost_usd);
}

std::vector<Alert> SpanReport::span_alerts(const Bucket& total) const {
  std::vector<Alert> out;
  for (const Rule& r : config_.rules()) {
    const MetricSample s = builder_.sample(total, r.metric);
    if (condition_holds(r, s)) out.push_back(Alert{r, *s.value, true, last_us_, std::nullopt});
  }
  return out;
}

nlohmann::json SpanReport::health_report() const {
  std::vector<Bucket> buckets;
  series_.snapshot(last_us_, buckets);
  const Bucket total = series_.aggregate(last_us_);
  return monitor::health_report(builder_.health_input("span", total, buckets, span_alerts(total).size()),
                                builder_.health_config());
}

nlohmann::json SpanReport::document(std::int64_t generated_at_us) const {
  std::vector<Bucket> buckets;
  series_.snapshot(last_us_, buckets);
  const Bucket total = series_.aggregate(last_us_);
  const std::vector<Alert> fired = span_alerts(total);
  nlohmann::json series = nlohmann::json::array(), firing = nlohmann::json::array();
  for (const Bucket& b : buckets) series.push_back(builder_.bucket_json(b));
  for (const Alert& a : fired) firing.push_back(alert_json(a));
  return {{"generated_at", iso8601(generated_at_us)},
          {"node", node_},
          {"source", "audit"},
          {"window", "span"},
          {"bucket_seconds", series_.bucket_seconds()},
          {"series", series},
          {"summary", builder_.summary_json(total, "none")},
          {"alerts", {{"firing", firing}, {"recent", nlohmann::json::array()}}},
          {"health", monitor::health_report(builder_.health_input("span", total, buckets, fired.size()),
                                            builder_.health_config())}};
}

}  // namespace edgeroute::monitor
