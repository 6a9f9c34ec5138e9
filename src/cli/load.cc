// Open-loop HTTP load generator (see load.h): a fixed schedule, one epoll
// thread over keep-alive connections, latency from the scheduled time, and a
// report of counts, status codes, percentiles and whether the generator kept
// up.
#include "load.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <sstream>
#include <string_view>

#include "edgeroute/common/error.h"

namespace edgeroute::cli {

namespace {

using SteadyClock = std::chrono::steady_clock;
using Nanos = std::chrono::nanoseconds;

// Offset of request i from the start.
Nanos schedule_offset(std::uint64_t i, double rate) {
  return Nanos(static_cast<std::int64_t>(static_cast<long double>(i) * 1e9L / static_cast<long double>(rate)));
}

double ms(std::int64_t ns) { return static_cast<double>(ns) / 1e6; }

// Nearest-rank percentile of sorted samples.
std::int64_t percentile(const std::vector<std::int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto n = static_cast<double>(sorted.size());
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * n));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

std::string num(double v) {
  std::ostringstream ss;
  ss << v;
  return ss.str();
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

struct Address {
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = 0;
};

std::vector<Address> resolve(const ParsedUrl& url, const std::string& where) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(url.port);
  const int rc = ::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) throw Error("--url " + where + ": cannot resolve '" + url.host + "': " + ::gai_strerror(rc));
  std::vector<Address> out;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    if (a->ai_addrlen > sizeof(sockaddr_storage)) continue;
    Address x;
    std::memcpy(&x.addr, a->ai_addr, a->ai_addrlen);
    x.len = a->ai_addrlen;
    x.family = a->ai_family;
    out.push_back(x);
  }
  ::freeaddrinfo(found);
  if (out.empty()) throw Error("--url " + where + ": '" + url.host + "' has no usable address");
  return out;
}

// One non-blocking connect bounded by timeout_s: 0 when it succeeded, else
// the errno that describes why not.
int try_connect(const Address& a, double timeout_s) {
  const Fd fd(::socket(a.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return errno;
  int err = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&a.addr), a.len) == 0 ? 0 : errno;
  if (err == EINPROGRESS) {
    pollfd p{fd.get(), POLLOUT, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::ceil(timeout_s * 1000.0)));
    if (ready == 0) {
      err = ETIMEDOUT;
    } else if (ready < 0) {
      err = errno;
    } else {
      socklen_t len = sizeof err;
      if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    }
  }
  return err;
}

std::string where_of(const ParsedUrl& url) { return url.scheme + "://" + url.host + ":" + std::to_string(url.port); }

// ---- HTTP/1.1 response framing -------------------------------------------

enum class Parse : std::uint8_t { kMore, kDone, kBad };

struct Response {
  int status = 0;
  bool close = false;     // the server ends the connection after this response
  std::size_t size = 0;   // bytes of the response, head and body
};

constexpr std::size_t kMaxHeadBytes = 64 * 1024;

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

bool contains_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    if (iequal(trim(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// Frames one response at the start of `in` (`eof`: the peer closed, nothing
// more will come). Content-Length, chunked and read-until-close bodies.
Parse parse_response(std::string_view in, bool eof, Response& r) {
  const std::size_t head_end = in.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return eof || in.size() > kMaxHeadBytes ? Parse::kBad : Parse::kMore;
  const std::string_view head = in.substr(0, head_end + 2);
  std::size_t eol = head.find("\r\n");
  const std::string_view status_line = head.substr(0, eol);
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ') return Parse::kBad;
  int status = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    if (status_line[i] < '0' || status_line[i] > '9') return Parse::kBad;
    status = status * 10 + (status_line[i] - '0');
  }
  r.status = status;
  r.close = status_line[7] == '0';
  bool chunked = false;
  bool have_length = false;
  std::size_t length = 0;
  for (std::size_t pos = eol + 2; pos < head.size(); pos = eol + 2) {
    eol = head.find("\r\n", pos);
    const std::string_view line = head.substr(pos, eol - pos);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return Parse::kBad;
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1));
    if (iequal(name, "content-length")) {
      if (value.empty() || value.size() > 15) return Parse::kBad;
      length = 0;
      for (const char c : value) {
        if (c < '0' || c > '9') return Parse::kBad;
        length = length * 10 + static_cast<std::size_t>(c - '0');
      }
      have_length = true;
    } else if (iequal(name, "transfer-encoding")) {
      chunked = contains_token(value, "chunked");
    } else if (iequal(name, "connection")) {
      if (contains_token(value, "close")) r.close = true;
      if (contains_token(value, "keep-alive")) r.close = false;
    }
  }
  std::size_t body = head_end + 4;
  if (status < 200 || status == 204 || status == 304) {
    r.size = body;
    return Parse::kDone;
  }
  if (chunked) {
    for (;;) {
      const std::size_t size_end = in.find("\r\n", body);
      if (size_end == std::string_view::npos) return eof ? Parse::kBad : Parse::kMore;
      std::size_t chunk = 0;
      std::size_t digits = 0;
      for (std::size_t i = body; i < size_end && in[i] != ';'; ++i, ++digits) {
        const char c = in[i];
        const int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (v < 0 || digits >= 15) return Parse::kBad;
        chunk = chunk * 16 + static_cast<std::size_t>(v);
      }
      if (digits == 0) return Parse::kBad;
      body = size_end + 2;
      if (chunk == 0) {
        if (in.substr(body, 2) == "\r\n") {
          r.size = body + 2;
          return Parse::kDone;
        }
        const std::size_t trailer_end = in.find("\r\n\r\n", body);
        if (trailer_end == std::string_view::npos) return eof ? Parse::kBad : Parse::kMore;
        r.size = trailer_end + 4;
        return Parse::kDone;
      }
      if (in.size() < body + chunk + 2) return eof ? Parse::kBad : Parse::kMore;
      if (in.substr(body + chunk, 2) != "\r\n") return Parse::kBad;
      body += chunk + 2;
    }
  }
  if (have_length) {
    if (in.size() < body + length) return eof ? Parse::kBad : Parse::kMore;
    r.size = body + length;
    return Parse::kDone;
  }
  if (!eof) return Parse::kMore;  // the body runs to the end of the connection
  r.size = in.size();
  r.close = true;
  return Parse::kDone;
}

// ---- the event loop --------------------------------------------------------

// One thread drives every connection through epoll: it sends each request at
// its scheduled time on a free connection and reads the answers as they come.
// Sleeping until a send time uses epoll_pwait2's nanosecond timeout.
class Generator {
 public:
  Generator(const LoadOptions& o, std::vector<std::string> requests, Address address, std::uint64_t total)
      : o_(o),
        requests_(std::move(requests)),
        address_(address),
        total_(total),
        epoll_(::epoll_create1(EPOLL_CLOEXEC)),
        conns_(o.connections) {
    if (epoll_.get() < 0) throw Error(std::string("load: epoll_create1: ") + std::strerror(errno));
    idle_.reserve(conns_.size());
    for (std::size_t i = conns_.size(); i > 0; --i) idle_.push_back(i - 1);
    latency_ns_.reserve(static_cast<std::size_t>(total));
  }

  void run() {
    start_ = SteadyClock::now() + std::chrono::milliseconds(5);
    const auto stop_sending =
        start_ + std::chrono::duration_cast<Nanos>(std::chrono::duration<double>(o_.duration_s + kLoadGraceSeconds));
    const auto timeout = std::chrono::duration_cast<Nanos>(std::chrono::duration<double>(o_.timeout_s));
    last_send_ = last_done_ = start_;
    std::uint64_t next = 0;
    bool stopped = false;
    std::array<epoll_event, 256> events{};
    auto next_scan = start_;
    for (;;) {
      auto now = SteadyClock::now();
      while (!stopped && next < total_ && !idle_.empty()) {
        const auto scheduled = start_ + schedule_offset(next, o_.rate);
        if (scheduled > now) break;
        if (now > stop_sending) {
          stopped = true;
          break;
        }
        const std::size_t c = idle_.back();
        idle_.pop_back();
        begin(c, next++, scheduled, now, timeout);
        now = SteadyClock::now();
      }
      if (!stopped && next < total_ && now > stop_sending) stopped = true;
      if ((stopped || next >= total_) && active_ == 0) break;
      if (now >= next_scan) {
        for (std::size_t c = 0; c < conns_.size(); ++c) {
          if (conns_[c].state != State::kIdle && conns_[c].deadline < now) fail(c, "timeout");
        }
        next_scan = now + std::chrono::milliseconds(1);
      }
      auto wake = now + std::chrono::milliseconds(20);
      if (!stopped && next < total_ && !idle_.empty()) wake = std::min(wake, start_ + schedule_offset(next, o_.rate));
      const auto wait = std::max(Nanos(0), std::chrono::duration_cast<Nanos>(wake - now));
      const int n = wait_events(events.data(), static_cast<int>(events.size()), wait);
      for (int i = 0; i < n; ++i) handle(events[static_cast<std::size_t>(i)].data.u32, events[static_cast<std::size_t>(i)].events);
    }
    for (std::size_t c = 0; c < conns_.size(); ++c) close_conn(c);
  }

  void report(LoadReport& r) {
    r.sent = sent_;
    r.late_sends = late_;
    r.status_counts = status_counts_;
    r.error_counts = error_counts_;
    r.max_send_lag_ms = ms(max_lag_ns_);
    r.elapsed_s = std::chrono::duration<double>(last_done_ - start_).count();
    const double send_window = std::chrono::duration<double>(last_send_ - start_).count() + 1.0 / o_.rate;
    r.achieved_rate = sent_ > 0 ? static_cast<double>(sent_) / send_window : 0.0;
    std::sort(latency_ns_.begin(), latency_ns_.end());
    if (!latency_ns_.empty()) {
      r.p50_ms = ms(percentile(latency_ns_, 50.0));
      r.p90_ms = ms(percentile(latency_ns_, 90.0));
      r.p99_ms = ms(percentile(latency_ns_, 99.0));
      r.p999_ms = ms(percentile(latency_ns_, 99.9));
      r.max_ms = ms(latency_ns_.back());
      long double sum = 0;
      for (const std::int64_t v : latency_ns_) sum += static_cast<long double>(v);
      r.mean_ms = static_cast<double>(sum / static_cast<long double>(latency_ns_.size()) / 1e6L);
    }
  }

 private:
  enum class State : std::uint8_t { kIdle, kConnecting, kSending, kReceiving };
  struct Conn {
    int fd = -1;
    State state = State::kIdle;
    bool reused = false;   // an earlier response came over this connection
    bool retried = false;  // this request already moved to a new connection once
    SteadyClock::time_point scheduled{};
    SteadyClock::time_point deadline{};
    const std::string* out = nullptr;
    std::size_t out_off = 0;
    std::string in;
  };

  int wait_events(epoll_event* events, int max, Nanos wait) {
    if (pwait2_) {
      timespec ts{};
      ts.tv_sec = static_cast<time_t>(wait.count() / 1'000'000'000);
      ts.tv_nsec = static_cast<long>(wait.count() % 1'000'000'000);
      const int n = ::epoll_pwait2(epoll_.get(), events, max, &ts, nullptr);
      if (n >= 0) return n;
      if (errno != ENOSYS) return check_wait(n);
      pwait2_ = false;  // an older kernel: millisecond timeouts, rounded up
    }
    const auto ms_wait = static_cast<int>((wait.count() + 999'999) / 1'000'000);
    return check_wait(::epoll_wait(epoll_.get(), events, max, ms_wait));
  }
  static int check_wait(int n) {
    if (n >= 0 || errno == EINTR) return std::max(n, 0);
    throw Error(std::string("load: epoll_wait: ") + std::strerror(errno));
  }

  void begin(std::size_t c, std::uint64_t i, SteadyClock::time_point scheduled, SteadyClock::time_point now,
             Nanos timeout) {
    const std::int64_t lag = std::chrono::duration_cast<Nanos>(now - scheduled).count();
    max_lag_ns_ = std::max(max_lag_ns_, lag);
    if (lag > 1'000'000) ++late_;
    ++sent_;
    ++active_;
    last_send_ = now;
    Conn& k = conns_[c];
    k.scheduled = scheduled;
    k.deadline = now + timeout;
    k.out = &requests_[i % requests_.size()];
    k.out_off = 0;
    k.in.clear();
    k.retried = false;
    if (k.fd < 0) {
      open(c);
    } else {
      send(c);
    }
  }

  void open(std::size_t c) {
    Conn& k = conns_[c];
    k.reused = false;
    k.fd = ::socket(address_.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (k.fd < 0) return fail(c, std::string("socket: ") + std::strerror(errno));
    const int one = 1;
    ::setsockopt(k.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u32 = static_cast<std::uint32_t>(c);
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, k.fd, &ev) != 0) {
      return fail(c, std::string("epoll_ctl: ") + std::strerror(errno));
    }
    if (::connect(k.fd, reinterpret_cast<const sockaddr*>(&address_.addr), address_.len) == 0) return send(c);
    if (errno == EINPROGRESS) {
      k.state = State::kConnecting;
      return;
    }
    fail(c, std::string("connect: ") + std::strerror(errno));
  }

  void send(std::size_t c) {
    Conn& k = conns_[c];
    k.state = State::kSending;
    while (k.out_off < k.out->size()) {
      const ssize_t n = ::send(k.fd, k.out->data() + k.out_off, k.out->size() - k.out_off, MSG_NOSIGNAL);
      if (n > 0) {
        k.out_off += static_cast<std::size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;  // EPOLLOUT resumes it
      } else {
        return broken(c, std::string("send: ") + std::strerror(errno));
      }
    }
    k.state = State::kReceiving;
  }

  // `hup`: the peer has closed its side, so reading goes on to the end (a
  // short read does not mean that another edge will follow).
  void receive(std::size_t c, bool hup) {
    Conn& k = conns_[c];
    bool eof = false;
    for (;;) {
      const ssize_t n = ::recv(k.fd, buf_.data(), buf_.size(), 0);
      if (n > 0) {
        k.in.append(buf_.data(), static_cast<std::size_t>(n));
        if (static_cast<std::size_t>(n) < buf_.size() && !hup) break;
      } else if (n == 0) {
        eof = true;
        break;
      } else if (errno == EINTR) {
        continue;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        break;
      } else {
        return broken(c, std::string("recv: ") + std::strerror(errno));
      }
    }
    Response r;
    switch (parse_response(k.in, eof, r)) {
      case Parse::kMore:
        if (eof) broken(c, "closed before the response ended");
        return;
      case Parse::kBad:
        return fail(c, k.in.empty() ? "closed before the response ended" : "malformed response");
      case Parse::kDone:
        break;
    }
    const auto done = SteadyClock::now();
    ++status_counts_[r.status];
    latency_ns_.push_back(std::chrono::duration_cast<Nanos>(done - k.scheduled).count());
    last_done_ = done;
    --active_;
    k.reused = true;
    // Bytes past the response (or a close) leave the connection unusable.
    if (r.close || eof || r.size != k.in.size()) close_conn(c);
    k.state = State::kIdle;
    idle_.push_back(c);
  }

  // A kept-alive connection the server had already closed fails before any
  // byte of the answer: the request moves to a new connection, once.
  void broken(std::size_t c, const std::string& kind) {
    Conn& k = conns_[c];
    if (k.reused && !k.retried && k.in.empty()) {
      close_conn(c);
      k.retried = true;
      k.out_off = 0;
      return open(c);
    }
    fail(c, kind);
  }

  void fail(std::size_t c, const std::string& kind) {
    close_conn(c);
    ++error_counts_[kind];
    last_done_ = SteadyClock::now();
    --active_;
    conns_[c].state = State::kIdle;
    idle_.push_back(c);
  }

  void close_conn(std::size_t c) {
    Conn& k = conns_[c];
    if (k.fd >= 0) ::close(k.fd);  // closing also takes it out of the epoll set
    k.fd = -1;
  }

  void handle(std::uint32_t c, std::uint32_t ev) {
    Conn& k = conns_[c];
    if (k.fd < 0) return;
    const bool hup = (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
    const bool readable = hup || (ev & EPOLLIN) != 0;
    switch (k.state) {
      case State::kIdle:
        if (readable) close_conn(c);  // the server closed an idle keep-alive connection
        return;
      case State::kConnecting: {
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(k.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        if (err != 0) return fail(c, std::string("connect: ") + std::strerror(err));
        if ((ev & EPOLLOUT) != 0) send(c);
        return;
      }
      case State::kSending:
        if ((ev & EPOLLOUT) != 0) send(c);
        if (k.state != State::kIdle && readable) receive(c, hup);
        return;
      case State::kReceiving:
        if (readable) receive(c, hup);
        return;
    }
  }

  const LoadOptions& o_;
  std::vector<std::string> requests_;
  Address address_;
  std::uint64_t total_;
  Fd epoll_;
  bool pwait2_ = true;
  std::vector<Conn> conns_;
  std::vector<std::size_t> idle_;  // free connections, the most recently used last
  std::size_t active_ = 0;
  std::array<char, 64 * 1024> buf_{};
  SteadyClock::time_point start_{};
  SteadyClock::time_point last_send_{};
  SteadyClock::time_point last_done_{};
  std::vector<std::int64_t> latency_ns_;
  std::map<int, std::uint64_t> status_counts_;
  std::map<std::string, std::uint64_t> error_counts_;
  std::uint64_t sent_ = 0;
  std::uint64_t late_ = 0;
  std::int64_t max_lag_ns_ = 0;
};

}  // namespace

ParsedUrl parse_url(const std::string& url) {
  ParsedUrl u;
  const std::size_t sep = url.find("://");
  if (sep == std::string::npos) throw Error("--url '" + url + "': expected http://HOST[:PORT][/PATH]");
  u.scheme = url.substr(0, sep);
  if (u.scheme != "http" && u.scheme != "https") {
    throw Error("--url '" + url + "': scheme '" + u.scheme + "' is not http or https");
  }
  std::string rest = url.substr(sep + 3);
  const std::size_t slash = rest.find('/');
  if (slash != std::string::npos) {
    u.prefix = rest.substr(slash);
    rest.resize(slash);
    while (!u.prefix.empty() && u.prefix.back() == '/') u.prefix.pop_back();
  }
  u.port = u.scheme == "https" ? 443 : 80;
  std::string port_text;
  if (!rest.empty() && rest.front() == '[') {  // [IPv6]:port
    const std::size_t close = rest.find(']');
    if (close == std::string::npos) throw Error("--url '" + url + "': unterminated '[' in the host");
    u.host = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') throw Error("--url '" + url + "': expected ':' after ']'");
      port_text = rest.substr(close + 2);
    }
  } else {
    const std::size_t colon = rest.rfind(':');
    u.host = rest.substr(0, colon);
    if (colon != std::string::npos) port_text = rest.substr(colon + 1);
  }
  if (u.host.empty()) throw Error("--url '" + url + "': no host");
  if (!port_text.empty() || rest.back() == ':') {
    const bool digits = !port_text.empty() && port_text.size() <= 5 &&
                        std::all_of(port_text.begin(), port_text.end(), [](char c) { return c >= '0' && c <= '9'; });
    const int port = digits ? std::stoi(port_text) : 0;
    if (port < 1 || port > 65535) throw Error("--url '" + url + "': port '" + port_text + "' is not 1..65535");
    u.port = port;
  }
  return u;
}

void check_reachable(const ParsedUrl& url, double timeout_s) {
  const std::string where = where_of(url);
  std::string last_error;
  for (const Address& a : resolve(url, where)) {
    const int err = try_connect(a, timeout_s);
    if (err == 0) return;
    last_error = std::strerror(err);
  }
  throw Error("--url " + where + ": server not reachable: " + last_error);
}

LoadReport run_load(const LoadOptions& o, const std::vector<std::string>& texts) {
  if (texts.empty()) throw Error("load: no texts to send");
  if (!(o.rate > 0.0) || !std::isfinite(o.rate)) throw Error("--rate " + num(o.rate) + " is not positive");
  if (!(o.duration_s > 0.0) || !std::isfinite(o.duration_s)) {
    throw Error("--duration " + num(o.duration_s) + " is not positive");
  }
  if (!(o.timeout_s > 0.0) || !std::isfinite(o.timeout_s)) {
    throw Error("--timeout " + num(o.timeout_s) + " is not positive");
  }
  if (o.connections == 0) throw Error("--connections must be at least 1");
  const long double planned = static_cast<long double>(o.rate) * static_cast<long double>(o.duration_s);
  if (planned > static_cast<long double>(kMaxScheduled)) {
    throw Error("--rate x --duration schedules " + num(std::floor(static_cast<double>(planned))) +
                " requests, more than the limit of " + std::to_string(kMaxScheduled));
  }
  // The epsilon keeps e.g. 100 x 0.3 (29.999... in binary) at 30.
  const auto total = static_cast<std::uint64_t>(std::floor(planned + 1e-6L));
  if (total == 0) throw Error("--rate x --duration schedules no request; raise either");

  const ParsedUrl url = parse_url(o.url);
  if (url.scheme != "http") throw Error("--url '" + o.url + "': the load generator speaks plain http only");
  std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  host += ":" + std::to_string(url.port);
  std::string path = o.path.empty() || o.path.front() != '/' ? "/" + o.path : o.path;
  path = url.prefix + path;

  // The first address that accepts a connection (or, when none does, the
  // first one, so that every request is counted as a connection error).
  const std::vector<Address> addresses = resolve(url, where_of(url));
  Address address = addresses.front();
  if (addresses.size() > 1) {
    for (const Address& a : addresses) {
      if (try_connect(a, std::min(o.timeout_s, 2.0)) == 0) {
        address = a;
        break;
      }
    }
  }

  // Whole requests are built once; sending one is a single write.
  std::vector<std::string> requests;
  requests.reserve(texts.size());
  for (const std::string& t : texts) {
    const std::string body =
        nlohmann::json{{"text", t}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::string req = "POST " + path + " HTTP/1.1\r\nHost: " + host +
                      "\r\nContent-Type: application/json\r\nAccept: */*\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\n";
    if (!o.token.empty()) req += "Authorization: Bearer " + o.token + "\r\n";
    req += "\r\n" + body;
    requests.push_back(std::move(req));
  }

  Generator gen(o, std::move(requests), address, total);
  gen.run();

  LoadReport r;
  r.target = url.scheme + "://" + host + path;
  r.target_rate = o.rate;
  r.duration_s = o.duration_s;
  r.connections = o.connections;
  r.scheduled = total;
  gen.report(r);
  r.unsent = r.scheduled - r.sent;
  for (const auto& [code, n] : r.status_counts) {
    r.completed += n;
    if (code >= 200 && code < 300) {
      r.status_2xx += n;
    } else if (code >= 400 && code < 500) {
      r.status_4xx += n;
    } else if (code >= 500 && code < 600) {
      r.status_5xx += n;
    } else {
      r.status_other += n;
    }
  }
  for (const auto& [name, n] : r.error_counts) r.errors += n;
  r.throughput = r.elapsed_s > 0.0 ? static_cast<double>(r.completed) / r.elapsed_s : 0.0;
  r.fell_behind = r.unsent > 0 || r.late_sends * 100 > r.sent;
  return r;
}

nlohmann::ordered_json load_report_json(const LoadReport& r) {
  nlohmann::ordered_json status = nlohmann::ordered_json::object();
  for (const auto& [code, n] : r.status_counts) status[std::to_string(code)] = n;
  nlohmann::ordered_json errors = nlohmann::ordered_json::object();
  for (const auto& [name, n] : r.error_counts) errors[name] = n;
  const nlohmann::ordered_json j = {
      {"target", r.target},
      {"rate", r.target_rate},
      {"duration_s", r.duration_s},
      {"connections", r.connections},
      {"scheduled", r.scheduled},
      {"sent", r.sent},
      {"unsent", r.unsent},
      {"completed", r.completed},
      {"status", {{"2xx", r.status_2xx}, {"4xx", r.status_4xx}, {"5xx", r.status_5xx}, {"other", r.status_other}}},
      {"errors", r.errors},
      {"status_codes", status},
      {"error_kinds", errors},
      {"elapsed_s", r.elapsed_s},
      {"achieved_rate", r.achieved_rate},
      {"throughput", r.throughput},
      {"latency_ms",
       {{"p50", r.p50_ms},
        {"p90", r.p90_ms},
        {"p99", r.p99_ms},
        {"p99.9", r.p999_ms},
        {"max", r.max_ms},
        {"mean", r.mean_ms}}},
      {"late_sends", r.late_sends},
      {"max_send_lag_ms", r.max_send_lag_ms},
      {"fell_behind", r.fell_behind},
  };
  return j;
}

std::string load_report_text(const LoadReport& r) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "target    %s, %g req/s for %g s on %zu connections\n", r.target.c_str(),
                r.target_rate, r.duration_s, r.connections);
  out += line;
  std::snprintf(line, sizeof line, "requests  scheduled %llu, sent %llu, unsent %llu, completed %llu, errors %llu\n",
                static_cast<unsigned long long>(r.scheduled), static_cast<unsigned long long>(r.sent),
                static_cast<unsigned long long>(r.unsent), static_cast<unsigned long long>(r.completed),
                static_cast<unsigned long long>(r.errors));
  out += line;
  std::snprintf(line, sizeof line, "status    2xx %llu, 4xx %llu, 5xx %llu, other %llu\n",
                static_cast<unsigned long long>(r.status_2xx), static_cast<unsigned long long>(r.status_4xx),
                static_cast<unsigned long long>(r.status_5xx), static_cast<unsigned long long>(r.status_other));
  out += line;
  if (!r.status_counts.empty()) {
    out += "          by code:";
    for (const auto& [code, n] : r.status_counts) out += " " + std::to_string(code) + "=" + std::to_string(n);
    out += "\n";
  }
  if (!r.error_counts.empty()) {
    out += "          errors:";
    for (const auto& [name, n] : r.error_counts) out += " " + name + "=" + std::to_string(n);
    out += "\n";
  }
  std::snprintf(line, sizeof line, "rate      achieved %.1f req/s (target %g), responses %.1f/s over %.3f s\n",
                r.achieved_rate, r.target_rate, r.throughput, r.elapsed_s);
  out += line;
  std::snprintf(line, sizeof line,
                "latency   p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms, mean %.3f ms "
                "(from the scheduled send time)\n",
                r.p50_ms, r.p90_ms, r.p99_ms, r.p999_ms, r.max_ms, r.mean_ms);
  out += line;
  std::snprintf(line, sizeof line, "generator %llu sends more than 1 ms late (max lag %.3f ms): %s\n",
                static_cast<unsigned long long>(r.late_sends), r.max_send_lag_ms,
                r.fell_behind ? "FELL BEHIND, the offered load was lower than asked" : "kept the schedule");
  out += line;
  return out;
}

}  // namespace edgeroute::cli
