// `edgeroute audit verify|count` and `edgeroute report`, run as a user runs them.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

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

// A log of 120 answers over 10 minutes (every 5 s): 90 on the edge, 30
// escalated, and 10 feedback rows of which 7 confirm the answer.
class ReportCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::scratch_dir("report_cli_test");
    uri_ = "sqlite:" + (dir_ / "audit.db").string();
    const auto sink = open_audit(uri_, AuditOptions{"report-key"});
    std::vector<AuditRecord> rows;
    for (int i = 0; i < 120; ++i) {
      AuditRecord r = test::make_record("q" + std::to_string(i), "edge-1", kStart + i * 5'000'000LL);
      r.reason = "optimal_edge";
      r.details_json = R"({"complexity":0.3,"energy":-9.5})";
      if (i % 4 == 3) {
        r.route = "cloud";
        r.reason = "low_confidence";
        r.cost_usd = 0.0146;
        r.label = "lost_card";
      }
      rows.push_back(r);
    }
    sink->append(rows);
    for (int i = 0; i < 10; ++i) {
      Feedback f;
      f.request_id = "q" + std::to_string(i);
      f.label = i < 7 ? rows[static_cast<std::size_t>(i)].label : "other_label";
      f.ts_us = kStart + 700'000'000LL;
      sink->append_feedback(f);
    }
  }
  static constexpr std::int64_t kStart = 1'764'300'000'000'000LL;  // 2025-11-28T03:20:00Z
  fs::path dir_;
  std::string uri_;
};

TEST_F(ReportCli, JsonDocumentCountsTheLogAndFeedback) {
  const auto r = run("report --audit " + uri_ + " --format json");
  ASSERT_EQ(r.code, 0) << r.out;
  const nlohmann::json doc = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << r.out;
  EXPECT_EQ(doc["source"], "audit");
  const nlohmann::json& s = doc["summary"];
  EXPECT_EQ(s["requests"], 120);
  EXPECT_EQ(s["cloud"], 30);
  EXPECT_DOUBLE_EQ(s["edge_share"].get<double>(), 0.75);
  EXPECT_EQ(s["reasons"]["low_confidence"], 30);
  EXPECT_EQ(s["feedback"]["total"], 10);
  EXPECT_EQ(s["feedback"]["correct"], 7);
  EXPECT_NEAR(s["cost_per_query"].get<double>(), (90 * 0.0001 + 30 * 0.0146) / 120, 1e-12);
  // The span is 595 s: the cost analysis projects from it, not from a batch.
  const nlohmann::json& c = doc["health"]["cost_analysis"];
  ASSERT_TRUE(c.is_object()) << doc["health"].dump();
  EXPECT_NEAR(c["span_seconds"].get<double>(), 595, 1e-6);
  EXPECT_NEAR(c["daily_cost_usd"].get<double>(), (90 * 0.0001 + 30 * 0.0146) * 86400 / 595, 1e-6);
  // 75% edge share is below the default 0.80 alert and costs the score 30 points.
  EXPECT_EQ(doc["alerts"]["firing"][0]["name"], "edge_utilization_low");
}

TEST_F(ReportCli, TextAndHtmlFormatsAndTheOutFile) {
  const auto t = run("report --audit " + uri_);
  ASSERT_EQ(t.code, 0) << t.out;
  EXPECT_NE(t.out.find("120 answers"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("edge utilization  75.00%"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("edge_utilization_low"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("lower the complexity or confidence threshold"), std::string::npos) << t.out;
  const fs::path html = dir_ / "report.html";
  const auto h = run("report --audit " + uri_ + " --format html --out " + html.string());
  ASSERT_EQ(h.code, 0) << h.out;
  std::ifstream in(html);
  const std::string page((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(page.find("edgeroute-data"), std::string::npos);
  EXPECT_NE(page.find("\"requests\":120"), std::string::npos);
}

TEST_F(ReportCli, BadArgumentsAndEmptySpansAreClearErrors) {
  auto r = run("report --audit " + uri_ + " --format pdf");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("--format must be text, json or html"), std::string::npos) << r.out;
  r = run("report --audit " + uri_ + " --since yesterday");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("--since yesterday"), std::string::npos) << r.out;
  r = run("report --audit " + uri_ + " --since 2099-01-01T00:00:00Z");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("no answers since"), std::string::npos) << r.out;
  r = run("report --audit " + uri_ + " --max-rows 50");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("more than 50 answers"), std::string::npos) << r.out;
  r = run("report --audit sqlite:" + (dir_ / "missing.db").string());
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_FALSE(fs::exists(dir_ / "missing.db"));
  EXPECT_EQ(run("report").code, 2);  // --audit missing
}

}  // namespace
}  // namespace edgeroute::router
