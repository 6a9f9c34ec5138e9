// A clock that tests can drive. Components with timing rules (the cloud
// circuit breaker, retry budgets, monitor windows, alert episodes) read time
// through a Clock so that tests run them under a FakeClock without sleeping.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace edgeroute {

class Clock {
 public:
  using duration = std::chrono::nanoseconds;
  using time_point = std::chrono::time_point<std::chrono::steady_clock, duration>;
  virtual ~Clock() = default;
  // Monotonic time, for deadlines and intervals.
  virtual time_point now() const = 0;
  // Wall-clock time in microseconds since the Unix epoch, for records.
  virtual std::int64_t unix_micros() const = 0;
};

class SystemClock final : public Clock {
 public:
  time_point now() const override { return std::chrono::steady_clock::now(); }
  std::int64_t unix_micros() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  // The process-wide instance.
  static const SystemClock& instance() {
    static const SystemClock clock;
    return clock;
  }
};

// Starts at an arbitrary fixed point; moves only when advance() is called.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(std::int64_t start_unix_micros = 1'700'000'000'000'000) : unix_us_(start_unix_micros) {}
  time_point now() const override { return time_point(duration(ns_.load())); }
  std::int64_t unix_micros() const override { return unix_us_.load() + ns_.load() / 1000; }
  void advance(duration d) { ns_ += d.count(); }

 private:
  std::atomic<std::int64_t> unix_us_;
  std::atomic<std::int64_t> ns_{1'000'000'000};
};

}  // namespace edgeroute
