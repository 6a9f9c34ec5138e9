// The PostgreSQL audit store: several edge nodes append to one chain. Each
// append locks the one-row audit_head FOR UPDATE inside its transaction, so
// seqs stay gapless and prev_hash always names the committed previous row.
#include <libpq-fe.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "audit_internal.h"
#include "edgeroute/common/error.h"

namespace edgeroute::router::detail {

namespace {

constexpr const char* kColumns =
    "seq, ts_us, request_id, node, text_hash, redacted_text, label, confidence, route, reason, degraded, cost_usd, "
    "cloud_only_cost_usd, latency_ms, edge_label, edge_confidence, details_json, prev_hash, row_hash";

// Serialises schema creation between nodes opening a fresh database at once.
constexpr const char* kSchemaLock = "SELECT pg_advisory_xact_lock(7020150121)";

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS audit_meta(name text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS audit_log(
  seq bigint PRIMARY KEY, ts_us bigint NOT NULL, request_id text NOT NULL, node text NOT NULL,
  text_hash text NOT NULL, redacted_text text NOT NULL, label text NOT NULL, confidence double precision NOT NULL,
  route text NOT NULL, reason text NOT NULL, degraded boolean NOT NULL, cost_usd double precision NOT NULL,
  cloud_only_cost_usd double precision NOT NULL, latency_ms double precision NOT NULL, edge_label text NOT NULL,
  edge_confidence double precision NOT NULL, details_json text NOT NULL, prev_hash text NOT NULL,
  row_hash text NOT NULL);
CREATE INDEX IF NOT EXISTS audit_log_request_id ON audit_log(request_id);
CREATE INDEX IF NOT EXISTS audit_log_ts_us ON audit_log(ts_us);
CREATE TABLE IF NOT EXISTS audit_head(
  id integer PRIMARY KEY CHECK (id = 1), seq bigint NOT NULL, row_hash text NOT NULL, mac text NOT NULL);
CREATE TABLE IF NOT EXISTS audit_feedback(
  id bigserial PRIMARY KEY, request_id text NOT NULL, label text NOT NULL, ts_us bigint NOT NULL);
CREATE INDEX IF NOT EXISTS audit_feedback_request_id ON audit_feedback(request_id);
CREATE INDEX IF NOT EXISTS audit_feedback_ts_us ON audit_feedback(ts_us);
)sql";

using Result = std::unique_ptr<PGresult, decltype(&PQclear)>;

std::int64_t parse_int(const char* p) {
  std::int64_t v = 0;
  const std::string_view s(p);
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

double parse_double(const char* p) {
  double v = std::numeric_limits<double>::quiet_NaN();
  const std::string_view s(p);
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

std::string limit_text(std::size_t limit) {
  return std::to_string(
      std::min<std::size_t>(limit, static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())));
}

class PostgresStore final : public AuditStore {
 public:
  PostgresStore(const std::string& uri, const AuditOptions& options)
      : conninfo_(uri), uri_(redact_audit_uri(uri)), key_(options.key), create_(options.create) {
    char* err = nullptr;
    PQconninfoOption* parsed = PQconninfoParse(uri.c_str(), &err);
    if (parsed == nullptr) {
      const std::string msg = err != nullptr ? err : "cannot parse";
      PQfreemem(err);
      throw Error(uri_ + ": invalid PostgreSQL URI: " + trim(msg));
    }
    PQconninfoFree(parsed);
    conn_ = PQconnectdb(uri.c_str());
    if (conn_ == nullptr) throw Error(uri_ + ": cannot connect: out of memory");
    try {
      if (PQstatus(conn_) != CONNECTION_OK) throw Error(uri_ + ": cannot connect: " + trim(PQerrorMessage(conn_)));
      setup_session();
      ensure_schema();
    } catch (...) {
      PQfinish(conn_);
      conn_ = nullptr;
      throw;
    }
  }

  ~PostgresStore() override { PQfinish(conn_); }

  void append(std::span<AuditRecord> records) override {
    if (key_.empty()) throw Error(uri_ + ": cannot append without an audit key");
    for (const AuditRecord& r : records) validate_record(r, uri_);
    if (records.empty()) return;
    std::lock_guard lock(mu_);
    ensure_connected();
    command("BEGIN");
    try {
      Result h = query("SELECT seq, row_hash FROM audit_head WHERE id = 1 FOR UPDATE", {});
      if (PQntuples(h.get()) != 1) throw Error(uri_ + ": the audit_head row is missing (log tampered with?)");
      const ChainHead next =
          chain_records(key_, parse_int(PQgetvalue(h.get(), 0, 0)), PQgetvalue(h.get(), 0, 1), records);
      for (const AuditRecord& r : records) insert(r);
      command_params("UPDATE audit_head SET seq = $1, row_hash = $2, mac = $3 WHERE id = 1",
                     {std::to_string(next.seq), next.row_hash, next.mac});
      command("COMMIT");
    } catch (...) {
      Result r(PQexec(conn_, "ROLLBACK"), &PQclear);
      detail::reset_chain_fields(records);
      throw;
    }
  }

  void append_feedback(const Feedback& f) override {
    detail::validate_feedback(f, uri_);
    std::lock_guard lock(mu_);
    ensure_connected();
    command_params("INSERT INTO audit_feedback(request_id, label, ts_us) VALUES($1, $2, $3)",
                   {f.request_id, f.label, std::to_string(f.ts_us)});
  }

  std::optional<AuditRecord> find(const std::string& request_id) override {
    if (request_id.find('\0') != std::string::npos) return std::nullopt;
    std::lock_guard lock(mu_);
    ensure_connected();
    std::vector<AuditRecord> rows = records(
        query(std::string("SELECT ") + kColumns + " FROM audit_log WHERE request_id = $1 ORDER BY seq DESC LIMIT 1",
              {request_id}));
    if (rows.empty()) return std::nullopt;
    return std::move(rows.front());
  }

  std::int64_t count() override {
    std::lock_guard lock(mu_);
    ensure_connected();
    Result r = query("SELECT count(*) FROM audit_log", {});
    return parse_int(PQgetvalue(r.get(), 0, 0));
  }

  std::vector<AuditRecord> read(std::int64_t since_us, std::size_t limit) override {
    std::lock_guard lock(mu_);
    ensure_connected();
    return records(query(std::string("SELECT ") + kColumns + " FROM audit_log WHERE ts_us >= $1 ORDER BY seq LIMIT $2",
                         {std::to_string(since_us), limit_text(limit)}));
  }

  std::vector<Feedback> read_feedback(std::int64_t since_us, std::size_t limit) override {
    std::lock_guard lock(mu_);
    ensure_connected();
    Result r = query("SELECT request_id, label, ts_us FROM audit_feedback WHERE ts_us >= $1 ORDER BY id LIMIT $2",
                     {std::to_string(since_us), limit_text(limit)});
    std::vector<Feedback> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      out.push_back(
          Feedback{PQgetvalue(r.get(), i, 0), PQgetvalue(r.get(), i, 1), parse_int(PQgetvalue(r.get(), i, 2))});
    }
    return out;
  }

  std::vector<AuditRecord> read_chain(std::int64_t after_seq, std::size_t limit) override {
    std::lock_guard lock(mu_);
    ensure_connected();
    return records(query(std::string("SELECT ") + kColumns + " FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
                         {std::to_string(after_seq), limit_text(limit)}));
  }

  ChainHead head() override {
    std::lock_guard lock(mu_);
    ensure_connected();
    Result r = query("SELECT seq, row_hash, mac FROM audit_head WHERE id = 1", {});
    if (PQntuples(r.get()) != 1) return {};
    return ChainHead{true, parse_int(PQgetvalue(r.get(), 0, 0)), PQgetvalue(r.get(), 0, 1), PQgetvalue(r.get(), 0, 2)};
  }

  std::string stored_key_check() override {
    std::lock_guard lock(mu_);
    ensure_connected();
    Result r = query("SELECT value FROM audit_meta WHERE name = 'key_check'", {});
    return PQntuples(r.get()) == 1 ? PQgetvalue(r.get(), 0, 0) : "";
  }

  const std::string& display_uri() const override { return uri_; }

 private:
  static std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }

  [[noreturn]] void fail(const std::string& what, const PGresult* r) const {
    const char* msg = r != nullptr ? PQresultErrorMessage(r) : PQerrorMessage(conn_);
    throw Error(uri_ + ": " + what + ": " + trim(msg != nullptr && *msg != '\0' ? msg : PQerrorMessage(conn_)));
  }

  void setup_session() {
    command("SET client_encoding = 'UTF8'; SET extra_float_digits = 3; SET synchronous_commit = on");
    const std::string insert = std::string("INSERT INTO audit_log(") + kColumns +
                               ") VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19)";
    prepared_ = false;
    insert_sql_ = insert;
  }

  // Reconnects once when the connection was lost between calls.
  void ensure_connected() {
    if (PQstatus(conn_) == CONNECTION_OK) return;
    PQreset(conn_);
    if (PQstatus(conn_) != CONNECTION_OK) throw Error(uri_ + ": connection lost: " + trim(PQerrorMessage(conn_)));
    setup_session();
  }

  void ensure_schema() {
    command("BEGIN");
    try {
      command(kSchemaLock);
      Result exists = query("SELECT to_regclass('audit_meta') IS NOT NULL", {});
      const bool has_schema = std::string(PQgetvalue(exists.get(), 0, 0)) == "t";
      if (!has_schema) {
        if (!create_) throw Error(uri_ + ": not an edgeroute audit log (no audit_meta table)");
        if (key_.empty()) throw Error(uri_ + ": creating an audit log needs a key");
        command(kSchema);
        command_params("INSERT INTO audit_meta VALUES('schema_version', $1), ('key_check', $2) ON CONFLICT DO NOTHING",
                       {std::to_string(kSchemaVersion), key_check_value(key_)});
        command_params("INSERT INTO audit_head VALUES(1, 0, $1, $2) ON CONFLICT DO NOTHING",
                       {std::string(kZeroHash), head_mac(key_, 0, kZeroHash)});
      }
      Result v = query("SELECT value FROM audit_meta WHERE name = 'schema_version'", {});
      const std::string version = PQntuples(v.get()) == 1 ? PQgetvalue(v.get(), 0, 0) : "";
      if (version != std::to_string(kSchemaVersion)) {
        throw Error(uri_ + ": audit schema version '" + version + "' is not supported (expected " +
                    std::to_string(kSchemaVersion) + ")");
      }
      command("COMMIT");
    } catch (...) {
      Result r(PQexec(conn_, "ROLLBACK"), &PQclear);
      throw;
    }
  }

  void command(const char* sql) {
    Result r(PQexec(conn_, sql), &PQclear);
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK && PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
      fail(std::string(sql).substr(0, 40), r.get());
    }
  }

  Result exec_params(const std::string& sql, const std::vector<std::string>& params) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const std::string& p : params) values.push_back(p.c_str());
    return Result(
        PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr, 0),
        &PQclear);
  }

  void command_params(const std::string& sql, const std::vector<std::string>& params) {
    Result r = exec_params(sql, params);
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) fail(sql.substr(0, 40), r.get());
  }

  Result query(const std::string& sql, const std::vector<std::string>& params) {
    Result r = exec_params(sql, params);
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) fail(sql.substr(0, 40), r.get());
    return r;
  }

  void insert(const AuditRecord& r) {
    if (!prepared_) {
      Result p(PQprepare(conn_, "audit_insert", insert_sql_.c_str(), 19, nullptr), &PQclear);
      if (PQresultStatus(p.get()) != PGRES_COMMAND_OK) fail("preparing the insert", p.get());
      prepared_ = true;
    }
    const std::string params[19] = {std::to_string(r.seq),
                                    std::to_string(r.ts_us),
                                    r.request_id,
                                    r.node,
                                    r.text_hash,
                                    r.redacted_text,
                                    r.label,
                                    double_text(r.confidence),
                                    r.route,
                                    r.reason,
                                    r.degraded ? "t" : "f",
                                    double_text(r.cost_usd),
                                    double_text(r.cloud_only_cost_usd),
                                    double_text(r.latency_ms),
                                    r.edge_label,
                                    double_text(r.edge_confidence),
                                    r.details_json,
                                    r.prev_hash,
                                    r.row_hash};
    const char* values[19];
    for (int i = 0; i < 19; ++i) values[i] = params[i].c_str();
    Result res(PQexecPrepared(conn_, "audit_insert", 19, values, nullptr, nullptr, 0), &PQclear);
    if (PQresultStatus(res.get()) != PGRES_COMMAND_OK) {
      fail("inserting audit row for request_id '" + r.request_id + "'", res.get());
    }
  }

  static std::vector<AuditRecord> records(const Result& res) {
    const PGresult* p = res.get();
    std::vector<AuditRecord> out;
    out.reserve(static_cast<std::size_t>(PQntuples(p)));
    for (int i = 0; i < PQntuples(p); ++i) {
      AuditRecord r;
      r.seq = parse_int(PQgetvalue(p, i, 0));
      r.ts_us = parse_int(PQgetvalue(p, i, 1));
      r.request_id = PQgetvalue(p, i, 2);
      r.node = PQgetvalue(p, i, 3);
      r.text_hash = PQgetvalue(p, i, 4);
      r.redacted_text = PQgetvalue(p, i, 5);
      r.label = PQgetvalue(p, i, 6);
      r.confidence = parse_double(PQgetvalue(p, i, 7));
      r.route = PQgetvalue(p, i, 8);
      r.reason = PQgetvalue(p, i, 9);
      r.degraded = PQgetvalue(p, i, 10)[0] == 't';
      r.cost_usd = parse_double(PQgetvalue(p, i, 11));
      r.cloud_only_cost_usd = parse_double(PQgetvalue(p, i, 12));
      r.latency_ms = parse_double(PQgetvalue(p, i, 13));
      r.edge_label = PQgetvalue(p, i, 14);
      r.edge_confidence = parse_double(PQgetvalue(p, i, 15));
      r.details_json = PQgetvalue(p, i, 16);
      r.prev_hash = PQgetvalue(p, i, 17);
      r.row_hash = PQgetvalue(p, i, 18);
      out.push_back(std::move(r));
    }
    return out;
  }

  std::string conninfo_;
  std::string uri_;
  std::string key_;
  bool create_ = true;
  std::mutex mu_;
  PGconn* conn_ = nullptr;
  bool prepared_ = false;
  std::string insert_sql_;
};

}  // namespace

std::unique_ptr<AuditStore> open_postgres_store(const std::string& uri, const AuditOptions& options) {
  return std::make_unique<PostgresStore>(uri, options);
}

}  // namespace edgeroute::router::detail
