// Time-bucketed aggregation for the monitor: a Bucket holds every count of
// one time slice, a Series is a ring of N buckets of W seconds.
//
// Memory is fixed at construction (per-reason and per-label arrays are sized
// then), so recording never allocates. A bucket's slot in the ring is
// (start / W) mod N; a slot still holding an older start is cleared when a
// newer observation lands in it, and readers skip slots outside the window,
// so expiry is lazy and record() is O(1). Series is not thread-safe: the
// Monitor guards its series with one mutex.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace edgeroute::monitor {

// Latency histogram with log-spaced bins from 0.01 ms to 100 s (ratio
// between bin edges about 1.144), plus an underflow and an overflow bin.
class LatencyHistogram {
 public:
  static constexpr double kMinMs = 0.01;
  static constexpr double kMaxMs = 100'000.0;
  static constexpr int kBins = 120;  // log-spaced bins between kMinMs and kMaxMs
  // Ratio between consecutive bin edges: (kMaxMs / kMinMs)^(1 / kBins).
  static double ratio();

  void add(double ms);
  void merge(const LatencyHistogram& other);
  void clear();
  std::uint64_t count() const { return count_; }
  // The q-quantile (q in [0, 1]) as the geometric middle of its bin, so it is
  // within sqrt(ratio()) of the exact value for values inside [kMinMs, kMaxMs];
  // values outside clamp to the range. nullopt when empty.
  std::optional<double> percentile(double q) const;

 private:
  std::array<std::uint64_t, kBins + 2> bins_{};  // [0] underflow, [kBins + 1] overflow
  std::uint64_t count_ = 0;
};

inline constexpr int kConfidenceBins = 20;

// The bin of a calibrated confidence in [0, 1]: the same rule as
// `edgeroute calibrate` uses for the reference histogram.
int confidence_bin(double confidence);

// One acknowledged answer.
struct Observation {
  std::int64_t ts_us = 0;      // unix microseconds
  bool cloud = false;          // route == "cloud"
  int reason = -1;             // index into the Monitor's reason names; -1: none
  bool degraded = false;
  double cost_usd = 0;
  double cloud_only_cost_usd = 0;
  double latency_ms = 0;
  double edge_confidence = 0;  // calibrated, [0, 1]
  int edge_label = -1;         // index into the Monitor's labels; -1: the edge model gave no answer
  double energy = 0;           // edge energy score (higher = less familiar)
  double complexity = 0;
};

struct Bucket {
  // Sized for `reasons` reason names and `labels` labels; all counts zero.
  Bucket(std::size_t reasons, std::size_t labels);

  std::int64_t start_s = 0;  // bucket start, unix seconds
  std::uint64_t requests = 0, edge = 0, cloud = 0, degraded = 0, errors = 0;
  std::vector<std::uint64_t> reasons;
  double cost_usd = 0, cloud_only_cost_usd = 0, complexity_sum = 0;
  // Answers where the edge model gave a label: the base of the confidence
  // histogram, the label counts and the OOD rate.
  std::uint64_t inferred = 0;
  std::uint64_t ood = 0;
  std::array<std::uint64_t, kConfidenceBins> confidence{};
  std::vector<std::uint64_t> labels;
  LatencyHistogram latency_edge, latency_cloud;
  std::uint64_t audit_commits = 0;
  double audit_seconds_sum = 0, audit_seconds_max = 0;
  std::array<std::uint64_t, 2> feedback_total{}, feedback_correct{};  // [0] edge route, [1] cloud route
  std::uint64_t shadow_total = 0, shadow_agree = 0;
  double shadow_cost_usd = 0;
  // First and last answer timestamps (unix µs); 0 when there were none.
  std::int64_t first_us = 0, last_us = 0;

  // Zeroes every count, keeping the array sizes.
  void clear();
  // Adds `other`'s counts (same sizes); keeps this start_s.
  void merge(const Bucket& other);
};

class Series {
 public:
  // `bucket_seconds` >= 1, `buckets` >= 1. Throws edgeroute::Error otherwise.
  Series(std::int64_t bucket_seconds, std::size_t buckets, std::size_t reasons, std::size_t labels);

  // `ood_energy_threshold`: answers with a larger energy count as OOD;
  // nullopt: none do. Observations older than the ring are dropped.
  void record(const Observation& o, std::optional<double> ood_energy_threshold);
  void record_error(std::int64_t ts_us);
  void record_audit_commit(std::int64_t ts_us, double seconds);
  void record_feedback(std::int64_t ts_us, bool cloud_route, bool correct);
  void record_shadow(std::int64_t ts_us, bool agree, double cost_usd);

  // The buckets of the window ending with the bucket that holds `now_us`,
  // oldest first, empty buckets included (with their start times): exactly
  // size() of them. Writes into `out`, reusing its storage.
  void snapshot(std::int64_t now_us, std::vector<Bucket>& out) const;
  // The whole window ending at `now_us` merged into one bucket (start_s = the
  // window's first bucket start).
  Bucket aggregate(std::int64_t now_us) const;

  std::int64_t bucket_seconds() const { return bucket_seconds_; }
  std::size_t size() const { return ring_.size(); }
  std::int64_t window_seconds() const { return bucket_seconds_ * static_cast<std::int64_t>(ring_.size()); }
  std::size_t reason_count() const { return reasons_; }
  std::size_t label_count() const { return labels_; }

 private:
  // The bucket for `ts_us`, cleared if its slot held an older slice; nullptr
  // when `ts_us` is older than what the slot already holds.
  Bucket* slot(std::int64_t ts_us);
  std::int64_t start_of(std::int64_t ts_us) const;

  std::int64_t bucket_seconds_;
  std::size_t reasons_, labels_;
  std::vector<Bucket> ring_;
};

}  // namespace edgeroute::monitor
