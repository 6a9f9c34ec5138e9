// A real Prometheus server (Debian package `prometheus`) on loopback scrapes
// a running `edgeroute serve`: the answer counter it stores equals the
// answers the test received, the target is up, and deploy/prometheus/
// alerts.yml loads as the `edgeroute` rule group.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "child_process.h"
#include "tiny_classifier.h"

namespace edgeroute::monitor {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using test::Child;
using test::find_program;
using test::free_port;
using test::read_file;

// The single value of an instant query, or nothing while Prometheus has no
// sample for it yet.
std::optional<double> query_value(httplib::Client& prom, const std::string& promql) {
  auto res = prom.Get("/api/v1/query", httplib::Params{{"query", promql}}, httplib::Headers{});
  if (!res || res->status != 200) return std::nullopt;
  const nlohmann::json body = nlohmann::json::parse(res->body, nullptr, false);
  if (body.is_discarded() || body.value("status", "") != "success") return std::nullopt;
  const nlohmann::json& result = body["data"]["result"];
  if (!result.is_array() || result.size() != 1) return std::nullopt;
  return std::stod(result[0]["value"][1].get<std::string>());
}

// Polls until the query returns `want` or the deadline passes; returns the
// last value seen.
std::optional<double> wait_for_value(httplib::Client& prom, const std::string& promql, double want,
                                     Clock::time_point deadline) {
  std::optional<double> seen;
  while (Clock::now() < deadline) {
    seen = query_value(prom, promql);
    if (seen && *seen == want) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return seen;
}

TEST(PrometheusScrape, RealPrometheusStoresTheAnswerCountAndLoadsTheRules) {
  const std::string prometheus = find_program("prometheus");
  if (prometheus.empty()) GTEST_SKIP() << "no prometheus on PATH: install the Debian package prometheus";

  const fs::path dir = fs::path(EDGEROUTE_TEST_BINARY_DIR) / "scratch" / "prometheus_scrape";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string model = test::write_tiny_classifier((dir / "model").string());

  const fs::path port_file = dir / "port";
  Child serve({EDGEROUTE_BIN, "serve", "--role", "edge", "--model", model, "--listen", "127.0.0.1:0", "--port-file",
               port_file.string(), "--node", "scrape-test"},
              dir / "serve.log");
  for (int i = 0; i < 3000 && !fs::exists(port_file); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  int port = 0;
  std::ifstream(port_file) >> port;
  ASSERT_GT(port, 0) << read_file(dir / "serve.log");

  constexpr int kRequests = 37;
  int answers = 0;
  httplib::Client cl("127.0.0.1", port);
  for (int i = 0; i < kRequests; ++i) {
    auto res = cl.Post("/v1/classify", R"({"text": "my card payment was declined )" + std::to_string(i) + "\"}",
                       "application/json");
    ASSERT_TRUE(res) << "request " << i << " got no answer\n" << read_file(dir / "serve.log");
    if (res->status == 200) ++answers;
  }
  ASSERT_EQ(answers, kRequests) << read_file(dir / "serve.log");

  const int prom_port = free_port();
  ASSERT_GT(prom_port, 0);
  const fs::path rules = fs::path(EDGEROUTE_SOURCE_DIR) / "deploy" / "prometheus" / "alerts.yml";
  std::ofstream(dir / "prometheus.yml") << "global:\n"
                                           "  scrape_interval: 1s\n"
                                           "  evaluation_interval: 1s\n"
                                           "rule_files:\n"
                                           "  - "
                                        << rules.string()
                                        << "\n"
                                           "scrape_configs:\n"
                                           "  - job_name: edgeroute\n"
                                           "    static_configs:\n"
                                           "      - targets: ['127.0.0.1:"
                                        << port << "']\n";
  Child prom_process({prometheus, "--config.file=" + (dir / "prometheus.yml").string(),
                      "--storage.tsdb.path=" + (dir / "tsdb").string(),
                      "--web.listen-address=127.0.0.1:" + std::to_string(prom_port), "--log.level=warn"},
                     dir / "prometheus.log");

  httplib::Client prom("127.0.0.1", prom_port);
  prom.set_connection_timeout(1, 0);
  prom.set_read_timeout(2, 0);
  // Bounded: Prometheus starts in about a second and scrapes every second.
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  const auto scraped = wait_for_value(prom, "sum(edgeroute_answers_total)", answers, deadline);
  ASSERT_TRUE(prom_process.running()) << read_file(dir / "prometheus.log");
  ASSERT_TRUE(scraped.has_value()) << "Prometheus never stored edgeroute_answers_total\n"
                                   << read_file(dir / "prometheus.log");
  EXPECT_EQ(*scraped, answers);
  EXPECT_EQ(query_value(prom, "sum(edgeroute_answer_duration_seconds_count)"), answers);
  EXPECT_EQ(query_value(prom, "up{job=\"edgeroute\"}"), 1.0);
  EXPECT_EQ(query_value(prom, "edgeroute_ready"), 1.0);

  auto res = prom.Get("/api/v1/rules");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const nlohmann::json body = nlohmann::json::parse(res->body);
  const nlohmann::json* group = nullptr;
  for (const nlohmann::json& g : body["data"]["groups"]) {
    if (g.value("name", "") == "edgeroute") group = &g;
  }
  ASSERT_NE(group, nullptr) << res->body;
  EXPECT_EQ(fs::path((*group)["file"].get<std::string>()), rules);
  std::vector<std::string> names;
  for (const nlohmann::json& r : (*group)["rules"]) {
    names.push_back(r.value("name", ""));
    // "unknown" until the first evaluation; "err" is a rule PromQL cannot run.
    EXPECT_NE(r.value("health", ""), "err") << r.dump();
  }
  for (const char* want : {"EdgerouteEdgeUtilizationLow", "EdgerouteAccuracyLow", "EdgerouteCostPerQueryHigh",
                           "EdgerouteLatencyP95High", "EdgerouteErrorRateHigh", "EdgerouteConfidenceDrift",
                           "EdgerouteLabelDrift", "EdgerouteOutOfDistributionHigh", "EdgerouteShadowAgreementLow"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
  }
}

}  // namespace
}  // namespace edgeroute::monitor
