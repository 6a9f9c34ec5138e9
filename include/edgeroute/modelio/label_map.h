// Class labels of a classifier: ids 0..n-1 in order, each with a unique,
// non-empty name. Mirrors Hugging Face's id2label / label2id config fields.
//
// Immutable after construction; safe to share between threads.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace edgeroute::modelio {

// Most labels a map may hold (bounds allocation from untrusted configs).
inline constexpr std::int64_t kMaxLabels = 1 << 16;

class LabelMap {
 public:
  LabelMap() = default;  // no labels

  // labels[i] is the name of id i. Throws Error on an empty or duplicate name
  // or more than kMaxLabels labels.
  static LabelMap from_labels(std::vector<std::string> labels);
  // Reads `config["id2label"]` (keys "0".."n-1" in decimal without sign or
  // leading zeros, all present, values non-empty unique strings) and, when
  // present, `config["label2id"]`, which must be its exact inverse. Both
  // absent means no labels; label2id alone is an error. Errors name `source`
  // and the offending key.
  static LabelMap from_hf_json(const nlohmann::json& config, const std::string& source);

  std::int64_t size() const { return static_cast<std::int64_t>(names_.size()); }
  bool empty() const { return names_.empty(); }
  // Throws Error when id is outside [0, size()).
  const std::string& name(std::int64_t id) const;
  std::optional<std::int64_t> id(std::string_view name) const;
  const std::vector<std::string>& names() const { return names_; }

  // {"0": name0, "1": name1, ...} and {name0: 0, ...}, as Hugging Face writes them.
  nlohmann::json to_id2label_json() const;
  nlohmann::json to_label2id_json() const;

  friend bool operator==(const LabelMap& a, const LabelMap& b) { return a.names_ == b.names_; }

 private:
  std::vector<std::string> names_;
  std::map<std::string, std::int64_t, std::less<>> ids_;
};

}  // namespace edgeroute::modelio
