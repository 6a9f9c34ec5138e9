#include "edgeroute/monitor/drift.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "edgeroute/common/error.h"

namespace edgeroute::monitor {

std::optional<double> psi(std::span<const double> reference, std::span<const double> current) {
  if (reference.size() != current.size())
    throw Error("psi: reference has " + std::to_string(reference.size()) + " bins, current has " +
                std::to_string(current.size()));
  const double rs = std::accumulate(reference.begin(), reference.end(), 0.0);
  const double cs = std::accumulate(current.begin(), current.end(), 0.0);
  if (!(rs > 0) || !(cs > 0)) return std::nullopt;
  double total = 0;
  for (std::size_t i = 0; i < reference.size(); ++i) {
    const double r = std::max(reference[i] / rs, kPsiEpsilon);
    const double c = std::max(current[i] / cs, kPsiEpsilon);
    total += (c - r) * std::log(c / r);
  }
  return total;
}

const char* psi_band(std::optional<double> value) {
  if (!value) return "unknown";
  if (*value < kPsiModerate) return "stable";
  if (*value <= kPsiSignificant) return "moderate";
  return "significant";
}

namespace {

double non_negative(const nlohmann::json& v, const std::string& where) {
  if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0)
    throw Error(where + ": expected a non-negative number, got " + v.dump());
  return v.get<double>();
}

}  // namespace

std::optional<Reference> parse_reference(const nlohmann::json& j, const std::vector<std::string>& labels,
                                         const std::string& source) {
  if (j.is_null() || (j.is_object() && j.empty())) return std::nullopt;
  const std::string where = source + ": calibration reference";
  if (!j.is_object()) throw Error(where + ": expected an object, got " + j.dump());
  for (const auto& [key, value] : j.items()) {
    if (key != "confidence_histogram" && key != "label_shares" && key != "energy_quantiles")
      throw Error(where + ": unknown key '" + key + "'");
  }
  Reference ref;
  const auto hist = j.find("confidence_histogram");
  if (hist == j.end() || !hist->is_array() || hist->size() != 20)
    throw Error(where + ".confidence_histogram: expected an array of 20 fractions");
  for (std::size_t i = 0; i < hist->size(); ++i)
    ref.confidence_histogram.push_back(
        non_negative((*hist)[i], where + ".confidence_histogram[" + std::to_string(i) + "]"));
  ref.label_shares.assign(labels.size(), 0.0);
  if (const auto shares = j.find("label_shares"); shares != j.end()) {
    if (!shares->is_object()) throw Error(where + ".label_shares: expected an object of label: fraction");
    for (const auto& [label, share] : shares->items()) {
      const auto it = std::find(labels.begin(), labels.end(), label);
      if (it == labels.end())
        throw Error(where + ".label_shares: label '" + label + "' is not one of the model's " +
                    std::to_string(labels.size()) + " labels");
      ref.label_shares[static_cast<std::size_t>(it - labels.begin())] =
          non_negative(share, where + ".label_shares." + label);
    }
  }
  if (const auto q = j.find("energy_quantiles"); q != j.end()) {
    if (!q->is_object()) throw Error(where + ".energy_quantiles: expected an object");
    const auto get = [&](const char* key) {
      const auto it = q->find(key);
      if (it == q->end() || !it->is_number())
        throw Error(where + ".energy_quantiles." + key + ": expected a number");
      return it->get<double>();
    };
    ref.energy_p50 = get("p50");
    ref.energy_p90 = get("p90");
    ref.energy_p99 = get("p99");
    ref.energy_p995 = get("p995");
    ref.has_energy = true;
  }
  return ref;
}

std::optional<double> default_ood_threshold(const std::optional<Reference>& reference) {
  if (!reference || !reference->has_energy) return std::nullopt;
  return reference->energy_p99;
}

}  // namespace edgeroute::monitor
