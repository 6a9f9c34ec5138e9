// The open-loop HTTP load generator behind `edgeroute load`.
//
// Requests are scheduled at fixed intervals of 1/rate from the start,
// whatever the server does; latency is measured from each request's
// scheduled send time, so a server (or a generator) that falls behind shows
// up as latency instead of silently lowering the offered load (no coordinated
// omission). One thread drives up to `connections` keep-alive connections
// with epoll (non-blocking sockets, HTTP/1.1 framed by Content-Length or
// chunked encoding): a request goes out at its time on a free connection, or
// as soon as one frees up. A single thread keeps the generator's own CPU use
// small, which matters when it shares the machine with the server it
// measures. See docs/demo-data.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace edgeroute::cli {

struct LoadOptions {
  std::string url;                    // http://host[:port][/prefix]
  std::string path = "/v1/classify";  // appended to the URL's prefix
  double rate = 1000.0;               // scheduled requests per second
  double duration_s = 10.0;           // scheduling window
  std::size_t connections = 32;       // keep-alive connections: requests in flight at most
  std::string token;                  // sent as "Authorization: Bearer TOKEN" when not empty
  double timeout_s = 10.0;            // from a request's send to its whole response
};

// Requests not yet started this long after the end of the window are not
// sent; they count as unsent.
inline constexpr double kLoadGraceSeconds = 1.0;
// At most this many scheduled requests per run (latency samples are kept).
inline constexpr std::uint64_t kMaxScheduled = 50'000'000;

struct LoadReport {
  std::string target;  // URL and path
  double target_rate = 0.0;
  double duration_s = 0.0;
  std::size_t connections = 0;

  std::uint64_t scheduled = 0;  // floor(rate * duration)
  std::uint64_t sent = 0;       // requests started
  std::uint64_t unsent = 0;     // scheduled - sent
  std::uint64_t completed = 0;  // answered with an HTTP status
  std::uint64_t errors = 0;     // sent but not answered (connection, timeout)
  std::uint64_t status_2xx = 0, status_4xx = 0, status_5xx = 0, status_other = 0;
  std::map<int, std::uint64_t> status_counts;         // by exact status code
  std::map<std::string, std::uint64_t> error_counts;  // by kind ("timeout", "connect: Connection refused", ...)

  double elapsed_s = 0.0;      // start to the last response or error
  double achieved_rate = 0.0;  // sent / (last send offset + 1/rate)
  double throughput = 0.0;     // completed / elapsed_s

  // Latency of completed requests, scheduled send time to response, in ms
  // (nearest-rank percentiles of every sample; 0 when none completed).
  double p50_ms = 0.0, p90_ms = 0.0, p99_ms = 0.0, p999_ms = 0.0, max_ms = 0.0, mean_ms = 0.0;

  std::uint64_t late_sends = 0;  // started more than 1 ms after their scheduled time
  double max_send_lag_ms = 0.0;
  // The generator could not keep the schedule: some requests were unsent, or
  // more than 1% of sends were late.
  bool fell_behind = false;
};

struct ParsedUrl {
  std::string scheme;  // "http" or "https"
  std::string host;
  int port = 0;
  std::string prefix;  // path part of the URL without a trailing '/', may be empty
};

// Throws edgeroute::Error naming the URL when it is not http(s)://host[:port][/path].
ParsedUrl parse_url(const std::string& url);

// Opens (and closes) one TCP connection to the URL's host and port; throws
// edgeroute::Error naming the URL and the reason when that fails.
void check_reachable(const ParsedUrl& url, double timeout_s);

// Runs the load: texts are sent in order, cycling, as {"text": ...}. Throws
// edgeroute::Error for bad options or no texts; server errors are counted.
LoadReport run_load(const LoadOptions& options, const std::vector<std::string>& texts);

nlohmann::ordered_json load_report_json(const LoadReport& report);
std::string load_report_text(const LoadReport& report);

}  // namespace edgeroute::cli
