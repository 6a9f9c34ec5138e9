// edgeroute's HTTP connection loop (src/server/http_server.h) on a real
// loopback socket, driven byte by byte from raw client sockets.
#include "http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>

namespace edgeroute::server {
namespace {

class Running {
 public:
  explicit Running(HttpServer& s) : s_(s) {
    s_.Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(std::to_string(req.body.size()) + " " + req.remote_addr + " " + req.get_header_value("X-N"),
                      "text/plain");
    });
    port_ = s_.bind_to_any_port("127.0.0.1");
    done_ = std::async(std::launch::async, [this] { s_.listen_after_bind(); });
    while (!s_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~Running() {
    s_.shutdown();
    done_.wait();
  }
  int port() const { return port_; }
  std::future<void>& done() { return done_; }

 private:
  HttpServer& s_;
  int port_ = 0;
  std::future<void> done_;
};

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  return fd;
}

void send_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    ASSERT_GT(n, 0);
    off += static_cast<std::size_t>(n);
  }
}

// Reads until `responses` complete responses arrived, EOF, or 10 s.
std::string read_responses(int fd, int responses) {
  std::string got;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto complete = [&] {
    int seen = 0;
    std::size_t pos = 0;
    while (seen < responses) {
      const std::size_t head_end = got.find("\r\n\r\n", pos);
      if (head_end == std::string::npos) return false;
      const std::size_t cl = got.find("Content-Length: ", pos);
      if (cl == std::string::npos || cl > head_end) return false;
      const std::size_t len = std::stoul(got.substr(cl + 16));
      if (got.size() < head_end + 4 + len) return false;
      pos = head_end + 4 + len;
      ++seen;
    }
    return true;
  };
  while (!complete() && std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[65536];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

std::string post(const std::string& body, int n) {
  return "POST /echo HTTP/1.1\r\nHost: x\r\nX-N: " + std::to_string(n) + "\r\nContent-Type: text/plain\r\n" +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// True when the server closed the connection (EOF, after whatever it sent
// last) within `seconds`.
bool closed_by_server(int fd, int seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return n == 0;
  }
  return false;
}

TEST(HttpServer, KeepAliveAndPipelinedRequestsAreAnsweredInOrder) {
  HttpServer server;
  server.set_keep_alive_max_count(100);
  Running run(server);
  const int fd = connect_to(run.port());
  // Two requests in one segment: the second is already in the read buffer
  // when the first is answered.
  send_all(fd, post("abc", 1) + post("defgh", 2));
  std::string got = read_responses(fd, 2);
  const std::size_t first = got.find("3 127.0.0.1 1");
  const std::size_t second = got.find("5 127.0.0.1 2");
  ASSERT_NE(first, std::string::npos) << got;
  ASSERT_NE(second, std::string::npos) << got;
  EXPECT_LT(first, second);
  // The same connection keeps serving.
  for (int i = 3; i < 50; ++i) {
    send_all(fd, post(std::string(static_cast<std::size_t>(i), 'x'), i));
    got = read_responses(fd, 1);
    ASSERT_NE(got.find(std::to_string(i) + " 127.0.0.1 " + std::to_string(i)), std::string::npos) << i << ": " << got;
  }
  ::close(fd);
  // The last request a connection may carry is answered, then it is closed.
  server.set_keep_alive_max_count(2);
  const int fd2 = connect_to(run.port());
  send_all(fd2, post("a", 1));
  ASSERT_NE(read_responses(fd2, 1).find("1 127.0.0.1 1"), std::string::npos);
  send_all(fd2, post("b", 2));
  const std::string last = read_responses(fd2, 1);
  EXPECT_NE(last.find("1 127.0.0.1 2"), std::string::npos) << last;
  EXPECT_NE(last.find("Connection: close"), std::string::npos) << last;
  EXPECT_TRUE(closed_by_server(fd2, 10));
  ::close(fd2);
}

// "100 Continue" must reach the client before the server waits for the body:
// buffered writes go out before any read.
TEST(HttpServer, ExpectContinueIsSentBeforeTheBodyIsRead) {
  HttpServer server;
  Running run(server);
  const int fd = connect_to(run.port());
  send_all(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nX-N: 9\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 10'000), 1) << "no interim response";
  char buf[256] = {};
  const ssize_t n = ::recv(fd, buf, sizeof buf - 1, 0);
  ASSERT_GT(n, 0);
  EXPECT_NE(std::string(buf).find("100 Continue"), std::string::npos) << buf;
  send_all(fd, "wxyz");
  const std::string got = read_responses(fd, 1);
  EXPECT_NE(got.find("4 127.0.0.1 9"), std::string::npos) << got;
  ::close(fd);
}

TEST(HttpServer, BodiesLargerThanTheReadBufferArriveWhole) {
  HttpServer server;
  server.set_payload_max_length(1 << 20);
  Running run(server);
  const int fd = connect_to(run.port());
  const std::string body(300'001, 'y');
  send_all(fd, post(body, 7));
  const std::string got = read_responses(fd, 1);
  EXPECT_NE(got.find("300001 127.0.0.1 7"), std::string::npos) << got.substr(0, 200);
  ::close(fd);
}

// The keep-alive timeout is a minute: only shutdown()'s wake-up can close the
// idle connection and let the server's threads finish within the 10 s bound.
TEST(HttpServer, ShutdownClosesIdleKeepAliveConnectionsAtOnce) {
  HttpServer server;
  server.set_keep_alive_timeout(60);
  auto run = std::make_unique<Running>(server);
  const int fd = connect_to(run->port());
  send_all(fd, post("a", 1));
  ASSERT_NE(read_responses(fd, 1).find("1 127.0.0.1 1"), std::string::npos);
  server.shutdown();
  EXPECT_EQ(run->done().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(closed_by_server(fd, 10));
  run.reset();
  ::close(fd);
}

TEST(HttpServer, AClientThatStopsMidRequestIsAnsweredAndDisconnected) {
  HttpServer server;
  server.set_read_timeout(1, 0);
  server.set_keep_alive_timeout(1);
  Running run(server);
  const int fd = connect_to(run.port());
  send_all(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
  EXPECT_TRUE(closed_by_server(fd, 20));
  ::close(fd);
}

}  // namespace
}  // namespace edgeroute::server
