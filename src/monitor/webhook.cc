#include "edgeroute/monitor/webhook.h"

#include <httplib.h>

#include <algorithm>
#include <charconv>
#include <utility>

#include "edgeroute/common/error.h"

namespace edgeroute::monitor {

namespace {

struct Target {
  std::string origin, path;
};

Target parse_webhook_url(const std::string& url) {
  const auto bad = [&](const std::string& why) {
    return Error("monitor webhook_url '" + url + "': " + why + " (expected http[s]://host[:port][/path])");
  };
  const std::size_t sep = url.find("://");
  const std::string scheme = sep == std::string::npos ? "" : url.substr(0, sep);
  if (scheme != "http" && scheme != "https") throw bad("the scheme must be http:// or https://");
  const std::string rest = url.substr(sep + 3);
  const std::size_t slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  const std::string path = slash == std::string::npos ? "/" : rest.substr(slash);
  if (authority.empty()) throw bad("no host");
  if (authority.find('@') != std::string::npos) throw bad("credentials in the URL are not supported");
  std::string host = authority;
  int port = scheme == "https" ? 443 : 80;
  const std::size_t colon = authority.rfind(':');
  if (authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string::npos) throw bad("unterminated IPv6 address");
    host = authority.substr(0, close + 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') throw bad("junk after the IPv6 address");
      const std::string p = authority.substr(close + 2);
      const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
      if (ec != std::errc() || end != p.data() + p.size()) throw bad("bad port '" + p + "'");
    }
  } else if (colon != std::string::npos) {
    host = authority.substr(0, colon);
    const std::string p = authority.substr(colon + 1);
    const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
    if (p.empty() || ec != std::errc() || end != p.data() + p.size()) throw bad("bad port '" + p + "'");
  }
  if (host.empty()) throw bad("no host");
  if (port < 1 || port > 65535) throw bad("port " + std::to_string(port) + " is out of range");
  if (std::any_of(host.begin(), host.end(), [](char c) { return c == ' ' || c == '/' || c == '?' || c == '#'; }))
    throw bad("bad host '" + host + "'");
  return {scheme + "://" + host + ":" + std::to_string(port), path};
}

}  // namespace

WebhookSink::WebhookSink(WebhookOptions options) : options_(std::move(options)) {
  Target t = parse_webhook_url(options_.url);
  origin_ = std::move(t.origin);
  path_ = std::move(t.path);
  if (options_.queue_capacity == 0) throw Error("monitor webhook: queue capacity must be >= 1");
  if (options_.tries < 1) throw Error("monitor webhook: tries must be >= 1");
  worker_ = std::thread([this] { run(); });
}

WebhookSink::~WebhookSink() {
  {
    const std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void WebhookSink::notify(const nlohmann::json& event) {
  std::string body = event.dump();
  {
    const std::lock_guard lock(mu_);
    if (queue_.size() >= options_.queue_capacity) {
      queue_.pop_front();
      ++dropped_;
    }
    queue_.push_back(std::move(body));
  }
  cv_.notify_one();
}

bool WebhookSink::post(const std::string& body) {
  httplib::Client client(origin_);
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(options_.timeout).count();
  const auto sec = static_cast<time_t>(us / 1'000'000);
  const auto usec = static_cast<time_t>(us % 1'000'000);
  client.set_connection_timeout(sec, usec);
  client.set_read_timeout(sec, usec);
  client.set_write_timeout(sec, usec);
  const httplib::Result res = client.Post(path_, body, "application/json");
  return res && res->status >= 200 && res->status < 300;
}

void WebhookSink::run() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    const std::string body = std::move(queue_.front());
    queue_.pop_front();
    bool ok = false;
    auto backoff = options_.backoff;
    for (int attempt = 0; attempt < options_.tries && !ok; ++attempt) {
      if (attempt > 0) {
        // Waiting on the condition variable lets the destructor cut a backoff short.
        if (cv_.wait_for(lock, backoff, [this] { return stop_; })) return;
        backoff *= 2;
      }
      ++attempts_;
      lock.unlock();
      ok = post(body);
      lock.lock();
      if (!ok && stop_) return;
    }
    if (ok) {
      ++delivered_;
    } else {
      ++failed_;
    }
  }
}

std::uint64_t WebhookSink::delivered() const {
  const std::lock_guard lock(mu_);
  return delivered_;
}
std::uint64_t WebhookSink::failed() const {
  const std::lock_guard lock(mu_);
  return failed_;
}
std::uint64_t WebhookSink::dropped() const {
  const std::lock_guard lock(mu_);
  return dropped_;
}
std::uint64_t WebhookSink::attempts() const {
  const std::lock_guard lock(mu_);
  return attempts_;
}

}  // namespace edgeroute::monitor
