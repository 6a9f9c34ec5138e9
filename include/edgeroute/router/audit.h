// The durable, hash-chained audit log: one row per acknowledged answer.
//
// Every row carries row_hash = hex HMAC-SHA256(key, prev_hash || canonical
// encoding of all its fields, seq included), and prev_hash is the previous
// row's row_hash (64 zeros for seq 1), so that verify_audit detects any edit,
// deletion or reordering. A separate, MAC'd head row (last seq and row_hash)
// also catches a truncated tail. SQLite (WAL, synchronous=FULL) is the embedded
// store; PostgreSQL lets several edge nodes write one gapless chain.
// docs/audit.md describes the schema, the chain rule, keys and the limits.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "edgeroute/common/sha256.h"

namespace edgeroute::router {

struct AuditRecord {
  std::int64_t seq = 0;          // assigned by the sink (1, 2, 3, ... per log); ignored on append
  std::int64_t ts_us = 0;        // unix microseconds (from the caller)
  std::string request_id, node;  // node: which edge node wrote it
  std::string text_hash;         // hex keyed hash of the RAW text (caller computes with audit_text_hash)
  std::string redacted_text;     // never raw PII
  std::string label;             // the answer sent
  double confidence = 0;
  std::string route;   // "edge" | "cloud"
  std::string reason;  // reason code
  bool degraded = false;
  double cost_usd = 0, cloud_only_cost_usd = 0, latency_ms = 0;
  std::string edge_label;  // the edge model's own answer
  double edge_confidence = 0;
  std::string details_json;         // free JSON (complexity breakdown, probabilities ...)
  std::string prev_hash, row_hash;  // chain fields, filled by the sink
};

// A user's correction of an answer; stored unchained (it is not an answer).
struct Feedback {
  std::string request_id, label;
  std::int64_t ts_us = 0;
};

struct AuditOptions {
  std::string key;  // HMAC key bytes; empty: the sink can read but append() throws
  // Create the database file and schema when absent. false: a missing file or
  // a database without the audit schema is an Error (used by readers).
  bool create = true;
};

// Thread-safe. Every method throws edgeroute::Error (naming the log's URI,
// without password) on failure.
class AuditSink {
 public:
  virtual ~AuditSink() = default;
  // Appends the records in ONE transaction, assigning seq/prev_hash/row_hash, durable on return.
  // Strings must not contain NUL bytes and doubles must be finite (else Error, nothing written).
  virtual void append(std::span<AuditRecord> records) = 0;
  virtual void append_feedback(const Feedback& feedback) = 0;
  // The most recent row with this request id.
  virtual std::optional<AuditRecord> find(const std::string& request_id) = 0;
  virtual std::int64_t count() = 0;
  // Rows with ts_us >= since_us in seq order, at most `limit` (for reports).
  virtual std::vector<AuditRecord> read(std::int64_t since_us, std::size_t limit) = 0;
  // Feedback with ts_us >= since_us in insertion order, at most `limit`.
  virtual std::vector<Feedback> read_feedback(std::int64_t since_us, std::size_t limit) = 0;
};

// "sqlite:PATH" (created if absent) or "postgresql://user@host:port/db" (any
// libpq URI; "postgres://" too). With a non-empty key, a log created with a
// different key is refused (its stored key check differs). Errors name the URI
// (without password).
std::unique_ptr<AuditSink> open_audit(const std::string& uri, const AuditOptions& options);

// The HMAC key: the file's bytes if key_file is non-empty; else
// $EDGEROUTE_AUDIT_KEY; else, for sqlite, PATH.key next to the database,
// created with 32 random bytes (mode 0600) on first use when create_if_absent;
// else Error.
std::string load_audit_key(const std::string& uri, const std::string& key_file, bool create_if_absent = true);

// Hex HMAC-SHA256 of the raw text, domain-separated from the chain:
// HMAC(key, "edgeroute.text.v1\n" || text).
std::string audit_text_hash(std::string_view key, std::string_view text);

// The URI with any password removed (user:pass@ -> user@, password=... -> password=***).
std::string redact_audit_uri(const std::string& uri);

struct VerifyResult {
  bool ok = false;
  std::int64_t rows = 0;           // rows checked and found good before the first problem
  std::int64_t first_bad_seq = 0;  // 0 when ok
  std::string problem;             // empty when ok
};
// Walks the whole log in seq order (see docs/audit.md for what is detected).
// Throws Error when the log cannot be opened (missing file, not a database,
// not an audit log); a wrong key is reported as a mismatch at seq 1.
VerifyResult verify_audit(const std::string& uri, const AuditOptions& options);

// HMAC-SHA256 (RFC 2104) on edgeroute::Sha256.
class HmacSha256 {
 public:
  explicit HmacSha256(std::string_view key);
  void update(std::string_view data);
  Sha256Digest finish();

 private:
  Sha256 inner_;
  std::array<std::uint8_t, 64> outer_key_{};
};
Sha256Digest hmac_sha256(std::string_view key, std::string_view message);

// The chain fields' functions, exposed for tests and tools.
// Hex HMAC(key, prev_hash || canonical(record)); uses record.prev_hash and record.seq.
std::string audit_row_hash(std::string_view key, const AuditRecord& record);

struct AuditWriterStats {
  std::uint64_t commits = 0;         // successful batches
  std::uint64_t records = 0;         // records in successful batches
  std::uint64_t failed_commits = 0;  // batches whose append threw
  std::uint64_t waited = 0;          // batches that waited up to max_wait for more records
  double commit_seconds_sum = 0;     // sum of append() durations of all batches
  double commit_seconds_max = 0;
};

// How long a group commit waits after its oldest record for others to join, by default.
// The writer waits only when the previous commit served more than one writer (a sign of
// load); a writer that arrives alone is committed at once (docs/audit.md, measurements).
inline constexpr std::chrono::microseconds kDefaultAuditMaxWait{1000};

// Group commit: write() blocks the calling thread until its record is committed; concurrent
// writers are batched into one transaction, committed on the thread of the writer that found
// no commit in flight (the leader; no background thread) (at most max_batch records;
// when the previous batch served more than one writer, a batch waits at most max_wait after
// its oldest record arrived for others to join; max_wait 0 never waits).
// Throws Error if the commit failed (then the caller must NOT acknowledge the answer).
class AuditWriter {
 public:
  explicit AuditWriter(std::unique_ptr<AuditSink> sink, std::size_t max_batch = 256,
                       std::chrono::microseconds max_wait = kDefaultAuditMaxWait);
  ~AuditWriter();  // waits for the commit in flight
  AuditWriter(const AuditWriter&) = delete;
  AuditWriter& operator=(const AuditWriter&) = delete;
  // Returns the seq the sink assigned to the record.
  std::int64_t write(AuditRecord record);
  // Several records of one writer, committed in one transaction (with other
  // writers' records when they are queued too); throws like write().
  void write_all(std::vector<AuditRecord> records);
  AuditSink& sink();
  // Commit latency stats for metrics.
  AuditWriterStats stats() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace edgeroute::router
