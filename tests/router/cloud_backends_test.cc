// Round trips of each cloud backend against protocol-faithful loopback
// servers (tests/router/peers), invalid answers, HTTP status mapping and a
// stopped server.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "edgeroute/common/clock.h"
#include "edgeroute/router/cloud.h"
#include "edgeroute/text/tokenizer.h"
#include "peers/fake_cloud_servers.h"

namespace edgeroute::router {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::vector<std::string> kLabels = {"billing", "card", "refund"};

Clock::time_point in(std::chrono::milliseconds ms) { return SystemClock::instance().now() + ms; }

CloudError expect_cloud_error(CloudBackend& backend, const std::string& text, CloudFailure kind) {
  try {
    backend.classify("req-1", text, in(5000ms));
  } catch (const CloudError& e) {
    EXPECT_EQ(e.kind, kind) << to_string(e.kind) << ": " << e.what();
    return e;
  }
  ADD_FAILURE() << "no CloudError; expected " << to_string(kind);
  return CloudError(CloudFailure::kNone, "none");
}

CloudConfig config_for(const std::string& url) {
  CloudConfig c;
  c.url = url;
  c.labels = kLabels;
  return c;
}

// ---------------------------------------------------------------------------
// edgeroute cloud role

TEST(EdgerouteBackend, RoundTrip) {
  test::FakeEdgerouteServer server(kLabels);
  server.start();
  auto backend = make_cloud_backend(config_for(server.base_url()));
  const CloudAnswer a = backend->classify("req-7", "I want a refund", in(5000ms));
  EXPECT_EQ(a.label, "refund");
  EXPECT_DOUBLE_EQ(a.confidence, test::FakeEdgerouteServer::kConfidence);
  ASSERT_EQ(a.probabilities.size(), 3u);
  double sum = 0;
  for (const auto& [label, p] : a.probabilities) sum += p;
  EXPECT_NEAR(sum, 1.0, 1e-9);
  EXPECT_LT(a.cost_usd, 0);  // unknown
  const json sent = server.last_request();
  EXPECT_EQ(sent["text"], "I want a refund");
  EXPECT_EQ(sent["request_id"], "req-7");
  EXPECT_EQ(server.last_header("X-Request-Id"), "req-7");
}

TEST(EdgerouteBackend, SendsTheBearerToken) {
  test::FakeEdgerouteServer server(kLabels);
  server.start();
  CloudConfig c = config_for(server.base_url());
  c.bearer_token = "tok-123";
  make_cloud_backend(c)->classify("r", "card", in(5000ms));
  EXPECT_EQ(server.last_header("Authorization"), "Bearer tok-123");
}

TEST(EdgerouteBackend, InvalidAnswersAreProtocolFailures) {
  test::FakeEdgerouteServer server(kLabels);
  server.start();
  auto backend = make_cloud_backend(config_for(server.base_url()));
  const std::vector<std::string> bad = {
      R"({"label": "weather", "confidence": 0.9, "probabilities": {}})",             // label outside the set
      R"({"label": "card", "confidence": 0.9)",                                      // malformed JSON
      R"({"confidence": 0.9, "probabilities": {}})",                                 // no label
      R"({"label": "card", "probabilities": {}})",                                   // no confidence
      R"({"label": "card", "confidence": 0.9})",                                     // no probabilities
      R"({"label": "card", "confidence": 1.5, "probabilities": {}})",                // out of range
      R"({"label": 3, "confidence": 0.9, "probabilities": {}})",                     // wrong type
      R"({"label": "card", "confidence": 0.9, "probabilities": {"weather": 0.1}})",  // unknown key
      R"({"label": "card", "confidence": 0.9, "probabilities": {"card": "high"}})",  // not a number
      R"(["card"])",                                                                 // not an object
      "",                                                                            // empty
  };
  for (const std::string& body : bad) {
    SCOPED_TRACE(body);
    server.set_raw_answer(body);
    expect_cloud_error(*backend, "card", CloudFailure::kProtocol);
  }
  server.set_raw_answer(std::nullopt);
  EXPECT_EQ(backend->classify("r", "card", in(5000ms)).label, "card");
}

TEST(EdgerouteBackend, StatusMapping) {
  test::FakeEdgerouteServer server(kLabels);
  server.start();
  auto backend = make_cloud_backend(config_for(server.base_url()));
  server.fail_next(1, 500);
  EXPECT_EQ(expect_cloud_error(*backend, "t", CloudFailure::kHttpStatus).status, 500);
  server.fail_next(1, 404);
  EXPECT_EQ(expect_cloud_error(*backend, "t", CloudFailure::kHttpStatus).status, 404);
  server.fail_next(1, 503);
  const CloudError no_wait = expect_cloud_error(*backend, "t", CloudFailure::kRejected);
  EXPECT_EQ(no_wait.status, 503);
  EXPECT_EQ(no_wait.retry_after_s, 0);
  server.fail_next(1, 429, "7");
  const CloudError wait = expect_cloud_error(*backend, "t", CloudFailure::kRejected);
  EXPECT_EQ(wait.status, 429);
  EXPECT_DOUBLE_EQ(wait.retry_after_s, 7.0);
  // An HTTP date an hour ahead.
  const std::time_t later = std::time(nullptr) + 3600;
  char date[64];
  std::tm tm{};
  ::gmtime_r(&later, &tm);
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  server.fail_next(1, 503, date);
  const CloudError dated = expect_cloud_error(*backend, "t", CloudFailure::kRejected);
  EXPECT_GT(dated.retry_after_s, 3500);
  EXPECT_LE(dated.retry_after_s, 3600);
}

TEST(EdgerouteBackend, StoppedServerIsAConnectFailure) {
  auto server = std::make_unique<test::FakeEdgerouteServer>(kLabels);
  server->start();
  auto backend = make_cloud_backend(config_for(server->base_url()));
  EXPECT_EQ(backend->classify("r", "card", in(5000ms)).label, "card");  // leaves a keep-alive connection
  server->stop();
  const CloudError e = expect_cloud_error(*backend, "card", CloudFailure::kConnect);
  EXPECT_NE(std::string(e.what()).find("/v1/classify"), std::string::npos) << e.what();
  expect_cloud_error(*backend, "card", CloudFailure::kConnect);
}

TEST(EdgerouteBackend, NothingListeningIsAConnectFailure) {
  int port = 0;
  {
    test::FakeEdgerouteServer probe(kLabels);
    probe.start();
    port = probe.port();
  }
  auto backend = make_cloud_backend(config_for("http://127.0.0.1:" + std::to_string(port)));
  expect_cloud_error(*backend, "card", CloudFailure::kConnect);
}

TEST(EdgerouteBackend, PassedDeadlineIsATimeoutWithoutARequest) {
  test::FakeEdgerouteServer server(kLabels);
  server.start();
  auto backend = make_cloud_backend(config_for(server.base_url()));
  try {
    backend->classify("r", "card", SystemClock::instance().now() - 1ms);
    ADD_FAILURE() << "no error";
  } catch (const CloudError& e) {
    EXPECT_EQ(e.kind, CloudFailure::kTimeout);
  }
  EXPECT_EQ(server.requests(), 0);
}

TEST(EdgerouteBackend, SlowHandlerTimesOut) {
  test::FakeEdgerouteServer server(kLabels);
  server.start();
  auto backend = make_cloud_backend(config_for(server.base_url()));
  server.hold();
  try {
    backend->classify("r", "card", in(150ms));
    ADD_FAILURE() << "no error";
  } catch (const CloudError& e) {
    EXPECT_EQ(e.kind, CloudFailure::kTimeout) << e.what();
  }
  server.release();
}

TEST(EdgerouteBackend, ConcurrentCallsShareThePool) {
  test::FakeEdgerouteServer server(kLabels);
  server.start();
  CloudConfig c = config_for(server.base_url());
  c.max_connections = 2;
  auto backend = make_cloud_backend(c);
  std::vector<std::future<std::string>> calls;
  for (int t = 0; t < 4; ++t) {
    calls.push_back(std::async(std::launch::async, [&backend, t] {
      std::string labels;
      for (int i = 0; i < 10; ++i) labels += backend->classify("r", kLabels[(t + i) % 3], in(10000ms)).label[0];
      return labels;
    }));
  }
  for (int t = 0; t < 4; ++t) {
    std::string expected;
    for (int i = 0; i < 10; ++i) expected += kLabels[(t + i) % 3][0];
    EXPECT_EQ(calls[t].get(), expected);
  }
  EXPECT_EQ(server.requests(), 40);
}

// ---------------------------------------------------------------------------
// OpenAI-compatible

TEST(OpenAiBackend, RoundTripWithCostFromUsage) {
  test::FakeOpenAiServer server(kLabels, "small-llm", "sk-test");
  server.start();
  CloudConfig c = config_for("openai+" + server.base_url());
  c.model = "small-llm";
  c.bearer_token = "sk-test";
  c.price_prompt_per_mtok = 2.0;
  c.price_completion_per_mtok = 10.0;
  auto backend = make_cloud_backend(c);
  const std::string text = "my card was declined";
  const CloudAnswer a = backend->classify("req-9", text, in(5000ms));
  EXPECT_EQ(a.label, "card");
  EXPECT_DOUBLE_EQ(a.confidence, test::FakeOpenAiServer::kConfidence);
  EXPECT_TRUE(a.probabilities.empty());
  const auto prompt = test::FakeOpenAiServer::kPromptBase + static_cast<std::int64_t>(text.size());
  EXPECT_EQ(a.prompt_tokens, prompt);
  EXPECT_EQ(a.completion_tokens, test::FakeOpenAiServer::kCompletion);
  EXPECT_NEAR(a.cost_usd, (prompt * 2.0 + test::FakeOpenAiServer::kCompletion * 10.0) / 1e6, 1e-15);
  const json sent = server.last_request();
  EXPECT_EQ(sent["messages"][1]["content"], text);
}

TEST(OpenAiBackend, ServerChecksModelAndToken) {
  test::FakeOpenAiServer server(kLabels, "small-llm", "sk-test");
  server.start();
  CloudConfig c = config_for("openai+" + server.base_url());
  c.model = "other-model";
  c.bearer_token = "sk-test";
  EXPECT_EQ(expect_cloud_error(*make_cloud_backend(c), "card", CloudFailure::kHttpStatus).status, 400);
  c.model = "small-llm";
  c.bearer_token = "wrong";
  EXPECT_EQ(expect_cloud_error(*make_cloud_backend(c), "card", CloudFailure::kHttpStatus).status, 401);
}

TEST(OpenAiBackend, CustomPrefixAndFencedContent) {
  test::FakeOpenAiServer server(kLabels, "gpt-4o-mini", "", "/openai/v1");
  server.start();
  server.set_fenced(true);
  auto backend = make_cloud_backend(config_for("openai+" + server.base_url() + "/openai/v1/"));
  EXPECT_EQ(backend->classify("r", "billing question", in(5000ms)).label, "billing");
}

TEST(OpenAiBackend, LabelCaseIsFoldedToTheCanonicalName) {
  test::FakeOpenAiServer server(kLabels, "gpt-4o-mini");
  server.start();
  server.set_content(R"({"label": "Refund", "confidence": 0.6})");
  auto backend = make_cloud_backend(config_for("openai+" + server.base_url()));
  const CloudAnswer a = backend->classify("r", "x", in(5000ms));
  EXPECT_EQ(a.label, "refund");
  EXPECT_DOUBLE_EQ(a.confidence, 0.6);
}

TEST(OpenAiBackend, InvalidAnswersAreProtocolFailures) {
  test::FakeOpenAiServer server(kLabels, "gpt-4o-mini");
  server.start();
  auto backend = make_cloud_backend(config_for("openai+" + server.base_url()));
  for (const std::string content :
       {R"({"label": "weather", "confidence": 0.9})", R"({"label": "card"})", R"({"confidence": 0.9})", "card",
        R"({"label": "card", "confidence": "high"})", R"(["card", 0.9])"}) {
    SCOPED_TRACE(content);
    server.set_content(content);
    expect_cloud_error(*backend, "card", CloudFailure::kProtocol);
  }
  server.set_content(std::nullopt);
  for (const std::string body : {R"({"choices": []})", R"({"choices": [{"message": {"content": null}}]})",
                                 R"({"object": "chat.completion"})", "not json"}) {
    SCOPED_TRACE(body);
    server.set_raw_answer(body);
    expect_cloud_error(*backend, "card", CloudFailure::kProtocol);
  }
}

TEST(OpenAiBackend, MissingUsageMeansUnknownCost) {
  test::FakeOpenAiServer server(kLabels, "gpt-4o-mini");
  server.start();
  server.set_raw_answer(R"({"choices": [{"message": {"role": "assistant", "content": "{\"label\": \"card\", )"
                        R"(\"confidence\": 0.5}"}}]})");
  auto backend = make_cloud_backend(config_for("openai+" + server.base_url()));
  const CloudAnswer a = backend->classify("r", "x", in(5000ms));
  EXPECT_EQ(a.label, "card");
  EXPECT_LT(a.cost_usd, 0);
}

// ---------------------------------------------------------------------------
// KServe v2

class KServeBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("edgeroute_cloud_vocab_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    std::ofstream vocab(dir_ / "vocab.txt");
    for (const char* t : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "my", "card", "was", "charged", "twice",
                          "refund", "please", "bill", "##ing", ".", "!"}) {
      vocab << t << "\n";
    }
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  CloudConfig config(const std::string& url) {
    CloudConfig c = config_for(url);
    c.vocab_dir = dir_.string();
    return c;
  }

  std::filesystem::path dir_;
};

TEST_F(KServeBackendTest, RoundTripSoftmaxOfServerLogits) {
  test::FakeKServeServer server("tiny-bert", 3);
  server.start();
  auto backend = make_cloud_backend(config("kserve+" + server.base_url() + "/v2/models/tiny-bert"));
  EXPECT_EQ(backend->describe(), "kserve " + server.base_url() + "/v2/models/tiny-bert");
  const std::string text = "My card was charged twice, refund please!";
  const CloudAnswer a = backend->classify("req-3", text, in(5000ms));

  const auto tokenizer = text::Tokenizer::from_pretrained(dir_.string());
  std::vector<std::int64_t> ids;
  for (std::int32_t id : tokenizer.encode(text, 256)) ids.push_back(id);
  const json sent = server.last_request();
  EXPECT_EQ(sent["id"], "req-3");
  EXPECT_EQ(sent["inputs"][0]["data"].get<std::vector<std::int64_t>>(), ids);

  const std::vector<float> logits = test::FakeKServeServer::logits_for(ids, 3);
  double top = logits[0];
  for (float v : logits) top = std::max<double>(top, v);
  std::vector<double> p;
  double sum = 0;
  for (float v : logits) sum += p.emplace_back(std::exp(v - top));
  ASSERT_EQ(a.probabilities.size(), 3u);
  std::size_t best = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    p[i] /= sum;
    if (p[i] > p[best]) best = i;
    EXPECT_EQ(a.probabilities[i].first, kLabels[i]);
    EXPECT_NEAR(a.probabilities[i].second, p[i], 1e-6);
  }
  EXPECT_EQ(a.label, kLabels[best]);
  EXPECT_NEAR(a.confidence, p[best], 1e-6);
  EXPECT_EQ(a.prompt_tokens, static_cast<std::int64_t>(ids.size()));
}

TEST_F(KServeBackendTest, TruncatesToMaxLen) {
  test::FakeKServeServer server("m", 3);
  server.start();
  CloudConfig c = config("kserve+" + server.base_url() + "/v2/models/m");
  c.max_len = 4;
  make_cloud_backend(c)->classify("r", "my card was charged twice", in(5000ms));
  EXPECT_EQ(server.last_request()["inputs"][0]["shape"], json({1, 4}));
}

TEST_F(KServeBackendTest, UnknownModelIsHttpStatus) {
  test::FakeKServeServer server("tiny-bert", 3);
  server.start();
  auto backend = make_cloud_backend(config("kserve+" + server.base_url() + "/v2/models/other"));
  EXPECT_EQ(expect_cloud_error(*backend, "card", CloudFailure::kHttpStatus).status, 404);
}

TEST_F(KServeBackendTest, LabelCountMismatchIsProtocol) {
  test::FakeKServeServer server("tiny-bert", 4);  // four logits for three labels
  server.start();
  auto backend = make_cloud_backend(config("kserve+" + server.base_url() + "/v2/models/tiny-bert"));
  expect_cloud_error(*backend, "card", CloudFailure::kProtocol);
}

TEST_F(KServeBackendTest, InvalidAnswersAreProtocolFailures) {
  test::FakeKServeServer server("m", 3);
  server.start();
  auto backend = make_cloud_backend(config("kserve+" + server.base_url() + "/v2/models/m"));
  for (const std::string body : {
           R"({"outputs": []})",
           R"({"outputs": [{"name": "probs", "datatype": "FP32", "shape": [1, 3], "data": [1, 2, 3]}]})",
           R"({"outputs": [{"name": "logits", "datatype": "BYTES", "shape": [1, 3], "data": [1, 2, 3]}]})",
           R"({"outputs": [{"name": "logits", "datatype": "FP32", "shape": [2, 3], "data": [1, 2, 3]}]})",
           R"({"outputs": [{"name": "logits", "datatype": "FP32", "shape": [1, 3], "data": [1, 2]}]})",
           R"({"outputs": [{"name": "logits", "datatype": "FP32", "shape": [1, 3], "data": [1, "x", 3]}]})",
           R"({"model_name": "m"})",
           "{",
       }) {
    SCOPED_TRACE(body);
    server.set_raw_answer(body);
    expect_cloud_error(*backend, "card", CloudFailure::kProtocol);
  }
}

}  // namespace
}  // namespace edgeroute::router
