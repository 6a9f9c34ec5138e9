// The audit log on a real PostgreSQL 15 server, started per test on a free
// loopback port in a temporary directory (as an unprivileged user when we run
// as root). Label `service`; skips when the server binaries are missing.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "../common/run_command.h"
#include "audit_test_support.h"
#include "edgeroute/common/error.h"
#include "edgeroute/router/audit.h"

namespace edgeroute::router {
namespace {

namespace fs = std::filesystem;
using test::make_record;

constexpr const char* kKey = "postgres-test-key-0123456789abcdef";

int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class PostgresAudit : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* env = std::getenv("EDGEROUTE_PG_BIN");
    const fs::path bin = env != nullptr && *env != '\0' ? env : "/usr/lib/postgresql/15/bin";
    if (!fs::exists(bin / "initdb") || !fs::exists(bin / "pg_ctl") || !fs::exists(bin / "postgres")) {
      GTEST_SKIP() << "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in " << bin
                   << "; install postgresql-15 or set EDGEROUTE_PG_BIN";
    }
    pg_ctl_ = (bin / "pg_ctl").string();
    std::string tmpl = (fs::temp_directory_path() / "edgeroute-pg-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    // PostgreSQL refuses to run as root: run its binaries as `nobody`.
    if (::geteuid() == 0) {
      const passwd* pw = ::getpwnam("nobody");
      if (pw == nullptr) GTEST_SKIP() << "running as root and there is no 'nobody' user to run PostgreSQL as";
      ASSERT_EQ(::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid), 0);
      as_user_ = fs::exists("/usr/sbin/runuser") || fs::exists("/sbin/runuser")
                     ? "runuser -u nobody -- "
                     : "setpriv --reuid=" + std::to_string(pw->pw_uid) + " --regid=" + std::to_string(pw->pw_gid) +
                           " --clear-groups ";
    }
    const edgeroute::test::CommandResult init =
        edgeroute::test::run_command(as_user_ + (bin / "initdb").string() + " -D " + (dir_ / "data").string() +
                                     " -U postgres -A trust --no-sync -E UTF8 --locale=C");
    ASSERT_EQ(init.code, 0) << "initdb failed:\n" << init.out;
    for (int attempt = 0; attempt < 5 && !started_; ++attempt) {
      const int port = free_loopback_port();
      ASSERT_GT(port, 0);
      const edgeroute::test::CommandResult start = edgeroute::test::run_command(
          as_user_ + pg_ctl_ + " -D " + (dir_ / "data").string() + " -l " + (dir_ / "server.log").string() +
          " -w -t 60 -o \"-p " + std::to_string(port) + " -h 127.0.0.1 -k " + dir_.string() + " -F\" start");
      if (start.code == 0) {
        started_ = true;
        uri_ = "postgresql://postgres@127.0.0.1:" + std::to_string(port) + "/postgres";
      }
    }
    ASSERT_TRUE(started_) << "PostgreSQL did not start:\n" << slurp(dir_ / "server.log");
  }

  void TearDown() override {
    if (started_) {
      edgeroute::test::run_command(as_user_ + pg_ctl_ + " -D " + (dir_ / "data").string() + " -m immediate -w stop");
    }
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Runs SQL on the server directly, as someone tampering with the table would.
  void sql(const std::string& statement) const {
    PGconn* c = PQconnectdb(uri_.c_str());
    ASSERT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
    PGresult* r = PQexec(c, statement.c_str());
    const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    const std::string err = PQresultErrorMessage(r);
    PQclear(r);
    PQfinish(c);
    ASSERT_TRUE(ok) << statement << ": " << err;
  }

  fs::path dir_;
  std::string pg_ctl_, as_user_, uri_;
  bool started_ = false;
};

TEST_F(PostgresAudit, RoundTrip) { test::check_round_trip(uri_, kKey); }

TEST_F(PostgresAudit, TwoNodesWritingConcurrentlyMakeOneGaplessChain) {
  constexpr int kThreadsPerNode = 4;
  constexpr int kPerThread = 150;
  std::vector<std::int64_t> seqs;
  std::mutex mu;
  {
    // Two sinks with their own connections, as two edge nodes would have.
    AuditWriter node_a(open_audit(uri_, AuditOptions{kKey}));
    AuditWriter node_b(open_audit(uri_, AuditOptions{kKey}));
    std::vector<std::thread> threads;
    for (int t = 0; t < 2 * kThreadsPerNode; ++t) {
      AuditWriter& w = t % 2 == 0 ? node_a : node_b;
      const std::string node = t % 2 == 0 ? "node-a" : "node-b";
      threads.emplace_back([&, t, node] {
        for (int i = 0; i < kPerThread; ++i) {
          const std::int64_t seq = w.write(make_record(node + "-" + std::to_string(t) + "-" + std::to_string(i), node));
          const std::lock_guard lock(mu);
          seqs.push_back(seq);
        }
      });
    }
    for (std::thread& th : threads) th.join();
  }
  const int total = 2 * kThreadsPerNode * kPerThread;
  std::sort(seqs.begin(), seqs.end());
  std::vector<std::int64_t> expected(total);
  std::iota(expected.begin(), expected.end(), 1);
  EXPECT_EQ(seqs, expected);
  const VerifyResult v = verify_audit(uri_, AuditOptions{kKey});
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.rows, total);
  const auto sink = open_audit(uri_, AuditOptions{kKey});
  EXPECT_EQ(sink->count(), total);
  const std::vector<AuditRecord> rows = sink->read(0, static_cast<std::size_t>(total));
  EXPECT_EQ(std::count_if(rows.begin(), rows.end(), [](const AuditRecord& r) { return r.node == "node-a"; }),
            total / 2);
}

TEST_F(PostgresAudit, TamperingIsDetected) {
  {
    const auto sink = open_audit(uri_, AuditOptions{kKey});
    for (int i = 1; i <= 10; ++i) {
      std::vector<AuditRecord> one = {make_record("r" + std::to_string(i))};
      sink->append(one);
    }
  }
  ASSERT_TRUE(verify_audit(uri_, AuditOptions{kKey}).ok);

  sql("UPDATE audit_log SET label = 'refund' WHERE seq = 3");
  VerifyResult v = verify_audit(uri_, AuditOptions{kKey});
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 3);
  EXPECT_NE(v.problem.find("edited"), std::string::npos) << v.problem;

  sql("UPDATE audit_log SET label = 'card_arrival' WHERE seq = 3");  // undone: verifies again
  EXPECT_TRUE(verify_audit(uri_, AuditOptions{kKey}).ok);

  sql("UPDATE audit_log SET seq = -1 WHERE seq = 5; UPDATE audit_log SET seq = 5 WHERE seq = 6; "
      "UPDATE audit_log SET seq = 6 WHERE seq = -1");
  v = verify_audit(uri_, AuditOptions{kKey});
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 5);
  sql("UPDATE audit_log SET seq = -1 WHERE seq = 5; UPDATE audit_log SET seq = 5 WHERE seq = 6; "
      "UPDATE audit_log SET seq = 6 WHERE seq = -1");

  sql("DELETE FROM audit_log WHERE seq >= 9");
  v = verify_audit(uri_, AuditOptions{kKey});
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 9);
  EXPECT_NE(v.problem.find("tail"), std::string::npos) << v.problem;

  sql("DELETE FROM audit_log WHERE seq = 4");
  v = verify_audit(uri_, AuditOptions{kKey});
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 4);

  EXPECT_FALSE(verify_audit(uri_, AuditOptions{"wrong key"}).ok);
  EXPECT_THROW(open_audit(uri_, AuditOptions{"wrong key"}), Error);
}

TEST_F(PostgresAudit, ClearErrors) {
  AuditOptions reader{kKey};
  reader.create = false;
  try {
    verify_audit(uri_, reader);
    ADD_FAILURE() << "expected an error for a database without the audit schema";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not an edgeroute audit log"), std::string::npos) << e.what();
  }
  const std::string bad_db = uri_.substr(0, uri_.rfind('/')) + "/no_such_db";
  try {
    open_audit(bad_db, AuditOptions{kKey});
    ADD_FAILURE() << "expected an error for a missing database";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_db"), std::string::npos) << e.what();
  }
}

TEST_F(PostgresAudit, ReportReadsTheLog) {
  {
    const auto sink = open_audit(uri_, AuditOptions{kKey});
    std::vector<AuditRecord> rows;
    for (int i = 0; i < 30; ++i) {
      rows.push_back(test::make_record("pg" + std::to_string(i), "edge-1", 1'764'300'000'000'000LL + i * 5'000'000LL));
      rows.back().reason = i % 2 == 0 ? "optimal_edge" : "low_confidence";
      rows.back().route = i % 2 == 0 ? "edge" : "cloud";
    }
    sink->append(rows);
  }
  // `edgeroute report` needs no key: it only reads.
  const auto r = edgeroute::test::run_command("env -u EDGEROUTE_AUDIT_KEY " + std::string(EDGEROUTE_BIN) +
                                              " report --format json --audit " + uri_);
  ASSERT_EQ(r.code, 0) << r.out;
  const nlohmann::json doc = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << r.out;
  EXPECT_EQ(doc["summary"]["requests"], 30);
  EXPECT_EQ(doc["summary"]["cloud"], 15);
  EXPECT_EQ(doc["summary"]["reasons"]["low_confidence"], 15);
  EXPECT_NEAR(doc["health"]["cost_analysis"]["span_seconds"].get<double>(), 145, 1e-6);
}

}  // namespace
}  // namespace edgeroute::router
