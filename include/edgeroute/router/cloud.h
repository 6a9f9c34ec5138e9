// Cloud backends and the resilience layer around them.
//
// The router escalates some queries (already redacted) to a larger "cloud"
// model. A CloudBackend speaks one protocol and makes exactly one HTTP request
// per classify() call: another edgeroute in cloud role, an OpenAI-compatible
// chat endpoint, or the KServe v2 / Triton HTTP protocol (docs/cloud.md).
// ResilientCloud wraps a backend with a per-call deadline, at most one retry
// inside a retry budget, a circuit breaker, a cap on in-flight calls and
// Retry-After handling; it never throws and reports every failure as a
// CloudFailure kind so the caller can answer from the edge (degraded).
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "edgeroute/common/clock.h"
#include "edgeroute/common/error.h"

namespace edgeroute::router {

struct CloudAnswer {
  std::string label;
  double confidence = 0;
  std::vector<std::pair<std::string, double>> probabilities;  // may be empty
  double cost_usd = -1;                                       // < 0: unknown (the router then uses its price table)
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
};

enum class CloudFailure {
  kNone,
  kTimeout,      // the deadline passed before an answer arrived
  kConnect,      // could not connect, or the connection was lost
  kHttpStatus,   // a non-2xx status other than 429/503
  kRejected,     // 429 or 503 (with Retry-After when the server sent one)
  kProtocol,     // the answer is not valid JSON, misses fields, or names a label outside the set
  kBreakerOpen,  // the circuit breaker is open (or half-open with its probe in flight)
  kInFlightCap,  // max_in_flight calls are already running
  kRetryAfter,   // still inside a Retry-After period announced by the server
};
inline constexpr std::size_t kCloudFailureCount = 9;
std::string_view to_string(CloudFailure failure);

struct CloudError : edgeroute::Error {
  CloudError(CloudFailure kind_, const std::string& message, int status_ = 0, double retry_after_s_ = 0)
      : edgeroute::Error(message), kind(kind_), status(status_), retry_after_s(retry_after_s_) {}
  CloudFailure kind;
  int status = 0;            // HTTP status when there was one
  double retry_after_s = 0;  // > 0: the server's Retry-After, in seconds from when the answer arrived
};

class CloudBackend {  // one protocol; thread-safe; no retries/breaker here
 public:
  virtual ~CloudBackend() = default;
  // Throws CloudError. `deadline` is absolute on the steady clock (a
  // Clock::time_point of SystemClock); connect, write and read timeouts are
  // taken from what is left of it.
  virtual CloudAnswer classify(const std::string& request_id, const std::string& text, Clock::time_point deadline) = 0;
  // "edgeroute http://127.0.0.1:9001" (never a secret).
  virtual std::string describe() const = 0;
};

struct CloudConfig {
  std::string url;                  // see the schemes below
  std::vector<std::string> labels;  // the label set (edge model's labels): answers outside it -> kProtocol
  std::string bearer_token;         // optional, sent as Authorization: Bearer
  // OpenAI-compatible: model name, price per 1M prompt/completion tokens (cost = usage x price).
  std::string model = "gpt-4o-mini";
  double price_prompt_per_mtok = 0.15;
  double price_completion_per_mtok = 0.60;
  std::string vocab_dir;  // KServe: Hugging Face dir with vocab.txt/tokenizer_config.json for input_ids
  std::int64_t max_len = 256;
  std::size_t max_connections = 32;  // pooled keep-alive connections per backend
};

// URL schemes ("https" works in place of "http" everywhere):
//   "http://host:port[/prefix]"                 -> another edgeroute in cloud role: POST {prefix}/v1/classify
//   "openai+http://host:port[/prefix]"          -> POST {prefix or /v1}/chat/completions
//   "kserve+http://host:port/v2/models/NAME"    -> POST /v2/models/NAME/infer
// Throws edgeroute::Error naming the URL (or the field) on anything else, on
// an empty or duplicated label set, and when the KServe vocabulary cannot be
// loaded.
std::unique_ptr<CloudBackend> make_cloud_backend(const CloudConfig& config);

// Parses a Retry-After header value: delta-seconds ("120", decimals
// tolerated) or an HTTP date (IMF-fixdate, RFC 850 or asctime), relative to
// `now_unix_micros`. A date in the past gives 0. nullopt when unparseable.
std::optional<double> parse_retry_after(std::string_view value, std::int64_t now_unix_micros);

struct ResilienceOptions {
  std::chrono::milliseconds deadline{1500};   // per call(), retry included
  int failure_threshold = 5;                  // consecutive failures that open the breaker
  std::chrono::milliseconds open_wait{5000};  // then one half-open probe
  std::size_t max_in_flight = 64;
  double retry_ratio = 0.1;  // retry budget (token bucket): each call earns retry_ratio retries ...
  int retry_min_per_s = 3;   // ... and retry_min_per_s retries per second are always allowed
  // No retry is started with less than this left of the deadline.
  std::chrono::milliseconds min_retry_remaining{10};
};

enum class BreakerState { kClosed, kOpen, kHalfOpen };
std::string_view to_string(BreakerState state);

// The circuit breaker as a pure state machine on a Clock; thread-safe.
//   closed:    every call allowed; `failure_threshold` consecutive failures -> open.
//   open:      nothing allowed until `open_wait` has passed -> half-open.
//   half-open: allow() is true once (the probe); its success -> closed,
//              its failure -> open again (a new wait).
// A success while closed resets the failure count; results reported while
// open (calls admitted before it opened) are ignored.
class CircuitBreaker {
 public:
  CircuitBreaker(int failure_threshold, std::chrono::milliseconds open_wait, const Clock& clock);

  // True when a call may go to the backend now; in half-open, true for the
  // one probe only. Every true must be followed by on_success or on_failure.
  bool allow();
  void on_success();
  void on_failure();

  // The current state (open becomes half-open here too once the wait is over).
  BreakerState state() const;
  int consecutive_failures() const;
  std::uint64_t transitions_to_open() const;
  std::uint64_t transitions_to_half_open() const;
  std::uint64_t transitions_to_closed() const;

 private:
  void advance_locked() const;

  const int failure_threshold_;
  const Clock::duration open_wait_;
  const Clock& clock_;
  mutable std::mutex mu_;
  mutable BreakerState state_ = BreakerState::kClosed;
  mutable bool probe_in_flight_ = false;
  mutable std::uint64_t to_open_ = 0;
  mutable std::uint64_t to_half_open_ = 0;
  mutable std::uint64_t to_closed_ = 0;
  int failures_ = 0;
  Clock::time_point opened_at_{};
};

// Retry budget: two token buckets. A floor bucket refills at min_per_s tokens
// per second up to min_per_s; a ratio bucket earns `ratio` per call, up to
// max(1, 100 x ratio) (the credit of about the last hundred calls). A retry
// takes one token from the floor bucket, else from the ratio bucket, else it
// is denied. Thread-safe.
class RetryBudget {
 public:
  RetryBudget(double ratio, int min_per_s, const Clock& clock);
  void on_call();
  bool try_retry();

 private:
  const double ratio_;
  const double min_per_s_;
  const double ratio_cap_;
  const Clock& clock_;
  std::mutex mu_;
  double floor_tokens_;
  double ratio_tokens_ = 0;
  Clock::time_point refilled_at_;
};

struct CloudStats {
  std::uint64_t calls = 0;                                           // call() invocations
  std::uint64_t successes = 0;                                       // calls that returned an answer
  std::array<std::uint64_t, kCloudFailureCount> failures_by_kind{};  // indexed by CloudFailure (kNone stays 0)
  std::uint64_t attempts = 0;                                        // requests sent to the backend
  std::uint64_t retries = 0;                                         // second attempts sent
  std::uint64_t retries_denied = 0;                                  // retries the budget refused
  std::uint64_t transitions_to_open = 0;
  std::uint64_t transitions_to_half_open = 0;
  std::uint64_t transitions_to_closed = 0;
  BreakerState state = BreakerState::kClosed;
  std::int64_t in_flight = 0;
  double sum_latency_s = 0;  // over all calls, on the ResilientCloud's clock

  std::uint64_t failures(CloudFailure kind) const { return failures_by_kind[static_cast<std::size_t>(kind)]; }
};

struct CloudOutcome {
  bool ok = false;
  CloudAnswer answer;
  CloudFailure failure = CloudFailure::kNone;
  std::string detail;  // the error message when !ok
  double latency_ms = 0;
  int attempts = 0;  // requests sent to the backend (0, 1 or 2)
  int status = 0;    // HTTP status of the last failed attempt, when there was one
};

// Thread-safe; never throws from call(). Decisions (deadline, breaker,
// budget, Retry-After) use `clock`; the deadline handed to the backend is
// always on the steady clock (now + what is left), so a FakeClock can drive
// the rules while a real HTTP backend does the I/O.
class ResilientCloud {
 public:
  ResilientCloud(std::unique_ptr<CloudBackend> backend, ResilienceOptions options,
                 const Clock& clock = SystemClock::instance());

  // One call: Retry-After gate, in-flight cap, breaker, then the backend;
  // one retry of a transient failure (kConnect, 5xx other than 503, 429/503
  // without Retry-After) when the budget, the breaker and the deadline allow.
  CloudOutcome call(const std::string& request_id, const std::string& text);

  CloudStats stats() const;
  BreakerState state() const;
  const CloudBackend& backend() const;
  const ResilienceOptions& options() const { return options_; }

 private:
  struct Attempt {
    bool ok = false;
    CloudAnswer answer;
    CloudFailure failure = CloudFailure::kNone;
    std::string detail;
    int status = 0;
    double retry_after_s = 0;
  };
  Attempt attempt(const std::string& request_id, const std::string& text, Clock::time_point deadline);
  void finish(CloudOutcome& outcome, Clock::time_point start);

  std::unique_ptr<CloudBackend> backend_;
  const ResilienceOptions options_;
  const Clock& clock_;
  CircuitBreaker breaker_;
  RetryBudget budget_;

  mutable std::mutex mu_;  // guards the fields below
  std::int64_t in_flight_ = 0;
  std::optional<Clock::time_point> retry_after_until_;
  CloudStats stats_;
};

}  // namespace edgeroute::router
