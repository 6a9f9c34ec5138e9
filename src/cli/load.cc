// Open-loop HTTP load generator (see load.h): a fixed schedule, worker threads
// with keep-alive clients, latency from the scheduled time, and a report of
// counts, status codes, percentiles and whether the generator kept up.
#include "load.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <thread>

#include <httplib.h>

#include "edgeroute/common/error.h"

namespace edgeroute::cli {

namespace {

using SteadyClock = std::chrono::steady_clock;
using Nanos = std::chrono::nanoseconds;

struct WorkerStats {
  std::vector<std::int64_t> latency_ns;
  std::map<int, std::uint64_t> status_counts;
  std::map<std::string, std::uint64_t> error_counts;
  std::uint64_t sent = 0;
  std::uint64_t late = 0;
  std::int64_t max_lag_ns = 0;
  SteadyClock::time_point last_send{};
  SteadyClock::time_point last_done{};
};

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

void set_timeouts(httplib::Client& client, double seconds) {
  const auto whole = static_cast<time_t>(seconds);
  const auto micros = static_cast<time_t>((seconds - static_cast<double>(whole)) * 1e6);
  client.set_connection_timeout(whole, micros);
  client.set_read_timeout(whole, micros);
  client.set_write_timeout(whole, micros);
}

std::string num(double v) {
  std::ostringstream ss;
  ss << v;
  return ss.str();
}

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
  const std::string where = url.scheme + "://" + url.host + ":" + std::to_string(url.port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(url.port);
  const int rc = ::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) throw Error("--url " + where + ": cannot resolve '" + url.host + "': " + ::gai_strerror(rc));
  std::string last_error = "no address";
  bool ok = false;
  for (addrinfo* a = found; a != nullptr && !ok; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    int err = ::connect(fd, a->ai_addr, a->ai_addrlen) == 0 ? 0 : errno;
    if (err == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      const int ready = ::poll(&p, 1, static_cast<int>(timeout_s * 1000.0));
      if (ready == 0) {
        err = ETIMEDOUT;
      } else if (ready < 0) {
        err = errno;
      } else {
        socklen_t len = sizeof err;
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      }
    }
    ::close(fd);
    if (err == 0) {
      ok = true;
    } else {
      last_error = std::strerror(err);
    }
  }
  ::freeaddrinfo(found);
  if (!ok) throw Error("--url " + where + ": server not reachable: " + last_error);
}

LoadReport run_load(const LoadOptions& o, const std::vector<std::string>& texts) {
  if (texts.empty()) throw Error("load: no texts to send");
  if (!(o.rate > 0.0) || !std::isfinite(o.rate)) throw Error("--rate " + num(o.rate) + " is not positive");
  if (!(o.duration_s > 0.0) || !std::isfinite(o.duration_s)) {
    throw Error("--duration " + num(o.duration_s) + " is not positive");
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
  std::string base = url.scheme + "://";
  base += url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  base += ":" + std::to_string(url.port);
  std::string path = o.path.empty() || o.path.front() != '/' ? "/" + o.path : o.path;
  path = url.prefix + path;

  // Bodies are built once; workers only read them.
  std::vector<std::string> bodies;
  bodies.reserve(texts.size());
  for (const std::string& t : texts) {
    bodies.push_back(nlohmann::json{{"text", t}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  httplib::Headers headers;
  if (!o.token.empty()) headers.emplace("Authorization", "Bearer " + o.token);

  std::atomic<std::uint64_t> next{0};
  std::vector<WorkerStats> stats(o.connections);
  const auto start = SteadyClock::now() + std::chrono::milliseconds(5);
  const auto stop_sending =
      start + std::chrono::duration_cast<Nanos>(std::chrono::duration<double>(o.duration_s + kLoadGraceSeconds));
  auto worker = [&](WorkerStats& st) {
    httplib::Client client(base);
    client.set_keep_alive(true);
    client.set_tcp_nodelay(true);  // headers and body are separate writes: no Nagle delay
    set_timeouts(client, o.timeout_s);
    st.latency_ns.reserve(static_cast<std::size_t>(total / o.connections + 1));
    for (;;) {
      const std::uint64_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= total) break;
      const auto scheduled = start + schedule_offset(i, o.rate);
      std::this_thread::sleep_until(scheduled);
      const auto sent_at = SteadyClock::now();
      if (sent_at > stop_sending) break;  // the rest stay unsent
      const std::int64_t lag = std::chrono::duration_cast<Nanos>(sent_at - scheduled).count();
      st.max_lag_ns = std::max(st.max_lag_ns, lag);
      if (lag > 1'000'000) ++st.late;
      ++st.sent;
      st.last_send = sent_at;
      const httplib::Result res = client.Post(path, headers, bodies[i % bodies.size()], "application/json");
      const auto done = SteadyClock::now();
      st.last_done = done;
      if (res) {
        ++st.status_counts[res->status];
        st.latency_ns.push_back(std::chrono::duration_cast<Nanos>(done - scheduled).count());
      } else {
        ++st.error_counts[httplib::to_string(res.error())];
      }
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(o.connections);
  for (WorkerStats& st : stats) threads.emplace_back(worker, std::ref(st));
  for (std::thread& t : threads) t.join();

  LoadReport r;
  r.target = base + path;
  r.target_rate = o.rate;
  r.duration_s = o.duration_s;
  r.connections = o.connections;
  r.scheduled = total;
  std::vector<std::int64_t> latency;
  SteadyClock::time_point last_send = start;
  SteadyClock::time_point last_done = start;
  std::int64_t max_lag = 0;
  for (WorkerStats& st : stats) {
    r.sent += st.sent;
    r.late_sends += st.late;
    max_lag = std::max(max_lag, st.max_lag_ns);
    if (st.sent > 0) {
      last_send = std::max(last_send, st.last_send);
      last_done = std::max(last_done, st.last_done);
    }
    latency.insert(latency.end(), st.latency_ns.begin(), st.latency_ns.end());
    for (const auto& [code, n] : st.status_counts) r.status_counts[code] += n;
    for (const auto& [name, n] : st.error_counts) r.error_counts[name] += n;
  }
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
  r.max_send_lag_ms = ms(max_lag);
  r.elapsed_s = std::chrono::duration<double>(last_done - start).count();
  const double send_window = std::chrono::duration<double>(last_send - start).count() + 1.0 / o.rate;
  r.achieved_rate = r.sent > 0 ? static_cast<double>(r.sent) / send_window : 0.0;
  r.throughput = r.elapsed_s > 0.0 ? static_cast<double>(r.completed) / r.elapsed_s : 0.0;
  std::sort(latency.begin(), latency.end());
  if (!latency.empty()) {
    r.p50_ms = ms(percentile(latency, 50.0));
    r.p90_ms = ms(percentile(latency, 90.0));
    r.p99_ms = ms(percentile(latency, 99.0));
    r.p999_ms = ms(percentile(latency, 99.9));
    r.max_ms = ms(latency.back());
    long double sum = 0;
    for (const std::int64_t v : latency) sum += static_cast<long double>(v);
    r.mean_ms = static_cast<double>(sum / static_cast<long double>(latency.size()) / 1e6L);
  }
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
