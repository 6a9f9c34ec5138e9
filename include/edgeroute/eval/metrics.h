// Evaluation of a classifier from its logits: accuracy, per-class and macro
// precision/recall/F1, the largest confusions, and calibration (negative
// log-likelihood, expected calibration error, the temperature that minimises
// the NLL). Shared by `edgeroute eval` (edge runtime) and `edgeroute-train`
// (libtorch): it links neither, only common, modelio and nlohmann-json.
//
// Inputs are row-major logits [n, k] (k = number of classes) and the true
// label id of each row in [0, k). Every function validates its input and
// throws edgeroute::Error on an empty input, a size mismatch, a label outside
// [0, k), a non-finite logit or a temperature that is not a positive finite
// number. Arithmetic is in double precision with a stable log-sum-exp.
//
// Conventions
//   * The predicted class is the argmax of the logits, the first one on ties
//     (as the engine picks it). Temperature never changes it.
//   * precision = correct / predicted, recall = correct / support, both 0
//     when their denominator is 0; F1 = 2 correct / (support + predicted), 0
//     when nothing was true or predicted in that class.
//   * Macro-F1 follows scikit-learn's f1_score(average="macro") with its
//     default labels: the mean of F1 over the classes that occur among the
//     true labels or the predictions. A class the model knows but that the
//     data never mentions and the model never predicts is not counted (it is
//     still listed in per_class, with zeros).
//   * ECE uses `bins` equal-width bins of the confidence (the largest softmax
//     probability), bin b covering (b/bins, (b+1)/bins]: the sum over bins B
//     of |B|/n * |accuracy(B) - mean confidence(B)|.
//
// Thread-safety: the functions are reentrant; a Report is a plain value.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "edgeroute/modelio/label_map.h"

namespace edgeroute::eval {

struct ClassMetrics {
  std::string label;
  std::int64_t support = 0;    // rows whose true label is this class
  std::int64_t predicted = 0;  // rows predicted as this class
  std::int64_t correct = 0;    // rows both true and predicted as this class
  double precision = 0, recall = 0, f1 = 0;
};

// One off-diagonal cell of the confusion matrix.
struct Confusion {
  std::string truth, predicted;
  std::int64_t count = 0;
};

// Most off-diagonal cells a Report lists.
inline constexpr std::size_t kTopConfusions = 10;

struct Report {
  std::int64_t examples = 0;
  std::int64_t classes = 0;
  double accuracy = 0, macro_f1 = 0;              // fractions in [0, 1]
  std::vector<ClassMetrics> per_class;            // label-id order, one per class
  std::vector<Confusion> top_confusions;          // largest off-diagonal cells, most first, at most 10
  double temperature = 1.0;                       // the one applied for the "calibrated" figures
  double nll = 0, ece = 0;                        // with temperature 1 (raw softmax)
  double nll_calibrated = 0, ece_calibrated = 0;  // with `temperature`
  double examples_per_second = 0;                 // filled by the caller, 0 = not measured
};

// Everything above for logits [n, names.size()]. Confusions with equal counts
// are ordered by true label id, then predicted label id.
Report evaluate(std::span<const float> logits, std::span<const std::int32_t> labels, const modelio::LabelMap& names,
                double temperature, int ece_bins = 15);

// ECE of softmax(logits / temperature), as defined above.
double expected_calibration_error(std::span<const float> logits, std::span<const std::int32_t> labels,
                                  std::int64_t classes, double temperature, int bins = 15);

// Mean over rows of -log softmax(logits / temperature)[label].
double mean_nll(std::span<const float> logits, std::span<const std::int32_t> labels, std::int64_t classes,
                double temperature);

// Smallest and largest temperature fit_temperature returns.
inline constexpr double kMinTemperature = 0.05;
inline constexpr double kMaxTemperature = 20.0;

// The temperature T in [kMinTemperature, kMaxTemperature] minimising
// mean_nll(logits, labels, classes, T). The NLL is convex in 1/T, hence
// unimodal in log T: a grid over log T (which includes T = 1) brackets the
// minimum, golden-section search narrows it to 1e-7 in log T, and the best
// temperature evaluated is returned, so its NLL is never above that of T = 1.
// When the NLL does not depend on T (every row's logits are equal) the result
// is 1; when it keeps falling towards an end of the range, that end.
double fit_temperature(std::span<const float> logits, std::span<const std::int32_t> labels, std::int64_t classes);

// {"examples", "classes", "accuracy", "macro_f1", "temperature", "nll", "ece",
//  "nll_calibrated", "ece_calibrated", "examples_per_second",
//  "per_class": [{"label", "support", "predicted", "correct", "precision",
//  "recall", "f1"}...], "top_confusions": [{"truth", "predicted", "count"}...]}
nlohmann::json to_json(const Report& report);

// Human-readable: summary lines, calibration, a per-class table
// (precision/recall/F1/support) and the top confusions.
std::string to_text(const Report& report);

}  // namespace edgeroute::eval
