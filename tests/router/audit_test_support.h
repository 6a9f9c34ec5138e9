// Helpers shared by the audit log tests: records, a per-test scratch
// directory, and the round trip every sink must pass.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "edgeroute/router/audit.h"

namespace edgeroute::router::test {

inline AuditRecord make_record(const std::string& request_id, const std::string& node = "edge-1",
                               std::int64_t ts_us = 1'700'000'000'000'000) {
  AuditRecord r;
  r.ts_us = ts_us;
  r.request_id = request_id;
  r.node = node;
  r.text_hash = audit_text_hash("test-key", "raw text of " + request_id);
  r.redacted_text = "my card is [CARD] for " + request_id;
  r.label = "card_arrival";
  r.confidence = 0.93;
  r.route = "edge";
  r.reason = "confident";
  r.cost_usd = 0.0001;
  r.cloud_only_cost_usd = 0.002;
  r.latency_ms = 3.25;
  r.edge_label = "card_arrival";
  r.edge_confidence = 0.93;
  r.details_json = R"({"complexity":{"length":12},"probs":[0.93,0.07]})";
  return r;
}

// A fresh directory named after the running test (ctest runs tests in parallel).
inline std::filesystem::path scratch_dir(const std::string& suite) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::filesystem::path dir = std::filesystem::path(EDGEROUTE_TEST_BINARY_DIR) / suite /
                                    (std::string(info->test_suite_name()) + "." + info->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline void expect_same_fields(const AuditRecord& a, const AuditRecord& b) {
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.ts_us, b.ts_us);
  EXPECT_EQ(a.request_id, b.request_id);
  EXPECT_EQ(a.node, b.node);
  EXPECT_EQ(a.text_hash, b.text_hash);
  EXPECT_EQ(a.redacted_text, b.redacted_text);
  EXPECT_EQ(a.label, b.label);
  EXPECT_EQ(a.confidence, b.confidence);
  EXPECT_EQ(a.route, b.route);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.degraded, b.degraded);
  EXPECT_EQ(a.cost_usd, b.cost_usd);
  EXPECT_EQ(a.cloud_only_cost_usd, b.cloud_only_cost_usd);
  EXPECT_EQ(a.latency_ms, b.latency_ms);
  EXPECT_EQ(a.edge_label, b.edge_label);
  EXPECT_EQ(a.edge_confidence, b.edge_confidence);
  EXPECT_EQ(a.details_json, b.details_json);
  EXPECT_EQ(a.prev_hash, b.prev_hash);
  EXPECT_EQ(a.row_hash, b.row_hash);
}

// append/find/read/count/feedback on a fresh log, then verify.
inline void check_round_trip(const std::string& uri, const std::string& key) {
  const AuditOptions options{key};
  {
    const std::unique_ptr<AuditSink> sink = open_audit(uri, options);
    EXPECT_EQ(sink->count(), 0);
    std::vector<AuditRecord> batch = {make_record("r1", "edge-1", 100), make_record("r2", "edge-1", 200),
                                      make_record("r3", "edge-2", 300)};
    batch[1].route = "cloud";
    batch[1].reason = "low_confidence";
    batch[1].degraded = true;
    batch[1].confidence = 0.1 + 0.2;  // not exactly representable as a short decimal
    batch[1].edge_confidence = -0.0;
    batch[1].cost_usd = 1e-300;
    batch[1].redacted_text = "ünïcødé 日本語 \"quotes\" 'single' \\ back";
    batch[2].details_json.clear();
    sink->append(batch);
    EXPECT_EQ(batch[0].seq, 1);
    EXPECT_EQ(batch[1].seq, 2);
    EXPECT_EQ(batch[2].seq, 3);
    EXPECT_EQ(batch[0].prev_hash, std::string(64, '0'));
    EXPECT_EQ(batch[1].prev_hash, batch[0].row_hash);
    EXPECT_EQ(batch[2].prev_hash, batch[1].row_hash);
    EXPECT_EQ(batch[0].row_hash.size(), 64u);
    EXPECT_EQ(batch[0].row_hash, audit_row_hash(key, batch[0]));

    std::vector<AuditRecord> more = {make_record("r4", "edge-1", 400)};
    sink->append(more);
    EXPECT_EQ(more[0].seq, 4);
    EXPECT_EQ(sink->count(), 4);

    const std::optional<AuditRecord> r2 = sink->find("r2");
    ASSERT_TRUE(r2.has_value());
    expect_same_fields(*r2, batch[1]);
    EXPECT_FALSE(sink->find("nope").has_value());

    const std::vector<AuditRecord> since = sink->read(200, 2);
    ASSERT_EQ(since.size(), 2u);
    EXPECT_EQ(since[0].request_id, "r2");
    EXPECT_EQ(since[1].request_id, "r3");
    EXPECT_EQ(sink->read(0, 100).size(), 4u);
    EXPECT_TRUE(sink->read(401, 100).empty());

    sink->append_feedback(Feedback{"r2", "card_payment", 500});
    sink->append_feedback(Feedback{"r3", "refund", 600});
    const std::vector<Feedback> fb = sink->read_feedback(550, 10);
    ASSERT_EQ(fb.size(), 1u);
    EXPECT_EQ(fb[0].request_id, "r3");
    EXPECT_EQ(fb[0].label, "refund");
    EXPECT_EQ(fb[0].ts_us, 600);
    EXPECT_EQ(sink->read_feedback(0, 10).size(), 2u);
  }
  // Reopened, the data is still there and the chain verifies.
  const std::unique_ptr<AuditSink> again = open_audit(uri, options);
  EXPECT_EQ(again->count(), 4);
  const VerifyResult v = verify_audit(uri, options);
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.rows, 4);
  EXPECT_EQ(v.first_bad_seq, 0);
}

}  // namespace edgeroute::router::test
