// The HTTP service on loopback, in process: protocol, input limits, auth,
// routing to a real cloud-role service, degraded answers when the cloud is
// down, breaker transitions in /metrics, load shedding, feedback and the
// audit row count; the monitor's endpoints, feedback accuracy and shadow
// agreement against hand-computed values.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <limits>
#include <set>
#include <span>
#include <thread>

#include <unistd.h>

#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "edgeroute/common/error.h"
#include "edgeroute/monitor/monitor.h"
#include "edgeroute/router/audit.h"
#include "edgeroute/router/router.h"
#include "edgeroute/server/service.h"
#include "peers/fake_cloud_servers.h"
#include "tiny_classifier.h"

namespace edgeroute::server {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const engine::Classifier& tiny_model(engine::Precision precision) {
  // One directory per process: ctest runs the tests of this binary as
  // parallel processes, and each writes its model.
  static const std::string dir = test::write_tiny_classifier(
      (fs::path(EDGEROUTE_TEST_BINARY_DIR) / "scratch" / ("tiny-cls-" + std::to_string(::getpid()))).string());
  static const engine::Classifier int8 = [] {
    engine::ClassifierOptions o;
    o.precision = engine::Precision::kInt8;
    return engine::Classifier::load(dir, o);
  }();
  static const engine::Classifier fp32 = [] {
    engine::ClassifierOptions o;
    o.precision = engine::Precision::kFp32;
    return engine::Classifier::load(dir, o);
  }();
  return precision == engine::Precision::kInt8 ? int8 : fp32;
}

// A Service running on its own thread on a free loopback port.
class Running {
 public:
  Running(ServiceOptions o, const engine::Classifier& model, router::Router* router, monitor::Monitor* mon = nullptr)
      : service_(std::move(o), model, router, mon) {
    port_ = service_.bind();
    thread_ = std::thread([this] { service_.run(); });
    httplib::Client c("127.0.0.1", port_);
    for (int i = 0; i < 500 && !c.Get("/healthz"); ++i) std::this_thread::yield();
  }
  ~Running() {
    service_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  Service& service() { return service_; }

 private:
  Service service_;
  int port_ = 0;
  std::thread thread_;
};

struct Reply {
  int status = 0;
  json body;
  std::string raw;
};

Reply post(int port, const std::string& path, const std::string& body, const std::string& token = "",
           const std::string& type = "application/json") {
  httplib::Client c("127.0.0.1", port);
  httplib::Headers h;
  if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
  auto res = c.Post(path.c_str(), h, body, type.c_str());
  Reply r;
  if (!res) return r;
  r.status = res->status;
  r.raw = res->body;
  r.body = json::parse(res->body, nullptr, false);
  return r;
}

Reply get(int port, const std::string& path, const std::string& token = "") {
  httplib::Client c("127.0.0.1", port);
  httplib::Headers h;
  if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
  auto res = c.Get(path.c_str(), h);
  Reply r;
  if (!res) return r;
  r.status = res->status;
  r.raw = res->body;
  r.body = json::parse(res->body, nullptr, false);
  return r;
}

ServiceOptions any_port(Role role = Role::kEdge) {
  ServiceOptions o;
  o.role = role;
  o.port = 0;
  return o;
}

std::string scratch(const std::string& name) {
  const fs::path p = fs::path(EDGEROUTE_TEST_BINARY_DIR) / "scratch" / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

// An edge node: tiny INT8 model, optional cloud and SQLite audit log.
struct EdgeNode {
  std::unique_ptr<router::ResilientCloud> cloud;
  std::unique_ptr<router::AuditWriter> audit;
  std::unique_ptr<router::Router> router;
  std::string audit_uri;

  EdgeNode(router::Policy policy, const std::string& cloud_url, const std::string& audit_dir,
           router::ResilienceOptions ro = {}, monitor::Monitor* mon = nullptr, double shadow_fraction = 0,
           std::size_t audit_max_batch = 256) {
    router::RouterParts parts;
    if (shadow_fraction > 0) {
      parts.shadow.fraction = shadow_fraction;
      parts.on_shadow = [mon](const router::ShadowResult& r) {
        if (r.ok && mon != nullptr) mon->record_shadow(r.ts_us, r.agree, r.cost_usd);
      };
    }
    parts.edge = &tiny_model(engine::Precision::kInt8);
    parts.policy = std::move(policy);
    if (!cloud_url.empty()) {
      router::CloudConfig cc;
      cc.url = cloud_url;
      cc.labels = parts.edge->labels().names();
      cloud = std::make_unique<router::ResilientCloud>(router::make_cloud_backend(cc), ro);
      parts.cloud = cloud.get();
    }
    if (!audit_dir.empty()) {
      audit_uri = "sqlite:" + audit_dir + "/audit.db";
      router::AuditOptions ao;
      ao.key = "test-key-0123456789";
      parts.audit_key = ao.key;
      audit = std::make_unique<router::AuditWriter>(router::open_audit(audit_uri, ao), audit_max_batch);
      parts.audit = audit.get();
    }
    router = std::make_unique<router::Router>(std::move(parts));
  }
};

router::Policy escalate_everything() {
  router::Policy p;
  p.min_confidence = 1.0;  // the tiny model is never certain: every query escalates
  return p;
}

TEST(Service, ClassifyAnswersWithEveryDocumentedField) {
  EdgeNode node(router::Policy{}, "", scratch("fields"));
  Running s(any_port(), tiny_model(engine::Precision::kInt8), node.router.get());
  const Reply r = post(s.port(), "/v1/classify", R"({"text": "my card was declined", "request_id": "abc-1"})");
  ASSERT_EQ(r.status, 200) << r.raw;
  for (const char* k : {"request_id", "label", "confidence", "probabilities", "route", "reason", "complexity",
                        "cost_usd", "latency_ms", "degraded"}) {
    EXPECT_TRUE(r.body.contains(k)) << k << " missing in " << r.raw;
  }
  EXPECT_EQ(r.body["request_id"], "abc-1");
  EXPECT_EQ(r.body["route"], "edge");
  EXPECT_EQ(r.body["probabilities"].size(), 3u);
  EXPECT_FALSE(r.body["degraded"].get<bool>());
  // No cloud configured: an escalation is answered on the edge and says so.
  EdgeNode lone(escalate_everything(), "", "");
  Running s2(any_port(), tiny_model(engine::Precision::kInt8), lone.router.get());
  const Reply e = post(s2.port(), "/v1/classify", R"({"text": "where is my order"})");
  ASSERT_EQ(e.status, 200);
  EXPECT_EQ(e.body["reason"], "edge_only");
  EXPECT_EQ(e.body["route"], "edge");
  EXPECT_EQ(e.body["request_id"].get<std::string>().size(), 32u);
}

// Generated ids: 32 lowercase hex digits, unique, and in time order (the
// first 16 digits are the wall clock's microseconds), so that the audit log's
// request_id index grows at one end.
TEST(Service, GeneratedRequestIdsAreUniqueAndSortByTime) {
  const auto now_us = [] {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const std::int64_t before = now_us();
  std::vector<std::string> ids;
  for (int i = 0; i < 2000; ++i) ids.push_back(router::new_request_id());
  const std::int64_t after = now_us();
  std::set<std::string> distinct(ids.begin(), ids.end());
  EXPECT_EQ(distinct.size(), ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    ASSERT_EQ(ids[i].size(), 32u) << ids[i];
    ASSERT_EQ(ids[i].find_first_not_of("0123456789abcdef"), std::string::npos) << ids[i];
    const std::int64_t us = std::stoll(ids[i].substr(0, 16), nullptr, 16);
    EXPECT_GE(us, before) << ids[i];
    EXPECT_LE(us, after) << ids[i];
    if (i > 0) {
      EXPECT_LE(ids[i - 1].substr(0, 16), ids[i].substr(0, 16)) << "ids out of time order";
    }
  }
}

TEST(Service, MalformedRequestsGetTheRight4xxWithAJsonError) {
  EdgeNode node(router::Policy{}, "", "");
  ServiceOptions o;
  o.port = 0;
  o.max_batch = 4;
  Running s(o, tiny_model(engine::Precision::kInt8), node.router.get());
  struct Case {
    std::string name, path, body, type;
    int status;
  };
  const std::string deep = std::string(20, '[') + std::string(20, ']');
  const std::string long_text = "{\"text\": \"" + std::string(8001, 'a') + "\"}";
  const std::string huge = "{\"text\": \"" + std::string(70 * 1024, 'a') + "\"}";
  const std::vector<Case> cases = {
      {"not json", "/v1/classify", "{text: 1", "application/json", 400},
      {"array body", "/v1/classify", "[1, 2]", "application/json", 400},
      {"missing text", "/v1/classify", R"({"txt": "x"})", "application/json", 400},
      {"text not a string", "/v1/classify", R"({"text": 5})", "application/json", 400},
      {"empty text", "/v1/classify", R"({"text": ""})", "application/json", 400},
      {"invalid utf-8", "/v1/classify", "{\"text\": \"a\xff\xfe b\"}", "application/json", 400},
      {"lone surrogate escape", "/v1/classify", R"({"text": "\udc00"})", "application/json", 400},
      {"too deep", "/v1/classify", "{\"text\": \"x\", \"extra\": " + deep + "}", "application/json", 400},
      {"text too long", "/v1/classify", long_text, "application/json", 413},
      {"body too large", "/v1/classify", huge, "application/json", 413},
      {"wrong content type", "/v1/classify", R"({"text": "x"})", "text/plain", 415},
      {"bad request id", "/v1/classify", R"({"text": "x", "request_id": 7})", "application/json", 400},
      {"batch not array", "/v1/classify/batch", R"({"texts": "x"})", "application/json", 400},
      {"batch empty", "/v1/classify/batch", R"({"texts": []})", "application/json", 400},
      {"batch too large", "/v1/classify/batch", R"({"texts": ["a","b","c","d","e"]})", "application/json", 413},
      {"batch item type", "/v1/classify/batch", R"({"texts": ["a", 3]})", "application/json", 400},
      {"unknown path", "/v1/nothing", "{}", "application/json", 404},
      {"feedback without audit", "/v1/feedback", R"({"request_id": "x", "label": "c0"})", "application/json", 409},
  };
  for (const Case& c : cases) {
    const Reply r = post(s.port(), c.path, c.body, "", c.type);
    EXPECT_EQ(r.status, c.status) << c.name << ": " << r.raw;
    ASSERT_TRUE(r.body.is_object()) << c.name << ": " << r.raw;
    EXPECT_TRUE(r.body.contains("error")) << c.name << ": " << r.raw;
  }
  // The service still answers after all that.
  EXPECT_EQ(post(s.port(), "/v1/classify", R"({"text": "thanks a lot"})").status, 200);
  const Reply b = post(s.port(), "/v1/classify/batch", R"({"texts": ["thanks", "my card was declined"]})");
  ASSERT_EQ(b.status, 200) << b.raw;
  EXPECT_EQ(b.body["results"].size(), 2u);
}

TEST(Service, BearerTokenOnEveryNonProbeEndpoint) {
  EdgeNode node(router::Policy{}, "", "");
  ServiceOptions o;
  o.port = 0;
  o.token = "s3cret";
  Running s(o, tiny_model(engine::Precision::kInt8), node.router.get());
  EXPECT_EQ(post(s.port(), "/v1/classify", R"({"text": "x"})").status, 401);
  EXPECT_EQ(post(s.port(), "/v1/classify", R"({"text": "x"})", "wrong").status, 401);
  EXPECT_EQ(post(s.port(), "/v1/classify", R"({"text": "x"})", "s3cret").status, 200);
  EXPECT_EQ(get(s.port(), "/v1/stats").status, 401);
  EXPECT_EQ(get(s.port(), "/metrics").status, 401);
  EXPECT_EQ(get(s.port(), "/metrics", "s3cret").status, 200);
  EXPECT_EQ(get(s.port(), "/healthz").status, 200);
  EXPECT_EQ(get(s.port(), "/readyz").status, 200);
}

TEST(Service, EscalatesToARealCloudRoleServiceAndDegradesWhenItDies) {
  // The cloud tier: the same tiny model in FP32 behind the cloud role.
  auto cloud = std::make_unique<Running>(any_port(Role::kCloud), tiny_model(engine::Precision::kFp32), nullptr);
  router::ResilienceOptions ro;
  ro.failure_threshold = 3;
  ro.open_wait = std::chrono::milliseconds(60000);
  EdgeNode node(escalate_everything(), "http://127.0.0.1:" + std::to_string(cloud->port()), scratch("cloud"), ro);
  Running edge(any_port(), tiny_model(engine::Precision::kInt8), node.router.get());

  const Reply up = post(edge.port(), "/v1/classify", R"({"text": "my card was declined"})");
  ASSERT_EQ(up.status, 200) << up.raw;
  EXPECT_EQ(up.body["route"], "cloud");
  EXPECT_EQ(up.body["reason"], "low_confidence");
  EXPECT_FALSE(up.body["degraded"].get<bool>());
  EXPECT_NEAR(up.body["cost_usd"].get<double>(), 0.001 + 0.0136, 1e-12);

  cloud.reset();  // the cloud dies
  int answered = 0;
  for (int i = 0; i < 10; ++i) {
    const Reply r = post(edge.port(), "/v1/classify", R"({"text": "where is the order"})");
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["route"], "edge");
    EXPECT_EQ(r.body["reason"], "cloud_unavailable");
    EXPECT_TRUE(r.body["degraded"].get<bool>());
    ++answered;
  }
  EXPECT_EQ(answered, 10);
  EXPECT_EQ(node.cloud->state(), router::BreakerState::kOpen);
  const Reply m = get(edge.port(), "/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.raw.find("edgeroute_cloud_breaker_state{state=\"open\"} 1"), std::string::npos) << m.raw;
  EXPECT_NE(m.raw.find("edgeroute_cloud_breaker_transitions_total{to=\"open\"} 1"), std::string::npos);
  EXPECT_NE(m.raw.find("edgeroute_answers_total{route=\"edge\",reason=\"cloud_unavailable\"} 10"), std::string::npos);
  EXPECT_NE(m.raw.find("edgeroute_degraded_answers_total 10"), std::string::npos);
  EXPECT_NE(m.raw.find("edgeroute_cloud_calls_total{outcome=\"breaker_open\"}"), std::string::npos);
  // Every answer has its audit row.
  EXPECT_EQ(node.audit->sink().count(), 11);
  const Reply st = get(edge.port(), "/v1/stats");
  EXPECT_EQ(st.body["total_queries"], 11);
  EXPECT_EQ(st.body["degraded"], 10);
}

TEST(Service, RedactsPersonalDataBeforeItLeavesAndInTheAuditLog) {
  test::FakeEdgerouteServer cloud({"c0", "c1", "c2"});
  cloud.start();
  EdgeNode node(escalate_everything(), cloud.base_url(), scratch("pii"));
  Running edge(any_port(), tiny_model(engine::Precision::kInt8), node.router.get());
  const Reply r =
      post(edge.port(), "/v1/classify",
           R"({"text": "card 4111 1111 1111 1111 declined, mail jane.doe@example.com", "request_id": "p1"})");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["route"], "cloud");
  const std::string sent = cloud.last_request()["text"].get<std::string>();
  EXPECT_EQ(sent.find("4111"), std::string::npos) << sent;
  EXPECT_EQ(sent.find("jane.doe"), std::string::npos) << sent;
  EXPECT_NE(sent.find("[CARD]"), std::string::npos) << sent;
  const auto row = node.audit->sink().find("p1");
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->redacted_text.find("4111"), std::string::npos);
  EXPECT_EQ(row->text_hash.size(), 64u);
  EXPECT_EQ(row->text_hash.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(row->text_hash, router::audit_text_hash("test-key-0123456789",
                                                    "card 4111 1111 1111 1111 declined, mail jane.doe@example.com"));

  // keep_local: the same query never leaves the edge.
  router::Policy local = escalate_everything();
  local.pii = router::PiiAction::kKeepLocal;
  EdgeNode node2(local, cloud.base_url(), "");
  Running edge2(any_port(), tiny_model(engine::Precision::kInt8), node2.router.get());
  const int before = cloud.requests();
  const Reply k = post(edge2.port(), "/v1/classify", R"({"text": "my card 4111-1111-1111-1111 was declined"})");
  ASSERT_EQ(k.status, 200);
  EXPECT_EQ(k.body["reason"], "pii_kept_local");
  EXPECT_EQ(cloud.requests(), before);
}

TEST(Service, FeedbackNeedsAKnownRequestAndLabel) {
  EdgeNode node(router::Policy{}, "", scratch("feedback"));
  Running s(any_port(), tiny_model(engine::Precision::kInt8), node.router.get());
  ASSERT_EQ(post(s.port(), "/v1/classify", R"({"text": "refund please", "request_id": "f1"})").status, 200);
  EXPECT_EQ(post(s.port(), "/v1/feedback", R"({"request_id": "nope", "label": "c1"})").status, 404);
  EXPECT_EQ(post(s.port(), "/v1/feedback", R"({"request_id": "f1", "label": "zz"})").status, 400);
  EXPECT_EQ(post(s.port(), "/v1/feedback", R"({"request_id": "f1"})").status, 400);
  EXPECT_EQ(post(s.port(), "/v1/feedback", R"({"request_id": "f1", "label": "c1"})").status, 200);
  const auto fb = node.audit->sink().read_feedback(0, 10);
  ASSERT_EQ(fb.size(), 1u);
  EXPECT_EQ(fb[0].request_id, "f1");
  EXPECT_EQ(fb[0].label, "c1");
}

// A one-worker edge node whose worker is held: a batch request (which keeps
// its worker) escalates to a cloud that blocks until release(). Requests sent
// meanwhile must wait for the worker or be shed.
struct HeldWorker {
  test::FakeEdgerouteServer cloud{{"c0", "c1", "c2"}};
  std::unique_ptr<EdgeNode> node;
  std::unique_ptr<Running> server;
  std::future<Reply> holder;
  bool held = false;

  // The holder's text must escalate under `policy`.
  explicit HeldWorker(ServiceOptions o, router::Policy policy = escalate_everything(),
                      const std::string& audit_dir = "", const std::string& holder_text = "a",
                      std::size_t audit_max_batch = 256) {
    cloud.start();
    cloud.hold();
    router::ResilienceOptions ro;
    ro.deadline = std::chrono::milliseconds(20000);
    node = std::make_unique<EdgeNode>(std::move(policy), cloud.base_url(), audit_dir, ro, nullptr, 0, audit_max_batch);
    o.port = 0;
    o.workers = 1;
    server = std::make_unique<Running>(o, tiny_model(engine::Precision::kInt8), node->router.get());
    holder = std::async(std::launch::async, [this, holder_text] {
      return post(port(), "/v1/classify/batch", json{{"texts", {holder_text}}}.dump());
    });
    held = cloud.wait_held(1);
  }
  // Waits (up to 10 s) until n single-text requests queue for the worker.
  bool wait_queued(int n) const {
    const std::string want = "edgeroute_queue_waiting " + std::to_string(n) + "\n";
    for (int i = 0; i < 1000; ++i) {
      if (get(port(), "/metrics").raw.find(want) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  // Every future waits for its request, so an early return must not leave
  // the cloud holding one.
  ~HeldWorker() { cloud.release(); }
  int port() const { return server->port(); }
};

TEST(Service, ShedsLoadWith503AndRetryAfterWhenTheQueueIsFull) {
  ServiceOptions o;
  o.max_queue = 0;
  HeldWorker h(o);
  ASSERT_TRUE(h.held);
  httplib::Client c("127.0.0.1", h.port());
  auto shed = c.Post("/v1/classify", R"({"text": "b"})", "application/json");
  ASSERT_TRUE(shed);
  EXPECT_EQ(shed->status, 503);
  EXPECT_EQ(shed->get_header_value("Retry-After"), "1");
  h.cloud.release();
  EXPECT_EQ(h.holder.get().status, 200);
  EXPECT_NE(get(h.port(), "/metrics").raw.find("edgeroute_requests_shed_total 1"), std::string::npos);
}

// Requests that wait for the only worker are classified together by the one
// that gets it: one encoder call for all eight (--engine-batch 8), and each
// answer is exactly what the model gives that text alone.
TEST(Service, WaitingRequestsShareOneEncoderCall) {
  ServiceOptions o;
  o.engine_batch = 8;
  HeldWorker h(o);
  ASSERT_TRUE(h.held);
  const std::vector<std::string> texts = {"my card was declined", "where is my refund",  "exchange rate today",
                                          "cancel the transfer",  "top up failed twice", "hello",
                                          "lost my phone",        "pin blocked"};
  std::vector<std::future<Reply>> replies;
  for (const std::string& t : texts) {
    replies.push_back(std::async(std::launch::async, [&h, t] {
      return post(h.port(), "/v1/classify", json{{"text", t}}.dump());
    }));
  }
  const bool queued = h.wait_queued(8);
  h.cloud.release();
  ASSERT_TRUE(queued) << "the eight requests never all waited";
  EXPECT_EQ(h.holder.get().status, 200);

  const std::vector<std::string_view> views(texts.begin(), texts.end());
  const auto alone = tiny_model(engine::Precision::kInt8).classify(views);
  const auto& names = tiny_model(engine::Precision::kInt8).labels().names();
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const Reply r = replies[i].get();
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["edge"]["label"], names[static_cast<std::size_t>(alone[i].label)]) << texts[i];
    EXPECT_EQ(r.body["edge"]["confidence"].get<double>(), static_cast<double>(alone[i].confidence)) << texts[i];
  }
  const std::string metrics = get(h.port(), "/metrics").raw;
  EXPECT_NE(metrics.find("edgeroute_engine_batch_texts_count 1\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("edgeroute_engine_batch_texts_sum 8\n"), std::string::npos) << metrics;
}

// The policy keeps everything on the edge except texts that name a manager.
router::Policy keep_unless_manager() {
  router::Policy p;
  p.min_confidence = 0;
  p.max_complexity = std::numeric_limits<double>::infinity();
  p.escalation_keywords = {"manager"};
  return p;
}

// The slot holder that classifies a batch also commits its edge answers'
// audit rows, in one transaction, before any of them is sent: eight queued
// requests cost one commit (the holder's escalated answer another), their
// rows are consecutive, and each reply's request id is in the log. The audit
// writer takes one record per commit (max_batch 1), so eight requests that
// each committed their own row would take eight commits.
TEST(Service, BatchedEdgeAnswersAreAuditedInOneCommit) {
  const std::string dir = scratch("batch-commit");
  ServiceOptions o;
  o.engine_batch = 8;
  HeldWorker h(o, keep_unless_manager(), dir, "let me talk to your manager", 1);
  ASSERT_TRUE(h.held);
  std::vector<std::future<Reply>> replies;
  for (int i = 0; i < 8; ++i) {
    replies.push_back(std::async(std::launch::async, [&h, i] {
      return post(h.port(), "/v1/classify", json{{"text", "where is my refund " + std::to_string(i)}}.dump());
    }));
  }
  const bool queued = h.wait_queued(8);
  h.cloud.release();
  ASSERT_TRUE(queued) << "the eight requests never all waited";
  const Reply holder = h.holder.get();
  ASSERT_EQ(holder.status, 200) << holder.raw;
  EXPECT_EQ(holder.body["results"][0]["reason"], "escalation_keyword") << holder.raw;
  std::vector<std::int64_t> seqs;
  for (auto& f : replies) {
    const Reply r = f.get();
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["route"], "edge");
    EXPECT_EQ(r.body["reason"], "optimal_edge");
    const auto row = h.node->audit->sink().find(r.body["request_id"].get<std::string>());
    ASSERT_TRUE(row.has_value()) << r.raw;
    EXPECT_EQ(row->route, "edge");
    seqs.push_back(row->seq);
  }
  std::sort(seqs.begin(), seqs.end());
  for (std::size_t i = 1; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], seqs[i - 1] + 1);
  const router::AuditWriterStats st = h.node->audit->stats();
  EXPECT_EQ(st.records, 9u);
  EXPECT_EQ(st.commits, 2u);
  const std::string metrics = get(h.port(), "/metrics").raw;
  EXPECT_NE(metrics.find("edgeroute_engine_batch_texts_count 1\n"), std::string::npos) << metrics;
}

// Router::decide() then finish() is route_classified() in two steps:
// decide() neither calls the cloud nor writes the audit log; finish_batch()
// refuses an answer that still awaits the cloud before it records anything.
TEST(Router, DecideAndFinishAreRouteClassifiedInTwoSteps) {
  test::FakeEdgerouteServer cloud({"c0", "c1", "c2"});
  cloud.start();
  EdgeNode node(keep_unless_manager(), cloud.base_url(), scratch("decide-finish"));
  router::Router& rt = *node.router;
  const std::vector<std::string_view> texts = {"where is my refund", "let me talk to your manager"};
  const std::vector<engine::Prediction> preds = tiny_model(engine::Precision::kInt8).classify(texts);
  const auto t0 = std::chrono::steady_clock::now();
  router::RouteResult kept = rt.decide("k1", texts[0], preds[0], t0);
  router::RouteResult escalated = rt.decide("e1", texts[1], preds[1], t0);
  EXPECT_FALSE(kept.awaiting_cloud);
  EXPECT_EQ(kept.reason, router::Reason::kOptimalEdge);
  EXPECT_TRUE(escalated.awaiting_cloud);
  EXPECT_EQ(escalated.reason, router::Reason::kEscalationKeyword);
  EXPECT_EQ(cloud.requests(), 0);
  EXPECT_EQ(node.audit->stats().records, 0u);

  const std::vector<router::RouteResult*> both = {&kept, &escalated};
  EXPECT_THROW(rt.finish_batch(both, texts), Error);
  EXPECT_EQ(node.audit->stats().records, 0u);
  EXPECT_EQ(rt.ledger().total(), 0);

  rt.finish(escalated, texts[1]);
  EXPECT_FALSE(escalated.awaiting_cloud);
  EXPECT_EQ(escalated.route, "cloud");
  EXPECT_EQ(cloud.requests(), 1);
  const std::vector<router::RouteResult*> one = {&kept};
  rt.finish_batch(one, std::span(texts).first(1));
  EXPECT_EQ(rt.ledger().total(), 2);
  EXPECT_EQ(node.audit->stats().commits, 2u);

  const router::RouteResult alone = rt.route_classified("k2", texts[0], preds[0], t0);
  const auto a = node.audit->sink().find("k1");
  const auto b = node.audit->sink().find("k2");
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(a->route, b->route);
  EXPECT_EQ(a->reason, b->reason);
  EXPECT_EQ(a->label, b->label);
  EXPECT_EQ(a->confidence, b->confidence);
  EXPECT_EQ(a->text_hash, b->text_hash);
  EXPECT_EQ(a->redacted_text, b->redacted_text);
  EXPECT_EQ(kept.label, alone.label);
  const auto e = node.audit->sink().find("e1");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->route, "cloud");
  EXPECT_EQ(e->reason, "escalation_keyword");
}

// An audit sink whose appends fail, as a full disk would.
class FailingSink final : public router::AuditSink {
 public:
  void append(std::span<router::AuditRecord>) override { throw Error("disk full"); }
  void append_feedback(const router::Feedback&) override {}
  std::optional<router::AuditRecord> find(const std::string&) override { return std::nullopt; }
  std::int64_t count() override { return 0; }
  std::vector<router::AuditRecord> read(std::int64_t, std::size_t) override { return {}; }
  std::vector<router::Feedback> read_feedback(std::int64_t, std::size_t) override { return {}; }
};

// When the audit commit fails, no answer is acknowledged: every request of a
// shared encoder batch, and a request served alone, gets a 503 JSON error.
TEST(Service, AnswersWhoseAuditCommitFailsAreNotAcknowledged) {
  router::AuditWriter audit(std::make_unique<FailingSink>(), 256, std::chrono::microseconds(0));
  router::RouterParts parts;
  parts.edge = &tiny_model(engine::Precision::kInt8);
  parts.policy = keep_unless_manager();
  parts.audit = &audit;
  parts.audit_key = "test-key-0123456789";
  router::Router router(std::move(parts));
  ServiceOptions o = any_port();
  o.workers = 1;
  o.engine_batch = 8;
  Running s(o, tiny_model(engine::Precision::kInt8), &router);
  std::vector<std::future<Reply>> replies;
  for (int i = 0; i < 6; ++i) {
    replies.push_back(std::async(std::launch::async, [&s, i] {
      return post(s.port(), "/v1/classify", json{{"text", "refund " + std::to_string(i)}}.dump());
    }));
  }
  for (auto& f : replies) {
    const Reply r = f.get();
    EXPECT_EQ(r.status, 503) << r.raw;
    EXPECT_EQ(r.body["error"]["code"], "unavailable") << r.raw;
    EXPECT_NE(r.raw.find("disk full"), std::string::npos) << r.raw;
  }
  EXPECT_EQ(audit.stats().records, 0u);
  EXPECT_GE(audit.stats().failed_commits, 1u);
  const std::string metrics = get(s.port(), "/metrics").raw;
  EXPECT_NE(metrics.find("edgeroute_answers_total{route=\"edge\",reason=\"optimal_edge\"} 0\n"), std::string::npos)
      << metrics;
}

// A request waiting on the audit commit has given its inference slot back:
// with one worker and a group commit that waits for two records, a second
// request still runs and both commit in one batch. (Before, the first held the
// worker for the whole wait: two batches, the first after max_wait.)
TEST(Service, AuditCommitWaitsDoNotHoldTheInferenceWorker) {
  const std::string dir = scratch("audit-wait");
  router::AuditOptions ao;
  ao.key = "test-key-0123456789";
  router::AuditWriter audit(router::open_audit("sqlite:" + dir + "/audit.db", ao), 2, std::chrono::seconds(10));
  router::RouterParts parts;
  parts.edge = &tiny_model(engine::Precision::kInt8);
  parts.audit = &audit;
  parts.audit_key = ao.key;
  router::Router router(std::move(parts));
  ServiceOptions o = any_port();
  o.workers = 1;
  Running s(o, tiny_model(engine::Precision::kInt8), &router);
  auto first = std::async(std::launch::async, [&] { return post(s.port(), "/v1/classify", R"({"text": "a"})"); });
  auto second = std::async(std::launch::async, [&] { return post(s.port(), "/v1/classify", R"({"text": "b"})"); });
  EXPECT_EQ(first.get().status, 200);
  EXPECT_EQ(second.get().status, 200);
  const router::AuditWriterStats st = audit.stats();
  EXPECT_EQ(st.records, 2u);
  EXPECT_EQ(st.commits, 1u);
}

TEST(Service, DrainFlipsReadinessFirstAndFinishesInFlightRequests) {
  test::FakeEdgerouteServer cloud({"c0", "c1", "c2"});
  cloud.start();
  cloud.hold();
  router::ResilienceOptions ro;
  ro.deadline = std::chrono::milliseconds(20000);
  EdgeNode node(escalate_everything(), cloud.base_url(), scratch("drain"), ro);
  ServiceOptions o;
  o.port = 0;
  Service service(o, tiny_model(engine::Precision::kInt8), node.router.get());
  const int port = service.bind();
  std::thread runner([&] { service.run(); });
  for (int i = 0; i < 500 && get(port, "/healthz").status != 200; ++i) std::this_thread::yield();
  EXPECT_EQ(get(port, "/readyz").status, 200);
  auto inflight = std::async(std::launch::async, [&] { return post(port, "/v1/classify", R"({"text": "a"})"); });
  ASSERT_TRUE(cloud.wait_held(1));
  std::thread drainer([&] { service.drain(); });
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (service.ready() && std::chrono::steady_clock::now() < until) std::this_thread::yield();
  EXPECT_FALSE(service.ready());
  EXPECT_EQ(get(port, "/readyz").status, 503);
  EXPECT_EQ(post(port, "/v1/classify", R"({"text": "b"})").status, 503);
  cloud.release();
  const Reply r = inflight.get();
  EXPECT_EQ(r.status, 200) << r.raw;
  drainer.join();
  runner.join();
  EXPECT_EQ(node.audit->sink().count(), 1);
}

std::unique_ptr<monitor::Monitor> make_monitor() {
  std::vector<std::string> reasons;
  for (const router::Reason r : router::all_reasons()) reasons.emplace_back(router::to_string(r));
  monitor::MonitorConfig mc;
  mc.log_alerts = false;
  return std::make_unique<monitor::Monitor>(tiny_model(engine::Precision::kInt8).labels().names(), reasons,
                                            nlohmann::json(), mc, &SystemClock::instance(), "edge-test");
}

TEST(ServiceMonitor, CountsAnswersFeedbackAccuracyAndShadowAgreement) {
  const std::vector<std::string> labels = tiny_model(engine::Precision::kInt8).labels().names();
  test::FakeEdgerouteServer cloud(labels);
  cloud.start();
  const auto mon = make_monitor();
  router::Policy keep;  // the tiny model is never this sure of itself, but never_escalate keeps everything local
  keep.never_escalate = labels;
  EdgeNode node(keep, cloud.base_url(), scratch("monitor"), {}, mon.get(), 1.0);
  Running s(any_port(), tiny_model(engine::Precision::kInt8), node.router.get(), mon.get());
  // Texts that name a label make the fake cloud answer that label.
  const std::vector<std::string> texts = {"c0 refund", "c1 card", "c2 order", "hello", "c1 again", "c0 c1", "c2"};
  std::vector<std::string> answered;
  int expected_agree = 0;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const Reply r =
        post(s.port(), "/v1/classify", json{{"text", texts[i]}, {"request_id", "m" + std::to_string(i)}}.dump());
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["reason"], "rule_edge");
    answered.push_back(r.body["label"].get<std::string>());
    expected_agree += labels[test::fake_label_for(texts[i], labels)] == answered.back() ? 1 : 0;
  }
  node.router->shadow()->flush();
  // Feedback: the true label is the answer for m0..m2 and another label for m3.
  int expected_correct = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    const std::string truth = i < 3 ? answered[i] : (answered[i] == "c0" ? "c1" : "c0");
    expected_correct += truth == answered[i] ? 1 : 0;
    const Reply f =
        post(s.port(), "/v1/feedback", json{{"request_id", "m" + std::to_string(i)}, {"label", truth}}.dump());
    ASSERT_EQ(f.status, 200) << f.raw;
    EXPECT_EQ(f.body["answer_was_correct"].get<bool>(), truth == answered[i]);
  }
  EXPECT_EQ(post(s.port(), "/v1/classify", R"({"text": ""})").status, 400);

  const Reply m = get(s.port(), "/v1/monitor?window=1m");
  ASSERT_EQ(m.status, 200) << m.raw;
  const json& sum = m.body["summary"];
  EXPECT_EQ(sum["requests"], texts.size());
  EXPECT_EQ(sum["edge"], texts.size());
  EXPECT_EQ(sum["errors"], 1);
  EXPECT_EQ(sum["reasons"]["rule_edge"], texts.size());
  EXPECT_EQ(sum["feedback"]["total"], 4);
  EXPECT_EQ(sum["feedback"]["correct"], expected_correct);
  EXPECT_DOUBLE_EQ(sum["feedback"]["accuracy"].get<double>(), expected_correct / 4.0);
  EXPECT_EQ(sum["shadow"]["total"], texts.size());
  EXPECT_EQ(sum["shadow"]["agree"], expected_agree);
  EXPECT_NEAR(sum["shadow"]["cost_usd"].get<double>(), 0.0136 * static_cast<double>(texts.size()), 1e-9);
  EXPECT_EQ(m.body["window"], "1m");
  EXPECT_TRUE(m.body.contains("health"));
  EXPECT_TRUE(m.body["windows"].contains("24h"));

  const Reply stats = get(s.port(), "/v1/stats");
  EXPECT_EQ(stats.body["shadow"]["agreed"], expected_agree);

  const Reply metrics = get(s.port(), "/metrics");
  EXPECT_NE(
      metrics.raw.find("edgeroute_feedback_total{route=\"edge\",correct=\"true\"} " + std::to_string(expected_correct)),
      std::string::npos)
      << metrics.raw;
  EXPECT_NE(metrics.raw.find("edgeroute_shadow_requests_total{agreement=\"agree\"} " + std::to_string(expected_agree)),
            std::string::npos);
  EXPECT_NE(metrics.raw.find("edgeroute_edge_share_ratio{window=\"1m\"} 1"), std::string::npos);
  EXPECT_NE(metrics.raw.find("edgeroute_health_score"), std::string::npos);
}

TEST(ServiceMonitor, DashboardIsOpenButTheDataNeedsTheToken) {
  const auto mon = make_monitor();
  EdgeNode node(router::Policy{}, "", "");
  ServiceOptions o;
  o.port = 0;
  o.token = "t0ken";
  Running s(o, tiny_model(engine::Precision::kInt8), node.router.get(), mon.get());
  const Reply page = get(s.port(), "/dashboard");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.raw.find("<html"), std::string::npos);
  EXPECT_EQ(get(s.port(), "/v1/monitor").status, 401);
  EXPECT_EQ(get(s.port(), "/v1/health/report").status, 401);
  EXPECT_EQ(get(s.port(), "/v1/monitor?window=2h", "t0ken").status, 400);
  const Reply doc = get(s.port(), "/v1/monitor", "t0ken");
  ASSERT_EQ(doc.status, 200);
  EXPECT_EQ(doc.body["window"], "1h");
  const Reply h = get(s.port(), "/v1/health/report?window=24h", "t0ken");
  ASSERT_EQ(h.status, 200);
  EXPECT_TRUE(h.body.contains("score"));
  EXPECT_TRUE(h.body.contains("status"));
}

TEST(ServiceMonitor, WithoutAMonitorTheEndpointsSaySo) {
  EdgeNode node(router::Policy{}, "", "");
  Running s(any_port(), tiny_model(engine::Precision::kInt8), node.router.get());
  EXPECT_EQ(get(s.port(), "/v1/monitor").status, 404);
  EXPECT_EQ(get(s.port(), "/dashboard").status, 404);
  EXPECT_EQ(get(s.port(), "/v1/health/report").body["error"]["code"], "no_monitor");
}

}  // namespace
}  // namespace edgeroute::server
