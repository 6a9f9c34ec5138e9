// Alert sink that POSTs each event as application/json to a webhook.
//
// notify() only enqueues: a bounded queue (drop-oldest, counted) feeds one
// worker thread that delivers in order, with up to `tries` attempts per
// event and a doubling backoff between them. Nothing the receiver does
// (slowness, errors, a dead address) can block the caller. http:// and
// https:// (cpp-httplib is built with OpenSSL, as for the cloud backends).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "edgeroute/monitor/alerts.h"

namespace edgeroute::monitor {

struct WebhookOptions {
  std::string url;  // http[s]://host[:port][/path]
  std::chrono::milliseconds timeout{2000};  // connect, read and write timeout of one try
  std::size_t queue_capacity = 256;
  int tries = 3;
  std::chrono::milliseconds backoff{200};   // before the second try; doubled before each further one
};

class WebhookSink final : public AlertSink {
 public:
  // Starts the worker. Throws edgeroute::Error naming the URL when it is not
  // a valid http(s) URL, or when queue_capacity or tries is 0.
  explicit WebhookSink(WebhookOptions options);
  // Stops the worker: the try in flight finishes (bounded by the timeout),
  // queued events are discarded.
  ~WebhookSink() override;
  WebhookSink(const WebhookSink&) = delete;
  WebhookSink& operator=(const WebhookSink&) = delete;

  void notify(const nlohmann::json& event) override;

  std::uint64_t delivered() const;  // events a server accepted (2xx)
  std::uint64_t failed() const;     // events given up after every try
  std::uint64_t dropped() const;    // events pushed out of a full queue
  std::uint64_t attempts() const;   // POSTs tried

 private:
  void run();
  bool post(const std::string& body);

  WebhookOptions options_;
  std::string origin_;  // scheme://host:port
  std::string path_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  bool stop_ = false;
  std::uint64_t delivered_ = 0, failed_ = 0, dropped_ = 0, attempts_ = 0;
  std::thread worker_;
};

}  // namespace edgeroute::monitor
