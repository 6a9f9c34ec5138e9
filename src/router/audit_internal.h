// Internal to edgeroute_audit: the store interface that verify_audit walks,
// the backends' constructors and the chain helpers they share.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "edgeroute/router/audit.h"

namespace edgeroute::router::detail {

inline constexpr std::string_view kZeroHash = "0000000000000000000000000000000000000000000000000000000000000000";
inline constexpr int kSchemaVersion = 1;
// Rows per page when walking the chain.
inline constexpr std::size_t kChainPage = 1000;

// The one-row head table: the last seq and row_hash, and a MAC over both.
struct ChainHead {
  bool present = false;
  std::int64_t seq = 0;
  std::string row_hash, mac;
};

class AuditStore : public AuditSink {
 public:
  // Rows with seq > after_seq in seq order, at most limit.
  virtual std::vector<AuditRecord> read_chain(std::int64_t after_seq, std::size_t limit) = 0;
  virtual ChainHead head() = 0;
  // The key check value stored when the log was created ("" if none).
  virtual std::string stored_key_check() = 0;
  virtual const std::string& display_uri() const = 0;
};

// uri: as given (for messages, redacted there); path: after "sqlite:".
std::unique_ptr<AuditStore> open_sqlite_store(const std::string& uri, const std::string& path,
                                              const AuditOptions& options);
std::unique_ptr<AuditStore> open_postgres_store(const std::string& uri, const AuditOptions& options);
std::unique_ptr<AuditStore> open_store(const std::string& uri, const AuditOptions& options);

// Hex HMAC(key, "edgeroute.head.v1\n" || seq || row_hash).
std::string head_mac(std::string_view key, std::int64_t seq, std::string_view row_hash);
// Hex HMAC(key, "edgeroute.keycheck.v1"): identifies the key without revealing it.
std::string key_check_value(std::string_view key);
// Throws Error naming the URI, the record's request id and the field when a
// string holds a NUL byte or a double is not finite.
void validate_record(const AuditRecord& record, const std::string& display_uri);
// Throws edgeroute::Error when the feedback holds a NUL byte (neither store keeps it intact).
void validate_feedback(const Feedback& feedback, const std::string& display_uri);
// Clears the chain fields append() filled in, after its transaction rolled back.
void reset_chain_fields(std::span<AuditRecord> records);
// Assigns seq/prev_hash/row_hash to records following (head_seq, head_hash);
// returns the new head.
ChainHead chain_records(std::string_view key, std::int64_t head_seq, const std::string& head_hash,
                        std::span<AuditRecord> records);
// Shortest round-trip text of a finite double (for PostgreSQL parameters).
std::string double_text(double v);

}  // namespace edgeroute::router::detail
