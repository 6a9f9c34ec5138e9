// edgeroute bench: per-query latency at batch 1 (text in -> label out,
// tokenization included) and batched throughput of the edge runtime, with
// achieved GMAC/s against the ISA's roof. Writes JSON or a markdown table;
// every result carries the commit, ISA, threads and model hash.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <numeric>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "edgeroute/common/error.h"
#include "edgeroute/common/mapped_file.h"
#include "edgeroute/common/sha256.h"
#include "edgeroute/engine/classifier.h"
#include "edgeroute/engine/roof.h"
#include "edgeroute/text/table.h"
#include "edgeroute_commit.h"

namespace edgeroute::cli {

namespace {

struct BenchOptions {
  std::string model;
  std::string data;
  std::optional<std::string> column;
  engine::Precision precision = engine::Precision::kInt8;
  int threads = 1;
  std::size_t batch = 32;
  std::int64_t batch_tokens = engine::ClassifierOptions{}.batch_tokens;
  int reps = 1;
  std::size_t warmup = 50;
  int gap_us = 0;  // idle time before each timed batch-1 query
  std::size_t limit = 0;
  std::string output = "md";
};

using Clock = std::chrono::steady_clock;

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const auto idx = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(idx, v.size() - 1)];
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

nlohmann::json run_bench(const BenchOptions& o) {
  engine::ClassifierOptions copts;
  copts.precision = o.precision;
  copts.batch_tokens = o.batch_tokens;
  const engine::Classifier c = engine::Classifier::load(o.model, copts);
  const text::TextTable table = text::read_table(o.data);
  std::vector<std::string> texts =
      table.column(text::resolve_column(table, o.column, text::kTextColumnCandidates, "--column"));
  if (o.limit > 0 && texts.size() > o.limit) texts.resize(o.limit);
  if (texts.empty()) throw Error(o.data + ": no queries");
  const std::vector<std::string_view> query_views(texts.begin(), texts.end());
  const std::span<const std::string_view> views(query_views);

  // Warm-up: caches, arena growth, page faults on the weights.
  engine::Session session;
  std::vector<engine::Prediction> preds;
  for (std::size_t i = 0; i < std::min(o.warmup, views.size()); ++i) c.classify(views.subspan(i, 1), session, preds);

  // Latency, one query at a time on this thread.
  std::vector<double> ms;
  ms.reserve(views.size() * static_cast<std::size_t>(o.reps));
  double macs = 0.0;
  std::int64_t tokens = 0;
  double busy_s = 0.0;
  for (int rep = 0; rep < o.reps; ++rep) {
    for (std::size_t i = 0; i < views.size(); ++i) {
      // A service at low load: the core sleeps between queries and the
      // rest of the machine may evict the weights from the caches.
      if (o.gap_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(o.gap_us));
      const auto t0 = Clock::now();
      c.classify(views.subspan(i, 1), session, preds);
      const double s = std::chrono::duration<double>(Clock::now() - t0).count();
      ms.push_back(s * 1e3);
      busy_s += s;
      if (rep == 0) {
        tokens += preds[0].tokens;
        macs += c.encoder().macs(preds[0].tokens, /*cls_only=*/true);
      }
    }
  }
  const double mean_ms = std::accumulate(ms.begin(), ms.end(), 0.0) / static_cast<double>(ms.size());
  const double gmacs = macs * o.reps / busy_s * 1e-9;

  // Throughput: `threads` workers, each with its own session, pull batches of
  // `batch` queries from a shared counter.
  std::atomic<std::size_t> next{0};
  const std::size_t total = views.size() * static_cast<std::size_t>(o.reps);
  std::vector<std::thread> workers;
  const auto t0 = Clock::now();
  for (int w = 0; w < o.threads; ++w) {
    workers.emplace_back([&]() {
      engine::Session s;
      std::vector<engine::Prediction> p;
      for (;;) {
        const std::size_t start = next.fetch_add(o.batch);
        if (start >= total) break;
        const std::size_t end = std::min(total, start + o.batch);
        // Queries repeat across reps; map the global index back into views.
        std::vector<std::string_view> chunk;
        chunk.reserve(end - start);
        for (std::size_t i = start; i < end; ++i) chunk.push_back(views[i % views.size()]);
        c.classify(chunk, s, p);
      }
    });
  }
  for (auto& t : workers) t.join();
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();

  const double ghz = engine::measure_clock_ghz();
  const bool int8 = c.encoder().precision() == engine::Precision::kInt8;
  const engine::Roof roof = engine::measure_roof(c.encoder().isa(), int8, ghz);
  const std::string weights = std::filesystem::is_directory(o.model)
                                  ? (std::filesystem::path(o.model) / "model.safetensors").string()
                                  : o.model;
  const MappedFile mapped(weights);
  return {{"tool", "edgeroute"},
          {"precision", int8 ? "int8" : "fp32"},
          {"isa", std::string(engine::isa_name(c.encoder().isa()))},
          {"threads", o.threads},
          {"queries", views.size()},
          {"reps", o.reps},
          {"mean_tokens", static_cast<double>(tokens) / static_cast<double>(views.size())},
          {"latency_ms",
           {{"p50", percentile(ms, 0.50)},
            {"p95", percentile(ms, 0.95)},
            {"p99", percentile(ms, 0.99)},
            {"mean", mean_ms}}},
          {"gap_us", o.gap_us},
          {"batch", o.batch},
          {"batch_tokens", o.batch_tokens},
          {"throughput_qps", static_cast<double>(total) / wall},
          {"gmacs_per_s", gmacs},
          {"clock_ghz", ghz},
          {"roof_gmacs_per_s", roof.gmacs_per_s},
          {"roof_source", roof.measured ? "measured" : "assumed"},
          {"model", o.model},
          {"model_sha256", sha256_hex(mapped.bytes())},
          {"data", o.data},
          {"machine", cpu_model()},
          {"commit", EDGEROUTE_COMMIT}};
}

void print_markdown(const nlohmann::json& r) {
  std::printf(
      "| precision | ISA | threads | queries | mean tokens | p50 ms | p95 ms | p99 ms | batch | q/s | GMAC/s | roof "
      "|\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  std::printf("| %s | %s | %d | %zu | %.1f | %.3f | %.3f | %.3f | %zu | %.0f | %.1f | %.0f |\n",
              r["precision"].get<std::string>().c_str(), r["isa"].get<std::string>().c_str(), r["threads"].get<int>(),
              r["queries"].get<std::size_t>(), r["mean_tokens"].get<double>(), r["latency_ms"]["p50"].get<double>(),
              r["latency_ms"]["p95"].get<double>(), r["latency_ms"]["p99"].get<double>(), r["batch"].get<std::size_t>(),
              r["throughput_qps"].get<double>(), r["gmacs_per_s"].get<double>(), r["roof_gmacs_per_s"].get<double>());
  std::printf("\nmodel %s (sha256 %.12s), data %s, machine %s, commit %s, latency gap %d us, roof %s\n",
              r["model"].get<std::string>().c_str(), r["model_sha256"].get<std::string>().c_str(),
              r["data"].get<std::string>().c_str(), r["machine"].get<std::string>().c_str(),
              r["commit"].get<std::string>().c_str(), r["gap_us"].get<int>(),
              r["roof_source"].get<std::string>().c_str());
}

}  // namespace

void register_bench(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "Latency (batch 1) and throughput of the edge runtime on a data file");
  cmd->add_option("--model", o->model, "Hugging Face classifier directory or .edge file")
      ->required()
      ->check(CLI::ExistingPath);
  cmd->add_option("--data", o->data, "Queries (.csv/.tsv/.jsonl or plain lines)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--column", o->column, "Text column (default: auto-detected)");
  const std::map<std::string, engine::Precision> precisions{{"int8", engine::Precision::kInt8},
                                                            {"fp32", engine::Precision::kFp32}};
  cmd->add_option("--precision", o->precision, "int8 (default) or fp32")
      ->transform(CLI::CheckedTransformer(precisions, CLI::ignore_case));
  cmd->add_option("--threads", o->threads, "Worker threads for the throughput run (latency runs on one)")
      ->envname("EDGEROUTE_THREADS")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--batch", o->batch, "Queries per call in the throughput run")->check(CLI::Range(1, 4096));
  cmd->add_option("--batch-tokens", o->batch_tokens,
                  "Tokens per encoder pass: a batch runs in groups of sequences up to this size")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--reps", o->reps, "Passes over the queries")->check(CLI::Range(1, 1000));
  cmd->add_option("--warmup", o->warmup, "Queries run before timing");
  cmd->add_option("--gap-us", o->gap_us,
                  "Sleep this long before each timed batch-1 query (a service at low load; default 0: back to back)")
      ->check(CLI::Range(0, 1000000));
  cmd->add_option("--limit", o->limit, "Use only the first N queries (0: all)");
  cmd->add_option("--output", o->output, "md (default) or json")->check(CLI::IsMember({"md", "json"}));
  cmd->callback([o]() {
    const nlohmann::json r = run_bench(*o);
    if (o->output == "json") {
      std::cout << r.dump(1) << '\n';
    } else {
      print_markdown(r);
    }
  });
}

}  // namespace edgeroute::cli
