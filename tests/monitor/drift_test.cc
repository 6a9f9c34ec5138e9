#include "edgeroute/monitor/drift.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "edgeroute/common/error.h"

namespace edgeroute::monitor {
namespace {

TEST(Psi, IdenticalDistributionsGiveZero) {
  const std::vector<double> p = {0.1, 0.2, 0.3, 0.4};
  EXPECT_NEAR(*psi(p, p), 0.0, 1e-12);
  // Counts and fractions of the same shape are the same distribution.
  const std::vector<double> counts = {10, 20, 30, 40};
  EXPECT_NEAR(*psi(p, counts), 0.0, 1e-12);
}

TEST(Psi, MatchesAHandComputedValue) {
  // (0.25 - 0.5) ln(0.25 / 0.5) + (0.75 - 0.5) ln(0.75 / 0.5)
  const std::vector<double> r = {0.5, 0.5}, c = {0.25, 0.75};
  EXPECT_NEAR(*psi(r, c), 0.274653072, 1e-8);
  // An empty reference bin is floored at 1e-4:
  // (0.5 - 1) ln(0.5) + (0.5 - 1e-4) ln(0.5 / 1e-4)
  const std::vector<double> r2 = {1, 0}, c2 = {0.5, 0.5};
  EXPECT_NEAR(*psi(r2, c2), 4.6043185, 1e-6);
}

TEST(Psi, EmptySideIsUnknownAndSizeMismatchThrows) {
  const std::vector<double> zero = {0, 0}, some = {1, 1}, three = {1, 1, 1};
  EXPECT_FALSE(psi(zero, some));
  EXPECT_FALSE(psi(some, zero));
  EXPECT_THROW(psi(some, three), Error);
}

TEST(Psi, Bands) {
  EXPECT_STREQ(psi_band(std::nullopt), "unknown");
  EXPECT_STREQ(psi_band(0.0), "stable");
  EXPECT_STREQ(psi_band(0.0999), "stable");
  EXPECT_STREQ(psi_band(0.1), "moderate");
  EXPECT_STREQ(psi_band(0.25), "moderate");
  EXPECT_STREQ(psi_band(0.2501), "significant");
}

nlohmann::json valid_reference() {
  std::vector<double> hist(20, 0.0);
  hist[19] = 0.5;
  hist[18] = 0.5;
  return {{"confidence_histogram", hist},
          {"label_shares", {{"a", 0.75}, {"b", 0.25}}},
          {"energy_quantiles", {{"p50", -8.0}, {"p90", -6.0}, {"p99", -4.5}, {"p995", -4.0}}}};
}

TEST(Reference, ParsesTheCalibrationJson) {
  const auto ref = parse_reference(valid_reference(), {"a", "b", "c"}, "policy.toml");
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->confidence_histogram.size(), 20u);
  EXPECT_EQ(ref->label_shares, (std::vector<double>{0.75, 0.25, 0.0}));
  EXPECT_TRUE(ref->has_energy);
  EXPECT_DOUBLE_EQ(*default_ood_threshold(ref), -4.5);
}

TEST(Reference, NullOrEmptyMeansNoReference) {
  EXPECT_FALSE(parse_reference(nullptr, {"a"}, "p"));
  EXPECT_FALSE(parse_reference(nlohmann::json::object(), {"a"}, "p"));
  EXPECT_FALSE(default_ood_threshold(std::nullopt));
  nlohmann::json no_energy = valid_reference();
  no_energy.erase("energy_quantiles");
  EXPECT_FALSE(default_ood_threshold(parse_reference(no_energy, {"a", "b"}, "p")));
}

void expect_error(const nlohmann::json& j, const std::string& needle) {
  try {
    parse_reference(j, {"a", "b"}, "policy.toml");
    FAIL() << "no error for " << j.dump();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("policy.toml"), std::string::npos) << e.what();
  }
}

TEST(Reference, BadInputNamesTheKey) {
  nlohmann::json j = valid_reference();
  j["confidence_histogram"].erase(0);
  expect_error(j, "confidence_histogram");
  j = valid_reference();
  j["confidence_histogram"][3] = -0.1;
  expect_error(j, "confidence_histogram[3]");
  j = valid_reference();
  j["label_shares"]["zzz"] = 0.1;
  expect_error(j, "zzz");
  j = valid_reference();
  j["energy_quantiles"]["p99"] = "high";
  expect_error(j, "energy_quantiles.p99");
  j = valid_reference();
  j["extra"] = 1;
  expect_error(j, "extra");
  expect_error(nlohmann::json::array({1, 2}), "expected an object");
}

}  // namespace
}  // namespace edgeroute::monitor
