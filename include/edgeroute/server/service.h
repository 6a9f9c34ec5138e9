// The HTTP service: `edgeroute serve --role edge|cloud`.
//
// Edge role: every classify request goes through router::Router (edge
// answer, policy, redacted escalation, audit row committed before the
// response). Cloud role: the model answers every request itself (this is
// what an edge node's "http://" cloud backend talks to).
//
// Endpoints (docs/openapi.yaml): POST /v1/classify, POST /v1/classify/batch,
// POST /v1/feedback, GET /v1/stats, GET /healthz, GET /readyz, GET /metrics,
// and with a monitor (docs/monitoring.md): GET /v1/monitor, GET
// /v1/health/report, GET /dashboard.
// Input limits are checked before any work: body size (rejected before it is
// read whole), JSON nesting depth, UTF-8, field types, text length in code
// points, batch size. Errors are JSON {"error": {"code", "message"}} with the
// right 4xx; a full queue answers 503 with Retry-After; a failed audit commit
// answers 503 and the answer is not acknowledged.
//
// Concurrency: an HTTP thread pool (one thread per open connection, up to
// max_connections) and at most `workers` requests in inference at once;
// up to max_queue more wait for a worker, beyond that requests are shed.
// Draining (SIGTERM): readiness flips to 503 first, new classify requests are
// refused, in-flight ones finish, then the listener stops.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "edgeroute/engine/classifier.h"
#include "edgeroute/monitor/monitor.h"
#include "edgeroute/router/router.h"

namespace edgeroute::server {

enum class Role { kEdge, kCloud };

struct ServiceOptions {
  Role role = Role::kEdge;
  std::string host = "127.0.0.1";
  int port = 8080;    // 0: any free port (see Service::port())
  std::string token;  // bearer token for every non-probe endpoint; empty: none
  std::size_t max_connections = 128;
  std::size_t workers = 2;
  std::size_t max_queue = 256;
  // Texts per encoder call for single-text classify requests: a request that
  // gets a worker also classifies up to engine_batch - 1 waiting ones.
  std::size_t engine_batch = 8;
  std::size_t max_body_bytes = 64 * 1024;
  std::size_t max_text_code_points = 8000;
  int max_json_depth = 8;
  std::size_t max_batch = 64;
  std::chrono::milliseconds drain_timeout{10000};
  std::string node = "edge-1";
};

class Service {
 public:
  // Edge role needs a router; cloud role needs only the model. With a
  // monitor (edge role), every answer, error, feedback and audit commit is
  // recorded in it and its alerts are evaluated once a second.
  Service(ServiceOptions options, const engine::Classifier& model, router::Router* router,
          monitor::Monitor* monitor = nullptr);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Binds the listener (throws edgeroute::Error naming the address when it
  // cannot) and returns the port.
  int bind();
  // Serves until stop() or drain() completes. Call bind() first.
  void run();
  // Readiness off, wait for in-flight requests (up to drain_timeout), stop.
  void drain();
  void stop();
  int port() const { return port_; }
  bool ready() const { return ready_.load(); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
  std::atomic<bool> ready_{false};
};

}  // namespace edgeroute::server
