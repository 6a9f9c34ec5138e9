// HMAC-SHA256 (RFC 2104), the audit chain's canonical row encoding and MACs,
// audit key loading, and URI redaction for messages.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "audit_internal.h"
#include "edgeroute/common/error.h"

namespace edgeroute::router {

namespace {

constexpr std::size_t kBlock = 64;

void put_u64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}
void put_i64(std::string& out, std::int64_t v) { put_u64(out, static_cast<std::uint64_t>(v)); }
void put_str(std::string& out, std::string_view s) {
  put_u64(out, s.size());
  out.append(s);
}
void put_f64(std::string& out, double v) {
  if (v == 0) v = 0.0;  // -0.0 and +0.0 encode alike (SQLite may store -0.0 as integer 0)
  put_u64(out, std::bit_cast<std::uint64_t>(v));
}

std::string sys_error(const std::string& what) { return what + ": " + std::strerror(errno); }

std::string read_file_bytes(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(what + " " + path + ": cannot open: " + std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw Error(what + " " + path + ": read failed");
  if (bytes.empty()) throw Error(what + " " + path + ": is empty");
  return bytes;
}

std::string random_bytes(std::size_t n, const std::string& for_path) {
  const int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(sys_error("creating audit key " + for_path + ": /dev/urandom"));
  std::string out(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::read(fd, out.data() + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      ::close(fd);
      throw Error(sys_error("creating audit key " + for_path + ": reading /dev/urandom"));
    }
    got += static_cast<std::size_t>(r);
  }
  ::close(fd);
  return out;
}

// Writes 32 random bytes to a private temporary file and links it to `path`,
// so that two processes racing on first use end up with one key.
void create_key_file(const std::string& path) {
  namespace fs = std::filesystem;
  const std::string key = random_bytes(32, path);
  std::string tmpl = path + ".tmpXXXXXX";
  const int fd = ::mkstemp(tmpl.data());  // mode 0600
  if (fd < 0) throw Error(sys_error("creating audit key " + path));
  bool ok = ::fchmod(fd, 0600) == 0 && ::write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size()) &&
            ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(tmpl.c_str());
    errno = saved;
    throw Error(sys_error("creating audit key " + path));
  }
  const int linked = ::link(tmpl.c_str(), path.c_str());
  const int link_errno = errno;
  ::unlink(tmpl.c_str());
  if (linked != 0 && link_errno != EEXIST) {
    errno = link_errno;
    throw Error(sys_error("creating audit key " + path));
  }
  const fs::path dir = fs::path(path).parent_path().empty() ? fs::path(".") : fs::path(path).parent_path();
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace

HmacSha256::HmacSha256(std::string_view key) {
  std::array<std::uint8_t, kBlock> k{};
  if (key.size() > kBlock) {
    const Sha256Digest d = sha256(std::as_bytes(std::span(key.data(), key.size())));
    std::copy(d.begin(), d.end(), k.begin());
  } else {
    std::memcpy(k.data(), key.data(), key.size());
  }
  std::array<std::uint8_t, kBlock> inner_key{};
  for (std::size_t i = 0; i < kBlock; ++i) {
    inner_key[i] = static_cast<std::uint8_t>(k[i] ^ 0x36);
    outer_key_[i] = static_cast<std::uint8_t>(k[i] ^ 0x5c);
  }
  inner_.update(std::as_bytes(std::span(inner_key)));
}

void HmacSha256::update(std::string_view data) { inner_.update(data); }

Sha256Digest HmacSha256::finish() {
  const Sha256Digest inner = inner_.finish();
  Sha256 outer;
  outer.update(std::as_bytes(std::span(outer_key_)));
  outer.update(std::as_bytes(std::span(inner)));
  return outer.finish();
}

Sha256Digest hmac_sha256(std::string_view key, std::string_view message) {
  HmacSha256 h(key);
  h.update(message);
  return h.finish();
}

std::string audit_text_hash(std::string_view key, std::string_view text) {
  HmacSha256 h(key);
  h.update("edgeroute.text.v1\n");
  h.update(text);
  return to_hex(h.finish());
}

std::string audit_row_hash(std::string_view key, const AuditRecord& r) {
  std::string m;
  m.reserve(256 + r.redacted_text.size() + r.details_json.size());
  m.append(r.prev_hash);
  put_i64(m, r.seq);
  put_i64(m, r.ts_us);
  put_str(m, r.request_id);
  put_str(m, r.node);
  put_str(m, r.text_hash);
  put_str(m, r.redacted_text);
  put_str(m, r.label);
  put_f64(m, r.confidence);
  put_str(m, r.route);
  put_str(m, r.reason);
  m.push_back(r.degraded ? '\1' : '\0');
  put_f64(m, r.cost_usd);
  put_f64(m, r.cloud_only_cost_usd);
  put_f64(m, r.latency_ms);
  put_str(m, r.edge_label);
  put_f64(m, r.edge_confidence);
  put_str(m, r.details_json);
  return to_hex(hmac_sha256(key, m));
}

std::string redact_audit_uri(const std::string& uri) {
  std::string out = uri;
  const std::size_t scheme = out.find("://");
  if (scheme != std::string::npos) {
    const std::size_t start = scheme + 3;
    std::size_t end = out.find_first_of("/?", start);
    if (end == std::string::npos) end = out.size();
    const std::size_t at = out.rfind('@', end == 0 ? 0 : end - 1);
    if (at != std::string::npos && at >= start) {
      const std::size_t colon = out.find(':', start);
      if (colon != std::string::npos && colon < at) out.erase(colon, at - colon);
    }
  }
  // password=... in the query string.
  for (std::size_t pos = out.find("password="); pos != std::string::npos; pos = out.find("password=", pos + 1)) {
    if (pos > 0 && out[pos - 1] != '?' && out[pos - 1] != '&' && out[pos - 1] != ' ') continue;
    const std::size_t value = pos + 9;
    std::size_t stop = out.find_first_of("& ", value);
    if (stop == std::string::npos) stop = out.size();
    out.replace(value, stop - value, "***");
  }
  return out;
}

std::string load_audit_key(const std::string& uri, const std::string& key_file, bool create_if_absent) {
  if (!key_file.empty()) return read_file_bytes(key_file, "audit key file");
  if (const char* env = std::getenv("EDGEROUTE_AUDIT_KEY"); env != nullptr && *env != '\0') return env;
  if (uri.rfind("sqlite:", 0) == 0) {
    const std::string path = uri.substr(7) + ".key";
    if (std::filesystem::exists(path)) return read_file_bytes(path, "audit key file");
    if (!create_if_absent) {
      throw Error("no audit key for " + redact_audit_uri(uri) + ": " + path +
                  " does not exist; pass --key-file or set EDGEROUTE_AUDIT_KEY");
    }
    create_key_file(path);
    return read_file_bytes(path, "audit key file");
  }
  throw Error("no audit key for " + redact_audit_uri(uri) + ": pass --key-file or set EDGEROUTE_AUDIT_KEY");
}

namespace detail {

std::string head_mac(std::string_view key, std::int64_t seq, std::string_view row_hash) {
  std::string m = "edgeroute.head.v1\n";
  put_i64(m, seq);
  put_str(m, row_hash);
  return to_hex(hmac_sha256(key, m));
}

std::string key_check_value(std::string_view key) { return to_hex(hmac_sha256(key, "edgeroute.keycheck.v1")); }

void validate_record(const AuditRecord& r, const std::string& display_uri) {
  const auto where = [&](const char* field) {
    return display_uri + ": audit record request_id '" + r.request_id.substr(0, r.request_id.find('\0')) + "': field " +
           field;
  };
  const std::pair<const char*, const std::string*> strings[] = {{"request_id", &r.request_id},
                                                                {"node", &r.node},
                                                                {"text_hash", &r.text_hash},
                                                                {"redacted_text", &r.redacted_text},
                                                                {"label", &r.label},
                                                                {"route", &r.route},
                                                                {"reason", &r.reason},
                                                                {"edge_label", &r.edge_label},
                                                                {"details_json", &r.details_json}};
  for (const auto& [name, value] : strings) {
    if (value->find('\0') != std::string::npos) throw Error(where(name) + " contains a NUL byte");
  }
  const std::pair<const char*, double> doubles[] = {{"confidence", r.confidence},
                                                    {"cost_usd", r.cost_usd},
                                                    {"cloud_only_cost_usd", r.cloud_only_cost_usd},
                                                    {"latency_ms", r.latency_ms},
                                                    {"edge_confidence", r.edge_confidence}};
  for (const auto& [name, value] : doubles) {
    if (!std::isfinite(value)) throw Error(where(name) + " is not a finite number");
  }
}

ChainHead chain_records(std::string_view key, std::int64_t head_seq, const std::string& head_hash,
                        std::span<AuditRecord> records) {
  ChainHead h{true, head_seq, head_hash, ""};
  for (AuditRecord& r : records) {
    r.seq = ++h.seq;
    r.prev_hash = h.row_hash;
    r.row_hash = audit_row_hash(key, r);
    h.row_hash = r.row_hash;
  }
  h.mac = head_mac(key, h.seq, h.row_hash);
  return h;
}

std::string double_text(double v) {
  std::array<char, 64> buf{};
  const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  return std::string(buf.data(), res.ptr);
}

void validate_feedback(const Feedback& f, const std::string& display_uri) {
  if (f.request_id.find('\0') != std::string::npos || f.label.find('\0') != std::string::npos) {
    throw Error(display_uri + ": feedback for request_id '" + f.request_id.substr(0, f.request_id.find('\0')) +
                "' contains a NUL byte");
  }
}

void reset_chain_fields(std::span<AuditRecord> records) {
  for (AuditRecord& r : records) {
    r.seq = 0;
    r.prev_hash.clear();
    r.row_hash.clear();
  }
}

}  // namespace detail

}  // namespace edgeroute::router
