// Threshold calibration: the curve, the operating point for each kind of
// target, and the Learn-then-Test risk control.
#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "edgeroute/common/error.h"
#include "edgeroute/router/calibrate.h"

namespace edgeroute::router {
namespace {

CalibrationExample ex(double conf, bool edge_ok, bool cloud_ok) {
  CalibrationExample e;
  e.text = "short text";
  e.edge_label = "a";
  e.confidence = conf;
  e.margin = conf;
  e.edge_correct = edge_ok;
  e.cloud_correct = cloud_ok;
  return e;
}

// Ten examples: the edge is wrong on the two least confident ones, the cloud
// is right on everything but the most confident one.
std::vector<CalibrationExample> ten() {
  std::vector<CalibrationExample> v;
  for (int i = 0; i < 10; ++i) v.push_back(ex(0.5 + 0.05 * i, i >= 2, i != 9));
  return v;
}

TEST(Calibrate, CurvePointsAreHandComputable) {
  Target t;
  t.accuracy = 0.0;
  const CalibrationResult r = calibrate(ten(), Policy{}, t);
  EXPECT_DOUBLE_EQ(r.edge_only_accuracy, 0.8);
  EXPECT_DOUBLE_EQ(r.cloud_only_accuracy, 0.9);
  // Keep confidence >= 0.6 (the top 9... i >= 2 -> 8 examples): every kept
  // answer right, the two escalated right too: accuracy 1.0, edge share 0.8.
  bool seen = false;
  for (const CurvePoint& pt : r.curve) {
    if (std::isinf(pt.max_complexity) && std::abs(pt.min_confidence - 0.6) < 1e-9) {
      seen = true;
      EXPECT_EQ(pt.edge, 8);
      EXPECT_DOUBLE_EQ(pt.system_accuracy, 1.0);
      EXPECT_DOUBLE_EQ(pt.edge_kept_error, 0.0);
      EXPECT_NEAR(pt.cost_per_query, 0.001 + 0.2 * 0.0136, 1e-12);
      EXPECT_NEAR(pt.savings, 1.0 - (0.001 + 0.2 * 0.0136) / 0.0136, 1e-12);
    }
  }
  EXPECT_TRUE(seen);
}

TEST(Calibrate, TargetAccuracyMaximisesEdgeShare) {
  Target t;
  t.accuracy = 1.0;
  const CalibrationResult r = calibrate(ten(), Policy{}, t);
  ASSERT_TRUE(r.found);
  EXPECT_DOUBLE_EQ(r.chosen.edge_share, 0.8);
  EXPECT_DOUBLE_EQ(r.chosen.system_accuracy, 1.0);
  // Cloud-only accuracy (0.9) is reached keeping everything but one wrong
  // edge answer: edge share 0.9.
  Target c;
  c.accuracy_of_cloud = true;
  const CalibrationResult rc = calibrate(ten(), Policy{}, c);
  ASSERT_TRUE(rc.found);
  EXPECT_DOUBLE_EQ(rc.chosen.edge_share, 0.9);
  EXPECT_GE(rc.chosen.system_accuracy, 0.9);
}

TEST(Calibrate, CloudShareCapMaximisesAccuracy) {
  Target t;
  t.max_cloud_share = 0.1;
  const CalibrationResult r = calibrate(ten(), Policy{}, t);
  ASSERT_TRUE(r.found);
  EXPECT_LE(1.0 - r.chosen.edge_share, 0.1 + 1e-12);
  EXPECT_DOUBLE_EQ(r.chosen.system_accuracy, 0.9);
}

TEST(Calibrate, UnreachableTargetSaysSo) {
  std::vector<CalibrationExample> v = {ex(0.9, false, false), ex(0.8, true, true)};
  Target t;
  t.accuracy = 0.99;
  const CalibrationResult r = calibrate(v, Policy{}, t);
  EXPECT_FALSE(r.found);
  EXPECT_NE(r.message.find("best is"), std::string::npos);
}

TEST(Calibrate, FixedRulesStayFixed) {
  std::vector<CalibrationExample> v = ten();
  for (auto& e : v) e.edge_label = "always";
  Policy p;
  p.always_escalate = {"always"};
  Target t;
  t.accuracy = 0.0;
  const CalibrationResult r = calibrate(v, p, t);
  for (const CurvePoint& pt : r.curve) EXPECT_EQ(pt.edge, 0);
}

TEST(Calibrate, NeedsExactlyOneTarget) {
  Target none;
  EXPECT_THROW((void)calibrate(ten(), Policy{}, none), Error);
  Target two;
  two.accuracy = 0.9;
  two.max_cloud_share = 0.1;
  EXPECT_THROW((void)calibrate(ten(), Policy{}, two), Error);
  Target one;
  one.accuracy = 0.9;
  EXPECT_THROW((void)calibrate({}, Policy{}, one), Error);
}

TEST(Binomial, MatchesClosedForms) {
  EXPECT_NEAR(binomial_cdf(0, 10, 0.1), std::pow(0.9, 10), 1e-12);
  EXPECT_NEAR(binomial_cdf(1, 10, 0.1), std::pow(0.9, 10) + 10 * 0.1 * std::pow(0.9, 9), 1e-12);
  EXPECT_DOUBLE_EQ(binomial_cdf(10, 10, 0.3), 1.0);
  EXPECT_DOUBLE_EQ(binomial_cdf(-1, 10, 0.3), 0.0);
  // Large n stays finite and monotone.
  EXPECT_LT(binomial_cdf(50, 10000, 0.01), binomial_cdf(60, 10000, 0.01));
  EXPECT_NEAR(binomial_cdf(100, 10000, 0.01), 0.5266, 1e-3);
}

// Synthetic stream where the edge's error probability is 1 - confidence
// (a perfectly calibrated model). Across many seeds, the threshold chosen
// with alpha/delta must have a true edge-kept error <= alpha in at least
// 1 - delta of the draws (with slack for the finite number of draws).
TEST(RiskControl, GuaranteeHoldsOnCalibratedSyntheticData) {
  const double alpha = 0.08, delta = 0.1;
  int violations = 0, found = 0;
  const int trials = 100;
  for (int seed = 0; seed < trials; ++seed) {
    std::mt19937_64 rng(static_cast<std::uint64_t>(seed));
    std::uniform_real_distribution<double> u(0.0, 1.0);
    std::vector<CalibrationExample> v;
    for (int i = 0; i < 3000; ++i) {
      const double conf = 0.5 + 0.5 * u(rng);
      v.push_back(ex(conf, u(rng) < conf, true));
    }
    Target t;
    t.alpha = alpha;
    t.delta = delta;
    Policy p;
    p.max_complexity = std::numeric_limits<double>::infinity();
    const CalibrationResult r = calibrate(v, p, t);
    if (!r.found) continue;
    ++found;
    // True error of the kept region [tau, 1] under conf ~ U(0.5, 1):
    // mean of (1 - c) over c in [tau, 1] = (1 - tau) / 2.
    const double tau = r.chosen.min_confidence;
    if ((1.0 - std::max(tau, 0.5)) / 2.0 > alpha) ++violations;
    for (const RiskStep& s : r.risk_steps) EXPECT_GE(s.p_value, 0.0);
  }
  EXPECT_GT(found, trials / 2);
  EXPECT_LE(violations, static_cast<int>(delta * trials) + 10) << violations << " of " << found;
}

TEST(ReferenceDistributions, HistogramAndShares) {
  const nlohmann::json j = reference_distributions(ten(), {"a", "b"});
  double sum = 0;
  for (const auto& h : j["confidence_histogram"]) sum += h.get<double>();
  EXPECT_NEAR(sum, 1.0, 1e-12);
  EXPECT_DOUBLE_EQ(j["label_shares"]["a"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(j["label_shares"]["b"].get<double>(), 0.0);
}

}  // namespace
}  // namespace edgeroute::router
