// Small, protocol-faithful cloud servers for tests, on 127.0.0.1: the
// edgeroute cloud role (POST /v1/classify), an OpenAI-compatible chat
// endpoint and a KServe v2 inference endpoint. Each validates requests the
// way the real service would (400/404 with a message otherwise) and answers
// deterministically. Knobs: fail the next N requests with a status (and a
// Retry-After), delay answers, hold handlers until released, or answer 200
// with a raw body (for invalid-answer tests).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace edgeroute::test {

class FakeCloudServer {
 public:
  FakeCloudServer();
  virtual ~FakeCloudServer();
  FakeCloudServer(const FakeCloudServer&) = delete;
  FakeCloudServer& operator=(const FakeCloudServer&) = delete;

  // Binds 127.0.0.1:`port` (0: a free port) and serves on a thread. Throws
  // std::runtime_error when it cannot bind.
  void start(int port = 0);
  // Stops serving (releases held and delayed handlers first); idempotent.
  void stop();
  int port() const { return port_; }
  // "http://127.0.0.1:PORT"; prefix "openai+" or "kserve+" for those backends.
  std::string base_url() const;

  // The next `count` requests get `status` (and Retry-After: `retry_after`
  // when not empty) instead of an answer.
  void fail_next(int count, int status, std::string retry_after = "");
  // Every handler waits this long before answering (interrupted by stop()).
  void set_delay(std::chrono::milliseconds delay);
  // Answer 200 with exactly this body (nullopt: the normal answer).
  void set_raw_answer(std::optional<std::string> body);
  // Handlers block from now on until release() (or stop()).
  void hold();
  void release();
  // Waits until `count` handlers are blocked by hold(); false on timeout.
  bool wait_held(int count, std::chrono::milliseconds timeout = std::chrono::seconds(10));

  int requests() const;                 // requests that reached a handler
  nlohmann::json last_request() const;  // the last JSON body (null when it was not JSON)
  std::string last_header(const std::string& name) const;

 protected:
  // Registers the protocol's handlers.
  virtual void route(httplib::Server& server) = 0;
  // To be called first by every handler: records the request and applies the
  // knobs. Returns true when a knob has already answered; otherwise `body`
  // holds the parsed JSON request (null when it did not parse).
  bool intercept(const httplib::Request& req, httplib::Response& res, nlohmann::json& body);
  static void reply(httplib::Response& res, int status, const nlohmann::json& body);
  static void bad_request(httplib::Response& res, const std::string& why);

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool holding_ = false;
  int held_ = 0;
  int fail_count_ = 0;
  int fail_status_ = 0;
  std::string fail_retry_after_;
  std::chrono::milliseconds delay_{0};
  std::optional<std::string> raw_answer_;
  int requests_ = 0;
  nlohmann::json last_request_;
  std::vector<std::pair<std::string, std::string>> last_headers_;
};

// Picks the answer label deterministically: the first label that occurs in
// the text, else the first label.
std::size_t fake_label_for(const std::string& text, const std::vector<std::string>& labels);

// POST /v1/classify {"text", "request_id"} -> {"label", "confidence", "probabilities"}.
class FakeEdgerouteServer : public FakeCloudServer {
 public:
  static constexpr double kConfidence = 0.9;
  explicit FakeEdgerouteServer(std::vector<std::string> labels);
  ~FakeEdgerouteServer() override;

 protected:
  void route(httplib::Server& server) override;

 private:
  std::vector<std::string> labels_;
};

// POST {prefix}/chat/completions. Checks the bearer token (when expected),
// the model, a system message naming every label, the user message,
// temperature 0 and response_format json_object. Answers content
// {"label": ..., "confidence": 0.8} (optionally in a ```json fence) and usage
// prompt_tokens = kPromptBase + bytes of the user text, completion_tokens = kCompletion.
class FakeOpenAiServer : public FakeCloudServer {
 public:
  static constexpr double kConfidence = 0.8;
  static constexpr std::int64_t kPromptBase = 50;
  static constexpr std::int64_t kCompletion = 12;
  FakeOpenAiServer(std::vector<std::string> labels, std::string model, std::string bearer_token = "",
                   std::string prefix = "/v1");
  ~FakeOpenAiServer() override;
  void set_fenced(bool fenced);
  // Content to return instead of the JSON answer (inside a valid envelope).
  void set_content(std::optional<std::string> content);

 protected:
  void route(httplib::Server& server) override;

 private:
  std::vector<std::string> labels_;
  std::string model_;
  std::string bearer_token_;
  std::string prefix_;
  std::mutex knob_mu_;
  bool fenced_ = false;
  std::optional<std::string> content_;
};

// POST /v2/models/{model}/infer with INT64 inputs input_ids, attention_mask
// (all 1) and token_type_ids (all 0), each of shape [1, n]; answers FP32
// "logits" of shape [1, num_labels] computed by logits_for(). Other models: 404.
class FakeKServeServer : public FakeCloudServer {
 public:
  FakeKServeServer(std::string model, int num_labels);
  ~FakeKServeServer() override;
  // The logits the server returns for these ids (already rounded to FP32).
  static std::vector<float> logits_for(const std::vector<std::int64_t>& ids, int num_labels);

 protected:
  void route(httplib::Server& server) override;

 private:
  std::string model_;
  int num_labels_;
};

}  // namespace edgeroute::test
