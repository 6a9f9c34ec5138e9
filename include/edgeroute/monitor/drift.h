// Drift measures: the population stability index (PSI) of the edge
// confidence histogram and the predicted-label shares against the reference
// that `edgeroute calibrate` stores in the policy, and the OOD energy
// threshold taken from the reference's energy quantiles.
//
// Reference JSON (policy [calibration].reference):
//   {"confidence_histogram": [20 fractions], "label_shares": {label: fraction},
//    "energy_quantiles": {"p50", "p90", "p99", "p995"}}
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace edgeroute::monitor {

inline constexpr double kPsiEpsilon = 1e-4;
inline constexpr double kPsiModerate = 0.1;
inline constexpr double kPsiSignificant = 0.25;

// PSI = sum over bins of (c - r) * ln(c / r), where r and c are `reference`
// and `current` normalised to sum 1 and then floored at kPsiEpsilon (so an
// empty bin on one side costs a bounded amount). The inputs may be counts or
// fractions. nullopt when either side sums to zero. Throws edgeroute::Error
// when the sizes differ.
std::optional<double> psi(std::span<const double> reference, std::span<const double> current);

// "stable" (< 0.1), "moderate" (0.1 to 0.25), "significant" (> 0.25),
// "unknown" (nullopt).
const char* psi_band(std::optional<double> value);

struct Reference {
  std::vector<double> confidence_histogram;  // 20 fractions
  std::vector<double> label_shares;          // aligned with the monitor's labels; absent labels are 0
  double energy_p50 = 0, energy_p90 = 0, energy_p99 = 0, energy_p995 = 0;
  bool has_energy = false;
};

// Parses the reference; null or an empty object means "no reference"
// (nullopt). Throws edgeroute::Error naming `source` and the key when the
// histogram is not 20 non-negative numbers, a share names a label not in
// `labels` or is not a non-negative number, or a quantile is not a number.
std::optional<Reference> parse_reference(const nlohmann::json& reference, const std::vector<std::string>& labels,
                                         const std::string& source);

// The default OOD threshold: the reference's p99 energy, so about 1% of
// in-distribution traffic counts as OOD. nullopt without energy quantiles.
std::optional<double> default_ood_threshold(const std::optional<Reference>& reference);

}  // namespace edgeroute::monitor
