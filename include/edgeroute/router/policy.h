// The routing policy: which queries the edge keeps and which it escalates,
// decided only from what the edge already computed (never by asking the
// cloud), with one reason code per decision.
//
// Inputs of a decision (Signals): the edge model's calibrated probabilities
// (confidence, margin between the two largest, normalised entropy), its raw
// logits (energy score for out-of-distribution queries), the seed's
// complexity features of the text, escalation keywords, whether personal data
// was found, and explicit label rules. The order in which they are checked
// (first match wins) is documented in docs/routing.md and in decide().
//
// A Policy is loaded from and saved to TOML (policy.toml); every field has
// the seed's default, so an empty file is a valid policy.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace edgeroute::router {

// Why a query was answered where it was. The set is closed and documented in
// docs/routing.md; metrics and the audit log use to_string().
enum class Reason {
  kOptimalEdge,           // confident, simple, in distribution: the edge answers
  kLowConfidence,         // calibrated confidence (or margin/entropy) below threshold
  kHighComplexity,        // complexity score above threshold
  kOutOfDistribution,     // energy score above threshold
  kEscalationKeyword,     // an escalation keyword ("manager", ...) appears
  kRuleEscalate,          // the predicted label is in always_escalate
  kRuleEdge,              // the predicted label is in never_escalate
  kPiiKeptLocal,          // would escalate, but personal data stays on the edge
  kCloudUnavailable,      // escalation failed (breaker, deadline, error): edge answer, degraded
  kCloudBudgetExhausted,  // escalation refused by the cloud spend budget: edge answer
  kEdgeOnly,              // would escalate, but no cloud is configured
};
inline constexpr std::size_t kReasonCount = 11;
std::string_view to_string(Reason reason);
// Every reason, in enum order (for metrics that must list zeros too).
const std::array<Reason, kReasonCount>& all_reasons();
// True when the decision asks for the cloud (before the cloud is called).
bool escalates(Reason reason);

// The seed's complexity score: w_len·length + w_syn·syntax + w_unc·uncertainty
// + w_emo·emotion, each feature in [0, 1].
struct ComplexityConfig {
  double weight_length = 0.3, weight_syntax = 0.3, weight_uncertainty = 0.2, weight_emotion = 0.2;
  double length_chars = 200;       // length = min(code points / length_chars, 1)
  double words_per_sentence = 15;  // syntax = min((words / sentences) / this, 1)
  double emotion_hits = 3;         // emotion = min(keyword hits / this, 1)
  std::vector<std::string> emotion_keywords = {"frustrated", "angry",    "unacceptable", "manager",   "supervisor",
                                               "complaint",  "terrible", "awful",        "disgusted", "furious"};
};

struct Complexity {
  double length = 0, syntax = 0, uncertainty = 0, emotion = 0;
  double score = 0;
  std::int64_t emotion_hits = 0;
};

// Keyword matching is on lower-cased ASCII words (whole words; multi-word
// keywords match consecutive words). Sentences are split on '.', '!' and '?'
// (the seed split on '.' only, so "Help! Now!" was one sentence).
Complexity complexity(std::string_view text, double confidence, const ComplexityConfig& config);

// Number of whole-word occurrences of any keyword in text.
std::int64_t keyword_hits(std::string_view text, std::span<const std::string> keywords);

enum class PiiAction { kRedact, kKeepLocal };

struct Prices {
  double edge_usd = 0.001;    // per query answered or screened on the edge
  double cloud_usd = 0.0136;  // per cloud call when the backend reports no cost
};

struct Policy {
  // Thresholds (a query is kept on the edge only if all hold).
  double min_confidence = 0.90;
  double min_margin = 0.0;   // 0: off
  double max_entropy = 1.0;  // normalised to [0, 1]; 1: off
  double max_complexity = 0.75;
  double max_energy = std::numeric_limits<double>::infinity();  // OOD threshold; inf: off
  ComplexityConfig complexity;
  std::vector<std::string> escalation_keywords = {"manager", "supervisor", "lawyer", "legal action"};
  std::vector<std::string> always_escalate;  // label names
  std::vector<std::string> never_escalate;   // label names
  PiiAction pii = PiiAction::kRedact;
  std::vector<std::string> account_patterns;  // extra PII patterns (ECMAScript regex)
  Prices prices;
  double cloud_budget_usd_per_hour = 0;  // 0: unlimited
  // The [calibration] table `edgeroute calibrate` writes: provenance, the
  // chosen operating point and the reference distributions for drift
  // monitoring. Any TOML there is kept (as JSON); empty when hand-written.
  nlohmann::json calibration = nlohmann::json::object();
  // The [monitor] table (alert rules, shadow sampling, webhook), kept as JSON
  // here and validated by the monitor when the service starts
  // (docs/monitoring.md); empty: the monitor's defaults.
  nlohmann::json monitor = nlohmann::json::object();

  static Policy defaults() { return {}; }
  // Throws edgeroute::Error naming the file, key and value on anything invalid
  // (unknown key, wrong type, weights that do not sum to a positive number,
  // thresholds outside their range).
  static Policy load(const std::string& path);
  static Policy parse(std::string_view toml, const std::string& source);
  std::string to_toml() const;
};

// Everything a decision reads, computed from one edge prediction.
struct Signals {
  std::string_view text;
  std::string_view label;  // the edge model's predicted label
  double confidence = 0;   // calibrated max probability
  double margin = 0;       // p1 - p2
  double entropy = 0;      // normalised, in [0, 1]
  double energy = 0;       // -T * logsumexp(logits / T); higher = less familiar
  bool pii_found = false;
};

// Computes margin/entropy/energy from calibrated probabilities and raw logits.
void fill_signals(Signals& s, std::span<const float> probabilities, std::span<const float> logits, float temperature);

struct Decision {
  bool escalate = false;  // ask the cloud
  Reason reason = Reason::kOptimalEdge;
  Complexity complexity;
  std::int64_t escalation_hits = 0;
};

// The routing rule, in this order (first match wins):
//   1. label in never_escalate                     -> edge   (rule_edge)
//   2. label in always_escalate                    -> cloud  (rule_escalate)
//   3. energy > max_energy                         -> cloud  (out_of_distribution)
//   4. an escalation keyword                       -> cloud  (escalation_keyword)
//   5. complexity > max_complexity                 -> cloud  (high_complexity)
//   6. confidence < min_confidence, margin < min_margin
//      or entropy > max_entropy                    -> cloud  (low_confidence)
//   7. otherwise                                   -> edge   (optimal_edge)
// and then, for a cloud decision, if pii_found and the policy keeps PII local
// -> edge (pii_kept_local). No randomness: the same signals give the same
// decision.
Decision decide(const Policy& policy, const Signals& signals);

}  // namespace edgeroute::router
