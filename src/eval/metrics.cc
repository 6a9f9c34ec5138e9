#include "edgeroute/eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <map>
#include <utility>

#include "edgeroute/common/error.h"

namespace edgeroute::eval {

namespace {

// Checks shapes, label range and that every logit is finite.
void check_inputs(std::span<const float> logits, std::span<const std::int32_t> labels, std::int64_t classes) {
  if (classes < 1) throw Error("eval: need at least one class, got " + std::to_string(classes));
  if (labels.empty()) throw Error("eval: no examples");
  const auto k = static_cast<std::size_t>(classes);
  if (logits.size() % k != 0 || logits.size() / k != labels.size()) {
    throw Error("eval: " + std::to_string(logits.size()) + " logits for " + std::to_string(labels.size()) +
                " examples of " + std::to_string(classes) + " classes (expected examples x classes)");
  }
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || labels[i] >= classes) {
      throw Error("eval: label id " + std::to_string(labels[i]) + " of example " + std::to_string(i) +
                  " is outside [0, " + std::to_string(classes) + ")");
    }
  }
  for (std::size_t i = 0; i < logits.size(); ++i) {
    if (!std::isfinite(logits[i])) {
      throw Error("eval: logit " + std::to_string(i % k) + " of example " + std::to_string(i / k) + " is not finite");
    }
  }
}

void check_temperature(double temperature) {
  if (!(temperature > 0.0) || !std::isfinite(temperature)) {
    throw Error("eval: the temperature must be a positive finite number, got " + std::to_string(temperature));
  }
}

void check_bins(int bins) {
  if (bins < 1) throw Error("eval: the number of ECE bins must be at least 1, got " + std::to_string(bins));
}

std::int32_t argmax(const float* row, std::int64_t k) {
  std::int32_t best = 0;
  for (std::int64_t j = 1; j < k; ++j) {
    if (row[j] > row[best]) best = static_cast<std::int32_t>(j);
  }
  return best;
}

struct RowFit {
  double nll = 0.0;         // -log softmax(row / t)[label]
  double confidence = 0.0;  // largest probability of softmax(row / t)
};

// Stable log-sum-exp: with m the largest logit, -log p_y = (m - z_y) / t +
// log sum_j exp((z_j - m) / t), and the largest probability is 1 / that sum.
// Equal logits give exactly log k at every t.
RowFit row_fit(const float* row, std::int64_t k, std::int32_t label, double t) {
  const double m = row[argmax(row, k)];
  double sum = 0.0;
  for (std::int64_t j = 0; j < k; ++j) sum += std::exp((static_cast<double>(row[j]) - m) / t);
  return {(m - static_cast<double>(row[label])) / t + std::log(sum), 1.0 / sum};
}

// The unchecked versions of mean_nll and expected_calibration_error.
double nll_of(std::span<const float> logits, std::span<const std::int32_t> labels, std::int64_t k, double t) {
  double total = 0.0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    total += row_fit(logits.data() + static_cast<std::int64_t>(i) * k, k, labels[i], t).nll;
  }
  return total / static_cast<double>(labels.size());
}

double ece_of(std::span<const float> logits, std::span<const std::int32_t> labels, std::int64_t k, double t, int bins) {
  std::vector<double> confidence(static_cast<std::size_t>(bins), 0.0);
  std::vector<double> correct(static_cast<std::size_t>(bins), 0.0);
  std::vector<std::int64_t> count(static_cast<std::size_t>(bins), 0);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const float* row = logits.data() + static_cast<std::int64_t>(i) * k;
    const double conf = row_fit(row, k, labels[i], t).confidence;
    // Bin b holds (b/bins, (b+1)/bins]; the confidence is at least 1/k > 0.
    const auto b = static_cast<std::size_t>(std::clamp(static_cast<int>(std::ceil(conf * bins)) - 1, 0, bins - 1));
    confidence[b] += conf;
    correct[b] += argmax(row, k) == labels[i] ? 1.0 : 0.0;
    ++count[b];
  }
  double ece = 0.0;
  for (std::size_t b = 0; b < count.size(); ++b) {
    if (count[b] > 0) ece += std::abs(correct[b] - confidence[b]);
  }
  return ece / static_cast<double>(labels.size());
}

// printf into the end of `out`: one pass to measure, one to write.
[[gnu::format(printf, 2, 3)]] void appendf(std::string& out, const char* format, ...) {
  va_list args;
  va_start(args, format);
  const int n = std::vsnprintf(nullptr, 0, format, args);
  va_end(args);
  if (n <= 0) return;
  const std::size_t at = out.size();
  out.resize(at + static_cast<std::size_t>(n) + 1);
  va_start(args, format);
  std::vsnprintf(out.data() + at, static_cast<std::size_t>(n) + 1, format, args);
  va_end(args);
  out.resize(at + static_cast<std::size_t>(n));
}

}  // namespace

double mean_nll(std::span<const float> logits, std::span<const std::int32_t> labels, std::int64_t classes,
                double temperature) {
  check_inputs(logits, labels, classes);
  check_temperature(temperature);
  return nll_of(logits, labels, classes, temperature);
}

double expected_calibration_error(std::span<const float> logits, std::span<const std::int32_t> labels,
                                  std::int64_t classes, double temperature, int bins) {
  check_inputs(logits, labels, classes);
  check_temperature(temperature);
  check_bins(bins);
  return ece_of(logits, labels, classes, temperature, bins);
}

double fit_temperature(std::span<const float> logits, std::span<const std::int32_t> labels, std::int64_t classes) {
  check_inputs(logits, labels, classes);
  const auto nll_at = [&](double log_t) { return nll_of(logits, labels, classes, std::exp(log_t)); };
  double best_log_t = 0.0;
  double best_nll = nll_at(0.0);
  const auto consider = [&](double log_t, double nll) {
    if (nll < best_nll) {
      best_nll = nll;
      best_log_t = log_t;
    }
  };

  // Grid point i in [-kHalf, kHalf]: log T = 0 in the middle, the ends of the
  // range at +-kHalf. Scanning keeps the middle on ties, so a flat NLL gives 1.
  constexpr int kHalf = 12;
  const double lo = std::log(kMinTemperature);
  const double hi = std::log(kMaxTemperature);
  const auto grid = [&](int i) { return i < 0 ? lo * (-i) / kHalf : hi * i / kHalf; };
  int best_i = 0;
  for (int i = -kHalf; i <= kHalf; ++i) {
    if (i == 0) continue;
    const double nll = nll_at(grid(i));
    if (nll < best_nll) best_i = i;
    consider(grid(i), nll);
  }

  // A unimodal function has its minimum between the grid neighbours of the
  // best grid point; golden-section search narrows that bracket.
  const double inv_phi = (std::sqrt(5.0) - 1.0) / 2.0;
  double a = grid(std::max(best_i - 1, -kHalf));
  double b = grid(std::min(best_i + 1, kHalf));
  double c = b - inv_phi * (b - a);
  double d = a + inv_phi * (b - a);
  double fc = nll_at(c);
  double fd = nll_at(d);
  consider(c, fc);
  consider(d, fd);
  while (b - a > 1e-7) {
    if (fc < fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - inv_phi * (b - a);
      fc = nll_at(c);
      consider(c, fc);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + inv_phi * (b - a);
      fd = nll_at(d);
      consider(d, fd);
    }
  }
  return std::clamp(std::exp(best_log_t), kMinTemperature, kMaxTemperature);
}

Report evaluate(std::span<const float> logits, std::span<const std::int32_t> labels, const modelio::LabelMap& names,
                double temperature, int ece_bins) {
  const std::int64_t k = names.size();
  if (k == 0) throw Error("eval: the model has no labels");
  check_inputs(logits, labels, k);
  check_temperature(temperature);
  check_bins(ece_bins);

  Report r;
  r.examples = static_cast<std::int64_t>(labels.size());
  r.classes = k;
  r.temperature = temperature;
  r.per_class.resize(static_cast<std::size_t>(k));
  for (std::int64_t j = 0; j < k; ++j) r.per_class[static_cast<std::size_t>(j)].label = names.name(j);

  // Off-diagonal cells only: a dense k x k matrix could be huge for many labels.
  std::map<std::pair<std::int32_t, std::int32_t>, std::int64_t> confusions;
  std::int64_t correct = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const std::int32_t truth = labels[i];
    const std::int32_t predicted = argmax(logits.data() + static_cast<std::int64_t>(i) * k, k);
    ++r.per_class[static_cast<std::size_t>(truth)].support;
    ++r.per_class[static_cast<std::size_t>(predicted)].predicted;
    if (truth == predicted) {
      ++correct;
      ++r.per_class[static_cast<std::size_t>(truth)].correct;
    } else {
      ++confusions[{truth, predicted}];
    }
  }
  r.accuracy = static_cast<double>(correct) / static_cast<double>(r.examples);

  double f1_sum = 0.0;
  std::int64_t present = 0;
  for (ClassMetrics& m : r.per_class) {
    const auto c = static_cast<double>(m.correct);
    if (m.predicted > 0) m.precision = c / static_cast<double>(m.predicted);
    if (m.support > 0) m.recall = c / static_cast<double>(m.support);
    if (m.support + m.predicted > 0) {
      m.f1 = 2.0 * c / static_cast<double>(m.support + m.predicted);
      f1_sum += m.f1;
      ++present;
    }
  }
  // At least one class is present: every example has a true label.
  r.macro_f1 = f1_sum / static_cast<double>(present);

  std::vector<std::pair<std::pair<std::int32_t, std::int32_t>, std::int64_t>> cells(confusions.begin(),
                                                                                    confusions.end());
  // The map is ordered by (truth, predicted); a stable sort keeps that order on ties.
  std::stable_sort(cells.begin(), cells.end(), [](const auto& x, const auto& y) { return x.second > y.second; });
  for (std::size_t i = 0; i < std::min(cells.size(), kTopConfusions); ++i) {
    r.top_confusions.push_back({names.name(cells[i].first.first), names.name(cells[i].first.second), cells[i].second});
  }

  r.nll = nll_of(logits, labels, k, 1.0);
  r.ece = ece_of(logits, labels, k, 1.0, ece_bins);
  r.nll_calibrated = nll_of(logits, labels, k, temperature);
  r.ece_calibrated = ece_of(logits, labels, k, temperature, ece_bins);
  return r;
}

nlohmann::json to_json(const Report& report) {
  nlohmann::json per_class = nlohmann::json::array();
  for (const ClassMetrics& m : report.per_class) {
    per_class.push_back({{"label", m.label},
                         {"support", m.support},
                         {"predicted", m.predicted},
                         {"correct", m.correct},
                         {"precision", m.precision},
                         {"recall", m.recall},
                         {"f1", m.f1}});
  }
  nlohmann::json confusions = nlohmann::json::array();
  for (const Confusion& c : report.top_confusions) {
    confusions.push_back({{"truth", c.truth}, {"predicted", c.predicted}, {"count", c.count}});
  }
  return {{"examples", report.examples},
          {"classes", report.classes},
          {"accuracy", report.accuracy},
          {"macro_f1", report.macro_f1},
          {"temperature", report.temperature},
          {"nll", report.nll},
          {"ece", report.ece},
          {"nll_calibrated", report.nll_calibrated},
          {"ece_calibrated", report.ece_calibrated},
          {"examples_per_second", report.examples_per_second},
          {"per_class", per_class},
          {"top_confusions", confusions}};
}

std::string to_text(const Report& report) {
  std::string out;
  appendf(out, "examples     %lld (%lld classes)\n", static_cast<long long>(report.examples),
          static_cast<long long>(report.classes));
  appendf(out, "accuracy     %.2f%%\n", 100.0 * report.accuracy);
  appendf(out, "macro-F1     %.2f%%\n", 100.0 * report.macro_f1);
  if (report.examples_per_second > 0.0) appendf(out, "throughput   %.1f examples/s\n", report.examples_per_second);
  appendf(out, "calibration  temperature 1: NLL %.4f, ECE %.2f%%\n", report.nll, 100.0 * report.ece);
  if (report.temperature != 1.0) {
    appendf(out, "             temperature %.4g: NLL %.4f, ECE %.2f%%\n", report.temperature, report.nll_calibrated,
            100.0 * report.ece_calibrated);
  }

  int width = 5;
  for (const ClassMetrics& m : report.per_class) width = std::max(width, static_cast<int>(m.label.size()));
  appendf(out, "\n%-*s  precision   recall       F1  support\n", width, "label");
  for (const ClassMetrics& m : report.per_class) {
    appendf(out, "%-*s  %8.2f%%  %6.2f%%  %6.2f%%  %7lld\n", width, m.label.c_str(), 100.0 * m.precision,
            100.0 * m.recall, 100.0 * m.f1, static_cast<long long>(m.support));
  }

  if (report.top_confusions.empty()) {
    out += "\ntop confusions: none\n";
    return out;
  }
  out += "\ntop confusions (count  true -> predicted)\n";
  for (const Confusion& c : report.top_confusions) {
    appendf(out, "%7lld  %s -> %s\n", static_cast<long long>(c.count), c.truth.c_str(), c.predicted.c_str());
  }
  return out;
}

}  // namespace edgeroute::eval
