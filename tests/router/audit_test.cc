// The audit log on SQLite: HMAC vectors, round trip, group commit, tamper
// detection, key handling, error messages and durability across kill -9.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "audit_test_support.h"
#include "edgeroute/common/error.h"
#include "edgeroute/router/audit.h"

namespace edgeroute::router {
namespace {

namespace fs = std::filesystem;
using test::make_record;

constexpr const char* kKey = "0123456789abcdef0123456789abcdef";

std::string hex_hmac(const std::string& key, const std::string& msg) { return to_hex(hmac_sha256(key, msg)); }

// Runs SQL on the database directly, as someone tampering with the file would.
void tamper(const fs::path& db, const std::string& sql) {
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err);
  const std::string msg = err != nullptr ? err : "";
  sqlite3_free(err);
  sqlite3_close(h);
  ASSERT_EQ(rc, SQLITE_OK) << sql << ": " << msg;
}

std::string expect_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected edgeroute::Error";
  return {};
}

TEST(AuditHmac, Rfc4231Vectors) {
  EXPECT_EQ(hex_hmac(std::string(20, '\x0b'), "Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(hex_hmac("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(hex_hmac(std::string(20, '\xaa'), std::string(50, '\xdd')),
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
  std::string key4;
  for (char c = 1; c <= 25; ++c) key4.push_back(c);
  EXPECT_EQ(hex_hmac(key4, std::string(50, '\xcd')),
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
  EXPECT_EQ(hex_hmac(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  EXPECT_EQ(hex_hmac(std::string(131, '\xaa'),
                     "This is a test using a larger than block-size key and a larger than block-size data. The key "
                     "needs to be hashed before being used by the HMAC algorithm."),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
  // Incremental updates give the same digest.
  HmacSha256 h("Jefe");
  h.update("what do ya want ");
  h.update("for nothing?");
  EXPECT_EQ(to_hex(h.finish()), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(AuditHmac, TextHashIsKeyedAndSeparatedFromTheChain) {
  const std::string a = audit_text_hash("k1", "my card is 4111 1111 1111 1111");
  EXPECT_EQ(a.size(), 64u);
  EXPECT_EQ(a, audit_text_hash("k1", "my card is 4111 1111 1111 1111"));
  EXPECT_NE(a, audit_text_hash("k2", "my card is 4111 1111 1111 1111"));
  EXPECT_NE(a, audit_text_hash("k1", "my card is 4111 1111 1111 1112"));
  EXPECT_NE(a, hex_hmac("k1", "my card is 4111 1111 1111 1111"));  // domain-separated
}

TEST(AuditHmac, RowHashCoversEveryField) {
  AuditRecord base = make_record("r");
  base.seq = 7;
  base.prev_hash = std::string(64, '0');
  const std::string h = audit_row_hash(kKey, base);
  const std::vector<std::function<void(AuditRecord&)>> edits = {
      [](AuditRecord& r) { r.seq = 8; },
      [](AuditRecord& r) { r.ts_us += 1; },
      [](AuditRecord& r) { r.request_id += "x"; },
      [](AuditRecord& r) { r.node += "x"; },
      [](AuditRecord& r) { r.text_hash += "x"; },
      [](AuditRecord& r) { r.redacted_text += "x"; },
      [](AuditRecord& r) { r.label += "x"; },
      [](AuditRecord& r) { r.confidence += 1e-9; },
      [](AuditRecord& r) { r.route += "x"; },
      [](AuditRecord& r) { r.reason += "x"; },
      [](AuditRecord& r) { r.degraded = !r.degraded; },
      [](AuditRecord& r) { r.cost_usd += 1e-9; },
      [](AuditRecord& r) { r.cloud_only_cost_usd += 1e-9; },
      [](AuditRecord& r) { r.latency_ms += 1e-9; },
      [](AuditRecord& r) { r.edge_label += "x"; },
      [](AuditRecord& r) { r.edge_confidence += 1e-9; },
      [](AuditRecord& r) { r.details_json += " "; },
      [](AuditRecord& r) { r.prev_hash[0] = '1'; },
      // Moving a byte between adjacent fields changes the encoding too.
      [](AuditRecord& r) {
        r.route = "edg";
        r.reason = "e" + r.reason;
      },
  };
  for (std::size_t i = 0; i < edits.size(); ++i) {
    AuditRecord r = base;
    edits[i](r);
    EXPECT_NE(audit_row_hash(kKey, r), h) << "edit " << i;
  }
  EXPECT_NE(audit_row_hash("other key", base), h);
}

TEST(AuditUri, RedactsPasswords) {
  EXPECT_EQ(redact_audit_uri("postgresql://bob:s3cret@db.example:5432/audit"),
            "postgresql://bob@db.example:5432/audit");
  EXPECT_EQ(redact_audit_uri("postgresql://bob@db/audit?password=s3cret&sslmode=require"),
            "postgresql://bob@db/audit?password=***&sslmode=require");
  EXPECT_EQ(redact_audit_uri("postgresql://db/audit"), "postgresql://db/audit");
  EXPECT_EQ(redact_audit_uri("sqlite:/var/lib/edgeroute/audit.db"), "sqlite:/var/lib/edgeroute/audit.db");
}

TEST(AuditSqlite, RoundTrip) {
  const fs::path dir = test::scratch_dir("audit_test");
  test::check_round_trip("sqlite:" + (dir / "audit.db").string(), kKey);
  // WAL mode is persistent in the file.
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "audit.db").c_str(), &h), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &s, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)), "wal");
  sqlite3_finalize(s);
  sqlite3_close(h);
}

TEST(AuditSqlite, RejectsNonFiniteNumbersAndNulBytesWithoutWriting) {
  const fs::path dir = test::scratch_dir("audit_test");
  const std::string uri = "sqlite:" + (dir / "audit.db").string();
  const auto sink = open_audit(uri, AuditOptions{kKey});
  std::vector<AuditRecord> batch = {make_record("ok"), make_record("bad")};
  batch[1].latency_ms = std::numeric_limits<double>::quiet_NaN();
  std::string msg = expect_error([&] { sink->append(batch); });
  EXPECT_NE(msg.find("latency_ms"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'bad'"), std::string::npos) << msg;
  batch[1] = make_record("bad2");
  batch[1].label = std::string("a\0b", 3);
  msg = expect_error([&] { sink->append(batch); });
  EXPECT_NE(msg.find("label"), std::string::npos) << msg;
  EXPECT_EQ(sink->count(), 0);
  std::vector<AuditRecord> empty;
  sink->append(empty);
  EXPECT_EQ(sink->count(), 0);
}

TEST(AuditSqlite, ClearErrors) {
  const fs::path dir = test::scratch_dir("audit_test");
  std::string msg = expect_error([&] { open_audit("mysql://x", AuditOptions{kKey}); });
  EXPECT_NE(msg.find("unknown scheme"), std::string::npos) << msg;

  const std::string missing = "sqlite:" + (dir / "missing.db").string();
  msg = expect_error([&] { verify_audit(missing, AuditOptions{kKey}); });
  EXPECT_NE(msg.find("missing.db"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no such file"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(dir / "missing.db"));

  std::ofstream(dir / "garbage.db") << std::string(4096, 'x');
  msg = expect_error([&] { open_audit("sqlite:" + (dir / "garbage.db").string(), AuditOptions{kKey}); });
  EXPECT_NE(msg.find("garbage.db"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not a database"), std::string::npos) << msg;

  // A real SQLite database that is not an audit log.
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "other.db").c_str(), &h), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(h, "CREATE TABLE t(x)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(h);
  msg = expect_error([&] { verify_audit("sqlite:" + (dir / "other.db").string(), AuditOptions{kKey}); });
  EXPECT_NE(msg.find("not an edgeroute audit log"), std::string::npos) << msg;

  msg = expect_error([&] { open_audit("sqlite:" + (dir / "nokey.db").string(), AuditOptions{}); });
  EXPECT_NE(msg.find("needs a key"), std::string::npos) << msg;

  // Unreachable server: the message names the URI without its password.
  msg = expect_error(
      [&] { open_audit("postgresql://bob:s3cret@127.0.0.1:1/audit?connect_timeout=5", AuditOptions{kKey}); });
  EXPECT_NE(msg.find("postgresql://bob@127.0.0.1:1/audit"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("s3cret"), std::string::npos) << msg;
}

TEST(AuditSqlite, WrongKeyIsRefusedOnOpenAndReportedByVerify) {
  const fs::path dir = test::scratch_dir("audit_test");
  const std::string uri = "sqlite:" + (dir / "audit.db").string();
  {
    const auto sink = open_audit(uri, AuditOptions{kKey});
    std::vector<AuditRecord> batch = {make_record("a"), make_record("b")};
    sink->append(batch);
  }
  const std::string msg = expect_error([&] { open_audit(uri, AuditOptions{"another key"}); });
  EXPECT_NE(msg.find("does not match the key"), std::string::npos) << msg;
  const VerifyResult v = verify_audit(uri, AuditOptions{"another key"});
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 1);
  EXPECT_EQ(v.rows, 0);
  EXPECT_NE(v.problem.find("key"), std::string::npos) << v.problem;
  // A reader without a key can count and read.
  AuditOptions reader;
  reader.create = false;
  const auto r = open_audit(uri, reader);
  EXPECT_EQ(r->count(), 2);
  std::vector<AuditRecord> more = {make_record("c")};
  EXPECT_NE(expect_error([&] { r->append(more); }).find("without an audit key"), std::string::npos);
}

// A log of 10 rows (seq 1..10) to tamper with.
class AuditTamper : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::scratch_dir("audit_test");
    db_ = dir_ / "audit.db";
    uri_ = "sqlite:" + db_.string();
    const auto sink = open_audit(uri_, AuditOptions{kKey});
    for (int i = 1; i <= 10; ++i) {
      std::vector<AuditRecord> one = {make_record("r" + std::to_string(i), "edge-1", i)};
      sink->append(one);
    }
    const VerifyResult v = verify_audit(uri_, AuditOptions{kKey});
    ASSERT_TRUE(v.ok) << v.problem;
    ASSERT_EQ(v.rows, 10);
  }
  VerifyResult verify() const { return verify_audit(uri_, AuditOptions{kKey}); }
  fs::path dir_, db_;
  std::string uri_;
};

TEST_F(AuditTamper, EditedTextColumn) {
  tamper(db_, "UPDATE audit_log SET label = 'refund' WHERE seq = 5");
  const VerifyResult v = verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 5);
  EXPECT_EQ(v.rows, 4);
  EXPECT_NE(v.problem.find("edited"), std::string::npos) << v.problem;
}

TEST_F(AuditTamper, EditedNumberColumn) {
  tamper(db_, "UPDATE audit_log SET cost_usd = 0 WHERE seq = 7");
  const VerifyResult v = verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 7);
}

TEST_F(AuditTamper, DeletedRow) {
  tamper(db_, "DELETE FROM audit_log WHERE seq = 4");
  const VerifyResult v = verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 4);
  EXPECT_NE(v.problem.find("missing"), std::string::npos) << v.problem;
}

TEST_F(AuditTamper, DeletedAndRenumbered) {
  tamper(db_, "DELETE FROM audit_log WHERE seq = 4; UPDATE audit_log SET seq = seq - 1 WHERE seq > 4");
  const VerifyResult v = verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 4);
  EXPECT_NE(v.problem.find("prev_hash"), std::string::npos) << v.problem;
}

TEST_F(AuditTamper, SwappedSeqOfTwoRows) {
  tamper(db_,
         "UPDATE audit_log SET seq = -1 WHERE seq = 5; UPDATE audit_log SET seq = 5 WHERE seq = 6; "
         "UPDATE audit_log SET seq = 6 WHERE seq = -1");
  const VerifyResult v = verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 5);
  EXPECT_NE(v.problem.find("reordered"), std::string::npos) << v.problem;
}

TEST_F(AuditTamper, TruncatedTail) {
  tamper(db_, "DELETE FROM audit_log WHERE seq >= 8");
  const VerifyResult v = verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 8);
  EXPECT_EQ(v.rows, 7);
  EXPECT_NE(v.problem.find("tail"), std::string::npos) << v.problem;
}

TEST_F(AuditTamper, TruncatedTailWithHeadRewritten) {
  tamper(db_,
         "DELETE FROM audit_log WHERE seq >= 8; UPDATE audit_head SET seq = 7, "
         "row_hash = (SELECT row_hash FROM audit_log WHERE seq = 7)");
  const VerifyResult v = verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 7);
  EXPECT_NE(v.problem.find("MAC"), std::string::npos) << v.problem;
}

TEST_F(AuditTamper, EverythingDeleted) {
  tamper(db_, "DELETE FROM audit_log");
  const VerifyResult v = verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 1);
}

TEST_F(AuditTamper, HeadDeletedAndAppendRefused) {
  tamper(db_, "DELETE FROM audit_head");
  const VerifyResult v = verify();
  EXPECT_FALSE(v.ok);
  EXPECT_NE(v.problem.find("audit_head"), std::string::npos) << v.problem;
  const auto sink = open_audit(uri_, AuditOptions{kKey});
  std::vector<AuditRecord> more = {make_record("r11")};
  EXPECT_NE(expect_error([&] { sink->append(more); }).find("audit_head"), std::string::npos);
  EXPECT_EQ(more[0].seq, 0);     // chain fields reset after the rollback
  EXPECT_EQ(sink->count(), 10);  // nothing written
}

TEST_F(AuditTamper, ForgedRowAppendedByHand) {
  tamper(db_,
         "INSERT INTO audit_log SELECT 11, ts_us, 'forged', node, text_hash, redacted_text, label, confidence, "
         "route, reason, degraded, cost_usd, cloud_only_cost_usd, latency_ms, edge_label, edge_confidence, "
         "details_json, row_hash, row_hash FROM audit_log WHERE seq = 10");
  const VerifyResult v = verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 11);
}

TEST_F(AuditTamper, UntouchedLogKeepsVerifyingAfterMoreAppends) {
  const auto sink = open_audit(uri_, AuditOptions{kKey});
  std::vector<AuditRecord> more = {make_record("r11"), make_record("r12")};
  sink->append(more);
  EXPECT_EQ(more[1].seq, 12);
  const VerifyResult v = verify();
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.rows, 12);
}

// Restores (or clears) an environment variable when the test ends.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

TEST(AuditKey, FileThenEnvironmentThenKeyNextToTheDatabase) {
  const fs::path dir = test::scratch_dir("audit_test");
  const std::string uri = "sqlite:" + (dir / "audit.db").string();
  std::ofstream(dir / "k.bin", std::ios::binary) << std::string("raw\0bytes\n", 10);
  {
    const ScopedEnv env("EDGEROUTE_AUDIT_KEY", "from-env");
    EXPECT_EQ(load_audit_key(uri, (dir / "k.bin").string()), std::string("raw\0bytes\n", 10));
    EXPECT_EQ(load_audit_key(uri, ""), "from-env");
    EXPECT_EQ(load_audit_key("postgresql://db/audit", ""), "from-env");
  }
  const ScopedEnv env("EDGEROUTE_AUDIT_KEY", nullptr);
  std::string msg = expect_error([&] { load_audit_key(uri, "", /*create_if_absent=*/false); });
  EXPECT_NE(msg.find("audit.db.key"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(dir / "audit.db.key"));

  const std::string k = load_audit_key(uri, "");
  EXPECT_EQ(k.size(), 32u);
  struct stat st {};
  ASSERT_EQ(::stat((dir / "audit.db.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(load_audit_key(uri, ""), k);  // reused, not regenerated
  EXPECT_EQ(load_audit_key(uri, "", false), k);
  EXPECT_NE(load_audit_key("sqlite:" + (dir / "other.db").string(), ""), k);

  msg = expect_error([&] { load_audit_key("postgresql://bob:pw@db/audit", ""); });
  EXPECT_NE(msg.find("postgresql://bob@db/audit"), std::string::npos) << msg;
  msg = expect_error([&] { load_audit_key(uri, (dir / "absent.key").string()); });
  EXPECT_NE(msg.find("absent.key"), std::string::npos) << msg;
  std::ofstream(dir / "empty.key").flush();
  msg = expect_error([&] { load_audit_key(uri, (dir / "empty.key").string()); });
  EXPECT_NE(msg.find("empty"), std::string::npos) << msg;
}

// With a 1 ms wait (the default, taken under load) and with none (max_wait 0: a
// batch is whatever queued while the previous commit ran).
class AuditWriterWait : public ::testing::TestWithParam<std::chrono::microseconds> {};

TEST_P(AuditWriterWait, EightThreadsGroupCommitGaplessChain) {
  const fs::path dir = test::scratch_dir("audit_test");
  const std::string uri = "sqlite:" + (dir / "audit.db").string();
  constexpr int kThreads = 8;
  constexpr int kPerThread = 500;
  std::vector<std::vector<std::int64_t>> seqs(kThreads);
  AuditWriterStats stats;
  {
    AuditWriter writer(open_audit(uri, AuditOptions{kKey}), 256, GetParam());
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          seqs[t].push_back(writer.write(
              make_record("t" + std::to_string(t) + "-" + std::to_string(i), "node-" + std::to_string(t))));
        }
      });
    }
    for (std::thread& th : threads) th.join();
    stats = writer.stats();
    EXPECT_EQ(writer.sink().count(), kThreads * kPerThread);
    const std::optional<AuditRecord> r = writer.sink().find("t3-17");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->seq, seqs[3][17]);
  }
  std::vector<std::int64_t> all;
  for (const auto& s : seqs) {
    EXPECT_TRUE(std::is_sorted(s.begin(), s.end()));  // one thread's writes are ordered
    all.insert(all.end(), s.begin(), s.end());
  }
  std::sort(all.begin(), all.end());
  std::vector<std::int64_t> expected(kThreads * kPerThread);
  std::iota(expected.begin(), expected.end(), 1);
  EXPECT_EQ(all, expected);
  EXPECT_EQ(stats.records, static_cast<std::uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(stats.failed_commits, 0u);
  EXPECT_LT(stats.commits, stats.records);  // concurrent writers shared transactions
  EXPECT_GT(stats.commit_seconds_sum, 0.0);
  EXPECT_GE(stats.commit_seconds_max, stats.commit_seconds_sum / static_cast<double>(stats.commits));
  const VerifyResult v = verify_audit(uri, AuditOptions{kKey});
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.rows, kThreads * kPerThread);
}

INSTANTIATE_TEST_SUITE_P(MaxWait, AuditWriterWait,
                         ::testing::Values(std::chrono::microseconds(1000), std::chrono::microseconds(0)),
                         [](const ::testing::TestParamInfo<std::chrono::microseconds>& p) {
                           return "us" + std::to_string(p.param.count());
                         });

// A sink that fails while `fail` is set.
class FlakySink final : public AuditSink {
 public:
  explicit FlakySink(std::atomic<bool>& fail) : fail_(fail) {}
  void append(std::span<AuditRecord> records) override {
    if (fail_) throw Error("disk full");
    for (AuditRecord& r : records) r.seq = ++seq_;
  }
  void append_feedback(const Feedback&) override {}
  std::optional<AuditRecord> find(const std::string&) override { return std::nullopt; }
  std::int64_t count() override { return seq_; }
  std::vector<AuditRecord> read(std::int64_t, std::size_t) override { return {}; }
  std::vector<Feedback> read_feedback(std::int64_t, std::size_t) override { return {}; }

 private:
  std::atomic<bool>& fail_;
  std::int64_t seq_ = 0;
};

TEST(AuditWriter, FailedCommitThrowsToTheWriter) {
  std::atomic<bool> fail{false};
  AuditWriter writer(std::make_unique<FlakySink>(fail), 16, std::chrono::microseconds(0));
  EXPECT_EQ(writer.write(make_record("a")), 1);
  fail = true;
  const std::string msg = expect_error([&] { writer.write(make_record("b")); });
  EXPECT_NE(msg.find("disk full"), std::string::npos) << msg;
  fail = false;
  EXPECT_EQ(writer.write(make_record("c")), 2);
  const AuditWriterStats s = writer.stats();
  EXPECT_EQ(s.commits, 2u);
  EXPECT_EQ(s.records, 2u);
  EXPECT_EQ(s.failed_commits, 1u);
}

// A batch waits for more records only under load: the first one (nothing known
// yet) and any after a commit that served several writers; after a lone writer
// the next commits at once. No step depends on timing: the long waits end when the
// batch fills (max_batch 2), the short one by its deadline with one record
// either way, and the start of a wait is read from stats().waited.
TEST(AuditWriter, WaitsForCompanyOnlyAfterAMultiWriterCommit) {
  std::atomic<bool> fail{false};
  {
    AuditWriter writer(std::make_unique<FlakySink>(fail), 2, std::chrono::seconds(60));
    std::thread other([&] { writer.write(make_record("b")); });
    writer.write(make_record("a"));  // waits (first batch) unless b is already queued
    other.join();
    ASSERT_EQ(writer.stats().commits, 1u);  // a and b in one batch
    const std::uint64_t waited = writer.stats().waited;
    // After that commit of two, a lone record waits for company until d joins it.
    std::thread lone([&] { writer.write(make_record("c")); });
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (writer.stats().waited == waited && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_EQ(writer.stats().waited, waited + 1) << "c was committed without waiting";
    writer.write(make_record("d"));
    lone.join();
    EXPECT_EQ(writer.stats().commits, 2u);
    EXPECT_EQ(writer.stats().records, 4u);
  }
  AuditWriter writer(std::make_unique<FlakySink>(fail), 256, std::chrono::milliseconds(20));
  writer.write(make_record("lone-1"));  // first batch: waits 20 ms, commits alone
  writer.write(make_record("lone-2"));  // after a lone record: no wait
  writer.write(make_record("lone-3"));
  const AuditWriterStats s = writer.stats();
  EXPECT_EQ(s.commits, 3u);
  EXPECT_EQ(s.waited, 1u);
}

// write_all(): one writer's records are one transaction even past max_batch,
// a commit of one writer's several records is not "load" (the next writer
// does not wait), and a failed commit records none of them.
TEST(AuditWriter, WriteAllIsOneTransaction) {
  std::atomic<bool> fail{false};
  AuditWriter writer(std::make_unique<FlakySink>(fail), 2, std::chrono::seconds(60));
  std::vector<AuditRecord> five;
  for (int i = 0; i < 5; ++i) five.push_back(make_record("five-" + std::to_string(i)));
  writer.write_all(std::move(five));
  EXPECT_EQ(writer.stats().commits, 1u);
  EXPECT_EQ(writer.stats().records, 5u);
  writer.write_all({make_record("x"), make_record("y"), make_record("z")});
  EXPECT_EQ(writer.write(make_record("w")), 9);
  AuditWriterStats s = writer.stats();
  EXPECT_EQ(s.commits, 3u);
  // No commit waited for company: the first two had max_batch queued at once,
  // and each served one writer, so "w" (alone) was committed at once, not
  // held for max_wait as a rule that counted records would have held it.
  EXPECT_EQ(s.waited, 0u);
  fail = true;
  const std::string msg = expect_error([&] { writer.write_all({make_record("p"), make_record("q")}); });
  EXPECT_NE(msg.find("disk full"), std::string::npos) << msg;
  s = writer.stats();
  EXPECT_EQ(s.records, 9u);
  EXPECT_EQ(s.failed_commits, 1u);
  writer.write_all({});
  EXPECT_EQ(writer.stats().failed_commits, 1u);
}

// Writers of groups and of single records at once, on a real SQLite log:
// every group's rows are consecutive in the chain, and the chain verifies.
TEST(AuditWriter, ConcurrentGroupsStayContiguousInTheChain) {
  const fs::path dir = test::scratch_dir("audit_test_groups");
  const std::string uri = "sqlite:" + (dir / "audit.db").string();
  constexpr int kGroupThreads = 3, kSingleThreads = 3, kGroups = 60, kGroupSize = 5, kSingles = 150;
  {
    AuditWriter writer(open_audit(uri, AuditOptions{kKey}), 8, std::chrono::microseconds(200));
    std::vector<std::thread> threads;
    for (int t = 0; t < kGroupThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int g = 0; g < kGroups; ++g) {
          std::vector<AuditRecord> group;
          for (int i = 0; i < kGroupSize; ++i) {
            group.push_back(make_record("g" + std::to_string(t) + "-" + std::to_string(g) + "-" + std::to_string(i)));
          }
          writer.write_all(std::move(group));
        }
      });
    }
    for (int t = 0; t < kSingleThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kSingles; ++i) writer.write(make_record("s" + std::to_string(t) + "-" + std::to_string(i)));
      });
    }
    for (std::thread& th : threads) th.join();
    EXPECT_LT(writer.stats().commits, writer.stats().records);
    for (int t = 0; t < kGroupThreads; ++t) {
      for (int g = 0; g < kGroups; ++g) {
        const std::string prefix = "g" + std::to_string(t) + "-" + std::to_string(g) + "-";
        const std::optional<AuditRecord> first = writer.sink().find(prefix + "0");
        ASSERT_TRUE(first.has_value()) << prefix;
        for (int i = 1; i < kGroupSize; ++i) {
          const std::optional<AuditRecord> r = writer.sink().find(prefix + std::to_string(i));
          ASSERT_TRUE(r.has_value()) << prefix << i;
          EXPECT_EQ(r->seq, first->seq + i) << prefix << i;
        }
      }
    }
  }
  const VerifyResult v = verify_audit(uri, AuditOptions{kKey});
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.rows, kGroupThreads * kGroups * kGroupSize + kSingleThreads * kSingles);
}

// The durability test: a child process appends through an AuditWriter from
// four threads and reports every acknowledged (seq, thread, index) through a
// pipe; it is killed with SIGKILL mid-stream. Every acknowledged record must
// be in the reopened log and the chain must verify.
struct Ack {
  std::int64_t seq;
  std::int32_t thread;
  std::int32_t index;
};

[[noreturn]] void durability_child(const std::string& uri, int fd) {
  try {
    AuditWriter writer(open_audit(uri, AuditOptions{kKey}));
    std::vector<std::thread> threads;
    for (std::int32_t t = 0; t < 4; ++t) {
      threads.emplace_back([&writer, fd, t] {
        for (std::int32_t i = 0;; ++i) {
          const std::int64_t seq = writer.write(make_record("c" + std::to_string(t) + "-" + std::to_string(i)));
          const Ack ack{seq, t, i};
          if (::write(fd, &ack, sizeof ack) != static_cast<ssize_t>(sizeof ack)) ::_exit(4);
        }
      });
    }
    for (std::thread& th : threads) th.join();
  } catch (...) {
    ::_exit(3);
  }
  ::_exit(0);
}

TEST(AuditDurability, AckedRecordsSurviveKillDashNine) {
  const fs::path dir = test::scratch_dir("audit_test");
  const std::string uri = "sqlite:" + (dir / "audit.db").string();
  { open_audit(uri, AuditOptions{kKey}); }  // create the schema before forking
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    durability_child(uri, fds[1]);
  }
  ::close(fds[1]);
  std::vector<Ack> acks;
  bool killed = false;
  for (;;) {
    pollfd p{fds[0], POLLIN, 0};
    const int ready = ::poll(&p, 1, 60'000);
    if (ready <= 0) break;  // stuck child: fail below
    Ack ack{};
    const ssize_t n = ::read(fds[0], &ack, sizeof ack);
    if (n != static_cast<ssize_t>(sizeof ack)) break;  // EOF after the kill
    acks.push_back(ack);
    if (!killed && acks.size() >= 300) {
      ::kill(pid, SIGKILL);  // mid-stream: the writers are still running
      killed = true;
    }
  }
  ::close(fds[0]);
  if (!killed) ::kill(pid, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(killed) << "the child stopped after " << acks.size() << " acks, status " << status;
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;

  const auto sink = open_audit(uri, AuditOptions{kKey});
  EXPECT_GE(sink->count(), static_cast<std::int64_t>(acks.size()));
  for (const Ack& a : acks) {
    const std::string id = "c" + std::to_string(a.thread) + "-" + std::to_string(a.index);
    const std::optional<AuditRecord> r = sink->find(id);
    ASSERT_TRUE(r.has_value()) << "acknowledged record " << id << " (seq " << a.seq << ") is lost";
    EXPECT_EQ(r->seq, a.seq);
  }
  const VerifyResult v = verify_audit(uri, AuditOptions{kKey});
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.rows, sink->count());
}

}  // namespace
}  // namespace edgeroute::router
