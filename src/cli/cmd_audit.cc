// edgeroute audit: check (verify) and count the hash-chained audit log.
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "edgeroute/common/error.h"
#include "edgeroute/router/audit.h"

namespace edgeroute::cli {

namespace {

struct AuditCliOptions {
  std::string uri;
  std::string key_file;
};

void run_verify(const AuditCliOptions& o) {
  router::AuditOptions options;
  options.create = false;
  // Open first so that a missing file or a non-database is reported as such,
  // not as a missing key.
  { router::open_audit(o.uri, options); }
  options.key = router::load_audit_key(o.uri, o.key_file, /*create_if_absent=*/false);
  const router::VerifyResult v = router::verify_audit(o.uri, options);
  const std::string uri = router::redact_audit_uri(o.uri);
  if (v.ok) {
    std::cout << uri << ": " << v.rows << " rows checked, chain OK\n";
    return;
  }
  std::cout << uri << ": " << v.rows << " rows checked before the first problem\n";
  throw Error(uri + ": audit chain broken at seq " + std::to_string(v.first_bad_seq) + ": " + v.problem);
}

void run_count(const AuditCliOptions& o) {
  router::AuditOptions options;
  options.create = false;
  const std::unique_ptr<router::AuditSink> sink = router::open_audit(o.uri, options);
  std::cout << sink->count() << "\n";
}

}  // namespace

void register_audit(CLI::App& app) {
  CLI::App* audit = app.add_subcommand("audit", "Check the hash-chained audit log");
  audit->require_subcommand(1);
  const char* uri_help = "Audit log: sqlite:PATH or postgresql://user@host:port/db";

  auto v = std::make_shared<AuditCliOptions>();
  CLI::App* verify = audit->add_subcommand(
      "verify", "Walk the log in seq order and check every row's hash chain; exit 1 at the first problem");
  verify->add_option("--audit", v->uri, uri_help)->required();
  verify->add_option("--key-file", v->key_file,
                     "HMAC key file (default: $EDGEROUTE_AUDIT_KEY, else PATH.key next to a SQLite log)");
  verify->callback([v]() { run_verify(*v); });

  auto c = std::make_shared<AuditCliOptions>();
  CLI::App* count = audit->add_subcommand("count", "Print the number of rows in the log");
  count->add_option("--audit", c->uri, uri_help)->required();
  count->callback([c]() { run_count(*c); });
}

}  // namespace edgeroute::cli
