#include "edgeroute/monitor/window.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "edgeroute/common/error.h"

namespace edgeroute::monitor {
namespace {

constexpr std::int64_t kT0 = 1'764'309'600'000'000;  // 2025-11-28T06:00:00Z, a multiple of 900 s

Observation answer(std::int64_t ts_us, bool cloud = false, double latency_ms = 1.0) {
  Observation o;
  o.ts_us = ts_us;
  o.cloud = cloud;
  o.reason = 0;
  o.latency_ms = latency_ms;
  o.edge_label = 0;
  o.edge_confidence = 0.9;
  return o;
}

TEST(LatencyHistogram, BinRatioIsAtMost115) {
  EXPECT_LE(LatencyHistogram::ratio(), 1.15);
  EXPECT_GT(LatencyHistogram::ratio(), 1.0);
}

TEST(LatencyHistogram, PercentilesAreWithinTheBinRatioOfTheExactValue) {
  // A deterministic spread over five decades (0.05 ms to 5 s).
  std::vector<double> values;
  std::uint64_t state = 12345;
  for (int i = 0; i < 5000; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    const double u = static_cast<double>(state >> 11) / 9007199254740992.0;
    values.push_back(0.05 * std::pow(10.0, 5 * u));
  }
  LatencyHistogram h;
  for (const double v : values) h.add(v);
  std::sort(values.begin(), values.end());
  for (const double q : {0.01, 0.5, 0.9, 0.95, 0.99, 1.0}) {
    const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
    const double exact = values[rank - 1];
    const double got = *h.percentile(q);
    EXPECT_LE(std::max(got / exact, exact / got), LatencyHistogram::ratio()) << "q=" << q;
  }
  EXPECT_EQ(h.count(), 5000u);
}

TEST(LatencyHistogram, EmptyHasNoPercentileAndOutliersClamp) {
  LatencyHistogram h;
  EXPECT_FALSE(h.percentile(0.5));
  h.add(0.0);
  EXPECT_DOUBLE_EQ(*h.percentile(0.5), LatencyHistogram::kMinMs);
  h.add(1e9);
  h.add(std::nan(""));
  EXPECT_DOUBLE_EQ(*h.percentile(1.0), LatencyHistogram::kMaxMs);
  LatencyHistogram other;
  other.add(5.0);
  h.merge(other);
  EXPECT_EQ(h.count(), 4u);
  h.clear();
  EXPECT_EQ(h.count(), 0u);
  EXPECT_FALSE(h.percentile(0.5));
}

TEST(ConfidenceBin, MatchesTheCalibrationRule) {
  EXPECT_EQ(confidence_bin(0.0), 0);
  EXPECT_EQ(confidence_bin(0.049), 0);
  EXPECT_EQ(confidence_bin(0.05), 1);
  EXPECT_EQ(confidence_bin(0.999), 19);
  EXPECT_EQ(confidence_bin(1.0), 19);
  EXPECT_EQ(confidence_bin(-1.0), 0);
}

TEST(Series, OldBucketsExpireWhenTheClockMovesPastTheWindow) {
  Series s(1, 60, 1, 1);
  s.record(answer(kT0), std::nullopt);
  s.record(answer(kT0 + 500'000), std::nullopt);
  EXPECT_EQ(s.aggregate(kT0).requests, 2u);
  EXPECT_EQ(s.aggregate(kT0 + 59'999'999).requests, 2u);
  EXPECT_EQ(s.aggregate(kT0 + 60'000'000).requests, 0u);
  // A new answer in the same ring slot replaces the stale slice.
  s.record(answer(kT0 + 60'000'000), std::nullopt);
  EXPECT_EQ(s.aggregate(kT0 + 60'000'000).requests, 1u);
}

TEST(Series, MemoryIsBoundedAndTheWindowHoldsTheLastNBuckets) {
  Series s(60, 60, 2, 3);
  for (std::int64_t k = 0; k < 1000; ++k) s.record(answer(kT0 + k * 60'000'000), std::nullopt);
  EXPECT_EQ(s.size(), 60u);
  const std::int64_t now = kT0 + std::int64_t{999} * 60'000'000;
  const Bucket total = s.aggregate(now);
  EXPECT_EQ(total.requests, 60u);
  EXPECT_EQ(total.start_s, kT0 / 1'000'000 + 940 * 60);
  std::vector<Bucket> out;
  s.snapshot(now, out);
  ASSERT_EQ(out.size(), 60u);
  for (std::size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].start_s, kT0 / 1'000'000 + static_cast<std::int64_t>(940 + i) * 60);
    EXPECT_EQ(out[i].requests, 1u);
    EXPECT_EQ(out[i].reasons.size(), 2u);
    EXPECT_EQ(out[i].labels.size(), 3u);
  }
}

TEST(Series, SnapshotIncludesEmptyBucketsOldestFirst) {
  Series s(1, 5, 1, 1);
  s.record(answer(kT0 + 1'000'000), std::nullopt);
  s.record(answer(kT0 + 3'000'000, true, 40.0), std::nullopt);
  std::vector<Bucket> out;
  s.snapshot(kT0 + 4'200'000, out);
  ASSERT_EQ(out.size(), 5u);
  const std::vector<std::uint64_t> requests = {0, 1, 0, 1, 0};
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(out[i].start_s, kT0 / 1'000'000 + static_cast<std::int64_t>(i));
    EXPECT_EQ(out[i].requests, requests[i]) << i;
  }
  EXPECT_EQ(out[3].cloud, 1u);
  EXPECT_EQ(out[3].latency_cloud.count(), 1u);
}

TEST(Series, LateObservationsOutsideTheRingAreDropped) {
  Series s(1, 10, 1, 1);
  s.record(answer(kT0 + 20'000'000), std::nullopt);
  // Same ring slot as kT0 + 20 s but older: dropped rather than clearing newer data.
  s.record(answer(kT0 + 10'000'000), std::nullopt);
  EXPECT_EQ(s.aggregate(kT0 + 20'000'000).requests, 1u);
}

TEST(Series, CountsEveryField) {
  Series s(60, 3, 2, 2);
  Observation o = answer(kT0 + 1'000'000, true, 100.0);
  o.reason = 1;
  o.degraded = true;
  o.cost_usd = 0.01;
  o.cloud_only_cost_usd = 0.02;
  o.complexity = 0.5;
  o.edge_label = 1;
  o.edge_confidence = 0.42;
  o.energy = 5.0;
  s.record(o, 4.0);
  o.ts_us = kT0 + 2'000'000;
  o.energy = 3.0;
  o.edge_label = -1;
  s.record(o, 4.0);
  s.record_error(kT0 + 3'000'000);
  s.record_audit_commit(kT0 + 3'000'000, 0.002);
  s.record_audit_commit(kT0 + 4'000'000, 0.004);
  s.record_feedback(kT0 + 3'000'000, true, true);
  s.record_feedback(kT0 + 3'000'000, false, false);
  s.record_shadow(kT0 + 3'000'000, true, 0.003);
  const Bucket t = s.aggregate(kT0 + 5'000'000);
  EXPECT_EQ(t.requests, 2u);
  EXPECT_EQ(t.cloud, 2u);
  EXPECT_EQ(t.degraded, 2u);
  EXPECT_EQ(t.reasons[1], 2u);
  EXPECT_EQ(t.errors, 1u);
  EXPECT_DOUBLE_EQ(t.cost_usd, 0.02);
  EXPECT_DOUBLE_EQ(t.cloud_only_cost_usd, 0.04);
  EXPECT_DOUBLE_EQ(t.complexity_sum, 1.0);
  EXPECT_EQ(t.inferred, 1u);  // the second answer had no edge label
  EXPECT_EQ(t.ood, 1u);
  EXPECT_EQ(t.labels[1], 1u);
  EXPECT_EQ(t.confidence[8], 1u);
  EXPECT_EQ(t.audit_commits, 2u);
  EXPECT_DOUBLE_EQ(t.audit_seconds_max, 0.004);
  EXPECT_EQ(t.feedback_total[1], 1u);
  EXPECT_EQ(t.feedback_correct[1], 1u);
  EXPECT_EQ(t.feedback_total[0], 1u);
  EXPECT_EQ(t.feedback_correct[0], 0u);
  EXPECT_EQ(t.shadow_total, 1u);
  EXPECT_EQ(t.first_us, kT0 + 1'000'000);
  EXPECT_EQ(t.last_us, kT0 + 2'000'000);
}

TEST(Series, RejectsEmptyShapes) {
  EXPECT_THROW(Series(0, 10, 1, 1), Error);
  EXPECT_THROW(Series(1, 0, 1, 1), Error);
}

}  // namespace
}  // namespace edgeroute::monitor
