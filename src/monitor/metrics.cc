// Prometheus registry and text exposition.
#include "edgeroute/monitor/metrics.h"

#include <cmath>
#include <cstdio>

#include "edgeroute/common/error.h"

namespace edgeroute::monitor {

namespace {

bool valid_name(const std::string& n, bool label) {
  if (n.empty()) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!label && c == ':');
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return !(label && n.rfind("__", 0) == 0);
}

std::string escape_label(const std::string& v) {
  std::string out;
  for (const char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string label_block(const std::vector<std::string>& names, const std::vector<std::string>& values,
                        const std::string& extra = {}) {
  if (names.empty() && extra.empty()) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ",";
    out += names[i] + "=\"" + escape_label(values[i]) + "\"";
  }
  if (!extra.empty()) out += (names.empty() ? "" : ",") + extra;
  return out + "}";
}

}  // namespace

void atomic_add(std::atomic<double>& a, double v) {
  double cur = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
  }
}

Family::Family(std::string name, std::string help, Type type, std::vector<std::string> label_names,
               std::vector<double> buckets)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      labels_(std::move(label_names)),
      buckets_(std::move(buckets)) {
  if (!valid_name(name_, false)) throw Error("metrics: invalid metric name '" + name_ + "'");
  for (const std::string& l : labels_) {
    if (!valid_name(l, true) || l == "le") throw Error("metrics: invalid label name '" + l + "' on " + name_);
  }
  for (std::size_t i = 1; i < buckets_.size(); ++i) {
    if (!(buckets_[i] > buckets_[i - 1])) throw Error("metrics: histogram buckets of " + name_ + " must increase");
  }
}

Family::Series& Family::with(const std::vector<std::string>& values) {
  if (values.size() != labels_.size())
    throw Error("metrics: " + name_ + " takes " + std::to_string(labels_.size()) + " label values");
  std::lock_guard<std::mutex> lock(mu_);
  auto it = series_.find(values);
  if (it != series_.end()) return *it->second;
  auto s = std::make_unique<Series>();
  s->values = values;
  if (type_ == Type::kHistogram) {
    s->bucket_counts = std::make_unique<std::atomic<std::uint64_t>[]>(buckets_.size() + 1);
    for (std::size_t i = 0; i <= buckets_.size(); ++i) s->bucket_counts[i].store(0);
  }
  Series& ref = *s;
  order_.push_back(&ref);
  series_.emplace(values, std::move(s));
  return ref;
}

void Family::observe(Series& s, double v) const {
  std::size_t b = 0;
  while (b < buckets_.size() && v > buckets_[b]) ++b;
  s.bucket_counts[b].fetch_add(1, std::memory_order_relaxed);
  atomic_add(s.sum, v);
  s.count.fetch_add(1, std::memory_order_relaxed);
}

void Family::render(std::string& out) const {
  static const char* kTypes[] = {"counter", "gauge", "histogram"};
  out += "# HELP " + name_ + " " + help_ + "\n";
  out += "# TYPE " + name_ + " " + kTypes[static_cast<int>(type_)] + "\n";
  std::lock_guard<std::mutex> lock(mu_);
  for (const Series* s : order_) {
    if (type_ != Type::kHistogram) {
      out += name_ + label_block(labels_, s->values) + " " + number(s->value.load()) + "\n";
      continue;
    }
    std::uint64_t cum = 0;
    for (std::size_t i = 0; i <= buckets_.size(); ++i) {
      cum += s->bucket_counts[i].load();
      const std::string le = i < buckets_.size() ? number(buckets_[i]) : "+Inf";
      out +=
          name_ + "_bucket" + label_block(labels_, s->values, "le=\"" + le + "\"") + " " + std::to_string(cum) + "\n";
    }
    out += name_ + "_sum" + label_block(labels_, s->values) + " " + number(s->sum.load()) + "\n";
    out += name_ + "_count" + label_block(labels_, s->values) + " " + std::to_string(s->count.load()) + "\n";
  }
}

Family& Registry::add(std::unique_ptr<Family> f) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& g : families_) {
    if (g->name() == f->name()) throw Error("metrics: " + f->name() + " registered twice");
  }
  families_.push_back(std::move(f));
  return *families_.back();
}

Family& Registry::counter(const std::string& name, const std::string& help, std::vector<std::string> labels) {
  if (name.size() < 6 || name.compare(name.size() - 6, 6, "_total") != 0) {
    throw Error("metrics: counter " + name + " must end in _total");
  }
  return add(std::make_unique<Family>(name, help, Family::Type::kCounter, std::move(labels)));
}

Family& Registry::gauge(const std::string& name, const std::string& help, std::vector<std::string> labels) {
  return add(std::make_unique<Family>(name, help, Family::Type::kGauge, std::move(labels)));
}

Family& Registry::histogram(const std::string& name, const std::string& help, std::vector<double> buckets,
                            std::vector<std::string> labels) {
  return add(std::make_unique<Family>(name, help, Family::Type::kHistogram, std::move(labels), std::move(buckets)));
}

void Registry::on_collect(std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  collectors_.push_back(std::move(fn));
}

std::string Registry::render() const {
  std::vector<std::function<void()>> collectors;
  {
    std::lock_guard<std::mutex> lock(mu_);
    collectors = collectors_;
  }
  for (const auto& fn : collectors) fn();
  std::string out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& f : families_) f->render(out);
  return out;
}

std::vector<double> latency_buckets() {
  return {0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

}  // namespace edgeroute::monitor
