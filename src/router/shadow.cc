// Shadow sampling (include/edgeroute/router/shadow.h).
#include "edgeroute/router/shadow.h"

#include <utility>

#include "edgeroute/common/error.h"

namespace edgeroute::router {

namespace {

// splitmix64's finaliser: spreads every input bit over the whole word.
std::uint64_t mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

bool shadow_selected(std::string_view request_id, std::uint64_t seed, double fraction) {
  if (fraction <= 0) return false;
  if (fraction >= 1) return true;
  // FNV-1a over the id, keyed by the seed, then mixed: ids that differ in one
  // character land far apart.
  std::uint64_t h = 0xcbf29ce484222325ULL ^ mix(seed);
  for (const char c : request_id) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  const double u = static_cast<double>(mix(h) >> 11) * 0x1.0p-53;
  return u < fraction;
}

ShadowSampler::ShadowSampler(ResilientCloud& cloud, ShadowOptions options, double price_usd,
                             std::function<void(const ShadowResult&)> on_result, const Clock& clock)
    : cloud_(cloud), options_(options), price_usd_(price_usd), on_result_(std::move(on_result)), clock_(clock) {
  if (!(options_.fraction >= 0 && options_.fraction <= 1)) throw Error("shadow: fraction must be in [0, 1]");
  if (options_.max_queue == 0) throw Error("shadow: max_queue must be positive");
  worker_ = std::thread([this] { run(); });
}

ShadowSampler::~ShadowSampler() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  idle_cv_.notify_all();
  worker_.join();
}

bool ShadowSampler::offer(const std::string& request_id, const std::string& redacted_text,
                          const std::string& edge_label) {
  const bool chosen = shadow_selected(request_id, options_.seed, options_.fraction);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.offered;
    if (!chosen || stop_) return false;
    ++stats_.selected;
    if (queue_.size() >= options_.max_queue) {
      ++stats_.dropped;
      return false;
    }
    queue_.push_back({request_id, redacted_text, edge_label});
  }
  cv_.notify_one();
  return true;
}

void ShadowSampler::flush() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_cv_.wait(lock, [this] { return stop_ || (queue_.empty() && !busy_); });
}

ShadowStats ShadowSampler::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void ShadowSampler::run() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    const CloudOutcome out = cloud_.call(job.request_id, job.text);
    ShadowResult r;
    r.request_id = std::move(job.request_id);
    r.edge_label = std::move(job.edge_label);
    r.ok = out.ok;
    r.failure = out.failure;
    r.ts_us = clock_.unix_micros();
    if (out.ok) {
      r.cloud_label = out.answer.label;
      r.agree = r.cloud_label == r.edge_label;
      r.cost_usd = out.answer.cost_usd >= 0 ? out.answer.cost_usd : price_usd_;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (r.ok) {
        ++stats_.answered;
        if (r.agree) ++stats_.agreed;
      } else {
        ++stats_.failed;
      }
      stats_.cost_usd += r.cost_usd;
    }
    if (on_result_) on_result_(r);
    {
      std::lock_guard<std::mutex> lock(mu_);
      busy_ = false;
    }
    idle_cv_.notify_all();
  }
}

}  // namespace edgeroute::router
