#include "edgeroute/monitor/webhook.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "edgeroute/common/clock.h"
#include "edgeroute/common/error.h"

namespace edgeroute::monitor {
namespace {

using namespace std::chrono_literals;

// An httplib server on 127.0.0.1 (port chosen by the kernel) recording the
// bodies POSTed to /hook; `status` picks each answer's HTTP status.
class HookServer {
 public:
  explicit HookServer(std::function<int(int)> status = [](int) { return 200; }) : status_(std::move(status)) {
    server_.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      int n = 0;
      {
        std::unique_lock lock(mu_);
        n = calls_++;
        cv_.notify_all();
        gate_cv_.wait(lock, [this] { return open_; });
      }
      res.status = status_(n);
      if (res.status == 200) {
        const std::lock_guard lock(mu_);
        bodies_.push_back(nlohmann::json::parse(req.body));
        content_types_.push_back(req.get_header_value("Content-Type"));
      }
      cv_.notify_all();
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(1ms);
  }
  ~HookServer() {
    release();
    server_.stop();
    thread_.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }

  // Holds every request until release().
  void hold() {
    const std::lock_guard lock(mu_);
    open_ = false;
  }
  void release() {
    {
      const std::lock_guard lock(mu_);
      open_ = true;
    }
    gate_cv_.notify_all();
  }

  // Waits (at most 5 s) until `n` bodies arrived; returns what arrived.
  std::vector<nlohmann::json> wait_for(std::size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, 5s, [&] { return bodies_.size() >= n; });
    return bodies_;
  }
  bool wait_calls(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 5s, [&] { return calls_ >= n; });
  }
  int calls() {
    const std::lock_guard lock(mu_);
    return calls_;
  }
  std::vector<std::string> content_types() {
    const std::lock_guard lock(mu_);
    return content_types_;
  }

 private:
  std::function<int(int)> status_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_, gate_cv_;
  bool open_ = true;
  int calls_ = 0;
  std::vector<nlohmann::json> bodies_;
  std::vector<std::string> content_types_;
};

WebhookOptions options(const std::string& url) {
  WebhookOptions o;
  o.url = url;
  o.timeout = 1000ms;
  o.backoff = 10ms;
  return o;
}

template <typename F>
bool eventually(F f) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (f()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return f();
}

TEST(WebhookSink, ServerReceivesFiringAndResolvedPosts) {
  HookServer server;
  auto sink = std::make_shared<WebhookSink>(options(server.url()));
  FakeClock clock;
  Rule rule = default_rules()[0];
  AlertEngine engine({rule}, &clock, "edge-1");
  engine.add_sink(sink);
  ASSERT_EQ(engine.evaluate([](const Rule&) { return MetricSample{0.5, 100}; }).size(), 1u);
  clock.advance(5s);
  ASSERT_EQ(engine.evaluate([](const Rule&) { return MetricSample{0.95, 100}; }).size(), 1u);
  const std::vector<nlohmann::json> bodies = server.wait_for(2);
  ASSERT_EQ(bodies.size(), 2u);
  EXPECT_EQ(bodies[0]["status"], "firing");
  EXPECT_EQ(bodies[1]["status"], "resolved");
  EXPECT_EQ(bodies[0]["node"], "edge-1");
  EXPECT_EQ(bodies[0]["alert"]["name"], rule.name);
  EXPECT_DOUBLE_EQ(bodies[0]["alert"]["value"].get<double>(), 0.5);
  EXPECT_FALSE(bodies[1]["alert"]["resolved_at"].is_null());
  EXPECT_EQ(server.content_types()[0], "application/json");
  EXPECT_TRUE(eventually([&] { return sink->delivered() == 2; }));
  EXPECT_EQ(sink->attempts(), 2u);
}

TEST(WebhookSink, RetriesAFailingServer) {
  HookServer server([](int n) { return n < 2 ? 500 : 200; });
  WebhookSink sink(options(server.url()));
  sink.notify({{"status", "firing"}, {"alert", {{"name", "x"}}}, {"node", "n"}});
  ASSERT_EQ(server.wait_for(1).size(), 1u);
  EXPECT_TRUE(eventually([&] { return sink.delivered() == 1; }));
  EXPECT_EQ(server.calls(), 3);
  EXPECT_EQ(sink.attempts(), 3u);
  EXPECT_EQ(sink.failed(), 0u);
}

TEST(WebhookSink, GivesUpAfterThreeTries) {
  HookServer server([](int) { return 500; });
  WebhookSink sink(options(server.url()));
  sink.notify({{"status", "firing"}});
  EXPECT_TRUE(eventually([&] { return sink.failed() == 1; }));
  EXPECT_EQ(server.calls(), 3);
  EXPECT_EQ(sink.delivered(), 0u);
}

TEST(WebhookSink, FullQueueDropsOldestAndCountsIt) {
  HookServer server;
  server.hold();
  WebhookOptions o = options(server.url());
  o.queue_capacity = 3;
  o.timeout = 3000ms;
  WebhookSink sink(o);
  sink.notify({{"seq", 0}});
  // The worker is now stuck in the held POST of event 0; 1..5 queue up behind it.
  ASSERT_TRUE(server.wait_calls(1));
  for (int i = 1; i <= 5; ++i) sink.notify({{"seq", i}});
  EXPECT_EQ(sink.dropped(), 2u);
  server.release();
  const std::vector<nlohmann::json> bodies = server.wait_for(4);
  ASSERT_EQ(bodies.size(), 4u);
  std::vector<int> seqs;
  for (const auto& b : bodies) seqs.push_back(b["seq"]);
  EXPECT_EQ(seqs, (std::vector<int>{0, 3, 4, 5}));
}

TEST(WebhookSink, DeadUrlNeverBlocksTheCaller) {
  // A port that was just free: connections are refused.
  int port = 0;
  {
    httplib::Server probe;
    port = probe.bind_to_any_port("127.0.0.1");
  }
  WebhookOptions o = options("http://127.0.0.1:" + std::to_string(port) + "/hook");
  o.timeout = 200ms;
  const auto start = std::chrono::steady_clock::now();
  {
    WebhookSink sink(o);
    for (int i = 0; i < 1000; ++i) sink.notify({{"seq", i}});
    EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);
    EXPECT_GT(sink.dropped(), 0u);
  }
  // Shutting down waits for at most the try in flight.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST(WebhookSink, BadUrlsFailAtConstruction) {
  const auto message = [](const std::string& url) -> std::string {
    try {
      WebhookSink sink(options(url));
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(message("https://hooks.example.com/x"), "");
  EXPECT_NE(message("ftp://host/x").find("scheme must be http:// or https://"), std::string::npos);
  EXPECT_NE(message("http:///x").find("no host"), std::string::npos);
  EXPECT_NE(message("http://host:99999/x").find("out of range"), std::string::npos);
  EXPECT_NE(message("http://host:abc/x").find("bad port"), std::string::npos);
  EXPECT_NE(message("hooks.example.com").find("hooks.example.com"), std::string::npos);
  WebhookOptions zero = options("http://127.0.0.1:9/x");
  zero.queue_capacity = 0;
  EXPECT_THROW(WebhookSink{zero}, Error);
}

}  // namespace
}  // namespace edgeroute::monitor
