// Internal to edgeroute_cloud: URL parsing, a pool of keep-alive
// httplib::Client objects, and one JSON POST with the deadline turned into
// connect/write/read timeouts and failures mapped to CloudError kinds.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "edgeroute/common/clock.h"
#include "edgeroute/router/cloud.h"

namespace httplib {
class Client;
}

namespace edgeroute::router::detail {

struct ParsedUrl {
  std::string flavor;  // "" (edgeroute), "openai" or "kserve"
  std::string scheme;  // "http" or "https"
  std::string host;
  int port = 0;
  std::string path;  // "" or "/a/b" (no trailing slash)

  std::string origin() const;  // "http://host:port"
};

// Throws edgeroute::Error naming the URL.
ParsedUrl parse_cloud_url(const std::string& url);

class HttpPool {
 public:
  HttpPool(ParsedUrl url, std::string bearer_token, std::size_t max_connections);
  ~HttpPool();
  HttpPool(const HttpPool&) = delete;
  HttpPool& operator=(const HttpPool&) = delete;

  // POSTs `body` as JSON to `path` and returns the parsed 2xx answer. Throws
  // CloudError: kConnect, kTimeout, kRejected (429/503, Retry-After parsed),
  // kHttpStatus (other non-2xx), kProtocol (the body is not JSON). `what`
  // names the endpoint in messages.
  nlohmann::json post_json(const std::string& path, const std::string& body, const std::string& request_id,
                           Clock::time_point deadline) const;

  const ParsedUrl& url() const { return url_; }

 private:
  struct Pooled;
  std::unique_ptr<Pooled> acquire(Clock::time_point deadline, const std::string& what) const;
  void release(std::unique_ptr<Pooled> client) const;
  std::unique_ptr<Pooled> make_client() const;

  ParsedUrl url_;
  std::string bearer_token_;
  std::size_t max_connections_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  mutable std::vector<std::unique_ptr<Pooled>> idle_;
  mutable std::size_t open_ = 0;  // clients in use or idle
};

// The first `max_chars` characters of a response body, for messages.
std::string snippet(const std::string& body, std::size_t max_chars = 200);

}  // namespace edgeroute::router::detail
