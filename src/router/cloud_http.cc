// HTTP plumbing for the cloud backends: URL schemes, Retry-After parsing, a
// pool of keep-alive clients (httplib::Client is not safe for concurrent use)
// and one JSON POST bounded by a deadline, with failures mapped to kinds.
#include "cloud_http.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <ctime>
#include <utility>

#include "edgeroute/common/error.h"

namespace edgeroute::router {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<double> parse_retry_after(std::string_view value, std::int64_t now_unix_micros) {
  const std::string_view v = trim(value);
  if (v.empty()) return std::nullopt;
  if (std::all_of(v.begin(), v.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; })) {
    double seconds = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
    if (ec != std::errc() || end != v.data() + v.size() || !std::isfinite(seconds)) return std::nullopt;
    return seconds;
  }
  // HTTP dates (RFC 9110 section 5.6.7): IMF-fixdate, then the obsolete RFC 850 and asctime forms.
  const std::string text(v);
  for (const char* format : {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"}) {
    std::tm tm{};
    const char* rest = ::strptime(text.c_str(), format, &tm);
    if (rest == nullptr || !trim(rest).empty()) continue;
    const std::time_t when = ::timegm(&tm);
    if (when == static_cast<std::time_t>(-1)) continue;
    const double seconds = static_cast<double>(when) - static_cast<double>(now_unix_micros) / 1e6;
    return std::max(0.0, seconds);
  }
  return std::nullopt;
}

namespace detail {

namespace {

// Discard pooled connections idle for longer than this: servers close idle
// keep-alive connections (cpp-httplib after 5 s, nginx after 75 s).
constexpr auto kMaxIdle = std::chrono::seconds(2);
// A read/write failure this close to the deadline is the deadline's doing.
constexpr auto kTimeoutSlack = std::chrono::milliseconds(10);

Clock::time_point steady_now() { return SystemClock::instance().now(); }

std::string url_error(const std::string& url, const std::string& why) {
  return "cloud url '" + url + "': " + why +
         " (expected http://host:port, openai+http://host:port[/prefix] or kserve+http://host:port/v2/models/NAME)";
}

std::chrono::microseconds timeout_from(Clock::duration left) {
  return std::max(std::chrono::microseconds(1000), std::chrono::duration_cast<std::chrono::microseconds>(left));
}

}  // namespace

std::string ParsedUrl::origin() const {
  const bool v6 = host.find(':') != std::string::npos;
  return scheme + "://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

ParsedUrl parse_cloud_url(const std::string& url) {
  ParsedUrl u;
  const std::size_t sep = url.find("://");
  if (sep == std::string::npos) throw Error(url_error(url, "no scheme"));
  std::string scheme = url.substr(0, sep);
  if (const std::size_t plus = scheme.find('+'); plus != std::string::npos) {
    u.flavor = scheme.substr(0, plus);
    scheme = scheme.substr(plus + 1);
    if (u.flavor != "openai" && u.flavor != "kserve")
      throw Error(url_error(url, "unknown protocol '" + u.flavor + "'"));
  }
  if (scheme != "http" && scheme != "https") throw Error(url_error(url, "unsupported scheme '" + scheme + "'"));
  u.scheme = scheme;
  std::string rest = url.substr(sep + 3);
  if (rest.find_first_of("?#") != std::string::npos) throw Error(url_error(url, "query or fragment not allowed"));
  const std::size_t slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  u.path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!u.path.empty() && u.path.back() == '/') u.path.pop_back();
  if (authority.find('@') != std::string::npos) {
    throw Error(url_error(url, "credentials in the URL are not allowed; use the bearer token setting"));
  }
  std::string port_text;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string::npos) throw Error(url_error(url, "unterminated IPv6 address"));
    u.host = authority.substr(1, close - 1);
    const std::string after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') throw Error(url_error(url, "bad host"));
      port_text = after.substr(1);
    }
  } else {
    const std::size_t colon = authority.rfind(':');
    u.host = authority.substr(0, colon);
    if (colon != std::string::npos) port_text = authority.substr(colon + 1);
  }
  if (u.host.empty()) throw Error(url_error(url, "no host"));
  if (port_text.empty()) {
    u.port = u.scheme == "https" ? 443 : 80;
  } else {
    int port = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 1 || port > 65535) {
      throw Error(url_error(url, "bad port '" + port_text + "'"));
    }
    u.port = port;
  }
  if (u.flavor == "kserve") {
    constexpr std::string_view kPrefix = "/v2/models/";
    const bool ok = u.path.size() > kPrefix.size() && u.path.compare(0, kPrefix.size(), kPrefix) == 0;
    if (!ok) throw Error(url_error(url, "a KServe URL must end in /v2/models/NAME"));
  }
  return u;
}

std::string snippet(const std::string& body, std::size_t max_chars) {
  std::string out = body.substr(0, max_chars);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  if (body.size() > max_chars) out += "...";
  return out;
}

struct HttpPool::Pooled {
  std::unique_ptr<httplib::Client> client;
  Clock::time_point last_used{};
  bool used = false;  // has carried a request (its connection may be stale)
};

HttpPool::HttpPool(ParsedUrl url, std::string bearer_token, std::size_t max_connections)
    : url_(std::move(url)), bearer_token_(std::move(bearer_token)), max_connections_(max_connections) {
  if (max_connections_ == 0) throw Error("cloud config: max_connections must be at least 1");
}

HttpPool::~HttpPool() = default;

std::unique_ptr<HttpPool::Pooled> HttpPool::make_client() const {
  auto p = std::make_unique<Pooled>();
  p->client = std::make_unique<httplib::Client>(url_.origin());
  p->client->set_keep_alive(true);
  p->client->set_tcp_nodelay(true);
  if (!bearer_token_.empty()) p->client->set_bearer_token_auth(bearer_token_);
  return p;
}

std::unique_ptr<HttpPool::Pooled> HttpPool::acquire(Clock::time_point deadline, const std::string& what) const {
  std::unique_lock lock(mu_);
  for (;;) {
    const Clock::time_point now = steady_now();
    while (!idle_.empty() && now - idle_.front()->last_used > kMaxIdle) {
      idle_.erase(idle_.begin());
      --open_;
    }
    if (!idle_.empty()) {
      auto p = std::move(idle_.back());
      idle_.pop_back();
      return p;
    }
    if (open_ < max_connections_) {
      ++open_;
      lock.unlock();
      try {
        return make_client();
      } catch (...) {
        lock.lock();
        --open_;
        throw;
      }
    }
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() && open_ >= max_connections_) {
      throw CloudError(CloudFailure::kTimeout, what + ": all " + std::to_string(max_connections_) +
                                                   " connections stayed busy until the deadline");
    }
  }
}

void HttpPool::release(std::unique_ptr<Pooled> client) const {
  std::lock_guard lock(mu_);
  if (client) {
    client->used = true;
    client->last_used = steady_now();
    idle_.push_back(std::move(client));
  } else {
    --open_;
  }
  cv_.notify_one();
}

nlohmann::json HttpPool::post_json(const std::string& path, const std::string& body, const std::string& request_id,
                                   Clock::time_point deadline) const {
  const std::string what = url_.origin() + path;
  if (deadline <= steady_now()) {
    throw CloudError(CloudFailure::kTimeout, what + ": the deadline passed before the request was sent");
  }
  std::unique_ptr<Pooled> pooled = acquire(deadline, what);
  httplib::Headers headers = {{"Accept", "application/json"}};
  if (!request_id.empty()) headers.emplace("X-Request-Id", request_id);

  for (int round = 0;; ++round) {
    const Clock::duration left = deadline - steady_now();
    if (left <= Clock::duration::zero()) {
      release(nullptr);
      throw CloudError(CloudFailure::kTimeout, what + ": no answer within the deadline");
    }
    httplib::Client& cli = *pooled->client;
    const auto timeout = timeout_from(left);
    cli.set_connection_timeout(timeout);
    cli.set_read_timeout(timeout);
    cli.set_write_timeout(timeout);
    httplib::Result res = cli.Post(path, headers, body, "application/json");
    if (res) {
      const int status = res->status;
      std::string text = std::move(res->body);
      std::string retry_after = res->get_header_value("Retry-After");
      release(std::move(pooled));
      if (status == 429 || status == 503) {
        double wait = 0;
        if (!retry_after.empty())
          wait = parse_retry_after(retry_after, SystemClock::instance().unix_micros()).value_or(0);
        throw CloudError(CloudFailure::kRejected,
                         what + ": HTTP " + std::to_string(status) +
                             (retry_after.empty() ? std::string() : " (Retry-After: " + retry_after + ")") + ": " +
                             snippet(text),
                         status, wait);
      }
      if (status < 200 || status > 299) {
        throw CloudError(CloudFailure::kHttpStatus, what + ": HTTP " + std::to_string(status) + ": " + snippet(text),
                         status);
      }
      nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (doc.is_discarded()) {
        throw CloudError(CloudFailure::kProtocol, what + ": the answer is not JSON: " + snippet(text), status);
      }
      return doc;
    }
    const httplib::Error err = res.error();
    const bool near_deadline = deadline - steady_now() < kTimeoutSlack;
    const bool lost = err == httplib::Error::Read || err == httplib::Error::Write;
    if (lost && pooled->used && !near_deadline && round == 0) {
      // A reused keep-alive connection the server had already closed: send
      // once more on a fresh connection (transport level, not a retry).
      pooled = make_client();
      continue;
    }
    release(nullptr);
    const std::string reason = httplib::to_string(err);
    if (err == httplib::Error::ConnectionTimeout || near_deadline) {
      throw CloudError(CloudFailure::kTimeout, what + ": no answer within the deadline (" + reason + ")");
    }
    if (err == httplib::Error::Connection) {
      throw CloudError(CloudFailure::kConnect, what + ": cannot connect (" + reason + ")");
    }
    throw CloudError(CloudFailure::kConnect, what + ": connection failed (" + reason + ")");
  }
}

}  // namespace detail
}  // namespace edgeroute::router
