// The edge-first router: edge answer, policy decision, redacted escalation,
// degraded fallback, cost ledger and the audit row, in that order.
#include "edgeroute/router/router.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>

#include "edgeroute/common/error.h"

namespace edgeroute::router {

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

text::PiiOptions pii_options(const Policy& p) {
  text::PiiOptions o;
  o.account_patterns = p.account_patterns;
  return o;
}

}  // namespace

std::string new_request_id() {
  thread_local std::mt19937_64 rng = [] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }();
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(us),
                static_cast<unsigned long long>(rng()));
  return buf;
}

void RouteResult::write_json(text::JsonWriter& w, bool with_probabilities) const {
  w.begin_object();
  write_json_members(w, with_probabilities);
  w.end_object();
}

void RouteResult::write_json_members(text::JsonWriter& w, bool with_probabilities) const {
  w.key("request_id").value(request_id);
  w.key("label").value(label);
  w.key("confidence").value(confidence);
  if (with_probabilities) {
    w.key("probabilities").begin_object();
    if (edge_labels != nullptr) {
      for (std::size_t i = 0; i < edge_probabilities.size() && i < edge_labels->size(); ++i) {
        w.key((*edge_labels)[i]).value(edge_probabilities[i]);
      }
    }
    for (const auto& [l, p] : cloud_probabilities) w.key(l).value(p);
    w.end_object();
  }
  w.key("route").value(route);
  w.key("reason").value(to_string(reason));
  w.key("degraded").value(degraded);
  w.key("edge").begin_object();
  w.key("label").value(edge_label);
  w.key("confidence").value(edge_confidence);
  w.key("margin").value(signals.margin);
  w.key("entropy").value(signals.entropy);
  w.key("energy").value(signals.energy);
  w.key("tokens").value(tokens);
  w.key("truncated").value(truncated);
  w.end_object();
  w.key("complexity").begin_object();
  w.key("score").value(complexity.score);
  w.key("length").value(complexity.length);
  w.key("syntax").value(complexity.syntax);
  w.key("uncertainty").value(complexity.uncertainty);
  w.key("emotion").value(complexity.emotion);
  w.end_object();
  w.key("pii").begin_array();
  for (const text::PiiSpan& s : pii) w.value(text::to_string(s.kind));
  w.end_array();
  w.key("cost_usd").value(cost_usd);
  w.key("cloud_only_cost_usd").value(cloud_only_cost_usd);
  w.key("latency_ms").value(latency_ms);
  w.key("edge_ms").value(edge_ms);
  w.key("cloud_ms").value(cloud_ms);
  if (cloud_failure != CloudFailure::kNone) w.key("cloud_failure").value(to_string(cloud_failure));
}

void Ledger::record(const RouteResult& r) {
  ++total_;
  ++(r.route == "cloud" ? cloud_ : edge_);
  if (r.degraded) ++degraded_;
  ++reasons_[static_cast<std::size_t>(r.reason)];
  const std::int64_t now =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  std::lock_guard<std::mutex> lock(mu_);
  cost_ += r.cost_usd;
  cloud_only_ += r.cloud_only_cost_usd;
  latency_ms_sum_ += r.latency_ms;
  if (first_us_ == 0) first_us_ = now;
  last_us_ = now;
}

void Ledger::record_shadow(const ShadowResult& r) {
  std::lock_guard<std::mutex> lock(mu_);
  ++shadow_calls_;
  if (r.ok) ++shadow_answered_;
  if (r.agree) ++shadow_agreed_;
  shadow_cost_ += r.cost_usd;
}

double Ledger::cloud_spend_this_hour(std::int64_t now_us) const {
  std::lock_guard<std::mutex> lock(mu_);
  return now_us / 3'600'000'000LL == hour_ ? hour_spend_ : 0.0;
}

void Ledger::add_cloud_spend(std::int64_t now_us, double usd) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::int64_t h = now_us / 3'600'000'000LL;
  if (h != hour_) {
    hour_ = h;
    hour_spend_ = 0;
  }
  hour_spend_ += usd;
}

nlohmann::json Ledger::stats() const {
  const std::int64_t n = total_.load();
  nlohmann::json reasons = nlohmann::json::object();
  for (const Reason r : all_reasons())
    reasons[std::string(to_string(r))] = reasons_[static_cast<std::size_t>(r)].load();
  std::lock_guard<std::mutex> lock(mu_);
  const double dn = n > 0 ? static_cast<double>(n) : 1.0;
  const double span_s = static_cast<double>(last_us_ - first_us_) / 1e6;
  nlohmann::json j = {
      {"total_queries", n},
      {"edge_queries", edge_.load()},
      {"cloud_queries", cloud_.load()},
      {"degraded", degraded_.load()},
      {"edge_utilization", static_cast<double>(edge_.load()) / dn},
      {"cloud_utilization", static_cast<double>(cloud_.load()) / dn},
      {"total_cost_usd", cost_},
      {"cost_per_query_usd", cost_ / dn},
      {"cloud_only_cost_usd", cloud_only_},
      {"savings", cloud_only_ > 0 ? 1.0 - cost_ / cloud_only_ : 0.0},
      {"mean_latency_ms", latency_ms_sum_ / dn},
      {"span_seconds", span_s},
      {"reasons", std::move(reasons)},
      {"shadow",
       {{"calls", shadow_calls_},
        {"answered", shadow_answered_},
        {"agreed", shadow_agreed_},
        {"agreement", shadow_answered_ > 0 ? nlohmann::json(static_cast<double>(shadow_agreed_) /
                                                            static_cast<double>(shadow_answered_))
                                           : nlohmann::json(nullptr)},
        {"cost_usd", shadow_cost_}}},
  };
  // Projected from the observed span (not the seed's savings * 30).
  if (span_s >= 1.0) {
    const double per_day = (cloud_only_ - cost_) * 86400.0 / span_s;
    j["projected_savings_usd_per_day"] = per_day;
    j["projected_savings_usd_per_30_days"] = per_day * 30;
  }
  return j;
}

Router::Router(RouterParts parts) : parts_(std::move(parts)), pii_(pii_options(parts_.policy)) {
  if (parts_.edge == nullptr) throw Error("router: no edge model");
  if (parts_.audit != nullptr && parts_.audit_key.empty()) throw Error("router: an audit log needs a key");
  if (parts_.shadow.fraction > 0) {
    if (parts_.cloud == nullptr) throw Error("router: shadow sampling needs a cloud backend");
    shadow_ = std::make_unique<ShadowSampler>(
        *parts_.cloud, parts_.shadow, parts_.policy.prices.cloud_usd,
        [this](const ShadowResult& r) {
          ledger_.record_shadow(r);
          if (r.cost_usd > 0) ledger_.add_cloud_spend(r.ts_us, r.cost_usd);
          if (parts_.on_shadow) parts_.on_shadow(r);
        },
        *parts_.clock);
  }
}

bool Router::over_cloud_budget(std::int64_t now_us) const {
  const Policy& p = parts_.policy;
  return p.cloud_budget_usd_per_hour > 0 &&
         ledger_.cloud_spend_this_hour(now_us) + p.prices.cloud_usd > p.cloud_budget_usd_per_hour;
}

RouteResult Router::route(const std::string& request_id, std::string_view text, engine::Session& session,
                          const std::function<void()>& computed) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<engine::Prediction> preds;
  parts_.edge->classify(std::span(&text, 1), session, preds);
  return route_classified(request_id, text, preds.front(), t0, computed);
}

RouteResult Router::route_classified(const std::string& request_id, std::string_view text, const engine::Prediction& p,
                                     std::chrono::steady_clock::time_point t0, const std::function<void()>& computed) {
  RouteResult r = decide(request_id, text, p, t0);
  if (computed) computed();
  finish(r, text);
  return r;
}

RouteResult Router::decide(const std::string& request_id, std::string_view text, const engine::Prediction& p,
                           std::chrono::steady_clock::time_point t0) {
  const Policy& policy = parts_.policy;
  const engine::Classifier& edge = *parts_.edge;
  RouteResult r;
  r.t0 = t0;
  r.request_id = request_id;
  r.edge_ms = ms_since(t0);
  const auto& names = edge.labels().names();
  r.edge_label = names[static_cast<std::size_t>(p.label)];
  r.edge_confidence = p.confidence;
  r.tokens = p.tokens;
  r.truncated = p.truncated;

  text::PiiDetector::Redacted red = pii_.redact(text);
  r.pii = std::move(red.spans);
  r.redacted_text = std::move(red.text);

  Signals& s = r.signals;
  s.text = text;
  s.label = r.edge_label;
  s.pii_found = !r.pii.empty();
  fill_signals(s, p.probabilities, p.logits, edge.temperature());
  const Decision d = router::decide(policy, s);
  s.text = {};
  s.label = {};
  r.complexity = d.complexity;
  r.reason = d.reason;

  r.route = "edge";
  r.label = r.edge_label;
  r.confidence = p.confidence;
  r.edge_labels = &names;
  r.edge_probabilities = p.probabilities;
  r.cost_usd = policy.prices.edge_usd;
  r.cloud_only_cost_usd = policy.prices.cloud_usd;
  if (d.escalate) {
    if (parts_.cloud == nullptr) {
      r.reason = Reason::kEdgeOnly;
    } else if (over_cloud_budget(parts_.clock->unix_micros())) {
      r.reason = Reason::kCloudBudgetExhausted;
    } else {
      r.awaiting_cloud = true;
    }
  }
  return r;
}

void Router::call_cloud(RouteResult& r) {
  if (!r.awaiting_cloud) return;
  r.awaiting_cloud = false;
  const std::int64_t now_us = parts_.clock->unix_micros();
  const auto c0 = std::chrono::steady_clock::now();
  const CloudOutcome out = parts_.cloud->call(r.request_id, r.redacted_text);
  r.cloud_ms = ms_since(c0);
  if (out.ok) {
    r.route = "cloud";
    r.label = out.answer.label;
    r.confidence = out.answer.confidence;
    r.edge_probabilities.clear();
    r.cloud_probabilities = out.answer.probabilities;
    const double cloud_cost = out.answer.cost_usd >= 0 ? out.answer.cost_usd : parts_.policy.prices.cloud_usd;
    r.cost_usd += cloud_cost;
    ledger_.add_cloud_spend(now_us, cloud_cost);
  } else {
    r.degraded = true;
    r.cloud_failure = out.failure;
    r.reason = Reason::kCloudUnavailable;
  }
}

AuditRecord Router::audit_record(const RouteResult& r, std::string_view text) const {
  AuditRecord a;
  a.ts_us = parts_.clock->unix_micros();
  a.request_id = r.request_id;
  a.node = parts_.node;
  a.text_hash = audit_text_hash(parts_.audit_key, text);
  a.redacted_text = r.redacted_text;
  a.label = r.label;
  a.confidence = r.confidence;
  a.route = r.route;
  a.reason = std::string(to_string(r.reason));
  a.degraded = r.degraded;
  a.cost_usd = r.cost_usd;
  a.cloud_only_cost_usd = r.cloud_only_cost_usd;
  a.latency_ms = r.latency_ms;
  a.edge_label = r.edge_label;
  a.edge_confidence = r.edge_confidence;
  text::JsonWriter details(a.details_json);
  details.begin_object();
  details.key("complexity").value(r.complexity.score);
  details.key("margin").value(r.signals.margin);
  details.key("entropy").value(r.signals.entropy);
  details.key("energy").value(r.signals.energy);
  details.key("tokens").value(r.tokens);
  details.key("edge_ms").value(r.edge_ms);
  details.key("cloud_ms").value(r.cloud_ms);
  if (r.cloud_failure != CloudFailure::kNone) details.key("cloud_failure").value(to_string(r.cloud_failure));
  details.end_object();
  return a;
}

void Router::account(const RouteResult& r) {
  ledger_.record(r);
  // Only answers the policy chose to keep are shadowed: never one it kept for
  // privacy, and none while the cloud is failing or over its budget.
  if (shadow_ != nullptr && (r.reason == Reason::kOptimalEdge || r.reason == Reason::kRuleEdge) &&
      !over_cloud_budget(parts_.clock->unix_micros())) {
    shadow_->offer(r.request_id, r.redacted_text, r.edge_label);
  }
}

void Router::finish(RouteResult& r, std::string_view text) {
  call_cloud(r);
  RouteResult* const one[] = {&r};
  finish_batch(one, std::span(&text, 1));
}

void Router::finish_batch(std::span<RouteResult* const> results, std::span<const std::string_view> texts) {
  if (results.size() != texts.size()) throw Error("Router::finish_batch: one text per result is required");
  for (RouteResult* r : results) {
    if (r->awaiting_cloud) throw Error("Router::finish_batch: answer " + r->request_id + " still awaits the cloud");
    r->latency_ms = ms_since(r->t0);
  }
  if (parts_.audit != nullptr) {
    std::vector<AuditRecord> rows;
    rows.reserve(results.size());
    for (std::size_t i = 0; i < results.size(); ++i) rows.push_back(audit_record(*results[i], texts[i]));
    parts_.audit->write_all(std::move(rows));
  }
  for (const RouteResult* r : results) account(*r);
}

}  // namespace edgeroute::router
