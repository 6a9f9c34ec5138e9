// Command-line plumbing shared by serve, route and calibrate.
#include "router_setup.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "edgeroute/common/error.h"

namespace edgeroute::cli {

void add_cloud_flags(CLI::App& cmd, CloudFlags& f) {
  cmd.add_option("--cloud", f.url,
                 "Cloud tier: http://HOST:PORT (edgeroute --role cloud), openai+http://HOST:PORT[/v1], "
                 "kserve+http://HOST:PORT/v2/models/NAME");
  cmd.add_option("--cloud-token-file", f.token_file, "Bearer token for the cloud, read from this file");
  cmd.add_option("--cloud-vocab", f.vocab_dir,
                 "Tokenizer directory for a KServe cloud (default: --model if a directory)");
  cmd.add_option("--cloud-model", f.model, "Model name sent to an OpenAI-compatible cloud")->capture_default_str();
  cmd.add_option("--cloud-deadline-ms", f.deadline_ms, "Deadline per escalation, retry included")
      ->check(CLI::Range(1, 600000))
      ->capture_default_str();
  cmd.add_option("--breaker-failures", f.breaker_failures, "Consecutive failures that open the circuit breaker")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd.add_option("--breaker-wait-ms", f.breaker_wait_ms, "Open time before the half-open probe")
      ->check(CLI::Range(1, 3600000))
      ->capture_default_str();
  cmd.add_option("--cloud-max-in-flight", f.max_in_flight, "Cap on concurrent cloud calls")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
}

std::string read_secret(const std::string& path, const std::string& option) {
  if (path.empty()) return {};
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(option + " " + path + ": cannot read the file");
  std::ostringstream os;
  os << in.rdbuf();
  std::string s = os.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  if (s.empty()) throw Error(option + " " + path + ": the file is empty");
  return s;
}

std::unique_ptr<router::ResilientCloud> make_cloud(const CloudFlags& f, const engine::Classifier& edge,
                                                   const std::string& edge_model_path) {
  if (f.url.empty()) return nullptr;
  router::CloudConfig c;
  c.url = f.url;
  c.labels = edge.labels().names();
  c.bearer_token = read_secret(f.token_file, "--cloud-token-file");
  c.model = f.model;
  c.vocab_dir = f.vocab_dir;
  if (c.vocab_dir.empty() && std::filesystem::is_directory(edge_model_path)) c.vocab_dir = edge_model_path;
  router::ResilienceOptions r;
  r.deadline = std::chrono::milliseconds(f.deadline_ms);
  r.failure_threshold = f.breaker_failures;
  r.open_wait = std::chrono::milliseconds(f.breaker_wait_ms);
  r.max_in_flight = f.max_in_flight;
  return std::make_unique<router::ResilientCloud>(router::make_cloud_backend(c), r);
}

router::Policy load_policy(const std::string& path) {
  return path.empty() ? router::Policy::defaults() : router::Policy::load(path);
}

std::unique_ptr<router::AuditWriter> attach_audit(const std::string& uri, const std::string& key_file,
                                                  router::RouterParts& parts, std::chrono::microseconds max_wait) {
  if (uri.empty()) return nullptr;
  router::AuditOptions ao;
  ao.key = router::load_audit_key(uri, key_file);
  parts.audit_key = ao.key;
  auto writer = std::make_unique<router::AuditWriter>(router::open_audit(uri, ao), 256, max_wait);
  parts.audit = writer.get();
  return writer;
}

std::vector<std::string> reason_names() {
  std::vector<std::string> names;
  for (const router::Reason r : router::all_reasons()) names.emplace_back(router::to_string(r));
  return names;
}

std::unique_ptr<monitor::Monitor> make_monitor(const router::Policy& policy, const std::string& policy_path,
                                               const engine::Classifier& model, const std::string& node) {
  const std::string source = policy_path.empty() ? std::string("the default policy") : policy_path;
  const monitor::MonitorConfig config = monitor::monitor_config_from_json(policy.monitor, source);
  const nlohmann::json reference =
      policy.calibration.contains("reference") ? policy.calibration["reference"] : nlohmann::json();
  return std::make_unique<monitor::Monitor>(model.labels().names(), reason_names(), reference, config,
                                            &SystemClock::instance(), node);
}

}  // namespace edgeroute::cli
