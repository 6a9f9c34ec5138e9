// edgeroute serve: the HTTP service in edge or cloud role.
#include <chrono>
#include <csignal>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <thread>

#include <pthread.h>

#include "commands.h"
#include "edgeroute/common/error.h"
#include "edgeroute/server/service.h"
#include "router_setup.h"

namespace edgeroute::cli {

namespace {

struct ServeOptions {
  std::string role = "edge";
  std::string model;
  std::string policy;
  std::string audit;
  std::string audit_key_file;
  std::int64_t audit_max_wait_us = router::kDefaultAuditMaxWait.count();
  std::string listen = "127.0.0.1:8080";
  std::string token_file;
  std::string port_file;
  std::string node = "edge-1";
  std::size_t workers = std::max(1u, std::thread::hardware_concurrency());
  std::size_t max_connections = 128;
  std::size_t max_queue = 256;
  std::size_t engine_batch = 8;
  int drain_timeout_s = 10;
  bool no_monitor = false;
  CloudFlags cloud;
};

std::pair<std::string, int> parse_listen(const std::string& s) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0) throw Error("--listen " + s + ": expected HOST:PORT");
  int port = -1;
  try {
    std::size_t used = 0;
    port = std::stoi(s.substr(colon + 1), &used);
    if (used != s.size() - colon - 1) port = -1;
  } catch (const std::exception&) {
    port = -1;
  }
  if (port < 0 || port > 65535) throw Error("--listen " + s + ": the port must be 0..65535");
  return {s.substr(0, colon), port};
}

void run_serve(const ServeOptions& o) {
  // SIGTERM/SIGINT are handled by one thread: block them before any thread
  // exists (the audit writer, the cloud client, the HTTP pool) so that every
  // thread inherits the mask and the signal reaches sigwait below.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  server::ServiceOptions so;
  if (o.role != "edge" && o.role != "cloud") throw Error("--role must be edge or cloud, got '" + o.role + "'");
  so.role = o.role == "edge" ? server::Role::kEdge : server::Role::kCloud;
  std::tie(so.host, so.port) = parse_listen(o.listen);
  so.token = read_secret(o.token_file, "--token-file");
  so.workers = o.workers;
  so.max_connections = o.max_connections;
  so.max_queue = o.max_queue;
  so.engine_batch = o.engine_batch;
  so.drain_timeout = std::chrono::seconds(o.drain_timeout_s);
  so.node = o.node;

  engine::ClassifierOptions copts;
  // The cloud role serves the full-precision model; the edge role INT8
  // (an .edge file carries its own per-layer precision).
  copts.precision = so.role == server::Role::kCloud ? engine::Precision::kFp32 : engine::Precision::kInt8;
  const engine::Classifier model = engine::Classifier::load(o.model, copts);

  std::unique_ptr<router::ResilientCloud> cloud;
  std::unique_ptr<router::AuditWriter> audit;
  std::unique_ptr<monitor::Monitor> mon;
  std::unique_ptr<router::Router> router;
  if (so.role == server::Role::kEdge) {
    router::RouterParts parts;
    parts.edge = &model;
    parts.policy = load_policy(o.policy);
    parts.node = o.node;
    cloud = make_cloud(o.cloud, model, o.model);
    parts.cloud = cloud.get();
    audit = attach_audit(o.audit, o.audit_key_file, parts, std::chrono::microseconds(o.audit_max_wait_us));
    if (!o.no_monitor) {
      mon = make_monitor(parts.policy, o.policy, model, o.node);
      const monitor::MonitorConfig& mc = mon->config();
      if (mc.shadow_fraction > 0) {
        if (!cloud) throw Error(o.policy + ": [monitor] shadow_fraction needs a cloud (--cloud)");
        parts.shadow.fraction = mc.shadow_fraction;
        parts.shadow.seed = mc.shadow_seed;
        parts.on_shadow = [m = mon.get()](const router::ShadowResult& r) {
          if (r.ok) m->record_shadow(r.ts_us, r.agree, r.cost_usd);
        };
      }
    }
    router = std::make_unique<router::Router>(std::move(parts));
  } else if (!o.policy.empty() || !o.cloud.url.empty() || !o.audit.empty()) {
    throw Error("--policy, --cloud and --audit belong to the edge role");
  }

  server::Service service(so, model, router.get(), mon.get());
  const int port = service.bind();
  if (!o.port_file.empty()) {
    const std::string tmp = o.port_file + ".tmp";
    std::ofstream(tmp) << port << "\n";
    std::rename(tmp.c_str(), o.port_file.c_str());
  }
  std::cout << "edgeroute serve: " << o.role << " role, model " << o.model << ", listening on http://" << so.host << ":"
            << port << (cloud ? ", cloud " + cloud->backend().describe() : std::string())
            << (o.audit.empty() ? "" : ", audit " + router::redact_audit_uri(o.audit)) << std::endl;

  std::thread signals([&service, set] {
    int sig = 0;
    sigwait(&set, &sig);
    std::cerr << "edgeroute serve: " << (sig == SIGTERM ? "SIGTERM" : "SIGINT") << ", draining" << std::endl;
    service.drain();
  });
  service.run();
  // run() returned: the signal thread drained, or the listener failed.
  // Wake the signal thread if it is still waiting, then join it.
  pthread_kill(signals.native_handle(), SIGTERM);
  signals.join();
  std::cerr << "edgeroute serve: stopped" << std::endl;
}

}  // namespace

void register_serve(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand("serve", "Run the HTTP service (edge role: route and answer; cloud role: answer)");
  cmd->add_option("--role", o->role, "edge or cloud")->capture_default_str();
  cmd->add_option("--model", o->model, "Model: FILE.edge or a Hugging Face directory")->required();
  cmd->add_option("--policy", o->policy, "policy.toml (edge role; default: the seed's thresholds)");
  cmd->add_option("--audit", o->audit, "Audit log: sqlite:PATH or postgresql://... (edge role)");
  cmd->add_option("--audit-key-file", o->audit_key_file,
                  "HMAC key for the audit log (default: $EDGEROUTE_AUDIT_KEY or PATH.key)");
  cmd->add_option("--audit-max-wait-us", o->audit_max_wait_us,
                  "Group commit: under load (the previous commit served more than one request thread) wait at most "
                  "this long after a batch's first record for more; 0: never wait")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{1'000'000}))
      ->capture_default_str();
  cmd->add_option("--listen", o->listen, "HOST:PORT (port 0: any free port)")->capture_default_str();
  cmd->add_option("--token-file", o->token_file, "Require this bearer token on every non-probe endpoint");
  cmd->add_option("--port-file", o->port_file, "Write the bound port to this file once listening");
  cmd->add_option("--node", o->node, "Node name recorded in the audit log")->capture_default_str();
  cmd->add_option("--workers", o->workers, "Requests in inference at once")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cmd->add_option("--max-connections", o->max_connections, "HTTP connection threads")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--max-queue", o->max_queue, "Requests waiting for a worker before 503")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  cmd->add_option("--engine-batch", o->engine_batch,
                  "A request that gets a worker also classifies up to N-1 waiting requests in the same encoder call "
                  "(1: one text per call)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--drain-timeout", o->drain_timeout_s, "Seconds to wait for in-flight requests on SIGTERM")
      ->check(CLI::Range(0, 3600))
      ->capture_default_str();
  cmd->add_flag("--no-monitor", o->no_monitor,
                "Edge role: run without the monitor (no /v1/monitor, /dashboard, alerts; for overhead comparisons)");
  add_cloud_flags(*cmd, o->cloud);
  cmd->callback([o] { run_serve(*o); });
}

}  // namespace edgeroute::cli
