// edgeroute load: an open-loop HTTP load generator for `edgeroute serve` (or
// any endpoint taking {"text": ...}). The engine lives in load.cc; see
// docs/demo-data.md.
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "commands.h"
#include "edgeroute/common/error.h"
#include "edgeroute/text/table.h"
#include "load.h"

namespace edgeroute::cli {

namespace {

struct LoadCommandOptions {
  LoadOptions load;
  std::string input;
  std::optional<std::string> column;
  std::string token_file;
  bool json = false;
};

std::string read_token(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open the token file");
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string token = ss.str();
  while (!token.empty() &&
         (token.back() == '\n' || token.back() == '\r' || token.back() == ' ' || token.back() == '\t')) {
    token.pop_back();
  }
  std::size_t first = 0;
  while (first < token.size() && (token[first] == ' ' || token[first] == '\t')) ++first;
  token.erase(0, first);
  if (token.empty()) throw Error(path + ": the token file is empty");
  if (token.find_first_of("\r\n") != std::string::npos) throw Error(path + ": the token must be one line");
  return token;
}

void run_load_command(LoadCommandOptions& o) {
  const text::TextTable table = text::read_table(o.input);
  if (table.rows.empty()) throw Error(o.input + ": no rows to send");
  const std::string column = text::resolve_column(table, o.column, text::kTextColumnCandidates, "--column");
  const std::vector<std::string> texts = table.column(column);
  if (!o.token_file.empty()) o.load.token = read_token(o.token_file);
  const ParsedUrl url = parse_url(o.load.url);
  check_reachable(url, o.load.timeout_s);
  const LoadReport report = run_load(o.load, texts);
  if (o.json) {
    std::cout << load_report_json(report).dump() << '\n';
  } else {
    std::cout << load_report_text(report);
  }
}

}  // namespace

void register_load(CLI::App& app) {
  auto o = std::make_shared<LoadCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "load", "Open-loop HTTP load generator: fixed-rate requests, latency from the scheduled send time");
  cmd->add_option("--url", o->load.url, "Server, http://HOST:PORT")->required();
  cmd->add_option("--input", o->input, "Texts to send (.csv/.tsv/.jsonl or plain lines), cycled in order")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--column", o->column, "Text column (default: text, or the first usual text column name)");
  cmd->add_option("--rate", o->load.rate, "Scheduled requests per second")
      ->check(CLI::Range(0.001, 10'000'000.0))
      ->capture_default_str();
  cmd->add_option("--duration", o->load.duration_s, "Seconds of scheduled requests")
      ->check(CLI::Range(0.001, 86'400.0))
      ->capture_default_str();
  cmd->add_option("--connections", o->load.connections, "Keep-alive connections (requests in flight at most)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{4096}))
      ->capture_default_str();
  cmd->add_option("--path", o->load.path, "Request path (POST, JSON body {\"text\": ...})")->capture_default_str();
  cmd->add_option("--timeout", o->load.timeout_s, "Seconds from a request's send to its whole response")
      ->check(CLI::Range(0.001, 3600.0))
      ->capture_default_str();
  cmd->add_option("--token-file", o->token_file, "File holding a bearer token for the Authorization header")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--json", o->json, "Print the report as one JSON object");
  cmd->callback([o]() { run_load_command(*o); });
}

}  // namespace edgeroute::cli
