#include "edgeroute/modelio/label_map.h"

#include <charconv>

#include "edgeroute/common/error.h"

namespace edgeroute::modelio {

namespace {

// Strict decimal: "0" or [1-9][0-9]*, bounded by kMaxLabels.
std::optional<std::int64_t> parse_id_key(std::string_view key) {
  if (key.empty() || key.size() > 6 || (key.size() > 1 && key[0] == '0')) return std::nullopt;
  for (const char c : key) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), value);
  if (ec != std::errc() || end != key.data() + key.size() || value < 0) return std::nullopt;
  return value;
}

}  // namespace

LabelMap LabelMap::from_labels(std::vector<std::string> labels) {
  if (static_cast<std::int64_t>(labels.size()) > kMaxLabels) {
    throw Error("label map: " + std::to_string(labels.size()) + " labels exceed the limit of " +
                std::to_string(kMaxLabels));
  }
  LabelMap map;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i].empty()) throw Error("label map: label " + std::to_string(i) + " is empty");
    if (!map.ids_.emplace(labels[i], static_cast<std::int64_t>(i)).second) {
      throw Error("label map: duplicate label '" + labels[i] + "' (ids " +
                  std::to_string(map.ids_.find(labels[i])->second) + " and " + std::to_string(i) + ")");
    }
  }
  map.names_ = std::move(labels);
  return map;
}

LabelMap LabelMap::from_hf_json(const nlohmann::json& config, const std::string& source) {
  if (!config.is_object()) throw Error(source + ": config is not a JSON object");
  const bool has_id2label = config.contains("id2label");
  const bool has_label2id = config.contains("label2id");
  if (!has_id2label) {
    if (has_label2id) throw Error(source + ": label2id is present but id2label is not");
    return {};
  }
  const nlohmann::json& id2label = config["id2label"];
  if (!id2label.is_object()) throw Error(source + ": id2label is not a JSON object");
  if (static_cast<std::int64_t>(id2label.size()) > kMaxLabels) {
    throw Error(source + ": id2label has " + std::to_string(id2label.size()) + " entries, over the limit of " +
                std::to_string(kMaxLabels));
  }
  std::vector<std::string> names(id2label.size());
  for (const auto& [key, value] : id2label.items()) {
    const std::optional<std::int64_t> id = parse_id_key(key);
    if (!id || *id >= static_cast<std::int64_t>(names.size())) {
      throw Error(source + ": id2label key '" + key + "' is not a decimal id in [0, " + std::to_string(names.size()) +
                  ") (ids must be contiguous from 0)");
    }
    if (!value.is_string()) throw Error(source + ": id2label[\"" + key + "\"] is not a string");
    names[static_cast<std::size_t>(*id)] = value.get<std::string>();
  }
  LabelMap map;
  try {
    map = from_labels(std::move(names));
  } catch (const Error& e) {
    throw Error(source + ": id2label: " + e.what());
  }
  if (has_label2id) {
    const nlohmann::json& label2id = config["label2id"];
    if (!label2id.is_object()) throw Error(source + ": label2id is not a JSON object");
    for (const auto& [name, value] : label2id.items()) {
      const std::optional<std::int64_t> expected = map.id(name);
      if (!expected) {
        throw Error(source + ": label2id has '" + name + "', which id2label does not");
      }
      if (!value.is_number_integer() || value.get<std::int64_t>() != *expected) {
        throw Error(source + ": label2id['" + name + "'] is " + value.dump() + " but id2label gives " +
                    std::to_string(*expected));
      }
    }
    if (label2id.size() != id2label.size()) {
      for (const std::string& name : map.names()) {
        if (!label2id.contains(name)) {
          throw Error(source + ": label2id lacks '" + name + "', which id2label has");
        }
      }
    }
  }
  return map;
}

const std::string& LabelMap::name(std::int64_t id) const {
  if (id < 0 || id >= size()) {
    throw Error("label map: id " + std::to_string(id) + " out of range [0, " + std::to_string(size()) + ")");
  }
  return names_[static_cast<std::size_t>(id)];
}

std::optional<std::int64_t> LabelMap::id(std::string_view name) const {
  const auto it = ids_.find(name);
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

nlohmann::json LabelMap::to_id2label_json() const {
  nlohmann::json out = nlohmann::json::object();
  for (std::size_t i = 0; i < names_.size(); ++i) out[std::to_string(i)] = names_[i];
  return out;
}

nlohmann::json LabelMap::to_label2id_json() const {
  nlohmann::json out = nlohmann::json::object();
  for (std::size_t i = 0; i < names_.size(); ++i) out[names_[i]] = static_cast<std::int64_t>(i);
  return out;
}

}  // namespace edgeroute::modelio
