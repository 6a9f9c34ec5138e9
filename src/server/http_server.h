// The service's HTTP server: cpp-httplib's request parsing, routing and
// response writing, with edgeroute's own connection loop and socket stream.
//
// Why: cpp-httplib 0.11 (the Debian bookworm package) waits for the next
// request on a keep-alive connection by polling 10 ms at a time and sleeping
// 1 ms between polls, and polls the socket before every read and every write.
// Measured on the edge server: 8 poll() and 2 nanosleep() calls per answer at
// 500 q/s, 6 voluntary context switches per answer at 1,500 q/s; every idle
// connection wakes twice per 11 ms, and a request that arrives during a sleep
// waits for it.
// Here a connection waits for its next request in one poll() on the socket
// and a stop event, reads and writes without polling first (it polls only
// when the socket would block), and looks its addresses up once.
#pragma once

#include <httplib.h>

namespace edgeroute::server {

class HttpServer final : public httplib::Server {
 public:
  HttpServer();
  ~HttpServer() override;
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Server::stop(), and wakes every connection waiting for a next request so
  // that it closes now rather than at its keep-alive timeout. A request being
  // handled finishes first and gets its answer.
  void shutdown();

 private:
  bool process_and_close_socket(socket_t sock) override;

  int stop_event_ = -1;  // eventfd, readable once shutdown() ran
};

}  // namespace edgeroute::server
