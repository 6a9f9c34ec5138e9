// The live dashboard of a running `edgeroute serve`, under load, in headless
// Chromium (Debian package `chromium`, driven over the DevTools protocol by
// browser_check.py): the page renders twice from /v1/monitor with the bearer
// token taken from the URL fragment, its charts hold data points, and nothing
// logs an error. Screenshot: dashboard_live.png in this build directory.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>

#include "../common/run_command.h"
#include "child_process.h"
#include "tiny_classifier.h"

namespace edgeroute::monitor {
namespace {

namespace fs = std::filesystem;

TEST(LiveDashboard, RendersUnderLoadWithTheTokenFromTheFragment) {
  const fs::path dir = fs::path(EDGEROUTE_TEST_BINARY_DIR) / "scratch" / "live_dashboard";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string model = test::write_tiny_classifier((dir / "model").string());
  std::ofstream(dir / "token") << "dash-t0ken\n";

  const fs::path port_file = dir / "port";
  test::Child serve({EDGEROUTE_BIN, "serve", "--role", "edge", "--model", model, "--listen", "127.0.0.1:0",
                     "--port-file", port_file.string(), "--token-file", (dir / "token").string()},
                    dir / "serve.log");
  for (int i = 0; i < 3000 && !fs::exists(port_file); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  int port = 0;
  std::ifstream(port_file) >> port;
  ASSERT_GT(port, 0) << test::read_file(dir / "serve.log");

  // Traffic for as long as the browser looks at the page.
  std::atomic<bool> stop{false};
  std::atomic<int> answered{0};
  std::thread load([&] {
    httplib::Client c("127.0.0.1", port);
    const httplib::Headers auth = {{"Authorization", "Bearer dash-t0ken"}};
    for (int i = 0; !stop; ++i) {
      const std::string text = i % 5 == 0 ? "I want to speak to a manager about my refund" : "where is my card";
      auto res = c.Post("/v1/classify", auth, R"({"text": ")" + text + " " + std::to_string(i) + "\"}",
                        "application/json");
      if (res && res->status == 200) ++answered;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  while (answered < 20) std::this_thread::sleep_for(std::chrono::milliseconds(10));

  const fs::path shot = fs::path(EDGEROUTE_TEST_BINARY_DIR) / "dashboard_live.png";
  const auto r = test::run_command(std::string(EDGEROUTE_PYTHON_BIN) + " " + EDGEROUTE_SOURCE_DIR +
                                   "/tests/monitor/browser_check.py --url 'http://127.0.0.1:" + std::to_string(port) +
                                   "/dashboard#token=dash-t0ken&window=1m' --min-renders 2 --min-points 20 " +
                                   "--timeout 60 --screenshot " + shot.string());
  stop = true;
  load.join();
  if (r.code == 77) GTEST_SKIP() << r.out;
  EXPECT_EQ(r.code, 0) << r.out << "\n" << test::read_file(dir / "serve.log");
  EXPECT_TRUE(fs::exists(shot));
  // Without the token the page shows its error banner instead of data.
  const auto denied = test::run_command(std::string(EDGEROUTE_PYTHON_BIN) + " " + EDGEROUTE_SOURCE_DIR +
                                        "/tests/monitor/browser_check.py --url 'http://127.0.0.1:" +
                                        std::to_string(port) + "/dashboard' --expect-banner --min-points 0 --timeout 60");
  EXPECT_EQ(denied.code, 0) << denied.out;
}

}  // namespace
}  // namespace edgeroute::monitor
