#include "http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

#include "edgeroute/common/error.h"

namespace edgeroute::server {

namespace {

int to_ms(time_t sec, time_t usec) {
  const auto ms = static_cast<long long>(sec) * 1000 + static_cast<long long>(usec) / 1000;
  return static_cast<int>(std::clamp<long long>(ms, 0, 24LL * 3600 * 1000));
}

// poll() until timeout_ms from now, restarted after a signal with the time
// that is left: > 0 when some fd has events, 0 at the timeout, < 0 on error.
int poll_for(pollfd* fds, nfds_t n, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    const int r = ::poll(fds, n, static_cast<int>(std::max<long long>(left, 0)));
    if (r >= 0 || errno != EINTR) return r;
  }
}

// After a send/recv failed with errno: true when it is worth retrying (a
// signal, or the socket became ready for `events` within timeout_ms).
bool retry_after_failure(int fd, short events, int timeout_ms) {
  if (errno == EINTR) return true;
  if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
  pollfd p{fd, events, 0};
  return poll_for(&p, 1, timeout_ms) > 0;
}

void address_of(const sockaddr_storage& a, std::string& ip, int& port) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(a);
    ::inet_ntop(AF_INET, &v4.sin_addr, buf, sizeof buf);
    port = ntohs(v4.sin_port);
  } else if (a.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(a);
    ::inet_ntop(AF_INET6, &v6.sin6_addr, buf, sizeof buf);
    port = ntohs(v6.sin6_port);
  } else {
    port = -1;
  }
  ip = buf;
}

// One accepted connection. Reads go through a 4 KiB buffer (httplib reads
// request lines a byte at a time), writes through an output buffer; the
// socket is tried first and polled only when it would block, up to the
// server's timeouts.
class ConnectionStream final : public httplib::Stream {
 public:
  ConnectionStream(int fd, int read_timeout_ms, int write_timeout_ms)
      : fd_(fd), read_timeout_ms_(read_timeout_ms), write_timeout_ms_(write_timeout_ms) {}

  bool is_readable() const override { return off_ < len_ || ready(POLLIN, read_timeout_ms_); }
  bool is_writable() const override { return ready(POLLOUT, write_timeout_ms_); }

  ssize_t read(char* ptr, size_t size) override {
    if (off_ < len_) return take(ptr, size);
    if (size >= sizeof buf_) return receive(ptr, size);
    const ssize_t n = receive(buf_, sizeof buf_);
    if (n <= 0) return n;
    off_ = 0;
    len_ = static_cast<size_t>(n);
    return take(ptr, size);
  }

  // Buffered: a response's status line, headers and body leave in one send()
  // at flush() (httplib writes them separately; with TCP_NODELAY each write
  // was its own segment).
  ssize_t write(const char* ptr, size_t size) override {
    if (broken_) return -1;
    out_.append(ptr, size);
    if (out_.size() >= kFlushAt && !flush()) return -1;
    return static_cast<ssize_t>(size);
  }

  // Sends what write() buffered; false once the connection is broken.
  bool flush() {
    std::size_t off = 0;
    while (!broken_ && off < out_.size()) {
      const ssize_t n = ::send(fd_, out_.data() + off, out_.size() - off, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n >= 0) {
        off += static_cast<std::size_t>(n);
      } else if (!retry_after_failure(fd_, POLLOUT, write_timeout_ms_)) {
        broken_ = true;
      }
    }
    out_.clear();
    return !broken_;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    lookup();
    ip = remote_ip_;
    port = remote_port_;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    lookup();
    ip = local_ip_;
    port = local_port_;
  }
  socket_t socket() const override { return fd_; }

  // Before the next request on this connection: true once it has bytes (or
  // the peer closed, which the read then sees); false at the keep-alive
  // timeout, or once the stop event is readable.
  bool next_request(int keep_alive_ms, int stop_event) const {
    if (off_ < len_) return true;  // pipelined: already read
    pollfd p[2] = {{fd_, POLLIN, 0}, {stop_event, POLLIN, 0}};
    return poll_for(p, 2, keep_alive_ms) > 0 && p[1].revents == 0 && p[0].revents != 0;
  }

 private:
  ssize_t take(char* ptr, size_t size) {
    const size_t n = std::min(size, len_ - off_);
    std::memcpy(ptr, buf_ + off_, n);
    off_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t receive(char* ptr, size_t size) {
    // Whatever was written goes out before waiting for the peer (e.g. "100 Continue").
    if (!out_.empty() && !flush()) return -1;
    for (;;) {
      const ssize_t n = ::recv(fd_, ptr, size, MSG_DONTWAIT);
      if (n >= 0) return n;
      if (!retry_after_failure(fd_, POLLIN, read_timeout_ms_)) return -1;
    }
  }

  // The socket has `events` (or an error or hang-up, which the next call
  // reports) within timeout_ms.
  bool ready(short events, int timeout_ms) const {
    pollfd p{fd_, events, 0};
    return poll_for(&p, 1, timeout_ms) > 0;
  }

  void lookup() const {
    if (looked_up_) return;
    looked_up_ = true;
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0) address_of(a, remote_ip_, remote_port_);
    len = sizeof a;
    a = {};
    if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0) address_of(a, local_ip_, local_port_);
  }

  static constexpr std::size_t kFlushAt = 64 * 1024;

  int fd_;
  int read_timeout_ms_, write_timeout_ms_;
  std::string out_;
  bool broken_ = false;
  char buf_[4096];
  size_t off_ = 0, len_ = 0;
  mutable bool looked_up_ = false;
  mutable std::string remote_ip_, local_ip_;
  mutable int remote_port_ = -1, local_port_ = -1;
};

}  // namespace

HttpServer::HttpServer() : stop_event_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (stop_event_ < 0) throw Error(std::string("serve: eventfd: ") + std::strerror(errno));
}

HttpServer::~HttpServer() { ::close(stop_event_); }

void HttpServer::shutdown() {
  const std::uint64_t one = 1;
  // Cannot fail short of an overflowed counter: the event only ever gets 1s.
  [[maybe_unused]] const ssize_t n = ::write(stop_event_, &one, sizeof one);
  stop();
}

bool HttpServer::process_and_close_socket(socket_t sock) {
  ConnectionStream stream(sock, to_ms(read_timeout_sec_, read_timeout_usec_),
                          to_ms(write_timeout_sec_, write_timeout_usec_));
  const int keep_alive_ms = to_ms(keep_alive_timeout_sec_, 0);
  bool ok = true;
  for (std::size_t left = keep_alive_max_count_; left > 0 && svr_sock_ != INVALID_SOCKET; --left) {
    if (!stream.next_request(keep_alive_ms, stop_event_)) break;
    bool closed = false;
    ok = process_request(stream, left == 1, closed, nullptr);
    if (!stream.flush() || !ok || closed) break;
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ok;
}

}  // namespace edgeroute::server
