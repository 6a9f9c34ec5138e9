// `edgeroute serve` as a process: the audit log holds a row for every
// acknowledged answer after a kill -9 in the middle of a load, the chain
// still verifies, and SIGTERM drains and exits cleanly.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>

#include "edgeroute/router/audit.h"
#include "run_command.h"
#include "tiny_classifier.h"

namespace edgeroute::server {
namespace {

namespace fs = std::filesystem;

struct Child {
  pid_t pid = -1;
  int port = 0;
};

// Starts `edgeroute serve ARGS --listen 127.0.0.1:0 --port-file F` and
// waits for the port file.
Child start_serve(const std::vector<std::string>& args, const fs::path& dir) {
  const fs::path port_file = dir / "port";
  fs::remove(port_file);
  std::vector<std::string> argv = {EDGEROUTE_BIN, "serve",       "--listen",
                                   "127.0.0.1:0", "--port-file", port_file.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  Child c;
  c.pid = fork();
  if (c.pid == 0) {
    const std::string log = (dir / "serve.log").string();
    if (freopen(log.c_str(), "a", stdout) == nullptr || freopen(log.c_str(), "a", stderr) == nullptr) _exit(126);
    std::vector<char*> raw;
    for (std::string& a : argv) raw.push_back(a.data());
    raw.push_back(nullptr);
    execv(raw[0], raw.data());
    _exit(127);
  }
  for (int i = 0; i < 3000 && !fs::exists(port_file); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::ifstream(port_file) >> c.port;
  return c;
}

std::string log_of(const fs::path& dir) {
  std::ifstream in(dir / "serve.log");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

fs::path scratch(const std::string& name) {
  const fs::path p = fs::path(EDGEROUTE_TEST_BINARY_DIR) / "scratch" / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

TEST(ServeProcess, EveryAcknowledgedAnswerIsInTheAuditLogAfterKill9) {
  const fs::path dir = scratch("kill9");
  const std::string model = test::write_tiny_classifier((dir / "model").string());
  const std::string uri = "sqlite:" + (dir / "audit.db").string();
  std::ofstream(dir / "key") << "kill9-test-key";
  Child c = start_serve({"--model", model, "--audit", uri, "--audit-key-file", (dir / "key").string()}, dir);
  ASSERT_GT(c.port, 0) << log_of(dir);

  constexpr int kClients = 8;
  std::atomic<std::int64_t> acked{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back([&, t] {
      httplib::Client cl("127.0.0.1", c.port);
      cl.set_read_timeout(5, 0);
      for (int i = 0; !stop.load(); ++i) {
        const std::string body = "{\"text\": \"my card was declined " + std::to_string(t * 100000 + i) + "\"}";
        auto res = cl.Post("/v1/classify", body, "application/json");
        if (!res) break;  // the server is gone
        if (res->status == 200) ++acked;
      }
    });
  }
  // Bounded wait: a server that dies early must fail the test, not hang it.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (acked.load() < 300 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const bool enough = acked.load() >= 300;
  ASSERT_EQ(kill(c.pid, SIGKILL), 0);
  int status = 0;
  waitpid(c.pid, &status, 0);
  stop = true;
  for (auto& t : clients) t.join();
  ASSERT_TRUE(enough) << "only " << acked.load() << " answers before the deadline\n" << log_of(dir);

  router::AuditOptions ao;
  ao.key = "kill9-test-key";
  const std::int64_t rows = router::open_audit(uri, ao)->count();
  // Every acknowledged answer has its row; at most one answer per client
  // was committed but not yet acknowledged when the process died.
  EXPECT_GE(rows, acked.load());
  EXPECT_LE(rows, acked.load() + kClients);
  const router::VerifyResult v = router::verify_audit(uri, ao);
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.rows, rows);
  const auto r = test::run_command(std::string(EDGEROUTE_BIN) + " audit verify --audit " + uri + " --key-file " +
                                   (dir / "key").string());
  EXPECT_EQ(r.code, 0) << r.out;
}

TEST(ServeProcess, SigtermDrainsAndExitsZero) {
  const fs::path dir = scratch("sigterm");
  const std::string model = test::write_tiny_classifier((dir / "model").string());
  Child c = start_serve({"--model", model}, dir);
  ASSERT_GT(c.port, 0) << log_of(dir);
  httplib::Client cl("127.0.0.1", c.port);
  auto res = cl.Post("/v1/classify", R"({"text": "where is my order"})", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  ASSERT_EQ(kill(c.pid, SIGTERM), 0);
  int status = 0;
  waitpid(c.pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << log_of(dir);
  EXPECT_EQ(WEXITSTATUS(status), 0) << log_of(dir);
  EXPECT_NE(log_of(dir).find("SIGTERM, draining"), std::string::npos) << log_of(dir);
}

TEST(ServeProcess, BadArgumentsAreClearErrors) {
  const fs::path dir = scratch("badargs");
  const std::string model = test::write_tiny_classifier((dir / "model").string());
  const std::string bin = EDGEROUTE_BIN;
  auto r = test::run_command(bin + " serve --model " + model + " --listen nonsense");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--listen nonsense: expected HOST:PORT"), std::string::npos) << r.out;
  r = test::run_command(bin + " serve --model " + model + " --role judge");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--role must be edge or cloud"), std::string::npos) << r.out;
  r = test::run_command(bin + " serve --model " + model + " --policy /nonexistent.toml");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("/nonexistent.toml"), std::string::npos) << r.out;
  r = test::run_command(bin + " serve --model " + model + " --cloud ftp://x");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("ftp://x"), std::string::npos) << r.out;
  r = test::run_command(bin + " serve --model /nonexistent-model");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("/nonexistent-model"), std::string::npos) << r.out;
  r = test::run_command(bin + " serve --help");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("--audit"), std::string::npos);
}

}  // namespace
}  // namespace edgeroute::server
