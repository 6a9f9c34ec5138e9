// Opening audit logs by URI, walking and checking the hash chain
// (verify_audit), and the group-commit AuditWriter.
#include "edgeroute/router/audit.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <span>

#include "audit_internal.h"
#include "edgeroute/common/error.h"

namespace edgeroute::router {

namespace detail {

std::unique_ptr<AuditStore> open_store(const std::string& uri, const AuditOptions& options) {
  if (uri.rfind("sqlite:", 0) == 0) return open_sqlite_store(uri, uri.substr(7), options);
  if (uri.rfind("postgresql://", 0) == 0 || uri.rfind("postgres://", 0) == 0) {
    return open_postgres_store(uri, options);
  }
  throw Error("audit log '" + redact_audit_uri(uri) +
              "': unknown scheme (expected sqlite:PATH or postgresql://user@host:port/db)");
}

}  // namespace detail

std::unique_ptr<AuditSink> open_audit(const std::string& uri, const AuditOptions& options) {
  std::unique_ptr<detail::AuditStore> store = detail::open_store(uri, options);
  if (!options.key.empty()) {
    const std::string stored = store->stored_key_check();
    if (!stored.empty() && stored != detail::key_check_value(options.key)) {
      throw Error(store->display_uri() + ": the audit key does not match the key this log was created with");
    }
  }
  return store;
}

VerifyResult verify_audit(const std::string& uri, const AuditOptions& options) {
  AuditOptions read_only = options;
  read_only.create = false;
  const std::unique_ptr<detail::AuditStore> store = detail::open_store(uri, read_only);
  const std::string& key = options.key;
  const std::string key_note = [&]() -> std::string {
    const std::string stored = store->stored_key_check();
    if (!stored.empty() && stored != detail::key_check_value(key)) {
      return " (the key differs from the one this log was created with)";
    }
    return "";
  }();

  VerifyResult v;
  const auto bad = [&](std::int64_t seq, const std::string& problem) {
    v.ok = false;
    v.first_bad_seq = seq;
    v.problem = problem;
    return v;
  };
  std::int64_t last_seq = 0;
  std::string last_hash(detail::kZeroHash);
  for (;;) {
    std::vector<AuditRecord> page = store->read_chain(last_seq, detail::kChainPage);
    if (page.empty()) {
      // Rows commit together with the head: read it after the rows and, when a
      // writer appended in between, keep walking.
      const detail::ChainHead head = store->head();
      if (head.present && head.seq > last_seq) {
        page = store->read_chain(last_seq, detail::kChainPage);
        if (page.empty()) {
          return bad(last_seq + 1, "the log ends at seq " + std::to_string(last_seq) + " but its head records seq " +
                                       std::to_string(head.seq) + ": rows at the tail were deleted");
        }
      } else {
        if (!head.present) return bad(last_seq + 1, "the audit_head row is missing (deleted)");
        if (head.seq < last_seq) {
          return bad(head.seq + 1, "rows after seq " + std::to_string(head.seq) +
                                       " are not covered by the head (added outside the sink)");
        }
        if (head.row_hash != last_hash) {
          return bad(last_seq, "the head's row_hash does not match row " + std::to_string(last_seq) +
                                   "'s (head or last row replaced)");
        }
        if (head.mac != detail::head_mac(key, head.seq, head.row_hash)) {
          return bad(last_seq == 0 ? 1 : last_seq,
                     "the head's MAC does not match (head edited, e.g. to hide deleted tail rows" + key_note + ")");
        }
        v.ok = true;
        return v;
      }
    }
    for (const AuditRecord& r : page) {
      const std::int64_t expected = last_seq + 1;
      if (r.seq != expected) {
        return bad(expected, "row " + std::to_string(expected) + " is missing: the next row has seq " +
                                 std::to_string(r.seq) + " (deleted)");
      }
      if (r.prev_hash != last_hash) {
        return bad(r.seq, "row " + std::to_string(r.seq) + ": prev_hash does not match " +
                              (r.seq == 1 ? std::string("the genesis value (64 zeros)")
                                          : "row " + std::to_string(r.seq - 1) + "'s row_hash") +
                              " (rows reordered, replaced or deleted)");
      }
      if (r.row_hash != audit_row_hash(key, r)) {
        return bad(r.seq, "row " + std::to_string(r.seq) + ": contents do not match its row_hash (edited" +
                              (key_note.empty() ? ", or verified with the wrong key" : key_note) + ")");
      }
      last_seq = r.seq;
      last_hash = r.row_hash;
      ++v.rows;
    }
  }
}

// ---------------------------------------------------------------- AuditWriter

// Leader/follower group commit: a writer that finds no commit in flight
// becomes the leader and, on its own thread, commits up to max_batch queued
// records, oldest first; the others wait and are woken once, with their
// outcome. A background writer thread cost two more context switches per
// commit (its wake-up, and the wake-up of each waiter it served); docs/audit.md
// has the futex counts before and after. A write_all() call's records are
// queued together and always committed in one transaction.
struct AuditWriter::State {
  struct Pending {
    AuditRecord record;
    std::chrono::steady_clock::time_point enqueued;
    bool done = false;
    std::int64_t seq = 0;
    std::string error;
    // The writer's own (shared by the records of one write_all()), so a
    // commit wakes exactly the writers it committed: one shared condition
    // variable woke every waiting request thread on every commit, and each
    // went back to sleep unless its record was in that batch.
    std::condition_variable* cv = nullptr;
  };

  std::unique_ptr<AuditSink> sink;
  std::size_t max_batch = 256;
  std::chrono::microseconds max_wait = kDefaultAuditMaxWait;
  mutable std::mutex mu;
  std::condition_variable leader_cv;  // a leader waiting for company; the destructor waiting for the end
  std::deque<Pending*> queue;
  bool committing = false;
  bool stopping = false;
  // Writers served by the previous commit; the first commit waits as if under load.
  std::size_t last_writers = 2;
  AuditWriterStats stats;
  std::vector<Pending*> taken;
  std::vector<AuditRecord> batch;

  // Called with mu held (lk) by the leader: commits up to max_batch queued
  // records (more when the last writer's records would be split), oldest
  // first, and wakes their writers.
  void lead(std::unique_lock<std::mutex>& lk) {
    committing = true;
    // Wait for company only under load, i.e. when the previous commit served
    // more than one writer: alone, a writer's records are committed at once.
    if (queue.size() < max_batch && !stopping && max_wait.count() > 0 && last_writers > 1) {
      ++stats.waited;
      const auto deadline = queue.front()->enqueued + max_wait;
      leader_cv.wait_until(lk, deadline, [&] { return stopping || queue.size() >= max_batch; });
    }
    std::size_t n = std::min(max_batch, queue.size());
    while (n < queue.size() && queue[n]->cv == queue[n - 1]->cv) ++n;
    taken.assign(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(n));
    queue.erase(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(n));
    batch.clear();
    last_writers = 0;
    for (std::size_t i = 0; i < n; ++i) {
      batch.push_back(std::move(taken[i]->record));
      if (i == 0 || taken[i]->cv != taken[i - 1]->cv) ++last_writers;
    }
    lk.unlock();

    std::string error;
    const auto t0 = std::chrono::steady_clock::now();
    try {
      sink->append(batch);
    } catch (const std::exception& e) {
      error = e.what();
      if (error.empty()) error = "unknown error";
    } catch (...) {
      error = "unknown error";
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    lk.lock();
    for (std::size_t i = 0; i < n; ++i) {
      taken[i]->done = true;
      taken[i]->seq = batch[i].seq;
      taken[i]->error = error;
      // Under mu: the waiter may destroy its records once mu is released.
      if (i + 1 == n || taken[i + 1]->cv != taken[i]->cv) taken[i]->cv->notify_one();
    }
    if (error.empty()) {
      ++stats.commits;
      stats.records += n;
    } else {
      ++stats.failed_commits;
    }
    stats.commit_seconds_sum += seconds;
    stats.commit_seconds_max = std::max(stats.commit_seconds_max, seconds);
    committing = false;
    // The oldest writer still waiting leads the next commit.
    if (!queue.empty()) queue.front()->cv->notify_one();
    if (stopping) leader_cv.notify_all();
  }

  // Queues `pending` (one writer's records, in order) and returns once they
  // are committed or their commit failed, leading commits while none is in flight.
  void write(std::span<Pending> pending) {
    std::condition_variable cv;
    const auto now = std::chrono::steady_clock::now();
    std::unique_lock lk(mu);
    if (stopping) {
      throw Error("audit writer is shutting down: record for request_id '" + pending.front().record.request_id +
                  "' not written");
    }
    for (Pending& p : pending) {
      p.enqueued = now;
      p.cv = &cv;
      queue.push_back(&p);
    }
    if (committing && queue.size() >= max_batch) leader_cv.notify_all();
    const Pending& last = pending.back();
    while (!last.done) {
      if (!committing) {
        lead(lk);
      } else {
        cv.wait(lk, [&] { return last.done || (!committing && queue.front()->cv == &cv); });
      }
    }
    if (!last.error.empty()) throw Error("audit commit failed: " + last.error);
  }
};

AuditWriter::AuditWriter(std::unique_ptr<AuditSink> sink, std::size_t max_batch, std::chrono::microseconds max_wait)
    : state_(std::make_unique<State>()) {
  if (!sink) throw Error("AuditWriter: no sink");
  state_->sink = std::move(sink);
  state_->max_batch = std::max<std::size_t>(1, max_batch);
  state_->max_wait = max_wait;
}

AuditWriter::~AuditWriter() {
  std::unique_lock lk(state_->mu);
  state_->stopping = true;
  state_->leader_cv.notify_all();  // a leader waiting for company commits now
  state_->leader_cv.wait(lk, [&] { return !state_->committing && state_->queue.empty(); });
}

std::int64_t AuditWriter::write(AuditRecord record) {
  State::Pending p;
  p.record = std::move(record);
  state_->write(std::span(&p, 1));
  return p.seq;
}

void AuditWriter::write_all(std::vector<AuditRecord> records) {
  if (records.empty()) return;
  std::vector<State::Pending> pending(records.size());
  for (std::size_t i = 0; i < records.size(); ++i) pending[i].record = std::move(records[i]);
  state_->write(pending);
}

AuditSink& AuditWriter::sink() { return *state_->sink; }

AuditWriterStats AuditWriter::stats() const {
  std::lock_guard lk(state_->mu);
  return state_->stats;
}

}  // namespace edgeroute::router
