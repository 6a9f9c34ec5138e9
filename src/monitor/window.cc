#include "edgeroute/monitor/window.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "edgeroute/common/error.h"

namespace edgeroute::monitor {

namespace {

const double kLogMin = std::log(LatencyHistogram::kMinMs);
const double kLogSpan = std::log(LatencyHistogram::kMaxMs) - std::log(LatencyHistogram::kMinMs);

// Lower edge of log-spaced bin i (1-based, as stored).
double bin_lower(int i) { return std::exp(kLogMin + kLogSpan * (i - 1) / LatencyHistogram::kBins); }

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

}  // namespace

double LatencyHistogram::ratio() { return std::exp(kLogSpan / kBins); }

void LatencyHistogram::add(double ms) {
  int i = 0;
  if (!(ms >= kMinMs)) {
    i = 0;  // NaN lands here too, so a bad timer cannot index out of range
  } else if (ms >= kMaxMs) {
    i = kBins + 1;
  } else {
    i = 1 + std::clamp(static_cast<int>((std::log(ms) - kLogMin) / kLogSpan * kBins), 0, kBins - 1);
  }
  ++bins_[static_cast<std::size_t>(i)];
  ++count_;
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (std::size_t i = 0; i < bins_.size(); ++i) bins_[i] += other.bins_[i];
  count_ += other.count_;
}

void LatencyHistogram::clear() {
  bins_.fill(0);
  count_ = 0;
}

std::optional<double> LatencyHistogram::percentile(double q) const {
  if (count_ == 0) return std::nullopt;
  // The smallest bin whose cumulative count reaches rank ceil(q * n) (at least 1).
  const auto rank = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(count_))));
  std::uint64_t seen = 0;
  for (int i = 0; i < kBins + 2; ++i) {
    seen += bins_[static_cast<std::size_t>(i)];
    if (seen < rank) continue;
    if (i == 0) return kMinMs;
    if (i == kBins + 1) return kMaxMs;
    return std::sqrt(bin_lower(i) * bin_lower(i + 1));
  }
  return kMaxMs;
}

int confidence_bin(double confidence) {
  if (!(confidence >= 0)) return 0;
  return std::clamp(static_cast<int>(confidence * kConfidenceBins), 0, kConfidenceBins - 1);
}

Bucket::Bucket(std::size_t reason_count, std::size_t label_count)
    : reasons(reason_count, 0), labels(label_count, 0) {}

void Bucket::clear() {
  requests = edge = cloud = degraded = errors = 0;
  std::fill(reasons.begin(), reasons.end(), 0);
  cost_usd = cloud_only_cost_usd = complexity_sum = 0;
  inferred = ood = 0;
  confidence.fill(0);
  std::fill(labels.begin(), labels.end(), 0);
  latency_edge.clear();
  latency_cloud.clear();
  audit_commits = 0;
  audit_seconds_sum = audit_seconds_max = 0;
  feedback_total.fill(0);
  feedback_correct.fill(0);
  shadow_total = shadow_agree = 0;
  shadow_cost_usd = 0;
  first_us = last_us = 0;
}

void Bucket::merge(const Bucket& o) {
  requests += o.requests;
  edge += o.edge;
  cloud += o.cloud;
  degraded += o.degraded;
  errors += o.errors;
  for (std::size_t i = 0; i < reasons.size() && i < o.reasons.size(); ++i) reasons[i] += o.reasons[i];
  cost_usd += o.cost_usd;
  cloud_only_cost_usd += o.cloud_only_cost_usd;
  complexity_sum += o.complexity_sum;
  inferred += o.inferred;
  ood += o.ood;
  for (std::size_t i = 0; i < confidence.size(); ++i) confidence[i] += o.confidence[i];
  for (std::size_t i = 0; i < labels.size() && i < o.labels.size(); ++i) labels[i] += o.labels[i];
  latency_edge.merge(o.latency_edge);
  latency_cloud.merge(o.latency_cloud);
  audit_commits += o.audit_commits;
  audit_seconds_sum += o.audit_seconds_sum;
  audit_seconds_max = std::max(audit_seconds_max, o.audit_seconds_max);
  for (std::size_t r = 0; r < 2; ++r) {
    feedback_total[r] += o.feedback_total[r];
    feedback_correct[r] += o.feedback_correct[r];
  }
  shadow_total += o.shadow_total;
  shadow_agree += o.shadow_agree;
  shadow_cost_usd += o.shadow_cost_usd;
  if (o.requests > 0) {
    first_us = requests == o.requests ? o.first_us : std::min(first_us, o.first_us);
    last_us = std::max(last_us, o.last_us);
  }
}

Series::Series(std::int64_t bucket_seconds, std::size_t buckets, std::size_t reasons, std::size_t labels)
    : bucket_seconds_(bucket_seconds), reasons_(reasons), labels_(labels) {
  if (bucket_seconds < 1) throw Error("monitor series: bucket_seconds must be >= 1, got " + std::to_string(bucket_seconds));
  if (buckets < 1) throw Error("monitor series: needs at least one bucket");
  ring_.assign(buckets, Bucket(reasons, labels));
  // Slots start out holding a slice no real timestamp maps to, so the first
  // write to each clears it.
  for (Bucket& b : ring_) b.start_s = INT64_MIN;
}

std::int64_t Series::start_of(std::int64_t ts_us) const {
  return floor_div(floor_div(ts_us, 1'000'000), bucket_seconds_) * bucket_seconds_;
}

Bucket* Series::slot(std::int64_t ts_us) {
  const std::int64_t start = start_of(ts_us);
  const auto n = static_cast<std::int64_t>(ring_.size());
  const auto index = static_cast<std::size_t>(((start / bucket_seconds_) % n + n) % n);
  Bucket& b = ring_[index];
  if (b.start_s == start) return &b;
  if (b.start_s > start) return nullptr;  // the slot already moved on: this slice left the window
  b.clear();
  b.start_s = start;
  return &b;
}

void Series::record(const Observation& o, std::optional<double> ood_energy_threshold) {
  Bucket* b = slot(o.ts_us);
  if (b == nullptr) return;
  ++b->requests;
  if (o.cloud) {
    ++b->cloud;
    b->latency_cloud.add(o.latency_ms);
  } else {
    ++b->edge;
    b->latency_edge.add(o.latency_ms);
  }
  if (o.degraded) ++b->degraded;
  if (o.reason >= 0 && static_cast<std::size_t>(o.reason) < b->reasons.size())
    ++b->reasons[static_cast<std::size_t>(o.reason)];
  b->cost_usd += o.cost_usd;
  b->cloud_only_cost_usd += o.cloud_only_cost_usd;
  b->complexity_sum += o.complexity;
  if (o.edge_label >= 0 && static_cast<std::size_t>(o.edge_label) < b->labels.size()) {
    ++b->inferred;
    ++b->labels[static_cast<std::size_t>(o.edge_label)];
    ++b->confidence[static_cast<std::size_t>(confidence_bin(o.edge_confidence))];
    if (ood_energy_threshold && o.energy > *ood_energy_threshold) ++b->ood;
  }
  b->first_us = b->requests == 1 ? o.ts_us : std::min(b->first_us, o.ts_us);
  b->last_us = b->requests == 1 ? o.ts_us : std::max(b->last_us, o.ts_us);
}

void Series::record_error(std::int64_t ts_us) {
  if (Bucket* b = slot(ts_us)) ++b->errors;
}

void Series::record_audit_commit(std::int64_t ts_us, double seconds) {
  Bucket* b = slot(ts_us);
  if (b == nullptr) return;
  ++b->audit_commits;
  b->audit_seconds_sum += seconds;
  b->audit_seconds_max = std::max(b->audit_seconds_max, seconds);
}

void Series::record_feedback(std::int64_t ts_us, bool cloud_route, bool correct) {
  Bucket* b = slot(ts_us);
  if (b == nullptr) return;
  const std::size_t r = cloud_route ? 1 : 0;
  ++b->feedback_total[r];
  if (correct) ++b->feedback_correct[r];
}

void Series::record_shadow(std::int64_t ts_us, bool agree, double cost_usd) {
  Bucket* b = slot(ts_us);
  if (b == nullptr) return;
  ++b->shadow_total;
  if (agree) ++b->shadow_agree;
  b->shadow_cost_usd += cost_usd;
}

void Series::snapshot(std::int64_t now_us, std::vector<Bucket>& out) const {
  const auto n = static_cast<std::int64_t>(ring_.size());
  const std::int64_t last = start_of(now_us);
  out.resize(ring_.size(), Bucket(reasons_, labels_));
  for (std::int64_t k = 0; k < n; ++k) {
    const std::int64_t start = last - (n - 1 - k) * bucket_seconds_;
    const auto index = static_cast<std::size_t>(((start / bucket_seconds_) % n + n) % n);
    Bucket& dst = out[static_cast<std::size_t>(k)];
    if (ring_[index].start_s == start) {
      dst = ring_[index];
    } else {
      dst.clear();
      dst.start_s = start;
    }
  }
}

Bucket Series::aggregate(std::int64_t now_us) const {
  const auto n = static_cast<std::int64_t>(ring_.size());
  const std::int64_t last = start_of(now_us);
  Bucket total(reasons_, labels_);
  total.start_s = last - (n - 1) * bucket_seconds_;
  for (const Bucket& b : ring_)
    if (b.start_s >= total.start_s && b.start_s <= last) total.merge(b);
  return total;
}

}  // namespace edgeroute::monitor
