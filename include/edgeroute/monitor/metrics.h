// A small Prometheus registry: counters, gauges and histograms with fixed
// label sets, rendered in the text exposition format (version 0.0.4).
//
// Metric and label names are validated when registered; label values are
// chosen by the code (routes, reasons, status codes), never request ids or
// texts, so series stay bounded. Updates are lock-free atomics; a series
// with new label values takes a mutex once, when it is first seen.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace edgeroute::monitor {

class Registry;

// Adds to a double atomically (compare-exchange loop).
void atomic_add(std::atomic<double>& a, double v);

class Family {
 public:
  enum class Type { kCounter, kGauge, kHistogram };
  Family(std::string name, std::string help, Type type, std::vector<std::string> label_names,
         std::vector<double> buckets = {});

  struct Series {
    std::vector<std::string> values;
    std::atomic<double> value{0};                                 // counter / gauge
    std::unique_ptr<std::atomic<std::uint64_t>[]> bucket_counts;  // histogram (non-cumulative)
    std::atomic<double> sum{0};
    std::atomic<std::uint64_t> count{0};
  };

  // The series for these label values (created on first use). The reference
  // stays valid for the registry's lifetime.
  Series& with(const std::vector<std::string>& values);
  void inc(const std::vector<std::string>& values, double v = 1) { atomic_add(with(values).value, v); }
  void set(const std::vector<std::string>& values, double v) { with(values).value.store(v); }
  void observe(Series& s, double v) const;
  void observe(const std::vector<std::string>& values, double v) { observe(with(values), v); }
  void render(std::string& out) const;
  const std::string& name() const { return name_; }

 private:
  std::string name_, help_;
  Type type_;
  std::vector<std::string> labels_;
  std::vector<double> buckets_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Series>> series_;
  std::deque<Series*> order_;
};

class Registry {
 public:
  Family& counter(const std::string& name, const std::string& help, std::vector<std::string> labels = {});
  Family& gauge(const std::string& name, const std::string& help, std::vector<std::string> labels = {});
  Family& histogram(const std::string& name, const std::string& help, std::vector<double> buckets,
                    std::vector<std::string> labels = {});
  // Called before rendering, to refresh gauges computed from other state.
  void on_collect(std::function<void()> fn);
  std::string render() const;

 private:
  Family& add(std::unique_ptr<Family> f);
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Family>> families_;
  std::vector<std::function<void()>> collectors_;
};

// Latency buckets in seconds, 250 µs to 10 s.
std::vector<double> latency_buckets();

}  // namespace edgeroute::monitor
