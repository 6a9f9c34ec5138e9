// The service's monitor: three Series (1 min of 1 s buckets, 1 h of 60 s
// buckets, 24 h of 900 s buckets) fed by every acknowledged answer, feedback
// row, shadow pair, error and audit commit; drift against the calibration
// reference; an AlertEngine over the window summaries; and the monitor JSON
// document (GET /v1/monitor) and health report built from them.
//
// The same document comes out of SpanReport, which `edgeroute report` feeds
// with audit rows over an arbitrary span ("source": "audit").
//
// Thread-safety: Monitor's record*() take one mutex for a few array updates
// and never allocate once the series exist; everything else may be called
// from any thread.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "edgeroute/common/clock.h"
#include "edgeroute/monitor/alerts.h"
#include "edgeroute/monitor/drift.h"
#include "edgeroute/monitor/health.h"
#include "edgeroute/monitor/window.h"

namespace edgeroute::monitor {

// The policy's [monitor] table (TOML converted to JSON by the caller).
struct MonitorConfig {
  double shadow_fraction = 0;       // share of edge-kept queries also sent to the cloud
  std::uint64_t shadow_seed = 0;    // seeds router::shadow_selected()
  std::string webhook_url;          // empty: no webhook sink
  std::int64_t webhook_timeout_ms = 2000;
  std::size_t webhook_queue = 256;
  bool log_alerts = true;           // one JSON line per alert event on stderr
  bool default_alerts = true;       // start from default_rules()
  std::vector<Rule> alerts;         // [[monitor.alerts]]; a name equal to a default replaces it
  std::optional<double> ood_energy_threshold;  // default: the reference's p99 energy
  std::uint64_t drift_min_requests = 100;      // answers PSI needs in a window or bucket
  HealthConfig health;

  // default_rules() (when default_alerts) with `alerts` applied.
  std::vector<Rule> rules() const;
};

// Keys of the [monitor] table: shadow_fraction (number in [0, 1]),
// shadow_seed (integer >= 0), webhook_url (string), webhook_timeout_ms
// (integer >= 1), webhook_queue (integer >= 1), log_alerts (bool),
// default_alerts (bool), ood_energy_threshold (number), drift_min_requests
// (integer >= 1), health (table: excellent, good, fair, poor), alerts (array
// of tables: name and metric and op ("<", ">", "below", "above") and
// threshold required; window "1m"|"1h"|"24h", min_requests, for_seconds,
// severity "warning"|"critical", summary optional). null means all defaults.
// Throws edgeroute::Error naming `source` and the key on an unknown key, a
// wrong type, an out-of-range value, an unknown metric, op, window or
// severity, or a duplicate alert name.
MonitorConfig monitor_config_from_json(const nlohmann::json& monitor_table, const std::string& source);

// Builds the document's parts from buckets: holds the label and reason
// names, the parsed reference and the thresholds. Immutable once built.
class DocumentBuilder {
 public:
  // Throws edgeroute::Error when `reference` is malformed (see parse_reference).
  DocumentBuilder(std::vector<std::string> labels, std::vector<std::string> reasons, const nlohmann::json& reference,
                  const MonitorConfig& config);

  // One element of "series".
  nlohmann::json bucket_json(const Bucket& b) const;
  // A window summary; `total` is the window merged into one bucket.
  // "labels" holds the 20 most frequent labels seen (labels never seen are left out).
  nlohmann::json summary_json(const Bucket& total, const std::string& breaker) const;
  // The value a rule's metric has in `total`, with its sample count.
  MetricSample sample(const Bucket& total, const std::string& metric) const;
  // Inputs of health_report() for a window.
  HealthInput health_input(const std::string& window, const Bucket& total, const std::vector<Bucket>& buckets,
                           std::size_t alerts_fired) const;

  // PSI needs at least max(drift_min_requests, 10 x (bins - 1)) answers.
  std::uint64_t psi_min_requests(std::size_t bins) const;
  std::optional<double> psi_confidence(const Bucket& b) const;
  std::optional<double> psi_labels(const Bucket& b) const;
  std::optional<double> ood_rate(const Bucket& b) const;
  std::optional<double> ood_threshold() const { return ood_threshold_; }
  // Index of a label or reason name for Observation, -1 when unknown (an
  // audit row from another model or router version).
  int label_index(std::string_view label) const;
  int reason_index(std::string_view reason) const;
  const std::vector<std::string>& labels() const { return labels_; }
  const std::vector<std::string>& reasons() const { return reasons_; }
  const HealthConfig& health_config() const { return health_; }

 private:
  std::vector<std::string> labels_, reasons_;
  std::optional<Reference> reference_;
  std::optional<double> ood_threshold_;
  std::uint64_t drift_min_requests_;
  HealthConfig health_;
};

class Monitor {
 public:
  static constexpr std::array<const char*, 3> kWindows = {"1m", "1h", "24h"};

  // `labels`: the edge model's labels (Observation::edge_label indexes
  // them); `reasons`: the router's reason names in order
  // (Observation::reason indexes them); `reference`: the policy's
  // [calibration].reference (null or empty: no drift). `clock` outlives the
  // monitor. Creates the log and webhook sinks the config asks for. Throws
  // edgeroute::Error on a bad reference, rules or webhook URL.
  Monitor(std::vector<std::string> labels, std::vector<std::string> reasons, const nlohmann::json& reference,
          MonitorConfig config, const Clock* clock, std::string node);
  ~Monitor();
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  void record(const Observation& o);
  // A 4xx/5xx answer of a classify endpoint (other statuses are ignored).
  void record_error(std::int64_t ts_us, int http_status);
  void record_audit_commit(std::int64_t ts_us, double seconds);
  void record_feedback(std::int64_t ts_us, bool cloud_route, bool correct);
  void record_shadow(std::int64_t ts_us, bool agree, double cost_usd);
  // "closed", "open", "half_open" or "none".
  void set_breaker_state(const std::string& state);

  // The monitor document with `window`'s series ("1m", "1h" or "24h"),
  // "source": "live". Throws edgeroute::Error on another window.
  nlohmann::json document(const std::string& window) const;
  // The health report over `window`.
  nlohmann::json health_report(const std::string& window) const;
  // Evaluates the alert rules now (the service calls this once a second);
  // returns the events emitted.
  std::vector<Alert> evaluate_alerts();
  void add_sink(std::shared_ptr<AlertSink> sink);
  const AlertEngine& alerts() const { return *alerts_; }

  // Gauges for Prometheus, computed together under one lock.
  struct Gauges {
    std::array<std::optional<double>, 3> edge_share;  // in kWindows order
    std::optional<double> psi_confidence, psi_labels, ood_rate;  // 1h window
    std::vector<std::pair<std::string, bool>> alerts_firing;     // every rule, in rule order
    double health_score = 100;                                   // 1h window
  };
  Gauges gauges() const;
  std::optional<double> edge_share(const std::string& window) const;
  std::optional<double> psi_confidence() const;
  std::optional<double> psi_labels() const;
  std::optional<double> ood_rate() const;
  double health_score() const;

  const DocumentBuilder& builder() const { return builder_; }
  const MonitorConfig& config() const { return config_; }

 private:
  std::size_t window_index(const std::string& window) const;
  // Callers hold mu_.
  std::array<Bucket, 3> aggregates_locked(std::int64_t now_us) const;
  nlohmann::json health_for(std::size_t w, const Bucket& total, const std::vector<Bucket>& buckets,
                            std::int64_t now_us) const;

  MonitorConfig config_;
  DocumentBuilder builder_;
  const Clock* clock_;
  std::string node_;
  mutable std::mutex mu_;
  std::array<Series, 3> series_;
  std::string breaker_ = "none";
  std::unique_ptr<AlertEngine> alerts_;
};

// The offline twin of Monitor over one span (first to last audit row), with
// about `max_buckets` buckets of a whole number of seconds. Timestamps outside
// [first_us, last_us] count at the nearer end (feedback usually arrives after
// the last answer). Not thread-safe.
class SpanReport {
 public:
  SpanReport(std::vector<std::string> labels, std::vector<std::string> reasons, const nlohmann::json& reference,
             const MonitorConfig& config, std::int64_t first_us, std::int64_t last_us, std::string node,
             std::size_t max_buckets = 100);

  void record(const Observation& o);
  void record_error(std::int64_t ts_us, int http_status);
  void record_audit_commit(std::int64_t ts_us, double seconds);
  void record_feedback(std::int64_t ts_us, bool cloud_route, bool correct);
  void record_shadow(std::int64_t ts_us, bool agree, double cost_usd);

  // The monitor document with "source": "audit", "window": "span", the whole
  // span in "series" and "summary", no "windows"; "alerts.firing" holds the
  // rules whose condition holds over the whole span (ignoring their window
  // and for_seconds), "recent" is empty. `generated_at_us` stamps it.
  nlohmann::json document(std::int64_t generated_at_us) const;
  nlohmann::json health_report() const;
  const Series& series() const { return series_; }
  const DocumentBuilder& builder() const { return builder_; }

 private:
  std::vector<Alert> span_alerts(const Bucket& total) const;
  std::int64_t clamp(std::int64_t ts_us) const { return std::clamp(ts_us, first_us_, last_us_); }

  MonitorConfig config_;
  DocumentBuilder builder_;
  std::string node_;
  std::int64_t first_us_, last_us_;
  Series series_;
};

}  // namespace edgeroute::monitor
