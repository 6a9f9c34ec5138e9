// The edge-first router: one code path for `edgeroute route` (offline) and
// `edgeroute serve --role edge` (the service).
//
// route(): the edge model answers; the policy decides from the edge's
// numbers (never from the cloud's); an escalation sends the redacted text to
// the cloud through the resilient client; on any cloud failure the edge
// answer is returned with degraded = true; the audit row (when an audit
// writer is attached) is committed before route() returns, so a caller that
// acknowledges after route() never acknowledges an unrecorded answer.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "edgeroute/common/clock.h"
#include "edgeroute/text/json_writer.h"
#include "edgeroute/engine/classifier.h"
#include "edgeroute/router/audit.h"
#include "edgeroute/router/cloud.h"
#include "edgeroute/router/policy.h"
#include "edgeroute/router/shadow.h"
#include "edgeroute/text/pii.h"

namespace edgeroute::router {

struct RouteResult {
  std::string request_id;
  std::string label;  // the answer
  double confidence = 0;
  // Probabilities of the model that answered (either may be empty): an edge
  // answer's, one per label of `edge_labels` (the edge model's label names,
  // not copied: valid while the router lives), or a cloud answer's, by name.
  const std::vector<std::string>* edge_labels = nullptr;
  std::vector<float> edge_probabilities;
  std::vector<std::pair<std::string, double>> cloud_probabilities;
  std::string route;                                          // "edge" | "cloud"
  Reason reason = Reason::kOptimalEdge;
  bool degraded = false;
  Complexity complexity;
  Signals signals;  // text/label views are not valid after route() returns
  std::string edge_label;
  double edge_confidence = 0;
  std::vector<text::PiiSpan> pii;
  std::string redacted_text;
  CloudFailure cloud_failure = CloudFailure::kNone;
  double cost_usd = 0, cloud_only_cost_usd = 0;
  double latency_ms = 0, edge_ms = 0, cloud_ms = 0;
  std::int64_t tokens = 0;
  bool truncated = false;
  // Set by Router::decide() when the policy escalates and a cloud call is
  // due: Router::finish() makes it. When the request started (latency_ms and
  // edge_ms count from it).
  bool awaiting_cloud = false;
  std::chrono::steady_clock::time_point t0;
  // The answer as one JSON object (docs/openapi.yaml, Answer); without the
  // probabilities when `with_probabilities` is false.
  void write_json(text::JsonWriter& w, bool with_probabilities = true) const;
  // Only the members, for a caller that adds its own to the same object.
  void write_json_members(text::JsonWriter& w, bool with_probabilities = true) const;
};

// Running totals for /v1/stats and the route summary: the seed's system
// stats computed honestly (every query pays the edge price; escalations also
// the cloud's; the counterfactual is every query at the cloud price).
class Ledger {
 public:
  void record(const RouteResult& r);
  nlohmann::json stats() const;
  std::int64_t total() const { return total_.load(); }
  // Cloud spend in the current clock hour (for the budget rule).
  double cloud_spend_this_hour(std::int64_t now_us) const;
  void add_cloud_spend(std::int64_t now_us, double usd);
  // Shadow calls: counted and costed apart from the answers.
  void record_shadow(const ShadowResult& r);

 private:
  std::atomic<std::int64_t> total_{0}, edge_{0}, cloud_{0}, degraded_{0};
  std::array<std::atomic<std::int64_t>, kReasonCount> reasons_{};
  mutable std::mutex mu_;
  double cost_ = 0, cloud_only_ = 0, latency_ms_sum_ = 0;
  std::int64_t first_us_ = 0, last_us_ = 0;
  std::int64_t hour_ = -1;
  double hour_spend_ = 0;
  std::int64_t shadow_calls_ = 0, shadow_answered_ = 0, shadow_agreed_ = 0;
  double shadow_cost_ = 0;
};

struct RouterParts {
  const engine::Classifier* edge = nullptr;  // required
  Policy policy;
  ResilientCloud* cloud = nullptr;  // optional: without it escalations answer on the edge (edge_only)
  AuditWriter* audit = nullptr;     // optional
  std::string audit_key;            // HMAC key for the text hash (required with audit)
  std::string node = "edge-1";
  const Clock* clock = &SystemClock::instance();
  // Shadow sampling of edge-kept answers (needs a cloud); results also go to
  // on_shadow (the monitor), on the sampler's thread.
  ShadowOptions shadow;
  std::function<void(const ShadowResult&)> on_shadow;
};

class Router {
 public:
  explicit Router(RouterParts parts);
  // Classifies and routes one text. Throws edgeroute::Error on input the edge
  // model refuses (e.g. invalid UTF-8) and when the audit commit fails (the
  // answer must then not be acknowledged). `computed`, when set, is called
  // once the CPU work is done (edge model, PII redaction, decision) and
  // before route() waits on the cloud call or the audit commit: the service
  // frees its inference slot there, so waits do not idle a core.
  RouteResult route(const std::string& request_id, std::string_view text, engine::Session& session,
                    const std::function<void()>& computed = {});
  // The same for a text the edge model has already classified (`p`, e.g. as
  // one of a batch); t0 is when the request started (edge_ms and latency_ms
  // count from it).
  RouteResult route_classified(const std::string& request_id, std::string_view text, const engine::Prediction& p,
                               std::chrono::steady_clock::time_point t0, const std::function<void()>& computed = {});
  // route_classified() in two steps, for a caller that finishes several
  // answers together. decide() is the CPU work (PII redaction, signals, the
  // policy); it neither calls the cloud nor writes the audit log, and sets
  // awaiting_cloud when finish() must call the cloud. finish() makes that
  // call, then commits the audit row and records the answer in the ledger;
  // it throws like route(). `text` is the one given to decide().
  RouteResult decide(const std::string& request_id, std::string_view text, const engine::Prediction& p,
                     std::chrono::steady_clock::time_point t0);
  void finish(RouteResult& r, std::string_view text);
  // finish() for answers that await no cloud call (it throws for one that
  // does), their audit rows committed together: one transaction when no
  // other commit is in flight. On a failed commit none is recorded and the
  // error is thrown.
  void finish_batch(std::span<RouteResult* const> results, std::span<const std::string_view> texts);
  const Policy& policy() const { return parts_.policy; }
  const engine::Classifier& edge() const { return *parts_.edge; }
  Ledger& ledger() { return ledger_; }
  const Ledger& ledger() const { return ledger_; }
  ResilientCloud* cloud() const { return parts_.cloud; }
  AuditWriter* audit() const { return parts_.audit; }
  // Null when shadow sampling is off.
  ShadowSampler* shadow() const { return shadow_.get(); }

 private:
  // True when one more cloud call at the policy's price would pass the hourly budget.
  bool over_cloud_budget(std::int64_t now_us) const;
  void call_cloud(RouteResult& r);  // when r.awaiting_cloud
  AuditRecord audit_record(const RouteResult& r, std::string_view text) const;
  void account(const RouteResult& r);  // ledger and shadow sampling

  RouterParts parts_;
  text::PiiDetector pii_;
  Ledger ledger_;
  std::unique_ptr<ShadowSampler> shadow_;  // last: its callback uses ledger_
};

// A request id: 32 hex characters, the wall clock's microseconds since the
// epoch (16) and then 64 random bits (16). Ids sort by time, so the audit
// log's request_id index grows at its right edge: with 128 random bits every
// answer dirtied its own index page (measured: 3.1 SQLite page writes per
// answer at 1,000 q/s; docs/audit.md).
std::string new_request_id();

}  // namespace edgeroute::router
