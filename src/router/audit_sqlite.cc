// The SQLite audit store: one connection in WAL mode with synchronous=FULL,
// prepared statements, serialised by a mutex; appends run in BEGIN IMMEDIATE
// transactions so that several processes can share one file.
#include <sqlite3.h>

#include <filesystem>
#include <limits>
#include <mutex>
#include <string>

#include "audit_internal.h"
#include "edgeroute/common/error.h"

namespace edgeroute::router::detail {

namespace {

constexpr const char* kColumns =
    "seq, ts_us, request_id, node, text_hash, redacted_text, label, confidence, route, reason, degraded, cost_usd, "
    "cloud_only_cost_usd, latency_ms, edge_label, edge_confidence, details_json, prev_hash, row_hash";

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS audit_meta(name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_log(
  seq INTEGER PRIMARY KEY, ts_us INTEGER NOT NULL, request_id TEXT NOT NULL, node TEXT NOT NULL,
  text_hash TEXT NOT NULL, redacted_text TEXT NOT NULL, label TEXT NOT NULL, confidence REAL NOT NULL,
  route TEXT NOT NULL, reason TEXT NOT NULL, degraded INTEGER NOT NULL, cost_usd REAL NOT NULL,
  cloud_only_cost_usd REAL NOT NULL, latency_ms REAL NOT NULL, edge_label TEXT NOT NULL,
  edge_confidence REAL NOT NULL, details_json TEXT NOT NULL, prev_hash TEXT NOT NULL, row_hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_log_request_id ON audit_log(request_id);
CREATE INDEX IF NOT EXISTS audit_log_ts_us ON audit_log(ts_us);
CREATE TABLE IF NOT EXISTS audit_head(
  id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, row_hash TEXT NOT NULL, mac TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_feedback(
  id INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT NOT NULL, label TEXT NOT NULL, ts_us INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS audit_feedback_request_id ON audit_feedback(request_id);
CREATE INDEX IF NOT EXISTS audit_feedback_ts_us ON audit_feedback(ts_us);
)sql";

std::int64_t clamp_limit(std::size_t limit) {
  return limit > static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())
             ? std::numeric_limits<std::int64_t>::max()
             : static_cast<std::int64_t>(limit);
}

std::string column_text(sqlite3_stmt* s, int i) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
  if (p == nullptr) return {};
  return std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, i)));
}

// A prepared statement, reset (and its bindings cleared) when a Use ends.
class Stmt {
 public:
  Stmt() = default;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() { sqlite3_finalize(s_); }
  sqlite3_stmt* s_ = nullptr;
};

class Use {
 public:
  explicit Use(Stmt& st) : s(st.s_) {}
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
  ~Use() {
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
  sqlite3_stmt* s;
};

class SqliteStore final : public AuditStore {
 public:
  SqliteStore(const std::string& uri, const std::string& path, const AuditOptions& options)
      : uri_(redact_audit_uri(uri)), key_(options.key) {
    if (path.empty()) throw Error(uri_ + ": no database path after 'sqlite:'");
    if (!options.create && !std::filesystem::exists(path)) throw Error(uri_ + ": no such file " + path);
    const int flags = SQLITE_OPEN_READWRITE | (options.create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
    const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) {
      const std::string msg = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
      sqlite3_close(db_);
      db_ = nullptr;
      throw Error(uri_ + ": cannot open: " + msg);
    }
    try {
      sqlite3_extended_result_codes(db_, 1);
      sqlite3_busy_timeout(db_, 10000);
      // The first read of the file: "file is not a database" shows up here.
      const bool has_schema = query_int("SELECT count(*) FROM sqlite_master WHERE name = 'audit_meta'") > 0;
      if (!has_schema && !options.create) throw Error(uri_ + ": not an edgeroute audit log (no audit_meta table)");
      if (options.create) {
        const std::string mode = query_text("PRAGMA journal_mode=WAL");
        if (mode != "wal") throw Error(uri_ + ": cannot switch to WAL mode (journal_mode is '" + mode + "')");
      }
      exec("PRAGMA synchronous=FULL");
      if (!has_schema) create_schema();
      const std::string version = meta("schema_version");
      if (version != std::to_string(kSchemaVersion)) {
        throw Error(uri_ + ": audit schema version '" + version + "' is not supported (expected " +
                    std::to_string(kSchemaVersion) + ")");
      }
      prepare(insert_,
              std::string("INSERT INTO audit_log(") + kColumns + ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
      prepare(head_, "SELECT seq, row_hash, mac FROM audit_head WHERE id = 1");
      prepare(set_head_, "UPDATE audit_head SET seq = ?, row_hash = ?, mac = ? WHERE id = 1");
      prepare(find_,
              std::string("SELECT ") + kColumns + " FROM audit_log WHERE request_id = ? ORDER BY seq DESC LIMIT 1");
      prepare(count_, "SELECT count(*) FROM audit_log");
      prepare(read_, std::string("SELECT ") + kColumns + " FROM audit_log WHERE ts_us >= ? ORDER BY seq LIMIT ?");
      prepare(chain_, std::string("SELECT ") + kColumns + " FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?");
      prepare(add_feedback_, "INSERT INTO audit_feedback(request_id, label, ts_us) VALUES(?,?,?)");
      prepare(read_feedback_,
              "SELECT request_id, label, ts_us FROM audit_feedback WHERE ts_us >= ? ORDER BY id LIMIT ?");
    } catch (...) {
      close();
      throw;
    }
  }

  ~SqliteStore() override { close(); }

  void append(std::span<AuditRecord> records) override {
    if (key_.empty()) throw Error(uri_ + ": cannot append without an audit key");
    for (const AuditRecord& r : records) validate_record(r, uri_);
    if (records.empty()) return;
    std::lock_guard lock(mu_);
    exec("BEGIN IMMEDIATE");
    try {
      const ChainHead h = read_head();
      if (!h.present) throw Error(uri_ + ": the audit_head row is missing (log tampered with?)");
      const ChainHead next = chain_records(key_, h.seq, h.row_hash, records);
      for (const AuditRecord& r : records) insert(r);
      {
        Use u(set_head_);
        sqlite3_bind_int64(u.s, 1, next.seq);
        bind_text(u.s, 2, next.row_hash);
        bind_text(u.s, 3, next.mac);
        step_done(u.s, "updating audit_head");
      }
      exec("COMMIT");
    } catch (...) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      detail::reset_chain_fields(records);
      throw;
    }
  }

  void append_feedback(const Feedback& f) override {
    detail::validate_feedback(f, uri_);
    std::lock_guard lock(mu_);
    Use u(add_feedback_);
    bind_text(u.s, 1, f.request_id);
    bind_text(u.s, 2, f.label);
    sqlite3_bind_int64(u.s, 3, f.ts_us);
    step_done(u.s, "inserting feedback");
  }

  std::optional<AuditRecord> find(const std::string& request_id) override {
    std::lock_guard lock(mu_);
    Use u(find_);
    bind_text(u.s, 1, request_id);
    std::vector<AuditRecord> rows = collect(u.s, "finding a request id");
    if (rows.empty()) return std::nullopt;
    return std::move(rows.front());
  }

  std::int64_t count() override {
    std::lock_guard lock(mu_);
    Use u(count_);
    if (sqlite3_step(u.s) != SQLITE_ROW) fail("counting rows");
    return sqlite3_column_int64(u.s, 0);
  }

  std::vector<AuditRecord> read(std::int64_t since_us, std::size_t limit) override {
    std::lock_guard lock(mu_);
    Use u(read_);
    sqlite3_bind_int64(u.s, 1, since_us);
    sqlite3_bind_int64(u.s, 2, clamp_limit(limit));
    return collect(u.s, "reading rows");
  }

  std::vector<Feedback> read_feedback(std::int64_t since_us, std::size_t limit) override {
    std::lock_guard lock(mu_);
    Use u(read_feedback_);
    sqlite3_bind_int64(u.s, 1, since_us);
    sqlite3_bind_int64(u.s, 2, clamp_limit(limit));
    std::vector<Feedback> out;
    int rc = 0;
    while ((rc = sqlite3_step(u.s)) == SQLITE_ROW) {
      out.push_back(Feedback{column_text(u.s, 0), column_text(u.s, 1), sqlite3_column_int64(u.s, 2)});
    }
    if (rc != SQLITE_DONE) fail("reading feedback");
    return out;
  }

  std::vector<AuditRecord> read_chain(std::int64_t after_seq, std::size_t limit) override {
    std::lock_guard lock(mu_);
    Use u(chain_);
    sqlite3_bind_int64(u.s, 1, after_seq);
    sqlite3_bind_int64(u.s, 2, clamp_limit(limit));
    return collect(u.s, "reading the chain");
  }

  ChainHead head() override {
    std::lock_guard lock(mu_);
    return read_head();
  }

  std::string stored_key_check() override {
    std::lock_guard lock(mu_);
    return meta("key_check");
  }

  const std::string& display_uri() const override { return uri_; }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(uri_ + ": " + what + ": " + sqlite3_errmsg(db_));
  }

  void close() {
    sqlite3_close_v2(db_);
    db_ = nullptr;
  }

  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      const std::string msg = err != nullptr ? err : sqlite3_errmsg(db_);
      sqlite3_free(err);
      throw Error(uri_ + ": " + std::string(sql).substr(0, 40) + ": " + msg);
    }
  }

  void prepare(Stmt& st, const std::string& sql) {
    if (sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &st.s_,
                           nullptr) != SQLITE_OK) {
      fail("preparing '" + sql.substr(0, 40) + "'");
    }
  }

  std::int64_t query_int(const char* sql) {
    Stmt st;
    prepare(st, sql);
    if (sqlite3_step(st.s_) != SQLITE_ROW) fail(sql);
    return sqlite3_column_int64(st.s_, 0);
  }

  std::string query_text(const char* sql) {
    Stmt st;
    prepare(st, sql);
    if (sqlite3_step(st.s_) != SQLITE_ROW) fail(sql);
    return column_text(st.s_, 0);
  }

  std::string meta(const char* name) {
    Stmt st;
    prepare(st, "SELECT value FROM audit_meta WHERE name = ?");
    sqlite3_bind_text(st.s_, 1, name, -1, SQLITE_STATIC);
    const int rc = sqlite3_step(st.s_);
    if (rc == SQLITE_ROW) return column_text(st.s_, 0);
    if (rc != SQLITE_DONE) fail("reading audit_meta");
    return {};
  }

  void create_schema() {
    if (key_.empty()) throw Error(uri_ + ": creating an audit log needs a key");
    exec("BEGIN IMMEDIATE");
    try {
      exec(kSchema);
      const std::string version = std::to_string(kSchemaVersion);
      const std::string check = key_check_value(key_);
      const std::string mac = head_mac(key_, 0, kZeroHash);
      const std::string sql = "INSERT OR IGNORE INTO audit_meta VALUES('schema_version', '" + version +
                              "'), ('key_check', '" + check + "'); INSERT OR IGNORE INTO audit_head VALUES(1, 0, '" +
                              std::string(kZeroHash) + "', '" + mac + "');";
      exec(sql.c_str());
      exec("COMMIT");
    } catch (...) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }

  static void bind_text(sqlite3_stmt* s, int i, const std::string& v) {
    sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }

  void step_done(sqlite3_stmt* s, const char* what) {
    if (sqlite3_step(s) != SQLITE_DONE) fail(what);
  }

  void insert(const AuditRecord& r) {
    Use u(insert_);
    sqlite3_bind_int64(u.s, 1, r.seq);
    sqlite3_bind_int64(u.s, 2, r.ts_us);
    bind_text(u.s, 3, r.request_id);
    bind_text(u.s, 4, r.node);
    bind_text(u.s, 5, r.text_hash);
    bind_text(u.s, 6, r.redacted_text);
    bind_text(u.s, 7, r.label);
    sqlite3_bind_double(u.s, 8, r.confidence);
    bind_text(u.s, 9, r.route);
    bind_text(u.s, 10, r.reason);
    sqlite3_bind_int(u.s, 11, r.degraded ? 1 : 0);
    sqlite3_bind_double(u.s, 12, r.cost_usd);
    sqlite3_bind_double(u.s, 13, r.cloud_only_cost_usd);
    sqlite3_bind_double(u.s, 14, r.latency_ms);
    bind_text(u.s, 15, r.edge_label);
    sqlite3_bind_double(u.s, 16, r.edge_confidence);
    bind_text(u.s, 17, r.details_json);
    bind_text(u.s, 18, r.prev_hash);
    bind_text(u.s, 19, r.row_hash);
    step_done(u.s, "inserting an audit row");
  }

  std::vector<AuditRecord> collect(sqlite3_stmt* s, const char* what) {
    std::vector<AuditRecord> out;
    int rc = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      AuditRecord r;
      r.seq = sqlite3_column_int64(s, 0);
      r.ts_us = sqlite3_column_int64(s, 1);
      r.request_id = column_text(s, 2);
      r.node = column_text(s, 3);
      r.text_hash = column_text(s, 4);
      r.redacted_text = column_text(s, 5);
      r.label = column_text(s, 6);
      r.confidence = sqlite3_column_double(s, 7);
      r.route = column_text(s, 8);
      r.reason = column_text(s, 9);
      r.degraded = sqlite3_column_int64(s, 10) != 0;
      r.cost_usd = sqlite3_column_double(s, 11);
      r.cloud_only_cost_usd = sqlite3_column_double(s, 12);
      r.latency_ms = sqlite3_column_double(s, 13);
      r.edge_label = column_text(s, 14);
      r.edge_confidence = sqlite3_column_double(s, 15);
      r.details_json = column_text(s, 16);
      r.prev_hash = column_text(s, 17);
      r.row_hash = column_text(s, 18);
      out.push_back(std::move(r));
    }
    if (rc != SQLITE_DONE) fail(what);
    return out;
  }

  ChainHead read_head() {
    Use u(head_);
    const int rc = sqlite3_step(u.s);
    if (rc == SQLITE_DONE) return {};
    if (rc != SQLITE_ROW) fail("reading audit_head");
    return ChainHead{true, sqlite3_column_int64(u.s, 0), column_text(u.s, 1), column_text(u.s, 2)};
  }

  std::string uri_;
  std::string key_;
  std::mutex mu_;
  sqlite3* db_ = nullptr;
  Stmt insert_, head_, set_head_, find_, count_, read_, chain_, add_feedback_, read_feedback_;
};

}  // namespace

std::unique_ptr<AuditStore> open_sqlite_store(const std::string& uri, const std::string& path,
                                              const AuditOptions& options) {
  return std::make_unique<SqliteStore>(uri, path, options);
}

}  // namespace edgeroute::router::detail
