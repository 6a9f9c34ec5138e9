// Threshold calibration: from the edge model's and the cloud model's answers
// on labeled validation data, the whole edge-share / accuracy / cost curve
// of the routing policy, and the operating point a target asks for.
//
// The swept knobs are the confidence threshold (min_confidence) and the
// complexity threshold (max_complexity); every other rule of the policy
// (labels, keywords, OOD, PII) applies as configured. A query kept on the
// edge is answered by the edge label, an escalated one by the cloud label.
//
// Costs follow the honest accounting of docs/routing.md: every query pays the
// edge price (the edge always runs first) and an escalated one also pays the
// cloud price; the cloud-only counterfactual pays the cloud price per query.
//
// Risk control (--alpha/--delta): Learn-then-Test over the confidence
// thresholds 0.00, 0.01, ..., 0.99 (complexity threshold fixed at the
// policy's). For each threshold the null hypothesis "the error rate of
// edge-kept queries exceeds alpha" has the exact binomial p-value
// P(Bin(n_kept, alpha) <= errors); Holm's step-down procedure rejects with
// family-wise error <= delta, and the lowest rejected threshold is chosen.
// Under exchangeability of the validation set and future queries (same
// distribution, the same INT8 model), with probability >= 1 - delta over the
// draw of the validation set, the chosen threshold's edge-kept error rate is
// <= alpha.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "edgeroute/router/policy.h"

namespace edgeroute::router {

// One validation example as both models answered it.
struct CalibrationExample {
  std::string text;
  std::string edge_label;
  double confidence = 0, margin = 0, entropy = 0, energy = 0;
  bool pii_found = false;
  bool edge_correct = false, cloud_correct = false;
};

struct CurvePoint {
  double min_confidence = 0, max_complexity = 0;
  std::int64_t n = 0, edge = 0;
  double edge_share = 0;
  double system_accuracy = 0;
  double edge_kept_error = 0;  // error rate of the edge-kept queries (0 when none)
  double cost_per_query = 0;   // edge price + cloud share * cloud price
  double savings = 0;          // 1 - cost / cloud-only cost
};

struct Target {
  // Exactly one of these is set.
  std::optional<double> accuracy;         // system accuracy >= this; maximise edge share
  bool accuracy_of_cloud = false;         // system accuracy >= cloud-only accuracy
  std::optional<double> max_cloud_share;  // cloud share <= this; maximise accuracy
  std::optional<double> alpha;            // with delta: risk control on the edge-kept error
  double delta = 0.1;
};

struct RiskStep {
  double min_confidence = 0;
  std::int64_t kept = 0, errors = 0;
  double p_value = 1;
  bool rejected = false;
};

struct CalibrationResult {
  std::vector<CurvePoint> curve;  // every swept point
  CurvePoint chosen;
  bool found = false;  // false: no point meets the target (why in `message`)
  std::string message;
  double edge_only_accuracy = 0, cloud_only_accuracy = 0;
  std::vector<RiskStep> risk_steps;  // the fixed-sequence test, when alpha is set
};

// Sweeps the curve and picks the point. `policy` supplies the fixed rules and
// prices; thresholds swept are overwritten in the returned choice only.
CalibrationResult calibrate(const std::vector<CalibrationExample>& examples, const Policy& policy,
                            const Target& target);

// P(X <= k) for X ~ Binomial(n, p), computed in log space.
double binomial_cdf(std::int64_t k, std::int64_t n, double p);

// Reference distributions for drift monitoring: a 20-bin histogram of edge
// confidence, the predicted-label shares and energy quantiles.
nlohmann::json reference_distributions(const std::vector<CalibrationExample>& examples,
                                       const std::vector<std::string>& labels);

}  // namespace edgeroute::router
