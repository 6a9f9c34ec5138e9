// Routing policy: the seed's complexity features, the decision order, reason
// codes and policy.toml.
#include <cmath>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "edgeroute/common/error.h"
#include "edgeroute/router/policy.h"

namespace edgeroute::router {
namespace {

TEST(Complexity, SeedFormulaOnAShortMessage) {
  const ComplexityConfig cfg;
  // 10 code points, 2 words, 1 sentence, confidence 0.95, no keywords.
  const Complexity c = complexity("Thanks a1!", 0.95, cfg);
  EXPECT_DOUBLE_EQ(c.length, 10.0 / 200.0);
  EXPECT_DOUBLE_EQ(c.syntax, 2.0 / 15.0);
  EXPECT_NEAR(c.uncertainty, 0.1, 1e-12);
  EXPECT_DOUBLE_EQ(c.emotion, 0.0);
  EXPECT_NEAR(c.score, 0.3 * 0.05 + 0.3 * (2.0 / 15.0) + 0.2 * 0.1, 1e-12);
}

TEST(Complexity, SentencesSplitOnAllTerminators) {
  const ComplexityConfig cfg;
  // 4 words in 2 sentences ("Help me! Now please?") -> 2 words per sentence.
  EXPECT_DOUBLE_EQ(complexity("Help me! Now please?", 0.5, cfg).syntax, 2.0 / 15.0);
  // Code points, not bytes: "é" is one.
  EXPECT_DOUBLE_EQ(complexity("\xC3\xA9", 0.5, cfg).length, 1.0 / 200.0);
}

TEST(Complexity, EmotionKeywordsAreWholeWordsCaseInsensitive) {
  const ComplexityConfig cfg;
  const Complexity c = complexity("I am FURIOUS, get me a Manager. Angry!", 0.5, cfg);
  EXPECT_EQ(c.emotion_hits, 3);
  EXPECT_DOUBLE_EQ(c.emotion, 1.0);
  EXPECT_EQ(complexity("managerial angrybird", 0.5, cfg).emotion_hits, 0);
  const std::vector<std::string> kws = {"legal action"};
  EXPECT_EQ(keyword_hits("I will take LEGAL   action now", kws), 1);
  EXPECT_EQ(keyword_hits("legal, action", kws), 1);  // punctuation separates words only
  EXPECT_EQ(keyword_hits("illegal action", kws), 0);
}

Signals confident(std::string_view text, std::string_view label = "card_declined") {
  Signals s;
  s.text = text;
  s.label = label;
  s.confidence = 0.97;
  s.margin = 0.95;
  s.entropy = 0.05;
  s.energy = -10;
  return s;
}

TEST(Decide, OrderOfRulesAndReasons) {
  Policy p;
  p.max_energy = -5;
  p.always_escalate = {"legal"};
  p.never_escalate = {"thanks"};
  EXPECT_EQ(decide(p, confident("my card was declined")).reason, Reason::kOptimalEdge);
  EXPECT_FALSE(decide(p, confident("my card was declined")).escalate);

  Signals low = confident("my card was declined");
  low.confidence = 0.5;
  EXPECT_EQ(decide(p, low).reason, Reason::kLowConfidence);
  EXPECT_TRUE(decide(p, low).escalate);

  Signals ood = low;
  ood.energy = -1;  // also low confidence: OOD is checked first
  EXPECT_EQ(decide(p, ood).reason, Reason::kOutOfDistribution);

  EXPECT_EQ(decide(p, confident("get me your supervisor")).reason, Reason::kEscalationKeyword);
  EXPECT_EQ(decide(p, confident("fine", "legal")).reason, Reason::kRuleEscalate);
  Signals thanks = ood;
  thanks.label = "thanks";
  EXPECT_EQ(decide(p, thanks).reason, Reason::kRuleEdge);
  EXPECT_FALSE(decide(p, thanks).escalate);

  std::string long_text = "this is terrible and awful and I am frustrated";
  while (long_text.size() < 250) long_text += " and the order never arrived";
  EXPECT_EQ(decide(p, confident(long_text)).reason, Reason::kHighComplexity);

  Signals margin = confident("x");
  p.min_margin = 0.99;
  EXPECT_EQ(decide(p, margin).reason, Reason::kLowConfidence);
}

TEST(Decide, PiiKeptLocalOnlyWhenThePolicySaysSo) {
  Policy p;
  Signals s = confident("card 4111 1111 1111 1111 declined");
  s.confidence = 0.4;
  s.pii_found = true;
  EXPECT_EQ(decide(p, s).reason, Reason::kLowConfidence);
  p.pii = PiiAction::kKeepLocal;
  const Decision d = decide(p, s);
  EXPECT_EQ(d.reason, Reason::kPiiKeptLocal);
  EXPECT_FALSE(d.escalate);
  s.confidence = 0.99;  // would stay on the edge anyway: the reason says why it stayed
  EXPECT_EQ(decide(p, s).reason, Reason::kOptimalEdge);
}

TEST(Decide, Deterministic) {
  Policy p;
  Signals s = confident("I want a refund, this is terrible and unacceptable");
  s.confidence = 0.91;
  const Decision a = decide(p, s);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(decide(p, s).reason, a.reason);
}

TEST(Signals, MarginEntropyEnergy) {
  Signals s;
  const std::vector<float> probs = {0.7f, 0.2f, 0.1f};
  const std::vector<float> logits = {2.0f, 1.0f, 0.0f};
  fill_signals(s, probs, logits, 2.0f);
  EXPECT_FLOAT_EQ(static_cast<float>(s.confidence), 0.7f);
  EXPECT_NEAR(s.margin, 0.5, 1e-6);
  const double h = -(0.7 * std::log(0.7) + 0.2 * std::log(0.2) + 0.1 * std::log(0.1)) / std::log(3.0);
  EXPECT_NEAR(s.entropy, h, 1e-6);
  const double e = -2.0 * std::log(std::exp(1.0) + std::exp(0.5) + std::exp(0.0));
  EXPECT_NEAR(s.energy, e, 1e-6);
}

TEST(Reasons, NamesAreUniqueAndEscalationFlagsMatchTheDocs) {
  std::set<std::string> names;
  for (const Reason r : all_reasons()) names.insert(std::string(to_string(r)));
  EXPECT_EQ(names.size(), kReasonCount);
  EXPECT_TRUE(escalates(Reason::kLowConfidence));
  EXPECT_FALSE(escalates(Reason::kCloudUnavailable));
  EXPECT_FALSE(escalates(Reason::kPiiKeptLocal));
}

TEST(PolicyToml, EmptyIsTheSeedDefaults) {
  const Policy p = Policy::parse("", "empty.toml");
  EXPECT_DOUBLE_EQ(p.min_confidence, 0.90);
  EXPECT_DOUBLE_EQ(p.max_complexity, 0.75);
  EXPECT_DOUBLE_EQ(p.prices.edge_usd, 0.001);
  EXPECT_DOUBLE_EQ(p.prices.cloud_usd, 0.0136);
  EXPECT_TRUE(std::isinf(p.max_energy));
  EXPECT_EQ(p.complexity.emotion_keywords.size(), 10u);
}

TEST(PolicyToml, RoundTripKeepsEveryField) {
  Policy p;
  p.min_confidence = 0.8125;
  p.min_margin = 0.1;
  p.max_entropy = 0.5;
  p.max_complexity = 0.6;
  p.max_energy = -3.25;
  p.complexity.weight_emotion = 0.4;
  p.complexity.emotion_keywords = {"mad"};
  p.escalation_keywords = {"lawyer"};
  p.always_escalate = {"fraud"};
  p.never_escalate = {"thanks"};
  p.pii = PiiAction::kKeepLocal;
  p.account_patterns = {"ACC-[0-9]{8}"};
  p.prices.cloud_usd = 0.02;
  p.cloud_budget_usd_per_hour = 5;
  p.calibration = {{"model_sha256", "abc"}, {"edge_share", 0.95}, {"hist", {0.1, 0.9}}, {"labels", {{"a", 0.5}}}};
  p.monitor = {{"shadow_fraction", 0.05},
               {"alerts", {{{"name", "psi"}, {"metric", "psi_confidence"}, {"threshold", 0.2}}}}};
  const Policy q = Policy::parse(p.to_toml(), "rt.toml");
  EXPECT_DOUBLE_EQ(q.min_confidence, p.min_confidence);
  EXPECT_DOUBLE_EQ(q.min_margin, p.min_margin);
  EXPECT_DOUBLE_EQ(q.max_entropy, p.max_entropy);
  EXPECT_DOUBLE_EQ(q.max_complexity, p.max_complexity);
  EXPECT_DOUBLE_EQ(q.max_energy, p.max_energy);
  EXPECT_DOUBLE_EQ(q.complexity.weight_emotion, 0.4);
  EXPECT_EQ(q.complexity.emotion_keywords, p.complexity.emotion_keywords);
  EXPECT_EQ(q.escalation_keywords, p.escalation_keywords);
  EXPECT_EQ(q.always_escalate, p.always_escalate);
  EXPECT_EQ(q.never_escalate, p.never_escalate);
  EXPECT_EQ(q.pii, PiiAction::kKeepLocal);
  EXPECT_EQ(q.account_patterns, p.account_patterns);
  EXPECT_DOUBLE_EQ(q.prices.cloud_usd, 0.02);
  EXPECT_DOUBLE_EQ(q.cloud_budget_usd_per_hour, 5);
  EXPECT_EQ(q.calibration, p.calibration);
  EXPECT_EQ(q.monitor, p.monitor);
  // max_energy "off" round-trips as infinity.
  EXPECT_TRUE(std::isinf(Policy::parse(Policy{}.to_toml(), "d.toml").max_energy));
}

void expect_error(const std::string& toml, const std::string& fragment) {
  try {
    (void)Policy::parse(toml, "bad.toml");
    ADD_FAILURE() << "accepted: " << toml;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bad.toml"), std::string::npos) << e.what();
  }
}

TEST(PolicyToml, ClearErrors) {
  expect_error("[thresholds]\nmin_confidence = 1.5\n", "thresholds.min_confidence must be in [0, 1]");
  expect_error("[thresholds]\nmin_confidence = \"high\"\n", "must be a number");
  expect_error("[thresholds]\nmin_confidance = 0.5\n", "thresholds.min_confidance is not a known key");
  expect_error("[rules]\npii = \"ship\"\n", "rules.pii");
  expect_error("[rules]\nalways_escalate = [1]\n", "array of strings");
  expect_error("[rules]\nalways_escalate = [\"a\"]\nnever_escalate = [\"a\"]\n", "both");
  expect_error("[complexity]\nweight_length = 0\nweight_syntax = 0\nweight_uncertainty = 0\nweight_emotion = 0\n",
               "weights");
  expect_error("[thresholds\n", "bad.toml:1");
  expect_error("thresholds = 3\n", "must be a table");
  EXPECT_THROW((void)Policy::load("/nonexistent/policy.toml"), Error);
}

}  // namespace
}  // namespace edgeroute::router
