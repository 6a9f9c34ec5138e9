// The three cloud protocols: another edgeroute in cloud role, an
// OpenAI-compatible chat endpoint and KServe v2 / Triton HTTP inference.
// Each makes one POST per classify() and validates the answer strictly
// against the label set; anything off is CloudFailure::kProtocol.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cloud_http.h"
#include "edgeroute/common/error.h"
#include "edgeroute/router/cloud.h"
#include "edgeroute/text/tokenizer.h"

namespace edgeroute::router {

namespace {

using detail::snippet;
using nlohmann::json;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

[[noreturn]] void protocol_error(const std::string& what, const std::string& why) {
  throw CloudError(CloudFailure::kProtocol, what + ": " + why);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The label set, with lookups by exact and case-insensitive name.
class LabelSet {
 public:
  explicit LabelSet(const std::vector<std::string>& labels) : labels_(labels) {
    if (labels_.empty()) throw Error("cloud config: labels is empty; the cloud answer must be one of the edge labels");
    for (std::size_t i = 0; i < labels_.size(); ++i) {
      if (labels_[i].empty()) throw Error("cloud config: labels[" + std::to_string(i) + "] is empty");
      if (!exact_.emplace(labels_[i], i).second) throw Error("cloud config: label '" + labels_[i] + "' appears twice");
      auto [it, fresh] = folded_.emplace(lower(labels_[i]), i);
      if (!fresh) it->second = kAmbiguous;
    }
  }

  // The canonical label for `name`: exact match, or a unique case-insensitive one.
  const std::string* find(const std::string& name, bool fold_case) const {
    if (auto it = exact_.find(name); it != exact_.end()) return &labels_[it->second];
    if (!fold_case) return nullptr;
    auto it = folded_.find(lower(name));
    if (it == folded_.end() || it->second == kAmbiguous) return nullptr;
    return &labels_[it->second];
  }
  const std::vector<std::string>& names() const { return labels_; }
  std::size_t size() const { return labels_.size(); }

 private:
  static constexpr std::size_t kAmbiguous = static_cast<std::size_t>(-1);
  std::vector<std::string> labels_;
  std::unordered_map<std::string, std::size_t> exact_;
  std::unordered_map<std::string, std::size_t> folded_;
};

const std::string& require_label(const json& obj, const LabelSet& labels, bool fold_case, const std::string& what) {
  auto it = obj.find("label");
  if (it == obj.end()) protocol_error(what, "answer has no 'label'");
  if (!it->is_string()) protocol_error(what, "'label' is not a string: " + snippet(dump(*it)));
  const std::string* label = labels.find(it->get<std::string>(), fold_case);
  if (label == nullptr) protocol_error(what, "label '" + snippet(it->get<std::string>()) + "' is not in the label set");
  return *label;
}

double require_probability(const json& obj, const char* field, const std::string& what) {
  auto it = obj.find(field);
  if (it == obj.end()) protocol_error(what, std::string("answer has no '") + field + "'");
  if (!it->is_number()) protocol_error(what, std::string("'") + field + "' is not a number: " + snippet(dump(*it)));
  const double p = it->get<double>();
  if (!std::isfinite(p) || p < 0.0 || p > 1.0) {
    protocol_error(what, std::string("'") + field + "' is " + dump(*it) + ", not in [0, 1]");
  }
  return p;
}

std::int64_t optional_count(const json& obj, const char* field, const std::string& what) {
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return 0;
  if (!it->is_number_integer() || it->get<std::int64_t>() < 0) {
    protocol_error(what, std::string("'") + field + "' is not a non-negative integer: " + snippet(dump(*it)));
  }
  return it->get<std::int64_t>();
}

std::string join_path(const std::string& prefix, std::string_view tail) { return prefix + std::string(tail); }

// ---------------------------------------------------------------------------
// edgeroute in cloud role: POST {prefix}/v1/classify

class EdgerouteBackend final : public CloudBackend {
 public:
  EdgerouteBackend(detail::ParsedUrl url, const CloudConfig& config)
      : labels_(config.labels),
        path_(join_path(url.path, "/v1/classify")),
        pool_(std::move(url), config.bearer_token, config.max_connections) {}

  CloudAnswer classify(const std::string& request_id, const std::string& text, Clock::time_point deadline) override {
    const json body = {{"text", text}, {"request_id", request_id}};
    const json doc = pool_.post_json(path_, dump(body), request_id, deadline);
    const std::string what = pool_.url().origin() + path_;
    if (!doc.is_object()) protocol_error(what, "the answer is not a JSON object: " + snippet(dump(doc)));
    CloudAnswer a;
    a.label = require_label(doc, labels_, false, what);
    a.confidence = require_probability(doc, "confidence", what);
    auto probs = doc.find("probabilities");
    if (probs == doc.end()) protocol_error(what, "answer has no 'probabilities'");
    if (!probs->is_object()) protocol_error(what, "'probabilities' is not an object: " + snippet(dump(*probs)));
    for (const auto& [name, value] : probs->items()) {
      const std::string* label = labels_.find(name, false);
      if (label == nullptr) protocol_error(what, "probabilities name '" + snippet(name) + "', not in the label set");
      if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() < 0 ||
          value.get<double>() > 1) {
        protocol_error(what, "probabilities['" + name + "'] is " + snippet(dump(value)) + ", not in [0, 1]");
      }
      a.probabilities.emplace_back(*label, value.get<double>());
    }
    if (auto cost = doc.find("cost_usd"); cost != doc.end() && cost->is_number()) a.cost_usd = cost->get<double>();
    a.prompt_tokens = optional_count(doc, "prompt_tokens", what);
    a.completion_tokens = optional_count(doc, "completion_tokens", what);
    return a;
  }

  std::string describe() const override { return "edgeroute " + pool_.url().origin() + pool_.url().path; }

 private:
  LabelSet labels_;
  std::string path_;
  detail::HttpPool pool_;
};

// ---------------------------------------------------------------------------
// OpenAI-compatible: POST {prefix or /v1}/chat/completions

// The content of an LLM answer without a ```json ... ``` fence around it.
std::string_view strip_fence(std::string_view s) {
  auto trim = [](std::string_view v) {
    while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) v.remove_prefix(1);
    while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.remove_suffix(1);
    return v;
  };
  s = trim(s);
  if (s.substr(0, 3) != "```") return s;
  const std::size_t eol = s.find('\n');
  if (eol == std::string_view::npos) return s;
  s.remove_prefix(eol + 1);
  s = trim(s);
  if (s.size() >= 3 && s.substr(s.size() - 3) == "```") s.remove_suffix(3);
  return trim(s);
}

class OpenAiBackend final : public CloudBackend {
 public:
  OpenAiBackend(detail::ParsedUrl url, const CloudConfig& config)
      : labels_(config.labels),
        model_(config.model),
        price_prompt_(config.price_prompt_per_mtok),
        price_completion_(config.price_completion_per_mtok),
        path_(join_path(url.path.empty() ? "/v1" : url.path, "/chat/completions")),
        pool_(std::move(url), config.bearer_token, config.max_connections) {
    if (model_.empty()) throw Error("cloud config: model is empty for " + config.url);
    system_prompt_ =
        "You classify customer-support messages. Choose exactly one label from this JSON list: " +
        dump(json(labels_.names())) +
        ". Reply with only a JSON object {\"label\": \"<one label from the list>\", \"confidence\": <number from 0 to "
        "1>}.";
  }

  CloudAnswer classify(const std::string& request_id, const std::string& text, Clock::time_point deadline) override {
    const json body = {
        {"model", model_},
        {"messages",
         json::array({{{"role", "system"}, {"content", system_prompt_}}, {{"role", "user"}, {"content", text}}})},
        {"temperature", 0},
        {"response_format", {{"type", "json_object"}}},
    };
    const json doc = pool_.post_json(path_, dump(body), request_id, deadline);
    const std::string what = pool_.url().origin() + path_;
    if (!doc.is_object()) protocol_error(what, "the answer is not a JSON object: " + snippet(dump(doc)));
    auto choices = doc.find("choices");
    if (choices == doc.end() || !choices->is_array() || choices->empty()) {
      protocol_error(what, "answer has no 'choices'");
    }
    const json& choice = (*choices)[0];
    if (!choice.is_object() || !choice.contains("message") || !choice["message"].is_object()) {
      protocol_error(what, "choices[0] has no 'message'");
    }
    const json& message = choice["message"];
    auto content = message.find("content");
    if (content == message.end() || !content->is_string()) {
      protocol_error(what, "choices[0].message.content is missing or not a string");
    }
    const std::string raw = content->get<std::string>();
    const json inner = json::parse(strip_fence(raw), nullptr, /*allow_exceptions=*/false);
    if (inner.is_discarded() || !inner.is_object()) {
      protocol_error(what, "choices[0].message.content is not a JSON object: " + snippet(raw));
    }
    CloudAnswer a;
    a.label = require_label(inner, labels_, true, what);
    a.confidence = require_probability(inner, "confidence", what);
    if (auto usage = doc.find("usage"); usage != doc.end() && usage->is_object()) {
      a.prompt_tokens = optional_count(*usage, "prompt_tokens", what);
      a.completion_tokens = optional_count(*usage, "completion_tokens", what);
      a.cost_usd = (static_cast<double>(a.prompt_tokens) * price_prompt_ +
                    static_cast<double>(a.completion_tokens) * price_completion_) /
                   1e6;
    }
    return a;
  }

  std::string describe() const override {
    return "openai " + pool_.url().origin() + path_.substr(0, path_.size() - 17) + " model " + model_;
  }

 private:
  LabelSet labels_;
  std::string model_;
  double price_prompt_;
  double price_completion_;
  std::string path_;
  std::string system_prompt_;
  detail::HttpPool pool_;
};

// ---------------------------------------------------------------------------
// KServe v2 / Triton: POST /v2/models/NAME/infer

void flatten_numbers(const json& j, std::vector<double>& out, const std::string& what) {
  if (j.is_array()) {
    for (const json& e : j) flatten_numbers(e, out, what);
    return;
  }
  if (!j.is_number()) protocol_error(what, "output 'logits' holds a non-number: " + snippet(dump(j)));
  out.push_back(j.get<double>());
}

class KServeBackend final : public CloudBackend {
 public:
  KServeBackend(detail::ParsedUrl url, const CloudConfig& config)
      : labels_(config.labels),
        tokenizer_(load_tokenizer(config)),
        max_len_(config.max_len),
        path_(url.path + "/infer"),
        pool_(std::move(url), config.bearer_token, config.max_connections) {}

  CloudAnswer classify(const std::string& request_id, const std::string& text, Clock::time_point deadline) override {
    const std::vector<std::int32_t> ids = tokenizer_.encode(text, max_len_, text::Utf8Policy::kReplace);
    const auto n = static_cast<std::int64_t>(ids.size());
    auto input = [n](const char* name, json data) {
      return json{{"name", name}, {"shape", {1, n}}, {"datatype", "INT64"}, {"data", std::move(data)}};
    };
    json id_data = json::array();
    for (std::int32_t id : ids) id_data.push_back(static_cast<std::int64_t>(id));
    json body = {
        {"inputs", json::array({input("input_ids", std::move(id_data)),
                                input("attention_mask", json(std::vector<std::int64_t>(ids.size(), 1))),
                                input("token_type_ids", json(std::vector<std::int64_t>(ids.size(), 0)))})},
        {"outputs", json::array({{{"name", "logits"}}})},
    };
    if (!request_id.empty()) body["id"] = request_id;
    const json doc = pool_.post_json(path_, dump(body), request_id, deadline);
    const std::string what = pool_.url().origin() + path_;
    if (!doc.is_object()) protocol_error(what, "the answer is not a JSON object: " + snippet(dump(doc)));
    auto outputs = doc.find("outputs");
    if (outputs == doc.end() || !outputs->is_array()) protocol_error(what, "answer has no 'outputs' array");
    const json* logits = nullptr;
    for (const json& o : *outputs) {
      if (o.is_object() && o.value("name", json()) == "logits") logits = &o;
    }
    if (logits == nullptr) protocol_error(what, "answer has no output named 'logits'");
    const json datatype = logits->value("datatype", json());
    if (datatype != "FP32" && datatype != "FP64") {
      protocol_error(what, "output 'logits' has datatype " + snippet(dump(datatype)) + ", expected FP32");
    }
    const json shape = logits->value("shape", json());
    const auto labels = static_cast<std::int64_t>(labels_.size());
    const bool shape_ok = shape.is_array() && !shape.empty() && shape.size() <= 2 && shape.back() == labels &&
                          (shape.size() == 1 || shape[0] == 1);
    if (!shape_ok) {
      protocol_error(what, "output 'logits' has shape " + snippet(dump(shape)) + ", expected [1, " +
                               std::to_string(labels) + "] (one logit per label)");
    }
    std::vector<double> values;
    flatten_numbers(logits->value("data", json()), values, what);
    if (static_cast<std::int64_t>(values.size()) != labels) {
      protocol_error(
          what, "output 'logits' has " + std::to_string(values.size()) + " values, expected " + std::to_string(labels));
    }
    if (!std::all_of(values.begin(), values.end(), [](double v) { return std::isfinite(v); })) {
      protocol_error(what, "output 'logits' holds a non-finite value");
    }
    const double top = *std::max_element(values.begin(), values.end());
    double sum = 0;
    for (double& v : values) sum += (v = std::exp(v - top));
    CloudAnswer a;
    std::size_t best = 0;
    for (std::size_t i = 0; i < values.size(); ++i) {
      values[i] /= sum;
      if (values[i] > values[best]) best = i;
      a.probabilities.emplace_back(labels_.names()[i], values[i]);
    }
    a.label = labels_.names()[best];
    a.confidence = values[best];
    a.prompt_tokens = n;
    return a;
  }

  std::string describe() const override { return "kserve " + pool_.url().origin() + pool_.url().path; }

 private:
  static text::Tokenizer load_tokenizer(const CloudConfig& config) {
    if (config.vocab_dir.empty()) {
      throw Error("cloud config: vocab_dir is required for " + config.url +
                  " (a Hugging Face directory with vocab.txt, to build input_ids)");
    }
    if (config.max_len < 2) {
      throw Error("cloud config: max_len is " + std::to_string(config.max_len) + ", must be at least 2");
    }
    return text::Tokenizer::from_pretrained(config.vocab_dir);
  }

  LabelSet labels_;
  text::Tokenizer tokenizer_;
  std::int64_t max_len_;
  std::string path_;
  detail::HttpPool pool_;
};

}  // namespace

std::unique_ptr<CloudBackend> make_cloud_backend(const CloudConfig& config) {
  detail::ParsedUrl url = detail::parse_cloud_url(config.url);
  if (url.flavor == "openai") return std::make_unique<OpenAiBackend>(std::move(url), config);
  if (url.flavor == "kserve") return std::make_unique<KServeBackend>(std::move(url), config);
  return std::make_unique<EdgerouteBackend>(std::move(url), config);
}

}  // namespace edgeroute::router
