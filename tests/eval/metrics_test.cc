// Metrics on hand-computed examples (the classification figures agree with
// scikit-learn 1.9's f1_score / precision_recall_fscore_support), ECE and NLL
// by hand, temperature fitting on logits whose labels were drawn from a known
// temperature, and input validation.
#include "edgeroute/eval/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "edgeroute/common/error.h"

namespace edgeroute::eval {
namespace {

// One-hot-ish logits: `predicted` gets 2, the others 0.
std::vector<float> logits_predicting(const std::vector<std::int32_t>& predicted, std::int64_t k) {
  std::vector<float> logits(predicted.size() * static_cast<std::size_t>(k), 0.0f);
  for (std::size_t i = 0; i < predicted.size(); ++i) {
    logits[i * static_cast<std::size_t>(k) + static_cast<std::size_t>(predicted[i])] = 2.0f;
  }
  return logits;
}

// Two classes with probability p of class 1: logits [0, log(p / (1 - p))].
std::vector<float> binary_logits(const std::vector<double>& p1) {
  std::vector<float> logits;
  for (const double p : p1) {
    logits.push_back(0.0f);
    logits.push_back(static_cast<float>(std::log(p / (1.0 - p))));
  }
  return logits;
}

template <typename Fn>
void expect_error(Fn&& fn, const std::string& fragment) {
  try {
    fn();
    ADD_FAILURE() << "expected an error containing '" << fragment << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(Evaluate, HandComputedClassificationFigures) {
  // truth a a a b b c, predicted a a b b c c; d never occurs.
  const auto names = modelio::LabelMap::from_labels({"a", "b", "c", "d"});
  const std::vector<std::int32_t> truth = {0, 0, 0, 1, 1, 2};
  const std::vector<float> logits = logits_predicting({0, 0, 1, 1, 2, 2}, 4);
  const Report r = evaluate(logits, truth, names, 1.0);

  EXPECT_EQ(r.examples, 6);
  EXPECT_EQ(r.classes, 4);
  EXPECT_DOUBLE_EQ(r.accuracy, 4.0 / 6.0);
  ASSERT_EQ(r.per_class.size(), 4u);
  const ClassMetrics& a = r.per_class[0];
  EXPECT_EQ(a.label, "a");
  EXPECT_EQ(a.support, 3);
  EXPECT_EQ(a.predicted, 2);
  EXPECT_EQ(a.correct, 2);
  EXPECT_DOUBLE_EQ(a.precision, 1.0);
  EXPECT_DOUBLE_EQ(a.recall, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(a.f1, 0.8);
  EXPECT_DOUBLE_EQ(r.per_class[1].precision, 0.5);
  EXPECT_DOUBLE_EQ(r.per_class[1].recall, 0.5);
  EXPECT_DOUBLE_EQ(r.per_class[1].f1, 0.5);
  EXPECT_DOUBLE_EQ(r.per_class[2].precision, 0.5);
  EXPECT_DOUBLE_EQ(r.per_class[2].recall, 1.0);
  EXPECT_DOUBLE_EQ(r.per_class[2].f1, 2.0 / 3.0);
  EXPECT_EQ(r.per_class[3].support + r.per_class[3].predicted, 0);
  EXPECT_DOUBLE_EQ(r.per_class[3].f1, 0.0);
  // d is absent from truth and predictions: not part of the mean.
  EXPECT_NEAR(r.macro_f1, (0.8 + 0.5 + 2.0 / 3.0) / 3.0, 1e-12);

  ASSERT_EQ(r.top_confusions.size(), 2u);
  EXPECT_EQ(r.top_confusions[0].truth, "a");
  EXPECT_EQ(r.top_confusions[0].predicted, "b");
  EXPECT_EQ(r.top_confusions[0].count, 1);
  EXPECT_EQ(r.top_confusions[1].truth, "b");
  EXPECT_EQ(r.top_confusions[1].predicted, "c");
}

TEST(Evaluate, PredictedButAbsentClassCountsAsZeroF1) {
  const auto names = modelio::LabelMap::from_labels({"a", "b", "c"});
  const Report r = evaluate(logits_predicting({0, 1}, 3), std::vector<std::int32_t>{0, 0}, names, 1.0);
  EXPECT_DOUBLE_EQ(r.per_class[0].f1, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(r.per_class[1].f1, 0.0);
  EXPECT_DOUBLE_EQ(r.macro_f1, 1.0 / 3.0);  // scikit-learn: 0.3333
}

TEST(Evaluate, TopConfusionsAreTheTenLargestMostFirst) {
  std::vector<std::string> labels;
  for (int j = 0; j < 12; ++j) labels.push_back("l" + std::to_string(j));
  const auto names = modelio::LabelMap::from_labels(labels);
  // Truth j predicted as j+1 (mod 12), j+1 times: 12 distinct cells.
  std::vector<std::int32_t> truth, predicted;
  for (std::int32_t j = 0; j < 12; ++j) {
    for (int c = 0; c <= j; ++c) {
      truth.push_back(j);
      predicted.push_back((j + 1) % 12);
    }
  }
  const Report r = evaluate(logits_predicting(predicted, 12), truth, names, 1.0);
  ASSERT_EQ(r.top_confusions.size(), kTopConfusions);
  EXPECT_EQ(r.top_confusions[0].truth, "l11");
  EXPECT_EQ(r.top_confusions[0].predicted, "l0");
  EXPECT_EQ(r.top_confusions[0].count, 12);
  EXPECT_EQ(r.top_confusions[9].count, 3);
  EXPECT_DOUBLE_EQ(r.accuracy, 0.0);
}

TEST(Calibration, HandComputedEceAndNll) {
  // Bins of width 0.2. Confidences 0.9 (right), 0.7 (wrong), 0.9 (wrong),
  // 0.55 (right): |0.5 - 0.9| * 2/4 + |0 - 0.7| * 1/4 + |1 - 0.55| * 1/4.
  const std::vector<float> logits = binary_logits({0.9, 0.3, 0.9, 0.45});
  const std::vector<std::int32_t> truth = {1, 1, 0, 0};
  EXPECT_NEAR(expected_calibration_error(logits, truth, 2, 1.0, 5), 0.2 + 0.175 + 0.1125, 1e-6);
  // A huge temperature puts every confidence at 0.5, the accuracy.
  EXPECT_NEAR(expected_calibration_error(logits, truth, 2, 1e6, 5), 0.0, 1e-6);
  const double nll = -(std::log(0.9) + std::log(0.3) + std::log(0.1) + std::log(0.55)) / 4.0;
  EXPECT_NEAR(mean_nll(logits, truth, 2, 1.0), nll, 1e-6);

  const Report r = evaluate(logits, truth, modelio::LabelMap::from_labels({"no", "yes"}), 2.0, 5);
  EXPECT_NEAR(r.nll, nll, 1e-6);
  EXPECT_NEAR(r.ece, 0.4875, 1e-6);
  EXPECT_DOUBLE_EQ(r.temperature, 2.0);
  EXPECT_NEAR(r.nll_calibrated, mean_nll(logits, truth, 2, 2.0), 1e-12);
  EXPECT_NEAR(r.ece_calibrated, expected_calibration_error(logits, truth, 2, 2.0, 5), 1e-12);
}

// Logits z ~ N(0, 2^2) and labels drawn from softmax(z / t0).
void synthetic(double t0, std::int64_t rows, std::int64_t k, std::vector<float>& logits,
               std::vector<std::int32_t>& labels) {
  std::mt19937 rng(20261128);
  std::normal_distribution<double> normal(0.0, 2.0);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::vector<double> p(static_cast<std::size_t>(k));
  for (std::int64_t i = 0; i < rows; ++i) {
    double sum = 0.0;
    for (std::int64_t j = 0; j < k; ++j) {
      const auto z = static_cast<float>(normal(rng));
      logits.push_back(z);
      p[static_cast<std::size_t>(j)] = std::exp(z / t0);
      sum += p[static_cast<std::size_t>(j)];
    }
    double u = uniform(rng) * sum;
    std::int32_t y = 0;
    while (y + 1 < k && u >= p[static_cast<std::size_t>(y)]) u -= p[static_cast<std::size_t>(y++)];
    labels.push_back(y);
  }
}

TEST(FitTemperature, RecoversTheTemperatureTheLabelsWereDrawnFrom) {
  for (const double t0 : {0.5, 1.0, 2.5}) {
    std::vector<float> logits;
    std::vector<std::int32_t> labels;
    synthetic(t0, 20000, 5, logits, labels);
    const double t = fit_temperature(logits, labels, 5);
    EXPECT_NEAR(t / t0, 1.0, 0.04) << "t0 " << t0 << " fitted " << t;
    const double at_fit = mean_nll(logits, labels, 5, t);
    EXPECT_LE(at_fit, mean_nll(logits, labels, 5, 1.0));
    EXPECT_LE(at_fit, mean_nll(logits, labels, 5, t0));
    EXPECT_LE(at_fit, mean_nll(logits, labels, 5, t0 * 1.1));
    EXPECT_LE(at_fit, mean_nll(logits, labels, 5, t0 * 0.9));
  }
}

TEST(FitTemperature, FlatAndSeparableEdgeCases) {
  // Equal logits: the NLL is log k at every temperature; the fit stays at 1.
  const std::vector<float> flat = {0.3f, 0.3f, 0.3f, -1.0f, -1.0f, -1.0f};
  EXPECT_DOUBLE_EQ(fit_temperature(flat, std::vector<std::int32_t>{0, 2}, 3), 1.0);
  // Always right: sharper is always better, down to the end of the range.
  const std::vector<float> separable = {3.0f, 0.0f, 0.0f, 3.0f};
  EXPECT_DOUBLE_EQ(fit_temperature(separable, std::vector<std::int32_t>{0, 1}, 2), kMinTemperature);
  // Always wrong: flatter is always better, up to the other end.
  EXPECT_DOUBLE_EQ(fit_temperature(separable, std::vector<std::int32_t>{1, 0}, 2), kMaxTemperature);
}

TEST(Validation, BadInputsAreErrors) {
  const std::vector<float> logits = {1.0f, 0.0f, 0.0f, 1.0f};
  const std::vector<std::int32_t> labels = {0, 1};
  const auto names = modelio::LabelMap::from_labels({"x", "y"});
  expect_error([&] { fit_temperature({}, std::vector<std::int32_t>{}, 2); }, "no examples");
  expect_error([&] { mean_nll(logits, std::vector<std::int32_t>{0, 1, 1}, 2, 1.0); }, "4 logits for 3 examples");
  expect_error([&] { mean_nll(logits, labels, 3, 1.0); }, "of 3 classes");
  expect_error([&] { mean_nll(logits, labels, 0, 1.0); }, "at least one class");
  expect_error([&] { fit_temperature(logits, std::vector<std::int32_t>{0, 2}, 2); }, "label id 2 of example 1");
  expect_error([&] { fit_temperature(logits, std::vector<std::int32_t>{-1, 0}, 2); }, "label id -1 of example 0");
  const std::vector<float> nan = {1.0f, std::numeric_limits<float>::quiet_NaN(), 0.0f, 1.0f};
  expect_error([&] { mean_nll(nan, labels, 2, 1.0); }, "logit 1 of example 0 is not finite");
  expect_error([&] { mean_nll(logits, labels, 2, 0.0); }, "temperature");
  expect_error([&] { expected_calibration_error(logits, labels, 2, -1.0); }, "temperature");
  expect_error([&] { expected_calibration_error(logits, labels, 2, 1.0, 0); }, "bins");
  expect_error([&] { evaluate(logits, labels, modelio::LabelMap(), 1.0); }, "no labels");
  expect_error([&] { evaluate(logits, labels, modelio::LabelMap::from_labels({"x", "y", "z"}), 1.0); }, "of 3 classes");
  expect_error([&] { evaluate(logits, labels, names, std::numeric_limits<double>::infinity()); }, "temperature");
}

TEST(Output, JsonAndTextCarryEveryFigure) {
  const auto names = modelio::LabelMap::from_labels({"billing", "refund"});
  Report r = evaluate(logits_predicting({0, 1, 1}, 2), std::vector<std::int32_t>{0, 1, 0}, names, 1.5);
  r.examples_per_second = 123.0;
  const nlohmann::json j = to_json(r);
  EXPECT_EQ(j["examples"], 3);
  EXPECT_EQ(j["classes"], 2);
  EXPECT_DOUBLE_EQ(j["accuracy"].get<double>(), 2.0 / 3.0);
  for (const char* key : {"macro_f1", "temperature", "nll", "ece", "nll_calibrated", "ece_calibrated"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_DOUBLE_EQ(j["examples_per_second"].get<double>(), 123.0);
  ASSERT_EQ(j["per_class"].size(), 2u);
  EXPECT_EQ(j["per_class"][1]["label"], "refund");
  EXPECT_EQ(j["per_class"][1]["predicted"], 2);
  EXPECT_DOUBLE_EQ(j["per_class"][1]["precision"].get<double>(), 0.5);
  ASSERT_EQ(j["top_confusions"].size(), 1u);
  EXPECT_EQ(j["top_confusions"][0], (nlohmann::json{{"truth", "billing"}, {"predicted", "refund"}, {"count", 1}}));

  const std::string text = to_text(r);
  for (const char* line :
       {"examples     3 (2 classes)", "accuracy     66.67%", "throughput   123.0 examples/s", "temperature 1: NLL",
        "temperature 1.5: NLL", "billing", "refund", "precision", "1  billing -> refund"}) {
    EXPECT_NE(text.find(line), std::string::npos) << "'" << line << "' missing from:\n" << text;
  }
}

}  // namespace
}  // namespace edgeroute::eval
