// Threshold calibration: the edge-share / accuracy / cost curve and the
// choice of operating point (target accuracy, cloud-share cap, or
// Learn-then-Test risk control).
#include "edgeroute/router/calibrate.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "edgeroute/common/error.h"

namespace edgeroute::router {

namespace {

// What a policy decides for one example independently of the two swept
// thresholds: a forced route, or the example's complexity score and whether
// a non-swept rule escalates it.
struct Precomputed {
  enum class Forced { kNone, kEdge, kCloud } forced = Forced::kNone;
  double complexity = 0;
  bool other_escalation = false;  // OOD, keyword, margin or entropy
};

Precomputed precompute(const Policy& policy, const CalibrationExample& e) {
  Signals s;
  s.text = e.text;
  s.label = e.edge_label;
  s.confidence = e.confidence;
  s.margin = e.margin;
  s.entropy = e.entropy;
  s.energy = e.energy;
  s.pii_found = e.pii_found;
  Policy p = policy;
  // Thresholds that never fire, so decide() reports only the fixed rules.
  p.min_confidence = 0;
  p.max_complexity = std::numeric_limits<double>::infinity();
  p.pii = PiiAction::kRedact;
  const Decision d = decide(p, s);
  Precomputed out;
  out.complexity = d.complexity.score;
  if (d.reason == Reason::kRuleEdge) out.forced = Precomputed::Forced::kEdge;
  if (d.reason == Reason::kRuleEscalate) out.forced = Precomputed::Forced::kCloud;
  out.other_escalation = d.escalate && out.forced == Precomputed::Forced::kNone;
  if (policy.pii == PiiAction::kKeepLocal && e.pii_found) out.forced = Precomputed::Forced::kEdge;
  return out;
}

bool kept(const Precomputed& pc, const CalibrationExample& e, double tau, double kappa) {
  switch (pc.forced) {
    case Precomputed::Forced::kEdge:
      return true;
    case Precomputed::Forced::kCloud:
      return false;
    case Precomputed::Forced::kNone:
      break;
  }
  return !(pc.other_escalation || pc.complexity > kappa || e.confidence < tau);
}

CurvePoint evaluate(const std::vector<CalibrationExample>& ex, const std::vector<Precomputed>& pc, const Prices& prices,
                    double tau, double kappa) {
  CurvePoint pt;
  pt.min_confidence = tau;
  pt.max_complexity = kappa;
  pt.n = static_cast<std::int64_t>(ex.size());
  std::int64_t correct = 0, edge_errors = 0;
  for (std::size_t i = 0; i < ex.size(); ++i) {
    if (kept(pc[i], ex[i], tau, kappa)) {
      ++pt.edge;
      correct += ex[i].edge_correct ? 1 : 0;
      edge_errors += ex[i].edge_correct ? 0 : 1;
    } else {
      correct += ex[i].cloud_correct ? 1 : 0;
    }
  }
  const auto n = static_cast<double>(pt.n);
  pt.edge_share = static_cast<double>(pt.edge) / n;
  pt.system_accuracy = static_cast<double>(correct) / n;
  pt.edge_kept_error = pt.edge > 0 ? static_cast<double>(edge_errors) / static_cast<double>(pt.edge) : 0.0;
  pt.cost_per_query = prices.edge_usd + (1.0 - pt.edge_share) * prices.cloud_usd;
  pt.savings = prices.cloud_usd > 0 ? 1.0 - pt.cost_per_query / prices.cloud_usd : 0.0;
  return pt;
}

}  // namespace

double binomial_cdf(std::int64_t k, std::int64_t n, double p) {
  if (k < 0) return 0.0;
  if (k >= n) return 1.0;
  if (p <= 0) return 1.0;
  if (p >= 1) return 0.0;
  const double lp = std::log(p), lq = std::log1p(-p);
  const double ln_n = std::lgamma(static_cast<double>(n) + 1);
  double mx = -std::numeric_limits<double>::infinity();
  std::vector<double> terms;
  terms.reserve(static_cast<std::size_t>(k) + 1);
  for (std::int64_t i = 0; i <= k; ++i) {
    const auto di = static_cast<double>(i);
    const double t = ln_n - std::lgamma(di + 1) - std::lgamma(static_cast<double>(n - i) + 1) + di * lp +
                     static_cast<double>(n - i) * lq;
    terms.push_back(t);
    mx = std::max(mx, t);
  }
  double sum = 0;
  for (const double t : terms) sum += std::exp(t - mx);
  return std::min(1.0, std::exp(mx + std::log(sum)));
}

CalibrationResult calibrate(const std::vector<CalibrationExample>& ex, const Policy& policy, const Target& target) {
  if (ex.empty()) throw Error("calibrate: no validation examples");
  const int set =
      (target.accuracy || target.accuracy_of_cloud ? 1 : 0) + (target.max_cloud_share ? 1 : 0) + (target.alpha ? 1 : 0);
  if (set != 1) throw Error("calibrate: give exactly one of a target accuracy, a cloud-share cap or alpha");
  std::vector<Precomputed> pc;
  pc.reserve(ex.size());
  for (const CalibrationExample& e : ex) pc.push_back(precompute(policy, e));

  CalibrationResult r;
  std::int64_t edge_ok = 0, cloud_ok = 0;
  for (const CalibrationExample& e : ex) {
    edge_ok += e.edge_correct ? 1 : 0;
    cloud_ok += e.cloud_correct ? 1 : 0;
  }
  const auto n = static_cast<double>(ex.size());
  r.edge_only_accuracy = static_cast<double>(edge_ok) / n;
  r.cloud_only_accuracy = static_cast<double>(cloud_ok) / n;

  // Candidate confidence thresholds: 0, every distinct confidence, and 1.01
  // (nothing kept on confidence); complexity: a grid plus the policy's own
  // value and "off".
  std::vector<double> taus = {0.0, 1.01};
  for (const CalibrationExample& e : ex) taus.push_back(e.confidence);
  std::sort(taus.begin(), taus.end());
  taus.erase(std::unique(taus.begin(), taus.end()), taus.end());
  std::vector<double> kappas = {policy.max_complexity, std::numeric_limits<double>::infinity()};
  for (int i = 6; i <= 20; ++i) kappas.push_back(0.05 * i);
  std::sort(kappas.begin(), kappas.end());
  kappas.erase(std::unique(kappas.begin(), kappas.end()), kappas.end());

  if (target.alpha) {
    const double alpha = *target.alpha;
    if (!(alpha > 0 && alpha < 1)) throw Error("calibrate: --alpha must be in (0, 1)");
    if (!(target.delta > 0 && target.delta < 1)) throw Error("calibrate: --delta must be in (0, 1)");
    constexpr int kGrid = 100;  // thresholds 0.00, 0.01, ..., 0.99
    for (int i = 0; i < kGrid; ++i) {
      const double tau = i / 100.0;
      const CurvePoint pt = evaluate(ex, pc, policy.prices, tau, policy.max_complexity);
      RiskStep step;
      step.min_confidence = tau;
      step.kept = pt.edge;
      step.errors = static_cast<std::int64_t>(std::llround(pt.edge_kept_error * static_cast<double>(pt.edge)));
      step.p_value = pt.edge > 0 ? binomial_cdf(step.errors, step.kept, alpha) : 1.0;
      r.risk_steps.push_back(step);
      r.curve.push_back(pt);
    }
    // Holm's step-down over the grid: family-wise error <= delta.
    std::vector<std::size_t> order(r.risk_steps.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return r.risk_steps[a].p_value < r.risk_steps[b].p_value; });
    for (std::size_t j = 0; j < order.size(); ++j) {
      RiskStep& s = r.risk_steps[order[j]];
      if (s.p_value > target.delta / static_cast<double>(order.size() - j)) break;
      s.rejected = true;
    }
    // The lowest certified threshold keeps the most queries on the edge.
    for (std::size_t i = 0; i < r.risk_steps.size(); ++i) {
      if (r.risk_steps[i].rejected) {
        r.chosen = r.curve[i];
        r.found = true;
        break;
      }
    }
    if (!r.found) {
      r.message =
          "no confidence threshold certified: not enough evidence on the validation set that the "
          "edge-kept error rate is below alpha at any threshold (more data, or a larger alpha/delta)";
    }
    return r;
  }

  for (const double kappa : kappas) {
    for (const double tau : taus) r.curve.push_back(evaluate(ex, pc, policy.prices, tau, kappa));
  }
  const CurvePoint* best = nullptr;
  if (target.accuracy || target.accuracy_of_cloud) {
    const double goal = target.accuracy_of_cloud ? r.cloud_only_accuracy : *target.accuracy;
    for (const CurvePoint& pt : r.curve) {
      if (pt.system_accuracy + 1e-12 < goal) continue;
      if (best == nullptr || pt.edge_share > best->edge_share ||
          (pt.edge_share == best->edge_share && pt.system_accuracy > best->system_accuracy)) {
        best = &pt;
      }
    }
    if (best == nullptr) {
      double top = 0;
      for (const CurvePoint& pt : r.curve) top = std::max(top, pt.system_accuracy);
      r.message =
          "no threshold reaches system accuracy " + std::to_string(goal) + "; the best is " + std::to_string(top);
    }
  } else {
    const double cap = *target.max_cloud_share;
    if (!(cap >= 0 && cap <= 1)) throw Error("calibrate: --max-cloud-share must be in [0, 1]");
    for (const CurvePoint& pt : r.curve) {
      if (1.0 - pt.edge_share > cap + 1e-12) continue;
      if (best == nullptr || pt.system_accuracy > best->system_accuracy ||
          (pt.system_accuracy == best->system_accuracy && pt.edge_share > best->edge_share)) {
        best = &pt;
      }
    }
    if (best == nullptr) r.message = "no threshold keeps the cloud share under the cap (rules force more to the cloud)";
  }
  if (best != nullptr) {
    r.chosen = *best;
    r.found = true;
  }
  return r;
}

nlohmann::json reference_distributions(const std::vector<CalibrationExample>& ex,
                                       const std::vector<std::string>& labels) {
  constexpr int kBins = 20;
  std::vector<std::int64_t> hist(kBins, 0);
  std::map<std::string, std::int64_t> counts;
  for (const std::string& l : labels) counts[l] = 0;
  std::vector<double> energies;
  for (const CalibrationExample& e : ex) {
    const int b = std::clamp(static_cast<int>(e.confidence * kBins), 0, kBins - 1);
    ++hist[static_cast<std::size_t>(b)];
    ++counts[e.edge_label];
    energies.push_back(e.energy);
  }
  std::sort(energies.begin(), energies.end());
  const auto q = [&](double f) {
    if (energies.empty()) return 0.0;
    const auto i = static_cast<std::size_t>(
        std::clamp(f * static_cast<double>(energies.size() - 1), 0.0, static_cast<double>(energies.size() - 1)));
    return energies[i];
  };
  const auto n = static_cast<double>(std::max<std::size_t>(ex.size(), 1));
  nlohmann::json shares = nlohmann::json::object();
  for (const auto& [l, c] : counts) shares[l] = static_cast<double>(c) / n;
  nlohmann::json h = nlohmann::json::array();
  for (const std::int64_t c : hist) h.push_back(static_cast<double>(c) / n);
  return {{"confidence_histogram", h},
          {"label_shares", shares},
          {"energy_quantiles", {{"p50", q(0.5)}, {"p90", q(0.9)}, {"p99", q(0.99)}, {"p995", q(0.995)}}}};
}

}  // namespace edgeroute::router
