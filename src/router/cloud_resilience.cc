// The resilience layer around a cloud backend: circuit breaker, retry budget
// and ResilientCloud (deadline, one retry, in-flight cap, Retry-After).
#include <algorithm>
#include <exception>
#include <utility>

#include "edgeroute/router/cloud.h"

namespace edgeroute::router {

std::string_view to_string(CloudFailure failure) {
  switch (failure) {
    case CloudFailure::kNone:
      return "none";
    case CloudFailure::kTimeout:
      return "timeout";
    case CloudFailure::kConnect:
      return "connect";
    case CloudFailure::kHttpStatus:
      return "http_status";
    case CloudFailure::kRejected:
      return "rejected";
    case CloudFailure::kProtocol:
      return "protocol";
    case CloudFailure::kBreakerOpen:
      return "breaker_open";
    case CloudFailure::kInFlightCap:
      return "in_flight_cap";
    case CloudFailure::kRetryAfter:
      return "retry_after";
  }
  return "unknown";
}

std::string_view to_string(BreakerState state) {
  switch (state) {
    case BreakerState::kClosed:
      return "closed";
    case BreakerState::kOpen:
      return "open";
    case BreakerState::kHalfOpen:
      return "half_open";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------
// CircuitBreaker

CircuitBreaker::CircuitBreaker(int failure_threshold, std::chrono::milliseconds open_wait, const Clock& clock)
    : failure_threshold_(std::max(1, failure_threshold)), open_wait_(open_wait), clock_(clock) {}

void CircuitBreaker::advance_locked() const {
  if (state_ == BreakerState::kOpen && clock_.now() - opened_at_ >= open_wait_) {
    state_ = BreakerState::kHalfOpen;
    probe_in_flight_ = false;
    ++to_half_open_;
  }
}

bool CircuitBreaker::allow() {
  std::lock_guard lock(mu_);
  advance_locked();
  switch (state_) {
    case BreakerState::kClosed:
      return true;
    case BreakerState::kOpen:
      return false;
    case BreakerState::kHalfOpen:
      if (probe_in_flight_) return false;
      probe_in_flight_ = true;
      return true;
  }
  return false;
}

void CircuitBreaker::on_success() {
  std::lock_guard lock(mu_);
  advance_locked();
  if (state_ == BreakerState::kOpen) return;
  if (state_ == BreakerState::kHalfOpen) {
    state_ = BreakerState::kClosed;
    probe_in_flight_ = false;
    ++to_closed_;
  }
  failures_ = 0;
}

void CircuitBreaker::on_failure() {
  std::lock_guard lock(mu_);
  advance_locked();
  if (state_ == BreakerState::kOpen) return;
  if (state_ == BreakerState::kClosed && ++failures_ < failure_threshold_) return;
  state_ = BreakerState::kOpen;
  probe_in_flight_ = false;
  opened_at_ = clock_.now();
  failures_ = 0;
  ++to_open_;
}

BreakerState CircuitBreaker::state() const {
  std::lock_guard lock(mu_);
  advance_locked();
  return state_;
}

int CircuitBreaker::consecutive_failures() const {
  std::lock_guard lock(mu_);
  return failures_;
}

std::uint64_t CircuitBreaker::transitions_to_open() const {
  std::lock_guard lock(mu_);
  return to_open_;
}

std::uint64_t CircuitBreaker::transitions_to_half_open() const {
  std::lock_guard lock(mu_);
  advance_locked();
  return to_half_open_;
}

std::uint64_t CircuitBreaker::transitions_to_closed() const {
  std::lock_guard lock(mu_);
  return to_closed_;
}

// ---------------------------------------------------------------------------
// RetryBudget

RetryBudget::RetryBudget(double ratio, int min_per_s, const Clock& clock)
    : ratio_(std::max(0.0, ratio)),
      min_per_s_(std::max(0, min_per_s)),
      ratio_cap_(std::max(1.0, 100.0 * std::max(0.0, ratio))),
      clock_(clock),
      floor_tokens_(min_per_s_),
      refilled_at_(clock.now()) {}

void RetryBudget::on_call() {
  std::lock_guard lock(mu_);
  ratio_tokens_ = std::min(ratio_cap_, ratio_tokens_ + ratio_);
}

bool RetryBudget::try_retry() {
  std::lock_guard lock(mu_);
  const Clock::time_point now = clock_.now();
  const double seconds = std::chrono::duration<double>(now - refilled_at_).count();
  if (seconds > 0) floor_tokens_ = std::min(min_per_s_, floor_tokens_ + seconds * min_per_s_);
  refilled_at_ = now;
  if (floor_tokens_ >= 1.0) {
    floor_tokens_ -= 1.0;
    return true;
  }
  if (ratio_tokens_ >= 1.0 - 1e-9) {
    ratio_tokens_ = std::max(0.0, ratio_tokens_ - 1.0);
    return true;
  }
  return false;
}

// ---------------------------------------------------------------------------
// ResilientCloud

namespace {

// Failures worth a second attempt: the server may answer the next request.
bool transient(CloudFailure kind, int status, double retry_after_s) {
  switch (kind) {
    case CloudFailure::kConnect:
      return true;
    case CloudFailure::kRejected:
      return retry_after_s <= 0;
    case CloudFailure::kHttpStatus:
      return status >= 500;
    default:
      return false;
  }
}

}  // namespace

ResilientCloud::ResilientCloud(std::unique_ptr<CloudBackend> backend, ResilienceOptions options, const Clock& clock)
    : backend_(std::move(backend)),
      options_(options),
      clock_(clock),
      breaker_(options.failure_threshold, options.open_wait, clock),
      budget_(options.retry_ratio, options.retry_min_per_s, clock) {
  if (!backend_) throw Error("ResilientCloud: backend is null");
}

ResilientCloud::Attempt ResilientCloud::attempt(const std::string& request_id, const std::string& text,
                                                Clock::time_point deadline) {
  Attempt a;
  // The backend does real I/O on the steady clock; hand it what is left.
  const Clock::duration left = deadline - clock_.now();
  const Clock::time_point io_deadline = SystemClock::instance().now() + left;
  try {
    a.answer = backend_->classify(request_id, text, io_deadline);
    a.ok = true;
  } catch (const CloudError& e) {
    a.failure = e.kind;
    a.detail = e.what();
    a.status = e.status;
    a.retry_after_s = e.retry_after_s;
  } catch (const std::exception& e) {
    a.failure = CloudFailure::kProtocol;
    a.detail = std::string(backend_->describe()) + ": " + e.what();
  } catch (...) {
    a.failure = CloudFailure::kProtocol;
    a.detail = backend_->describe() + ": unknown exception";
  }
  // Every attempt admitted by the breaker reports back (a half-open probe
  // must always resolve). Local rejections never reach this point.
  if (a.ok) {
    breaker_.on_success();
  } else {
    breaker_.on_failure();
  }
  if (a.retry_after_s > 0) {
    const auto until =
        clock_.now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(a.retry_after_s));
    std::lock_guard lock(mu_);
    if (!retry_after_until_ || *retry_after_until_ < until) retry_after_until_ = until;
  }
  return a;
}

void ResilientCloud::finish(CloudOutcome& outcome, Clock::time_point start) {
  const double seconds = std::chrono::duration<double>(clock_.now() - start).count();
  outcome.latency_ms = seconds * 1000.0;
  std::lock_guard lock(mu_);
  stats_.sum_latency_s += seconds;
  if (outcome.ok) {
    ++stats_.successes;
  } else {
    ++stats_.failures_by_kind[static_cast<std::size_t>(outcome.failure)];
  }
}

CloudOutcome ResilientCloud::call(const std::string& request_id, const std::string& text) {
  CloudOutcome out;
  const Clock::time_point start = clock_.now();
  const Clock::time_point deadline = start + std::chrono::duration_cast<Clock::duration>(options_.deadline);
  budget_.on_call();
  {
    std::lock_guard lock(mu_);
    ++stats_.calls;
    if (retry_after_until_ && start < *retry_after_until_) {
      const double wait = std::chrono::duration<double>(*retry_after_until_ - start).count();
      out.failure = CloudFailure::kRetryAfter;
      out.detail = backend_->describe() + ": server asked to wait; " + std::to_string(wait) + " s of Retry-After left";
    } else if (in_flight_ >= static_cast<std::int64_t>(options_.max_in_flight)) {
      out.failure = CloudFailure::kInFlightCap;
      out.detail = backend_->describe() + ": " + std::to_string(options_.max_in_flight) + " calls already in flight";
    } else {
      ++in_flight_;
    }
  }
  if (out.failure != CloudFailure::kNone) {
    finish(out, start);
    return out;
  }

  for (int n = 0; n < 2; ++n) {
    if (!breaker_.allow()) {
      if (n == 0) {
        out.failure = CloudFailure::kBreakerOpen;
        out.detail = backend_->describe() + ": circuit breaker is " + std::string(to_string(breaker_.state()));
      }
      break;
    }
    {
      std::lock_guard lock(mu_);
      ++stats_.attempts;
      if (n == 1) ++stats_.retries;
    }
    ++out.attempts;
    Attempt a = attempt(request_id, text, deadline);
    if (a.ok) {
      out.ok = true;
      out.answer = std::move(a.answer);
      out.failure = CloudFailure::kNone;
      out.detail.clear();
      break;
    }
    out.failure = a.failure;
    out.detail = std::move(a.detail);
    out.status = a.status;
    if (n == 1 || !transient(a.failure, a.status, a.retry_after_s)) break;
    if (deadline - clock_.now() < std::chrono::duration_cast<Clock::duration>(options_.min_retry_remaining)) break;
    if (!budget_.try_retry()) {
      std::lock_guard lock(mu_);
      ++stats_.retries_denied;
      break;
    }
  }
  {
    std::lock_guard lock(mu_);
    --in_flight_;
  }
  finish(out, start);
  return out;
}

CloudStats ResilientCloud::stats() const {
  CloudStats s;
  {
    std::lock_guard lock(mu_);
    s = stats_;
    s.in_flight = in_flight_;
  }
  s.state = breaker_.state();
  s.transitions_to_open = breaker_.transitions_to_open();
  s.transitions_to_half_open = breaker_.transitions_to_half_open();
  s.transitions_to_closed = breaker_.transitions_to_closed();
  return s;
}

BreakerState ResilientCloud::state() const { return breaker_.state(); }

const CloudBackend& ResilientCloud::backend() const { return *backend_; }

}  // namespace edgeroute::router
