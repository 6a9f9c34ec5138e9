// `edgeroute audit verify|count`, run as a user runs them.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "../common/run_command.h"
#include "audit_test_support.h"
#include "edgeroute/router/audit.h"

namespace edgeroute::router {
namespace {

namespace fs = std::filesystem;

edgeroute::test::CommandResult run(const std::string& args) {
  // The key must come from the command line or the file next to the log, not the caller's environment.
  return edgeroute::test::run_command("env -u EDGEROUTE_AUDIT_KEY " + std::string(EDGEROUTE_BIN) + " " + args);
}

class AuditCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::scratch_dir("audit_cli_test");
    db_ = dir_ / "audit.db";
    uri_ = "sqlite:" + db_.string();
    key_file_ = dir_ / "audit.key";
    std::ofstream(key_file_, std::ios::binary) << "cli-test-key";
    const auto sink = open_audit(uri_, AuditOptions{"cli-test-key"});
    for (int i = 1; i <= 5; ++i) {
      std::vector<AuditRecord> one = {test::make_record("r" + std::to_string(i))};
      sink->append(one);
    }
  }
  std::string verify_args() const { return "audit verify --audit " + uri_ + " --key-file " + key_file_.string(); }
  fs::path dir_, db_, key_file_;
  std::string uri_;
};

TEST_F(AuditCli, VerifyAndCountAnIntactLog) {
  const auto v = run(verify_args());
  EXPECT_EQ(v.code, 0) << v.out;
  EXPECT_NE(v.out.find("5 rows checked, chain OK"), std::string::npos) << v.out;
  const auto c = run("audit count --audit " + uri_);
  EXPECT_EQ(c.code, 0) << c.out;
  EXPECT_EQ(c.out, "5\n");
  EXPECT_EQ(run("audit --help").code, 0);
  EXPECT_EQ(run("audit").code, 2);
  EXPECT_EQ(run("audit verify").code, 2);  // --audit missing
}

TEST_F(AuditCli, VerifyReportsTheFirstBadRow) {
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db_.c_str(), &h), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(h, "UPDATE audit_log SET redacted_text = 'x' WHERE seq = 3", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(h);
  const auto v = run(verify_args());
  EXPECT_EQ(v.code, 1) << v.out;
  EXPECT_NE(v.out.find("2 rows checked"), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("seq 3"), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("edited"), std::string::npos) << v.out;
}

TEST_F(AuditCli, WrongKeyMissingFileAndNotADatabase) {
  std::ofstream(dir_ / "wrong.key") << "not-the-key";
  auto r = run("audit verify --audit " + uri_ + " --key-file " + (dir_ / "wrong.key").string());
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("seq 1"), std::string::npos) << r.out;

  // No --key-file and no audit.db.key next to the log: an error, and no key is created.
  r = run("audit verify --audit " + uri_);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("audit.db.key"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir_ / "audit.db.key"));

  r = run("audit verify --audit sqlite:" + (dir_ / "missing.db").string() + " --key-file " + key_file_.string());
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("no such file"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir_ / "missing.db"));
  r = run("audit count --audit sqlite:" + (dir_ / "missing.db").string());
  EXPECT_EQ(r.code, 1) << r.out;

  std::ofstream(dir_ / "text.db") << std::string(2048, 'x');
  r = run("audit count --audit sqlite:" + (dir_ / "text.db").string());
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("not a database"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace edgeroute::router
