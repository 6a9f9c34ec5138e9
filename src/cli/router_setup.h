// Shared by `edgeroute serve`, `route` and `calibrate`: loading the edge
// model, the policy, the cloud backend and the audit log from command-line
// options, with errors that name the option and the file.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "edgeroute/engine/classifier.h"
#include "edgeroute/monitor/monitor.h"
#include "edgeroute/router/audit.h"
#include "edgeroute/router/cloud.h"
#include "edgeroute/router/policy.h"
#include "edgeroute/router/router.h"

namespace edgeroute::cli {

struct CloudFlags {
  std::string url;
  std::string token_file;
  std::string vocab_dir;  // KServe tokenizer (default: the edge model's directory when it is one)
  std::string model = "gpt-4o-mini";
  int deadline_ms = 1500;
  int breaker_failures = 5;
  int breaker_wait_ms = 5000;
  std::size_t max_in_flight = 64;
};

void add_cloud_flags(CLI::App& cmd, CloudFlags& f);

// Reads a secret from a file, trimming one trailing newline. Empty path: "".
std::string read_secret(const std::string& path, const std::string& option);

std::unique_ptr<router::ResilientCloud> make_cloud(const CloudFlags& f, const engine::Classifier& edge,
                                                   const std::string& edge_model_path);

router::Policy load_policy(const std::string& path);  // empty: the defaults

// Opens the audit log at `uri` (empty: none) with its key and attaches the
// group-commit writer to `parts` (a batch waits at most `max_wait` for more
// records); the caller keeps the returned writer alive.
std::unique_ptr<router::AuditWriter> attach_audit(const std::string& uri, const std::string& key_file,
                                                  router::RouterParts& parts,
                                                  std::chrono::microseconds max_wait = router::kDefaultAuditMaxWait);

// The monitor for an edge node: the policy's [monitor] table (validated
// here, errors name `policy_path`), its [calibration].reference for drift,
// the model's labels and the router's reasons.
std::unique_ptr<monitor::Monitor> make_monitor(const router::Policy& policy, const std::string& policy_path,
                                               const engine::Classifier& model, const std::string& node);

// The router's reason names in enum order (the monitor indexes them).
std::vector<std::string> reason_names();

}  // namespace edgeroute::cli
