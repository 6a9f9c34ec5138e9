// Shadow sampling: online accuracy without waiting for labels.
//
// A configured fraction of the queries the edge keeps is also sent to the
// cloud in the background, and whether the cloud agrees with the edge is
// reported to a callback (the monitor tracks the agreement rate and its
// confidence interval). Which queries are shadowed is decided by a seeded
// hash of the request id, never by a random draw, so a replay of the same
// request ids shadows the same queries. The text sent is the redacted text,
// exactly as for an escalation; shadow calls go through the same resilient
// cloud client (deadline, breaker, in-flight cap) and are costed separately.
// The caller is never blocked: a full queue drops the offer and counts it.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "edgeroute/common/clock.h"
#include "edgeroute/router/cloud.h"

namespace edgeroute::router {

struct ShadowOptions {
  double fraction = 0;     // of edge-kept queries, in [0, 1]; 0: off
  std::uint64_t seed = 0;  // changes which request ids are chosen
  std::size_t max_queue = 256;
};

// True for about `fraction` of all request ids: a 64-bit hash of seed and id,
// read as a number in [0, 1), is below fraction.
bool shadow_selected(std::string_view request_id, std::uint64_t seed, double fraction);

struct ShadowResult {
  std::string request_id, edge_label, cloud_label;
  bool ok = false;     // the cloud answered (else cloud_label is empty and failure says why)
  bool agree = false;  // ok and cloud_label == edge_label
  CloudFailure failure = CloudFailure::kNone;
  double cost_usd = 0;  // what the shadow call cost (0 when it failed)
  std::int64_t ts_us = 0;
};

struct ShadowStats {
  std::uint64_t offered = 0;  // edge-kept queries seen
  std::uint64_t selected = 0;
  std::uint64_t dropped = 0;  // selected but the queue was full
  std::uint64_t answered = 0;
  std::uint64_t agreed = 0;
  std::uint64_t failed = 0;
  double cost_usd = 0;
};

class ShadowSampler {
 public:
  // `price_usd` is charged when the backend reports no cost of its own.
  // `on_result` runs on the sampler's thread, once per finished shadow call.
  ShadowSampler(ResilientCloud& cloud, ShadowOptions options, double price_usd,
                std::function<void(const ShadowResult&)> on_result, const Clock& clock = SystemClock::instance());
  ~ShadowSampler();  // queued offers are discarded; the call in progress finishes
  ShadowSampler(const ShadowSampler&) = delete;
  ShadowSampler& operator=(const ShadowSampler&) = delete;

  // Queues the query when its id is selected and there is room; never blocks.
  // Returns true when it was queued.
  bool offer(const std::string& request_id, const std::string& redacted_text, const std::string& edge_label);
  // Blocks until every queued offer has finished (tests, drain).
  void flush();
  ShadowStats stats() const;
  const ShadowOptions& options() const { return options_; }

 private:
  struct Job {
    std::string request_id, text, edge_label;
  };
  void run();

  ResilientCloud& cloud_;
  const ShadowOptions options_;
  const double price_usd_;
  const std::function<void(const ShadowResult&)> on_result_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::deque<Job> queue_;
  bool busy_ = false;
  bool stop_ = false;
  ShadowStats stats_;
  std::thread worker_;
};

}  // namespace edgeroute::router
