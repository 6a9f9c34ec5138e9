// `edgeroute load`: the open-loop generator (src/cli/load.cc, compiled into
// this test) and the subcommand, against small httplib servers started here
// on free loopback ports.
#include "load.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "../common/run_command.h"
#include "edgeroute/common/error.h"

namespace fs = std::filesystem;
using edgeroute::cli::LoadOptions;
using edgeroute::cli::LoadReport;
using edgeroute::cli::run_load;

namespace {

using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

// An httplib server on a free loopback port, serving POST /v1/classify;
// `configure` may change its keep-alive settings before it listens.
class TestServer {
 public:
  explicit TestServer(Handler handler, const std::function<void(httplib::Server&)>& configure = {}) {
    if (configure) configure(server_);
    server_.Post("/v1/classify", [this, handler](const httplib::Request& req, httplib::Response& res) {
      hits_.fetch_add(1);
      {
        const std::lock_guard<std::mutex> lock(mutex_);
        bodies_.push_back(req.body);
      }
      handler(req, res);
    });
    server_.set_tcp_nodelay(true);
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ > 0) {
      thread_ = std::thread([this] {
        server_.listen_after_bind();
        stopped_ = true;
      });
      while (!server_.is_running() && !stopped_) std::this_thread::yield();
    }
  }
  ~TestServer() {
    if (thread_.joinable()) {
      server_.stop();
      thread_.join();
    }
  }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int hits() const { return hits_.load(); }
  std::vector<std::string> bodies() {
    const std::lock_guard<std::mutex> lock(mutex_);
    return bodies_;
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = -1;
  std::atomic<bool> stopped_{false};
  std::atomic<int> hits_{0};
  std::mutex mutex_;
  std::vector<std::string> bodies_;
};

void ok(const httplib::Request&, httplib::Response& res) { res.set_content(R"({"label":"x"})", "application/json"); }

// A loopback port on which nothing listens (bound, then closed).
int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

LoadOptions options(const std::string& url, double rate, double duration, std::size_t connections) {
  LoadOptions o;
  o.url = url;
  o.rate = rate;
  o.duration_s = duration;
  o.connections = connections;
  o.timeout_s = 5.0;
  return o;
}

void expect_counts_add_up(const LoadReport& r) {
  EXPECT_EQ(r.sent + r.unsent, r.scheduled);
  EXPECT_EQ(r.completed + r.errors, r.sent);
  EXPECT_EQ(r.status_2xx + r.status_4xx + r.status_5xx + r.status_other, r.completed);
  std::uint64_t by_code = 0;
  for (const auto& [code, n] : r.status_counts) by_code += n;
  EXPECT_EQ(by_code, r.completed);
}

// Every request was sent and failed, all of them with this error kind.
void expect_only_errors(const LoadReport& r, const std::string& kind) {
  expect_counts_add_up(r);
  EXPECT_GT(r.sent, 0u);
  EXPECT_EQ(r.completed, 0u);
  ASSERT_EQ(r.error_counts.count(kind), 1u) << kind;
  EXPECT_EQ(r.error_counts.at(kind), r.sent) << kind;
}

const std::vector<std::string> kTexts = {"where is my order", "my card was declined", "thanks!",
                                         "caf\xC3\xA9 \"quoted\""};

TEST(LoadUrl, ParsesHostPortAndPrefix) {
  const auto u = edgeroute::cli::parse_url("http://127.0.0.1:8080");
  EXPECT_EQ(u.scheme, "http");
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, 8080);
  EXPECT_EQ(u.prefix, "");
  const auto v = edgeroute::cli::parse_url("https://edge.example.com/api/");
  EXPECT_EQ(v.port, 443);
  EXPECT_EQ(v.prefix, "/api");
  EXPECT_EQ(edgeroute::cli::parse_url("http://[::1]:9000").host, "::1");
  for (const char* bad : {"127.0.0.1:8080", "ftp://host", "http://", "http://host:0", "http://host:99999",
                          "http://host:abc", "http://host:"}) {
    EXPECT_THROW(edgeroute::cli::parse_url(bad), edgeroute::Error) << bad;
  }
}

TEST(Load, AllAnsweredCountsAddUpAndTextsCycle) {
  TestServer server(ok);
  ASSERT_GT(server.port(), 0);
  LoadOptions o = options(server.url(), 200.0, 0.5, 4);
  const LoadReport r = run_load(o, kTexts);
  expect_counts_add_up(r);
  EXPECT_EQ(r.scheduled, 100u);
  EXPECT_EQ(r.sent, 100u);
  EXPECT_EQ(r.completed, 100u);
  EXPECT_EQ(r.status_2xx, r.completed);
  EXPECT_EQ(r.errors, 0u);
  EXPECT_EQ(r.status_counts.at(200), 100u);
  EXPECT_EQ(server.hits(), 100);
  EXPECT_GT(r.p50_ms, 0.0);
  EXPECT_LE(r.p50_ms, r.p90_ms);
  EXPECT_LE(r.p90_ms, r.p99_ms);
  EXPECT_LE(r.p99_ms, r.p999_ms);
  EXPECT_LE(r.p999_ms, r.max_ms);
  // Every text is sent, as {"text": ...}, 25 times each.
  std::map<std::string, int> seen;
  for (const std::string& body : server.bodies()) ++seen[nlohmann::json::parse(body).at("text").get<std::string>()];
  ASSERT_EQ(seen.size(), kTexts.size());
  for (const std::string& t : kTexts) EXPECT_EQ(seen[t], 25) << t;
}

TEST(Load, ServerErrorsAreReportedByStatus) {
  std::atomic<int> n{0};
  TestServer server([&n](const httplib::Request& req, httplib::Response& res) {
    if (n.fetch_add(1) % 4 == 3) {
      res.status = 503;
      return;
    }
    ok(req, res);
  });
  ASSERT_GT(server.port(), 0);
  const LoadReport r = run_load(options(server.url(), 200.0, 0.5, 4), kTexts);
  expect_counts_add_up(r);
  EXPECT_EQ(r.completed, 100u);
  EXPECT_EQ(r.status_5xx, 25u);
  EXPECT_EQ(r.status_2xx, 75u);
  EXPECT_EQ(r.status_counts.at(503), 25u);
  EXPECT_EQ(r.errors, 0u);
}

// One connection to a server that takes 20 ms per request, at 100 requests/s:
// the k-th send cannot start before k*20 ms but was scheduled at k*10 ms, so
// its latency, counted from the schedule, is at least k*10 + 20 ms. A
// closed-loop tool would report ~20 ms for every request.
TEST(Load, LatencyCountsFromTheScheduleWhenTheServerFallsBehind) {
  TestServer server([](const httplib::Request& req, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // service time, not synchronisation
    ok(req, res);
  });
  ASSERT_GT(server.port(), 0);
  const LoadReport r = run_load(options(server.url(), 100.0, 0.3, 1), kTexts);
  expect_counts_add_up(r);
  EXPECT_EQ(r.scheduled, 30u);
  ASSERT_GE(r.sent, 1u);
  EXPECT_EQ(r.status_2xx, r.completed);
  EXPECT_GE(r.p50_ms, 20.0);
  EXPECT_GE(r.max_ms + 1e-6, static_cast<double>(r.sent - 1) * 10.0 + 20.0);
  EXPECT_GE(r.late_sends + 1, r.sent);
  if (r.sent >= 2) {
    EXPECT_TRUE(r.fell_behind);
  }
}

TEST(Load, UnreachableServerIsCountedAsErrors) {
  const int port = closed_port();
  ASSERT_GT(port, 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  EXPECT_THROW(edgeroute::cli::check_reachable(edgeroute::cli::parse_url(url), 2.0), edgeroute::Error);
  const LoadReport r = run_load(options(url, 100.0, 0.1, 2), kTexts);
  expect_counts_add_up(r);
  EXPECT_EQ(r.completed, 0u);
  EXPECT_EQ(r.errors, r.sent);
  EXPECT_GT(r.errors, 0u);
  EXPECT_FALSE(r.error_counts.empty());
}

// A loopback server that answers every request on a connection with the
// same raw bytes (or closes the connection when `reply` is empty).
class RawServer {
 public:
  explicit RawServer(std::string reply) : reply_(std::move(reply)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      for (;;) {
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;  // the listening socket was shut down
        char buf[4096];
        std::string in;
        while (in.find("\r\n\r\n") == std::string::npos) {
          const ssize_t n = ::recv(c, buf, sizeof buf, 0);
          if (n <= 0) break;
          in.append(buf, static_cast<std::size_t>(n));
        }
        if (!reply_.empty()) (void)!::send(c, reply_.data(), reply_.size(), MSG_NOSIGNAL);
        ::close(c);
      }
    });
  }
  ~RawServer() {
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

 private:
  std::string reply_;
  int fd_ = -1;
  int port_ = -1;
  std::thread thread_;
};

// Responses framed by chunked encoding, and by the end of the connection
// (no Content-Length), are read whole and counted as answers.
TEST(Load, ChunkedAndCloseDelimitedResponsesAreAnswers) {
  TestServer chunked([](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("application/json", [](std::size_t, httplib::DataSink& sink) {
      sink.write("{\"label\":", 9);
      sink.write("\"x\"}", 4);
      sink.done();
      return true;
    });
  });
  ASSERT_GT(chunked.port(), 0);
  const LoadReport a = run_load(options(chunked.url(), 200.0, 0.25, 2), kTexts);
  expect_counts_add_up(a);
  EXPECT_EQ(a.status_2xx, 50u);
  EXPECT_EQ(a.errors, 0u);
  EXPECT_EQ(chunked.hits(), 50);

  RawServer until_close("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"label\":\"x\"}");
  ASSERT_GT(until_close.port(), 0);
  const LoadReport b = run_load(options(until_close.url(), 200.0, 0.25, 2), kTexts);
  expect_counts_add_up(b);
  EXPECT_EQ(b.status_2xx, 50u);
  EXPECT_EQ(b.errors, 0u);
}

// A server that closes every connection after one answer (Connection:
// close), or closes idle keep-alive connections, costs reconnects, not errors.
TEST(Load, ServerClosedConnectionsAreReopened) {
  TestServer one_each(ok, [](httplib::Server& s) { s.set_keep_alive_max_count(1); });
  ASSERT_GT(one_each.port(), 0);
  const LoadReport a = run_load(options(one_each.url(), 200.0, 0.25, 2), kTexts);
  expect_counts_add_up(a);
  EXPECT_EQ(a.status_2xx, 50u);
  EXPECT_EQ(a.errors, 0u);

  // Requests 1.25 s apart on one connection; the server drops it after 1 s idle.
  TestServer idle_close(ok, [](httplib::Server& s) { s.set_keep_alive_timeout(1); });
  ASSERT_GT(idle_close.port(), 0);
  const LoadReport b = run_load(options(idle_close.url(), 0.8, 2.5, 1), kTexts);
  expect_counts_add_up(b);
  EXPECT_EQ(b.sent, 2u);
  EXPECT_EQ(b.status_2xx, 2u);
  EXPECT_EQ(b.errors, 0u);
  EXPECT_EQ(idle_close.hits(), 2);
}

// Answers slower than --timeout, garbage, and connections closed without an
// answer are errors by kind.
TEST(Load, TimeoutsAndBadResponsesAreErrorsByKind) {
  TestServer slow([](const httplib::Request& req, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // longer than the 50 ms timeout
    ok(req, res);
  });
  ASSERT_GT(slow.port(), 0);
  LoadOptions o = options(slow.url(), 100.0, 0.05, 5);
  o.timeout_s = 0.05;
  const LoadReport a = run_load(o, kTexts);
  EXPECT_EQ(a.sent, 5u);
  expect_only_errors(a, "timeout");

  RawServer garbage("HTTP/1.1 2x0 nonsense\r\n\r\n");
  ASSERT_GT(garbage.port(), 0);
  const LoadReport b = run_load(options(garbage.url(), 100.0, 0.05, 1), kTexts);
  expect_only_errors(b, "malformed response");

  RawServer hang_up("");
  ASSERT_GT(hang_up.port(), 0);
  const LoadReport c = run_load(options(hang_up.url(), 100.0, 0.05, 1), kTexts);
  expect_only_errors(c, "closed before the response ended");
}

TEST(Load, BadOptionsThrow) {
  EXPECT_THROW(run_load(options("http://127.0.0.1:1", 100.0, 1.0, 1), {}), edgeroute::Error);
  EXPECT_THROW(run_load(options("http://127.0.0.1:1", 0.0, 1.0, 1), kTexts), edgeroute::Error);
  EXPECT_THROW(run_load(options("http://127.0.0.1:1", 100.0, 0.001, 1), kTexts), edgeroute::Error);  // none
  EXPECT_THROW(run_load(options("https://127.0.0.1:1", 100.0, 1.0, 1), kTexts), edgeroute::Error);
  EXPECT_THROW(run_load(options("http://127.0.0.1:1", 1e9, 1e3, 1), kTexts), edgeroute::Error);      // too many
  EXPECT_THROW(run_load(options("http://127.0.0.1:1", 100.0, 1.0, 0), kTexts), edgeroute::Error);
}

class LoadCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(EDGEROUTE_TEST_BINARY_DIR) / "load_test" /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "in.csv") << "id,message\n1,where is my order\n2,\"refund, please\"\n";
    std::ofstream(dir_ / "token") << "s3cret\n";
  }
  edgeroute::test::CommandResult load(const std::string& args) {
    return edgeroute::test::run_command(std::string(EDGEROUTE_BIN) + " load --input " + (dir_ / "in.csv").string() +
                                        " " + args);
  }
  fs::path dir_;
};

TEST_F(LoadCommand, JsonReportWithTokenAndServerErrors) {
  TestServer server([](const httplib::Request& req, httplib::Response& res) {
    if (req.get_header_value("Authorization") != "Bearer s3cret") {
      res.status = 401;
      return;
    }
    ok(req, res);
  });
  ASSERT_GT(server.port(), 0);
  const auto with_token =
      load("--url " + server.url() + " --column message --rate 100 --duration 0.2 --connections 2 " +
           "--json --token-file " + (dir_ / "token").string());
  ASSERT_EQ(with_token.code, 0) << with_token.out;
  const nlohmann::json j = nlohmann::json::parse(with_token.out);
  EXPECT_EQ(j.at("scheduled"), 20);
  EXPECT_EQ(j.at("completed"), j.at("status").at("2xx"));
  EXPECT_EQ(j.at("status").at("2xx"), j.at("sent"));
  for (const char* k : {"p50", "p90", "p99", "p99.9", "max"}) EXPECT_TRUE(j.at("latency_ms").contains(k)) << k;
  EXPECT_TRUE(j.contains("late_sends"));
  EXPECT_TRUE(j.contains("fell_behind"));

  // Without the token every answer is a 401: reported, and still exit 0.
  const auto without = load("--url " + server.url() + " --column message --rate 100 --duration 0.2 --json");
  ASSERT_EQ(without.code, 0) << without.out;
  const nlohmann::json k = nlohmann::json::parse(without.out);
  EXPECT_EQ(k.at("status").at("4xx"), k.at("sent"));
  EXPECT_EQ(k.at("status_codes").at("401"), k.at("sent"));

  const auto text = load("--url " + server.url() + " --column message --rate 50 --duration 0.1");
  ASSERT_EQ(text.code, 0) << text.out;
  EXPECT_NE(text.out.find("p99.9"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("4xx 5"), std::string::npos) << text.out;
}

TEST_F(LoadCommand, UnreachableServerAndBadArgumentsFail) {
  const auto unreachable = load("--url http://127.0.0.1:" + std::to_string(closed_port()) + " --duration 0.1");
  EXPECT_EQ(unreachable.code, 1) << unreachable.out;
  EXPECT_NE(unreachable.out.find("not reachable"), std::string::npos) << unreachable.out;
  EXPECT_EQ(load("--url http://127.0.0.1:1 --rate -5").code, 2);
  EXPECT_EQ(load("--url http://127.0.0.1:1 --connections 0").code, 2);
  EXPECT_EQ(load("--url nonsense --duration 0.1").code, 1);
  EXPECT_EQ(load("--url http://127.0.0.1:1 --column nope").code, 1);
  EXPECT_EQ(load("--url http://127.0.0.1:1 --token-file " + (dir_ / "missing").string()).code, 2);
}

}  // namespace
