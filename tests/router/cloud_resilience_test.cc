// Tests of ResilientCloud: retries inside the budget and the deadline,
// Retry-After, the breaker in front of a backend, the in-flight cap and the
// deadline against real loopback servers.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "edgeroute/common/clock.h"
#include "edgeroute/router/cloud.h"
#include "peers/fake_cloud_servers.h"

namespace edgeroute::router {
namespace {

using namespace std::chrono_literals;

// A backend that plays a script: each call takes the next step (success when
// the script is empty), advances the FakeClock, then answers or throws.
class ScriptedBackend final : public CloudBackend {
 public:
  struct Step {
    CloudFailure failure = CloudFailure::kNone;
    int status = 0;
    double retry_after_s = 0;
    Clock::duration advance{0};
  };
  explicit ScriptedBackend(FakeClock& clock) : clock_(clock) {}

  void push(Step step) {
    std::lock_guard lock(mu_);
    steps_.push_back(step);
  }
  int calls() const { return calls_.load(); }
  // What was left of each deadline when the call came in, on the steady clock.
  std::vector<Clock::duration> budgets() const {
    std::lock_guard lock(mu_);
    return budgets_;
  }

  CloudAnswer classify(const std::string&, const std::string&, Clock::time_point deadline) override {
    ++calls_;
    Step step;
    {
      std::lock_guard lock(mu_);
      budgets_.push_back(deadline - SystemClock::instance().now());
      if (!steps_.empty()) {
        step = steps_.front();
        steps_.pop_front();
      }
    }
    clock_.advance(step.advance);
    if (step.failure != CloudFailure::kNone) {
      throw CloudError(step.failure, "scripted " + std::string(to_string(step.failure)), step.status,
                       step.retry_after_s);
    }
    CloudAnswer a;
    a.label = "billing";
    a.confidence = 0.7;
    return a;
  }
  std::string describe() const override { return "scripted"; }

 private:
  FakeClock& clock_;
  mutable std::mutex mu_;
  std::deque<Step> steps_;
  std::vector<Clock::duration> budgets_;
  std::atomic<int> calls_{0};
};

struct Harness {
  explicit Harness(ResilienceOptions options) {
    auto b = std::make_unique<ScriptedBackend>(clock);
    backend = b.get();
    cloud = std::make_unique<ResilientCloud>(std::move(b), options, clock);
  }
  FakeClock clock;
  ScriptedBackend* backend = nullptr;
  std::unique_ptr<ResilientCloud> cloud;
};

TEST(ResilientCloud, SuccessIsOneAttempt) {
  Harness h(ResilienceOptions{});
  const CloudOutcome out = h.cloud->call("r1", "my card");
  EXPECT_TRUE(out.ok);
  EXPECT_EQ(out.failure, CloudFailure::kNone);
  EXPECT_EQ(out.answer.label, "billing");
  EXPECT_EQ(out.attempts, 1);
  const CloudStats s = h.cloud->stats();
  EXPECT_EQ(s.calls, 1u);
  EXPECT_EQ(s.successes, 1u);
  EXPECT_EQ(s.attempts, 1u);
  EXPECT_EQ(s.in_flight, 0);
}

TEST(ResilientCloud, RetriesATransientFailureOnceWhenTheBudgetAllows) {
  Harness h(ResilienceOptions{});
  h.backend->push({CloudFailure::kConnect});
  const CloudOutcome out = h.cloud->call("r1", "text");
  EXPECT_TRUE(out.ok) << out.detail;
  EXPECT_EQ(out.attempts, 2);
  EXPECT_EQ(h.backend->calls(), 2);
  EXPECT_EQ(h.cloud->stats().retries, 1u);
}

TEST(ResilientCloud, AtMostOneRetry) {
  Harness h(ResilienceOptions{});
  for (int i = 0; i < 3; ++i) h.backend->push({CloudFailure::kHttpStatus, 502});
  const CloudOutcome out = h.cloud->call("r1", "text");
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.failure, CloudFailure::kHttpStatus);
  EXPECT_EQ(out.status, 502);
  EXPECT_EQ(out.attempts, 2);
  EXPECT_EQ(h.backend->calls(), 2);
}

TEST(ResilientCloud, NoRetryOfPermanentFailures) {
  Harness h(ResilienceOptions{});
  h.backend->push({CloudFailure::kProtocol});
  h.backend->push({CloudFailure::kHttpStatus, 400});
  EXPECT_EQ(h.cloud->call("r1", "t").attempts, 1);
  const CloudOutcome out = h.cloud->call("r2", "t");
  EXPECT_EQ(out.failure, CloudFailure::kHttpStatus);
  EXPECT_EQ(out.attempts, 1);
  EXPECT_EQ(h.backend->calls(), 2);
}

TEST(ResilientCloud, NoRetryWhenTheBudgetIsExhausted) {
  ResilienceOptions o;
  o.retry_ratio = 0;
  o.retry_min_per_s = 1;
  o.failure_threshold = 100;
  Harness h(o);
  h.backend->push({CloudFailure::kConnect});
  h.backend->push({CloudFailure::kConnect});  // the one retry the budget has
  h.backend->push({CloudFailure::kConnect});
  EXPECT_EQ(h.cloud->call("r1", "t").attempts, 2);
  const CloudOutcome out = h.cloud->call("r2", "t");
  EXPECT_EQ(out.failure, CloudFailure::kConnect);
  EXPECT_EQ(out.attempts, 1);
  EXPECT_EQ(h.cloud->stats().retries_denied, 1u);
  // A second later the floor has refilled.
  h.clock.advance(1s);
  h.backend->push({CloudFailure::kConnect});
  EXPECT_TRUE(h.cloud->call("r3", "t").ok);
  EXPECT_EQ(h.cloud->stats().retries, 2u);
}

TEST(ResilientCloud, NeverRetriesPastTheDeadline) {
  ResilienceOptions o;
  o.deadline = 1500ms;
  Harness h(o);
  h.backend->push({CloudFailure::kConnect, 0, 0, 1600ms});  // the attempt ate the whole deadline
  const CloudOutcome out = h.cloud->call("r1", "t");
  EXPECT_EQ(out.failure, CloudFailure::kConnect);
  EXPECT_EQ(out.attempts, 1);
  EXPECT_EQ(h.backend->calls(), 1);

  // A retry gets only what is left of the same deadline.
  h.backend->push({CloudFailure::kConnect, 0, 0, 1000ms});
  EXPECT_TRUE(h.cloud->call("r2", "t").ok);
  const auto budgets = h.backend->budgets();
  ASSERT_EQ(budgets.size(), 3u);
  EXPECT_LE(budgets[1], Clock::duration(1500ms));
  EXPECT_LE(budgets[2], Clock::duration(500ms));
  EXPECT_GT(budgets[2], Clock::duration(0));
}

TEST(ResilientCloud, NoRetryWithTooLittleTimeLeft) {
  ResilienceOptions o;
  o.deadline = 100ms;
  o.min_retry_remaining = 20ms;
  Harness h(o);
  h.backend->push({CloudFailure::kConnect, 0, 0, 85ms});
  EXPECT_EQ(h.cloud->call("r1", "t").attempts, 1);
}

TEST(ResilientCloud, RetryAfterIsHonouredAndCountsAsFailure) {
  ResilienceOptions o;
  o.failure_threshold = 10;
  Harness h(o);
  h.backend->push({CloudFailure::kRejected, 429, 30.0});
  const CloudOutcome first = h.cloud->call("r1", "t");
  EXPECT_EQ(first.failure, CloudFailure::kRejected);
  EXPECT_EQ(first.attempts, 1);  // no retry inside Retry-After
  EXPECT_EQ(h.backend->calls(), 1);

  h.clock.advance(29s);
  const CloudOutcome blocked = h.cloud->call("r2", "t");
  EXPECT_EQ(blocked.failure, CloudFailure::kRetryAfter);
  EXPECT_EQ(blocked.attempts, 0);
  EXPECT_EQ(h.backend->calls(), 1);  // not called

  h.clock.advance(1s);
  EXPECT_TRUE(h.cloud->call("r3", "t").ok);
  EXPECT_EQ(h.backend->calls(), 2);
  const CloudStats s = h.cloud->stats();
  EXPECT_EQ(s.failures(CloudFailure::kRejected), 1u);
  EXPECT_EQ(s.failures(CloudFailure::kRetryAfter), 1u);
  EXPECT_EQ(s.successes, 1u);
}

TEST(ResilientCloud, RejectedWithoutRetryAfterIsRetried) {
  Harness h(ResilienceOptions{});
  h.backend->push({CloudFailure::kRejected, 503});
  const CloudOutcome out = h.cloud->call("r1", "t");
  EXPECT_TRUE(out.ok);
  EXPECT_EQ(out.attempts, 2);
}

TEST(ResilientCloud, OpenBreakerRejectsWithoutCallingThenProbes) {
  ResilienceOptions o;
  o.failure_threshold = 2;
  o.open_wait = 5000ms;
  o.retry_min_per_s = 0;
  o.retry_ratio = 0;
  Harness h(o);
  h.backend->push({CloudFailure::kTimeout});
  h.backend->push({CloudFailure::kTimeout});
  EXPECT_EQ(h.cloud->call("r1", "t").failure, CloudFailure::kTimeout);
  EXPECT_EQ(h.cloud->call("r2", "t").failure, CloudFailure::kTimeout);
  EXPECT_EQ(h.cloud->state(), BreakerState::kOpen);

  const CloudOutcome rejected = h.cloud->call("r3", "t");
  EXPECT_EQ(rejected.failure, CloudFailure::kBreakerOpen);
  EXPECT_EQ(rejected.attempts, 0);
  EXPECT_EQ(h.backend->calls(), 2);

  h.clock.advance(5s);
  EXPECT_EQ(h.cloud->state(), BreakerState::kHalfOpen);
  h.backend->push({CloudFailure::kConnect});  // the probe fails: open again, no retry
  const CloudOutcome probe = h.cloud->call("r4", "t");
  EXPECT_EQ(probe.failure, CloudFailure::kConnect);
  EXPECT_EQ(probe.attempts, 1);
  EXPECT_EQ(h.cloud->state(), BreakerState::kOpen);

  h.clock.advance(5s);
  EXPECT_TRUE(h.cloud->call("r5", "t").ok);
  EXPECT_EQ(h.cloud->state(), BreakerState::kClosed);
  const CloudStats s = h.cloud->stats();
  EXPECT_EQ(s.transitions_to_open, 2u);
  EXPECT_EQ(s.transitions_to_half_open, 2u);
  EXPECT_EQ(s.transitions_to_closed, 1u);
  EXPECT_EQ(s.failures(CloudFailure::kBreakerOpen), 1u);
  EXPECT_EQ(s.calls, 5u);
}

TEST(ResilientCloud, LocalRejectionsDoNotOpenTheBreaker) {
  ResilienceOptions o;
  o.failure_threshold = 1;
  Harness h(o);
  h.backend->push({CloudFailure::kRejected, 429, 10.0});
  h.cloud->call("r1", "t");  // opens (threshold 1)
  EXPECT_EQ(h.cloud->state(), BreakerState::kOpen);
  h.clock.advance(5s);
  EXPECT_EQ(h.cloud->call("r2", "t").failure, CloudFailure::kRetryAfter);
  h.clock.advance(5s);
  EXPECT_TRUE(h.cloud->call("r3", "t").ok);  // the half-open probe
  EXPECT_EQ(h.cloud->stats().transitions_to_open, 1u);
}

TEST(ResilientCloud, NonCloudExceptionsBecomeProtocolFailures) {
  class Throwing final : public CloudBackend {
   public:
    CloudAnswer classify(const std::string&, const std::string&, Clock::time_point) override {
      throw std::runtime_error("boom");
    }
    std::string describe() const override { return "throwing"; }
  };
  ResilientCloud cloud(std::make_unique<Throwing>(), ResilienceOptions{});
  const CloudOutcome out = cloud.call("r", "t");
  EXPECT_EQ(out.failure, CloudFailure::kProtocol);
  EXPECT_NE(out.detail.find("boom"), std::string::npos);
}

// ---------------------------------------------------------------------------
// Against real loopback servers.

const std::vector<std::string> kLoopbackLabels = {"billing", "card", "refund"};

std::unique_ptr<CloudBackend> edgeroute_backend(const test::FakeCloudServer& server) {
  CloudConfig config;
  config.url = server.base_url();
  config.labels = kLoopbackLabels;
  return make_cloud_backend(config);
}

TEST(ResilientCloudHttp, InFlightCapRejectsTheCallOverTheCap) {
  test::FakeEdgerouteServer server(kLoopbackLabels);
  server.start();
  ResilienceOptions o;
  o.max_in_flight = 2;
  o.deadline = 30s;
  ResilientCloud cloud(edgeroute_backend(server), o);
  server.hold();
  std::vector<std::future<CloudOutcome>> running;
  for (int i = 0; i < 2; ++i) {
    running.push_back(
        std::async(std::launch::async, [&cloud, i] { return cloud.call("r" + std::to_string(i), "card"); }));
  }
  ASSERT_TRUE(server.wait_held(2));
  EXPECT_EQ(cloud.stats().in_flight, 2);
  const CloudOutcome over = cloud.call("r-over", "card");
  EXPECT_EQ(over.failure, CloudFailure::kInFlightCap);
  EXPECT_EQ(over.attempts, 0);
  server.release();
  for (auto& f : running) {
    const CloudOutcome out = f.get();
    EXPECT_TRUE(out.ok) << out.detail;
    EXPECT_EQ(out.answer.label, "card");
  }
  EXPECT_EQ(server.requests(), 2);
  const CloudStats s = cloud.stats();
  EXPECT_EQ(s.in_flight, 0);
  EXPECT_EQ(s.failures(CloudFailure::kInFlightCap), 1u);
  EXPECT_EQ(s.successes, 2u);
}

TEST(ResilientCloudHttp, SlowServerGivesTimeoutWithoutRetry) {
  test::FakeEdgerouteServer server(kLoopbackLabels);
  server.start();
  ResilienceOptions o;
  o.deadline = 200ms;
  ResilientCloud cloud(edgeroute_backend(server), o);
  server.hold();  // the handler answers only after the client gave up
  const CloudOutcome out = cloud.call("r1", "card");
  server.release();
  EXPECT_EQ(out.failure, CloudFailure::kTimeout) << out.detail;
  EXPECT_EQ(out.attempts, 1);
  EXPECT_EQ(cloud.stats().failures(CloudFailure::kTimeout), 1u);
  // The next call gets a fresh connection and an answer.
  const CloudOutcome next = cloud.call("r2", "refund");
  EXPECT_TRUE(next.ok) << next.detail;
  EXPECT_EQ(next.answer.label, "refund");
}

TEST(ResilientCloudHttp, RetryAfterFromARealServerUnderAFakeClock) {
  test::FakeEdgerouteServer server(kLoopbackLabels);
  server.start();
  FakeClock clock;
  ResilientCloud cloud(edgeroute_backend(server), ResilienceOptions{}, clock);
  server.fail_next(1, 429, "120");
  const CloudOutcome first = cloud.call("r1", "card");
  EXPECT_EQ(first.failure, CloudFailure::kRejected) << first.detail;
  EXPECT_EQ(first.status, 429);
  EXPECT_EQ(first.attempts, 1);
  clock.advance(119s);
  EXPECT_EQ(cloud.call("r2", "card").failure, CloudFailure::kRetryAfter);
  EXPECT_EQ(server.requests(), 1);
  clock.advance(1s);
  EXPECT_TRUE(cloud.call("r3", "card").ok);
  EXPECT_EQ(server.requests(), 2);
}

TEST(ResilientCloudHttp, TransientServerErrorIsRetriedOnce) {
  test::FakeEdgerouteServer server(kLoopbackLabels);
  server.start();
  ResilientCloud cloud(edgeroute_backend(server), ResilienceOptions{});
  server.fail_next(1, 502);
  const CloudOutcome out = cloud.call("r1", "card");
  EXPECT_TRUE(out.ok) << out.detail;
  EXPECT_EQ(out.attempts, 2);
  EXPECT_EQ(server.requests(), 2);
}

}  // namespace
}  // namespace edgeroute::router
