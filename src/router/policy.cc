// Routing policy: reason codes, the seed's complexity features, the decision
// rule and the policy.toml reader/writer.
#include "edgeroute/router/policy.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <sstream>

#include <toml++/toml.h>

#include "edgeroute/common/error.h"

namespace edgeroute::router {

namespace {

constexpr std::array<Reason, kReasonCount> kReasons = {
    Reason::kOptimalEdge,       Reason::kLowConfidence,        Reason::kHighComplexity, Reason::kOutOfDistribution,
    Reason::kEscalationKeyword, Reason::kRuleEscalate,         Reason::kRuleEdge,       Reason::kPiiKeptLocal,
    Reason::kCloudUnavailable,  Reason::kCloudBudgetExhausted, Reason::kEdgeOnly};

bool is_word_byte(unsigned char c) { return std::isalnum(c) != 0 || c == '\'' || c >= 0x80; }

// Lower-cased words: maximal runs of ASCII letters/digits/apostrophes and
// non-ASCII bytes (so UTF-8 letters stay inside their word).
std::vector<std::string> words_of(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_word_byte(c)) {
      cur.push_back(static_cast<char>(c < 0x80 ? std::tolower(c) : c));
    } else if (!cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

std::int64_t code_points(std::string_view text) {
  std::int64_t n = 0;
  for (const char ch : text) n += (static_cast<unsigned char>(ch) & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

std::int64_t sentences_of(std::string_view text) {
  std::int64_t n = 0;
  bool content = false;
  for (const char ch : text) {
    if (ch == '.' || ch == '!' || ch == '?') {
      if (content) ++n;
      content = false;
    } else if (std::isspace(static_cast<unsigned char>(ch)) == 0) {
      content = true;
    }
  }
  if (content) ++n;
  return std::max<std::int64_t>(n, 1);
}

// ---- TOML <-> JSON for the free-form [calibration] and [monitor] tables -----------------

nlohmann::json to_json(const toml::node& node) {
  if (const auto* t = node.as_table()) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [k, v] : *t) j[std::string(k.str())] = to_json(v);
    return j;
  }
  if (const auto* a = node.as_array()) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& v : *a) j.push_back(to_json(v));
    return j;
  }
  if (const auto* s = node.as_string()) return s->get();
  if (const auto* i = node.as_integer()) return i->get();
  if (const auto* f = node.as_floating_point()) return f->get();
  if (const auto* b = node.as_boolean()) return b->get();
  // Dates and times: kept as the name of their type (the policy never uses them).
  std::ostringstream os;
  os << node.type();
  return os.str();
}

void put_json(toml::table& t, const std::string& key, const nlohmann::json& j);

toml::array to_toml_array(const nlohmann::json& j) {
  toml::array a;
  for (const auto& v : j) {
    if (v.is_object()) {
      toml::table sub;
      for (const auto& [k, x] : v.items()) put_json(sub, k, x);
      a.push_back(std::move(sub));
    } else if (v.is_array()) {
      a.push_back(to_toml_array(v));
    } else if (v.is_string()) {
      a.push_back(v.get<std::string>());
    } else if (v.is_boolean()) {
      a.push_back(v.get<bool>());
    } else if (v.is_number_integer()) {
      a.push_back(v.get<std::int64_t>());
    } else if (v.is_number()) {
      a.push_back(v.get<double>());
    }
  }
  return a;
}

void put_json(toml::table& t, const std::string& key, const nlohmann::json& j) {
  if (j.is_object()) {
    toml::table sub;
    for (const auto& [k, v] : j.items()) put_json(sub, k, v);
    t.insert_or_assign(key, std::move(sub));
  } else if (j.is_array()) {
    t.insert_or_assign(key, to_toml_array(j));
  } else if (j.is_string()) {
    t.insert_or_assign(key, j.get<std::string>());
  } else if (j.is_boolean()) {
    t.insert_or_assign(key, j.get<bool>());
  } else if (j.is_number_integer()) {
    t.insert_or_assign(key, j.get<std::int64_t>());
  } else if (j.is_number()) {
    t.insert_or_assign(key, j.get<double>());
  }
}

// ---- typed reading with clear errors ----------------------------------------

class Reader {
 public:
  Reader(const toml::table& root, std::string source) : root_(root), source_(std::move(source)) {}

  const toml::table* table(const std::string& name) {
    const toml::node* n = root_.get(name);
    if (n == nullptr) return nullptr;
    if (!n->is_table()) fail(name, "must be a table");
    return n->as_table();
  }

  void number(const toml::table* t, const std::string& sec, const std::string& key, double& out, double lo, double hi) {
    if (t == nullptr) return;
    const toml::node* n = t->get(key);
    if (n == nullptr) return;
    double v = 0;
    if (const auto* f = n->as_floating_point()) {
      v = f->get();
    } else if (const auto* i = n->as_integer()) {
      v = static_cast<double>(i->get());
    } else if (const auto* s = n->as_string(); s != nullptr && (s->get() == "inf" || s->get() == "off")) {
      v = std::numeric_limits<double>::infinity();
    } else {
      fail(sec + "." + key, "must be a number");
    }
    if (std::isnan(v) || v < lo || v > hi) {
      std::ostringstream os;
      os << "must be in [" << lo << ", " << hi << "], got " << v;
      fail(sec + "." + key, os.str());
    }
    out = v;
  }

  void strings(const toml::table* t, const std::string& sec, const std::string& key, std::vector<std::string>& out) {
    if (t == nullptr) return;
    const toml::node* n = t->get(key);
    if (n == nullptr) return;
    const auto* a = n->as_array();
    if (a == nullptr) fail(sec + "." + key, "must be an array of strings");
    out.clear();
    for (const auto& v : *a) {
      const auto* s = v.as_string();
      if (s == nullptr) fail(sec + "." + key, "must be an array of strings");
      out.push_back(s->get());
    }
  }

  void known(const toml::table* t, const std::string& sec, std::initializer_list<std::string_view> keys) {
    if (t == nullptr) return;
    for (const auto& [k, v] : *t) {
      if (std::find(keys.begin(), keys.end(), k.str()) == keys.end()) {
        fail(sec.empty() ? std::string(k.str()) : sec + "." + std::string(k.str()), "is not a known key");
      }
    }
  }

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw Error(source_ + ": " + key + " " + what);
  }

 private:
  const toml::table& root_;
  std::string source_;
};

}  // namespace

std::string_view to_string(Reason reason) {
  switch (reason) {
    case Reason::kOptimalEdge:
      return "optimal_edge";
    case Reason::kLowConfidence:
      return "low_confidence";
    case Reason::kHighComplexity:
      return "high_complexity";
    case Reason::kOutOfDistribution:
      return "out_of_distribution";
    case Reason::kEscalationKeyword:
      return "escalation_keyword";
    case Reason::kRuleEscalate:
      return "rule_escalate";
    case Reason::kRuleEdge:
      return "rule_edge";
    case Reason::kPiiKeptLocal:
      return "pii_kept_local";
    case Reason::kCloudUnavailable:
      return "cloud_unavailable";
    case Reason::kCloudBudgetExhausted:
      return "cloud_budget_exhausted";
    case Reason::kEdgeOnly:
      return "edge_only";
  }
  return "unknown";
}

const std::array<Reason, kReasonCount>& all_reasons() { return kReasons; }

bool escalates(Reason reason) {
  switch (reason) {
    case Reason::kLowConfidence:
    case Reason::kHighComplexity:
    case Reason::kOutOfDistribution:
    case Reason::kEscalationKeyword:
    case Reason::kRuleEscalate:
      return true;
    default:
      return false;
  }
}

std::int64_t keyword_hits(std::string_view text, std::span<const std::string> keywords) {
  if (keywords.empty()) return 0;
  const std::vector<std::string> words = words_of(text);
  std::int64_t hits = 0;
  for (const std::string& kw : keywords) {
    const std::vector<std::string> k = words_of(kw);
    if (k.empty() || k.size() > words.size()) continue;
    for (std::size_t i = 0; i + k.size() <= words.size(); ++i) {
      if (std::equal(k.begin(), k.end(), words.begin() + static_cast<std::ptrdiff_t>(i))) ++hits;
    }
  }
  return hits;
}

Complexity complexity(std::string_view text, double confidence, const ComplexityConfig& config) {
  Complexity c;
  c.length = std::min(static_cast<double>(code_points(text)) / config.length_chars, 1.0);
  const auto words = static_cast<double>(words_of(text).size());
  c.syntax = std::min((words / static_cast<double>(sentences_of(text))) / config.words_per_sentence, 1.0);
  c.uncertainty = 1.0 - std::abs(2.0 * std::clamp(confidence, 0.0, 1.0) - 1.0);
  c.emotion_hits = keyword_hits(text, config.emotion_keywords);
  c.emotion = std::min(static_cast<double>(c.emotion_hits) / config.emotion_hits, 1.0);
  c.score = config.weight_length * c.length + config.weight_syntax * c.syntax +
            config.weight_uncertainty * c.uncertainty + config.weight_emotion * c.emotion;
  return c;
}

void fill_signals(Signals& s, std::span<const float> probabilities, std::span<const float> logits, float temperature) {
  float p1 = 0, p2 = 0;
  double h = 0;
  for (const float p : probabilities) {
    if (p > p1) {
      p2 = p1;
      p1 = p;
    } else if (p > p2) {
      p2 = p;
    }
    if (p > 0) h -= static_cast<double>(p) * std::log(static_cast<double>(p));
  }
  s.confidence = p1;
  s.margin = static_cast<double>(p1) - static_cast<double>(p2);
  s.entropy = probabilities.size() > 1 ? h / std::log(static_cast<double>(probabilities.size())) : 0.0;
  double mx = -std::numeric_limits<double>::infinity();
  const double t = temperature > 0 ? temperature : 1.0;
  for (const float l : logits) mx = std::max(mx, static_cast<double>(l) / t);
  double sum = 0;
  for (const float l : logits) sum += std::exp(static_cast<double>(l) / t - mx);
  s.energy = logits.empty() ? 0.0 : -t * (mx + std::log(sum));
}

Decision decide(const Policy& policy, const Signals& s) {
  Decision d;
  d.complexity = complexity(s.text, s.confidence, policy.complexity);
  d.escalation_hits = keyword_hits(s.text, policy.escalation_keywords);
  const auto has = [&](const std::vector<std::string>& v) { return std::find(v.begin(), v.end(), s.label) != v.end(); };
  if (has(policy.never_escalate)) {
    d.reason = Reason::kRuleEdge;
  } else if (has(policy.always_escalate)) {
    d.reason = Reason::kRuleEscalate;
  } else if (s.energy > policy.max_energy) {
    d.reason = Reason::kOutOfDistribution;
  } else if (d.escalation_hits > 0) {
    d.reason = Reason::kEscalationKeyword;
  } else if (d.complexity.score > policy.max_complexity) {
    d.reason = Reason::kHighComplexity;
  } else if (s.confidence < policy.min_confidence || s.margin < policy.min_margin || s.entropy > policy.max_entropy) {
    d.reason = Reason::kLowConfidence;
  } else {
    d.reason = Reason::kOptimalEdge;
  }
  d.escalate = escalates(d.reason);
  if (d.escalate && s.pii_found && policy.pii == PiiAction::kKeepLocal) {
    d.escalate = false;
    d.reason = Reason::kPiiKeptLocal;
  }
  return d;
}

Policy Policy::parse(std::string_view text, const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << source << ":" << e.source().begin.line << ":" << e.source().begin.column << ": " << e.description();
    throw Error(os.str());
  }
  Reader r(root, source);
  r.known(&root, "", {"thresholds", "complexity", "rules", "prices", "calibration", "monitor"});
  Policy p;
  const auto* th = r.table("thresholds");
  r.known(th, "thresholds", {"min_confidence", "min_margin", "max_entropy", "max_complexity", "max_energy"});
  r.number(th, "thresholds", "min_confidence", p.min_confidence, 0, 1);
  r.number(th, "thresholds", "min_margin", p.min_margin, 0, 1);
  r.number(th, "thresholds", "max_entropy", p.max_entropy, 0, 1);
  r.number(th, "thresholds", "max_complexity", p.max_complexity, 0, std::numeric_limits<double>::infinity());
  r.number(th, "thresholds", "max_energy", p.max_energy, -std::numeric_limits<double>::infinity(),
           std::numeric_limits<double>::infinity());

  const auto* cx = r.table("complexity");
  r.known(cx, "complexity",
          {"weight_length", "weight_syntax", "weight_uncertainty", "weight_emotion", "length_chars",
           "words_per_sentence", "emotion_hits", "emotion_keywords"});
  ComplexityConfig& c = p.complexity;
  const double inf = std::numeric_limits<double>::infinity();
  r.number(cx, "complexity", "weight_length", c.weight_length, 0, inf);
  r.number(cx, "complexity", "weight_syntax", c.weight_syntax, 0, inf);
  r.number(cx, "complexity", "weight_uncertainty", c.weight_uncertainty, 0, inf);
  r.number(cx, "complexity", "weight_emotion", c.weight_emotion, 0, inf);
  r.number(cx, "complexity", "length_chars", c.length_chars, 1e-9, inf);
  r.number(cx, "complexity", "words_per_sentence", c.words_per_sentence, 1e-9, inf);
  r.number(cx, "complexity", "emotion_hits", c.emotion_hits, 1e-9, inf);
  r.strings(cx, "complexity", "emotion_keywords", c.emotion_keywords);
  if (c.weight_length + c.weight_syntax + c.weight_uncertainty + c.weight_emotion <= 0) {
    r.fail("complexity", "weights must not all be zero");
  }

  const auto* ru = r.table("rules");
  r.known(ru, "rules", {"escalation_keywords", "always_escalate", "never_escalate", "pii", "account_patterns"});
  r.strings(ru, "rules", "escalation_keywords", p.escalation_keywords);
  r.strings(ru, "rules", "always_escalate", p.always_escalate);
  r.strings(ru, "rules", "never_escalate", p.never_escalate);
  r.strings(ru, "rules", "account_patterns", p.account_patterns);
  if (ru != nullptr) {
    if (const toml::node* n = ru->get("pii")) {
      const auto* s = n->as_string();
      if (s == nullptr || (s->get() != "redact" && s->get() != "keep_local")) {
        r.fail("rules.pii", "must be \"redact\" or \"keep_local\"");
      }
      p.pii = s->get() == "redact" ? PiiAction::kRedact : PiiAction::kKeepLocal;
    }
  }
  for (const std::string& l : p.always_escalate) {
    if (std::find(p.never_escalate.begin(), p.never_escalate.end(), l) != p.never_escalate.end()) {
      r.fail("rules", "label '" + l + "' is in both always_escalate and never_escalate");
    }
  }

  const auto* pr = r.table("prices");
  r.known(pr, "prices", {"edge_usd", "cloud_usd", "cloud_budget_usd_per_hour"});
  r.number(pr, "prices", "edge_usd", p.prices.edge_usd, 0, inf);
  r.number(pr, "prices", "cloud_usd", p.prices.cloud_usd, 0, inf);
  r.number(pr, "prices", "cloud_budget_usd_per_hour", p.cloud_budget_usd_per_hour, 0, inf);

  if (const auto* cal = r.table("calibration")) p.calibration = to_json(*cal);
  if (const auto* mon = r.table("monitor")) p.monitor = to_json(*mon);
  return p;
}

Policy Policy::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open the policy file");
  std::ostringstream os;
  os << in.rdbuf();
  return parse(os.str(), path);
}

std::string Policy::to_toml() const {
  toml::table root;
  toml::table th;
  th.insert("min_confidence", min_confidence);
  th.insert("min_margin", min_margin);
  th.insert("max_entropy", max_entropy);
  th.insert("max_complexity", max_complexity);
  if (std::isinf(max_energy)) {
    th.insert("max_energy", "off");
  } else {
    th.insert("max_energy", max_energy);
  }
  root.insert("thresholds", std::move(th));
  toml::table cx;
  cx.insert("weight_length", complexity.weight_length);
  cx.insert("weight_syntax", complexity.weight_syntax);
  cx.insert("weight_uncertainty", complexity.weight_uncertainty);
  cx.insert("weight_emotion", complexity.weight_emotion);
  cx.insert("length_chars", complexity.length_chars);
  cx.insert("words_per_sentence", complexity.words_per_sentence);
  cx.insert("emotion_hits", complexity.emotion_hits);
  const auto arr = [](const std::vector<std::string>& v) {
    toml::array a;
    for (const std::string& s : v) a.push_back(s);
    return a;
  };
  cx.insert("emotion_keywords", arr(complexity.emotion_keywords));
  root.insert("complexity", std::move(cx));
  toml::table ru;
  ru.insert("escalation_keywords", arr(escalation_keywords));
  ru.insert("always_escalate", arr(always_escalate));
  ru.insert("never_escalate", arr(never_escalate));
  ru.insert("pii", pii == PiiAction::kRedact ? "redact" : "keep_local");
  ru.insert("account_patterns", arr(account_patterns));
  root.insert("rules", std::move(ru));
  toml::table pr;
  pr.insert("edge_usd", prices.edge_usd);
  pr.insert("cloud_usd", prices.cloud_usd);
  pr.insert("cloud_budget_usd_per_hour", cloud_budget_usd_per_hour);
  root.insert("prices", std::move(pr));
  if (calibration.is_object() && !calibration.empty()) put_json(root, "calibration", calibration);
  if (monitor.is_object() && !monitor.empty()) put_json(root, "monitor", monitor);
  std::ostringstream os;
  os << "# edgeroute routing policy (docs/routing.md)\n" << root << "\n";
  return os.str();
}

}  // namespace edgeroute::router
