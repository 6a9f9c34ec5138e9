// Fake cloud servers for tests (see fake_cloud_servers.h).
#include "fake_cloud_servers.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace edgeroute::test {

using nlohmann::json;

// ---------------------------------------------------------------------------
// FakeCloudServer

FakeCloudServer::FakeCloudServer() = default;

FakeCloudServer::~FakeCloudServer() { stop(); }

void FakeCloudServer::start(int port) {
  if (server_) throw std::runtime_error("fake cloud server: already started");
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
  }
  server_ = std::make_unique<httplib::Server>();
  // stop() waits for idle keep-alive connections to time out; keep that short.
  server_->set_keep_alive_timeout(1);
  route(*server_);
  if (port == 0) {
    port_ = server_->bind_to_any_port("127.0.0.1");
  } else {
    port_ = server_->bind_to_port("127.0.0.1", port) ? port : -1;
  }
  if (port_ <= 0) {
    server_.reset();
    throw std::runtime_error("fake cloud server: cannot bind 127.0.0.1:" + std::to_string(port));
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // The socket already listens (connections queue in the backlog), but stop()
  // only takes effect once the accept loop runs: wait for it.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!server_->is_running() && std::chrono::steady_clock::now() < give_up) std::this_thread::yield();
}

void FakeCloudServer::stop() {
  if (!server_) return;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

std::string FakeCloudServer::base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

void FakeCloudServer::fail_next(int count, int status, std::string retry_after) {
  std::lock_guard lock(mu_);
  fail_count_ = count;
  fail_status_ = status;
  fail_retry_after_ = std::move(retry_after);
}

void FakeCloudServer::set_delay(std::chrono::milliseconds delay) {
  std::lock_guard lock(mu_);
  delay_ = delay;
}

void FakeCloudServer::set_raw_answer(std::optional<std::string> body) {
  std::lock_guard lock(mu_);
  raw_answer_ = std::move(body);
}

void FakeCloudServer::hold() {
  std::lock_guard lock(mu_);
  holding_ = true;
}

void FakeCloudServer::release() {
  {
    std::lock_guard lock(mu_);
    holding_ = false;
  }
  cv_.notify_all();
}

bool FakeCloudServer::wait_held(int count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return held_ >= count; });
}

int FakeCloudServer::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

json FakeCloudServer::last_request() const {
  std::lock_guard lock(mu_);
  return last_request_;
}

std::string FakeCloudServer::last_header(const std::string& name) const {
  std::lock_guard lock(mu_);
  for (const auto& [key, value] : last_headers_) {
    const bool same =
        key.size() == name.size() && std::equal(key.begin(), key.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        });
    if (same) return value;
  }
  return "";
}

bool FakeCloudServer::intercept(const httplib::Request& req, httplib::Response& res, json& body) {
  body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) body = nullptr;
  std::unique_lock lock(mu_);
  ++requests_;
  last_request_ = body;
  last_headers_.assign(req.headers.begin(), req.headers.end());
  if (holding_) {
    ++held_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return !holding_ || stopping_; });
    --held_;
  }
  if (delay_.count() > 0) cv_.wait_for(lock, delay_, [&] { return stopping_; });
  if (fail_count_ > 0) {
    --fail_count_;
    if (!fail_retry_after_.empty()) res.set_header("Retry-After", fail_retry_after_);
    reply(res, fail_status_, json{{"error", {{"message", "injected failure"}}}});
    return true;
  }
  if (raw_answer_) {
    res.status = 200;
    res.set_content(*raw_answer_, "application/json");
    return true;
  }
  return false;
}

void FakeCloudServer::reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void FakeCloudServer::bad_request(httplib::Response& res, const std::string& why) {
  reply(res, 400, json{{"error", {{"message", why}}}});
}

std::size_t fake_label_for(const std::string& text, const std::vector<std::string>& labels) {
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (text.find(labels[i]) != std::string::npos) return i;
  }
  return 0;
}

// ---------------------------------------------------------------------------
// FakeEdgerouteServer

FakeEdgerouteServer::FakeEdgerouteServer(std::vector<std::string> labels) : labels_(std::move(labels)) {}

FakeEdgerouteServer::~FakeEdgerouteServer() { stop(); }

void FakeEdgerouteServer::route(httplib::Server& server) {
  server.Post("/v1/classify", [this](const httplib::Request& req, httplib::Response& res) {
    json body;
    if (intercept(req, res, body)) return;
    if (!body.is_object()) return bad_request(res, "body is not a JSON object");
    if (!body.contains("text") || !body["text"].is_string()) return bad_request(res, "'text' missing or not a string");
    if (!body.contains("request_id") || !body["request_id"].is_string()) {
      return bad_request(res, "'request_id' missing or not a string");
    }
    const std::size_t pick = fake_label_for(body["text"].get<std::string>(), labels_);
    json probs = json::object();
    const double rest = labels_.size() > 1 ? (1.0 - kConfidence) / static_cast<double>(labels_.size() - 1) : 0.0;
    for (std::size_t i = 0; i < labels_.size(); ++i) probs[labels_[i]] = i == pick ? kConfidence : rest;
    reply(res, 200, json{{"label", labels_[pick]}, {"confidence", kConfidence}, {"probabilities", probs}});
  });
}

// ---------------------------------------------------------------------------
// FakeOpenAiServer

FakeOpenAiServer::FakeOpenAiServer(std::vector<std::string> labels, std::string model, std::string bearer_token,
                                   std::string prefix)
    : labels_(std::move(labels)),
      model_(std::move(model)),
      bearer_token_(std::move(bearer_token)),
      prefix_(std::move(prefix)) {}

FakeOpenAiServer::~FakeOpenAiServer() { stop(); }

void FakeOpenAiServer::set_fenced(bool fenced) {
  std::lock_guard lock(knob_mu_);
  fenced_ = fenced;
}

void FakeOpenAiServer::set_content(std::optional<std::string> content) {
  std::lock_guard lock(knob_mu_);
  content_ = std::move(content);
}

void FakeOpenAiServer::route(httplib::Server& server) {
  server.Post(prefix_ + "/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
    json body;
    if (intercept(req, res, body)) return;
    if (!bearer_token_.empty() && req.get_header_value("Authorization") != "Bearer " + bearer_token_) {
      return reply(res, 401, json{{"error", {{"message", "bad or missing bearer token"}}}});
    }
    if (!body.is_object()) return bad_request(res, "body is not a JSON object");
    if (body.value("model", json()) != model_) return bad_request(res, "model is not '" + model_ + "'");
    const json messages = body.value("messages", json());
    if (!messages.is_array() || messages.size() != 2) return bad_request(res, "expected 2 messages");
    for (const json& m : messages) {
      if (!m.is_object() || !m.value("role", json()).is_string() || !m.value("content", json()).is_string()) {
        return bad_request(res, "each message needs string 'role' and 'content'");
      }
    }
    if (messages[0]["role"] != "system" || messages[1]["role"] != "user") {
      return bad_request(res, "expected a system then a user message");
    }
    const std::string system = messages[0]["content"].get<std::string>();
    for (const std::string& label : labels_) {
      if (system.find(json(label).dump()) == std::string::npos) {
        return bad_request(res, "system message does not list label '" + label + "'");
      }
    }
    if (body.value("temperature", json()) != 0) return bad_request(res, "temperature is not 0");
    if (body.value("response_format", json()) != json{{"type", "json_object"}}) {
      return bad_request(res, "response_format is not {\"type\": \"json_object\"}");
    }
    const std::string user = messages[1]["content"].get<std::string>();
    std::string content = json{{"label", labels_[fake_label_for(user, labels_)]}, {"confidence", kConfidence}}.dump();
    {
      std::lock_guard lock(knob_mu_);
      if (content_) content = *content_;
      if (fenced_) content = "```json\n" + content + "\n```";
    }
    reply(res, 200,
          json{{"id", "chatcmpl-fake"},
               {"object", "chat.completion"},
               {"model", model_},
               {"choices", json::array({{{"index", 0},
                                         {"message", {{"role", "assistant"}, {"content", content}}},
                                         {"finish_reason", "stop"}}})},
               {"usage",
                {{"prompt_tokens", kPromptBase + static_cast<std::int64_t>(user.size())},
                 {"completion_tokens", kCompletion},
                 {"total_tokens", kPromptBase + static_cast<std::int64_t>(user.size()) + kCompletion}}}});
  });
}

// ---------------------------------------------------------------------------
// FakeKServeServer

FakeKServeServer::FakeKServeServer(std::string model, int num_labels)
    : model_(std::move(model)), num_labels_(num_labels) {}

FakeKServeServer::~FakeKServeServer() { stop(); }

std::vector<float> FakeKServeServer::logits_for(const std::vector<std::int64_t>& ids, int num_labels) {
  std::vector<float> out(static_cast<std::size_t>(num_labels));
  for (int j = 0; j < num_labels; ++j) {
    double sum = 0;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      sum += static_cast<double>((ids[i] * (2 * j + 3) + static_cast<std::int64_t>(i)) % 11) / 11.0;
    }
    out[static_cast<std::size_t>(j)] = static_cast<float>(sum / static_cast<double>(ids.size()) * 4.0 - 2.0);
  }
  return out;
}

void FakeKServeServer::route(httplib::Server& server) {
  server.Post(R"(/v2/models/([^/]+)/infer)", [this](const httplib::Request& req, httplib::Response& res) {
    json body;
    if (intercept(req, res, body)) return;
    if (req.matches[1] != model_) {
      return reply(res, 404, json{{"error", "Request for unknown model: '" + std::string(req.matches[1]) + "'"}});
    }
    if (!body.is_object() || !body.value("inputs", json()).is_array()) return bad_request(res, "no 'inputs' array");
    const json& inputs = body["inputs"];
    if (inputs.size() != 3) return bad_request(res, "expected 3 inputs");
    std::vector<std::int64_t> ids;
    std::int64_t n = -1;
    for (const char* name : {"input_ids", "attention_mask", "token_type_ids"}) {
      const json* in = nullptr;
      for (const json& i : inputs) {
        if (i.is_object() && i.value("name", json()) == name) in = &i;
      }
      if (in == nullptr) return bad_request(res, std::string("input '") + name + "' missing");
      if (in->value("datatype", json()) != "INT64") return bad_request(res, std::string(name) + ": datatype not INT64");
      const json shape = in->value("shape", json());
      if (!shape.is_array() || shape.size() != 2 || shape[0] != 1 || !shape[1].is_number_integer()) {
        return bad_request(res, std::string(name) + ": shape is not [1, n]");
      }
      if (n < 0) n = shape[1].get<std::int64_t>();
      if (shape[1] != n || n < 1) return bad_request(res, std::string(name) + ": inconsistent n");
      const json data = in->value("data", json());
      if (!data.is_array() || static_cast<std::int64_t>(data.size()) != n) {
        return bad_request(res, std::string(name) + ": data is not a flat array of n values");
      }
      for (const json& v : data) {
        if (!v.is_number_integer()) return bad_request(res, std::string(name) + ": non-integer data");
        const std::int64_t x = v.get<std::int64_t>();
        if (std::string(name) == "input_ids") {
          if (x < 0) return bad_request(res, "input_ids: negative id");
          ids.push_back(x);
        } else if (std::string(name) == "attention_mask" && x != 1) {
          return bad_request(res, "attention_mask: expected all ones");
        } else if (std::string(name) == "token_type_ids" && x != 0) {
          return bad_request(res, "token_type_ids: expected all zeros");
        }
      }
    }
    json answer = {{"model_name", model_},
                   {"outputs", json::array({{{"name", "logits"},
                                             {"datatype", "FP32"},
                                             {"shape", {1, num_labels_}},
                                             {"data", logits_for(ids, num_labels_)}}})}};
    if (body.contains("id")) answer["id"] = body["id"];
    reply(res, 200, answer);
  });
}

}  // namespace edgeroute::test
