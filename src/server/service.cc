// The HTTP service (edge and cloud roles) on cpp-httplib.
#include "edgeroute/server/service.h"

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <span>
#include <string_view>
#include <thread>

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "edgeroute/common/error.h"
#include "edgeroute/text/json_writer.h"
#include "edgeroute/monitor/dashboard.h"
#include "edgeroute/monitor/metrics.h"
#include "edgeroute/text/utf8.h"
#include "http_server.h"

namespace edgeroute::server {

using text::JsonWriter;

namespace {

using nlohmann::json;

// A request refused for a reason the client can act on.
struct HttpError {
  int status;
  std::string code, message;
};

// Maximum nesting of objects/arrays, scanning outside strings.
int json_depth(std::string_view body) {
  int depth = 0, max_depth = 0;
  bool in_string = false, escaped = false;
  for (const char c : body) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      max_depth = std::max(max_depth, ++depth);
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return max_depth;
}

std::size_t code_points(std::string_view s) {
  std::size_t n = 0;
  for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// Worker slots (one engine session each) and up to max_queue requests waiting
// for one, first come first served. The most recently freed slot is handed out
// first, so at low load one warm session serves every request. A request that
// gets a slot also classifies, in the
// same encoder call, the texts of up to engine_batch - 1 combinable requests
// still waiting (oldest first, take()); those wake with their predictions and
// never take a slot. Alone a request is a batch of one; under load, waiting
// turns into batching, which costs less encoder time per text.
class Gate {
 public:
  struct Ticket {
    std::string_view text;
    bool combinable = false;  // single-text classify requests only
    const std::string* request_id = nullptr;
    std::chrono::steady_clock::time_point t0;  // when the request was admitted
    engine::Prediction prediction;
    // Edge role: the routed answer, decided (and, unless it awaits the
    // cloud, audited) by the slot holder that classified it.
    router::RouteResult routed;
    std::exception_ptr error;  // the edge model refused this text, or its audit commit failed
    bool taken = false;        // a slot holder is classifying it
    bool done = false;
    std::condition_variable cv;
  };
  enum class Entry : std::uint8_t { kSlot, kServed, kFull };

  Gate(std::size_t workers, std::size_t max_queue) : max_queue_(max_queue) {
    for (std::size_t i = workers; i > 0; --i) free_.push_back(i - 1);
  }
  // A slot (written to `slot`), the ticket served by another request, or
  // kFull when the queue is full.
  Entry enter(Ticket& t, std::size_t& slot) {
    std::unique_lock<std::mutex> lock(mu_);
    if (free_.empty() || !queue_.empty()) {
      if (queue_.size() >= max_queue_) return Entry::kFull;
      queue_.push_back(&t);
      t.cv.wait(lock, [&] { return t.taken || (!free_.empty() && queue_.front() == &t); });
      if (t.taken) {
        t.cv.wait(lock, [&] { return t.done; });
        return Entry::kServed;
      }
      queue_.pop_front();
    }
    slot = free_.back();
    free_.pop_back();
    wake_front();
    return Entry::kSlot;
  }
  // Appends up to `n` combinable waiting tickets, oldest first, to `out`:
  // the caller classifies them and then calls complete().
  void take(std::size_t n, std::vector<Ticket*>& out) {
    std::lock_guard<std::mutex> lock(mu_);
    const std::size_t limit = out.size() + n;
    for (auto it = queue_.begin(); it != queue_.end() && out.size() < limit;) {
      if ((*it)->combinable) {
        (*it)->taken = true;
        out.push_back(*it);
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
    wake_front();
  }
  // Wakes the owners of taken tickets; their prediction or error is set. A
  // ticket may be destroyed as soon as the lock is released.
  void complete(std::span<Ticket* const> tickets) {
    std::lock_guard<std::mutex> lock(mu_);
    for (Ticket* t : tickets) {
      t->done = true;
      t->cv.notify_one();
    }
  }
  void leave(std::size_t slot) {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(slot);
    wake_front();
  }
  std::size_t waiting() const {
    std::lock_guard<std::mutex> lock(mu_);
    return queue_.size();
  }

 private:
  // Called with mu_ held: the oldest waiter may take a free slot.
  void wake_front() {
    if (!free_.empty() && !queue_.empty()) queue_.front()->cv.notify_one();
  }

  mutable std::mutex mu_;
  std::vector<std::size_t> free_;
  std::deque<Ticket*> queue_;
  std::size_t max_queue_;
};

}  // namespace

struct Service::Impl {
  ServiceOptions o;
  const engine::Classifier& model;
  router::Router* router;
  monitor::Monitor* mon;
  Service& self;
  HttpServer http;
  Gate gate;
  // What a worker slot owns: its engine session and the buffers of the
  // batches it classifies (reused, so the hot path does not allocate them).
  struct Worker {
    engine::Session session;
    std::vector<Gate::Ticket*> batch;
    std::vector<std::string_view> texts;
    std::vector<engine::Prediction> preds;
  };
  std::vector<Worker> workers;  // one per slot
  std::atomic<bool> draining{false};
  std::atomic<std::int64_t> in_flight{0};
  std::mutex drain_mu;
  std::condition_variable drain_cv;

  monitor::Registry metrics;
  monitor::Family& http_requests;
  monitor::Family& http_seconds;
  monitor::Family& answers;
  monitor::Family& answer_seconds;
  monitor::Family& degraded;
  monitor::Family& cost;
  monitor::Family& cloud_only_cost;
  monitor::Family& shed;
  monitor::Family& inflight_gauge;
  monitor::Family& ready_gauge;
  monitor::Family& queue_gauge;
  monitor::Family& engine_batch_texts;
  monitor::Family& cloud_calls;
  monitor::Family& breaker_state;
  monitor::Family& breaker_transitions;
  monitor::Family& cloud_inflight;
  monitor::Family& cloud_retries;
  monitor::Family& audit_commits;
  monitor::Family& audit_records;
  monitor::Family& audit_seconds;
  monitor::Family& audit_failures;
  monitor::Family& audit_waits;
  monitor::Family& feedback;
  monitor::Family& shadow_requests;
  monitor::Family& shadow_cost;
  monitor::Family& drift_psi;
  monitor::Family& ood_ratio;
  monitor::Family& edge_share;
  monitor::Family& alerts_firing;
  monitor::Family& health_score;

  // The monitor's clock: alert evaluation and the audit-commit feed, once a
  // second, off the request path.
  std::thread ticker;
  std::mutex tick_mu;
  std::condition_variable tick_cv;
  bool tick_stop = false;
  router::AuditWriterStats last_audit{};

  Impl(ServiceOptions options, const engine::Classifier& m, router::Router* r, monitor::Monitor* mo, Service& s)
      : o(std::move(options)),
        model(m),
        router(r),
        mon(mo),
        self(s),
        gate(o.workers, o.max_queue),
        workers(o.workers),
        http_requests(metrics.counter("edgeroute_http_requests_total", "HTTP requests by endpoint and status code",
                                      {"endpoint", "code"})),
        http_seconds(metrics.histogram("edgeroute_http_request_duration_seconds", "HTTP request duration by endpoint",
                                       monitor::latency_buckets(), {"endpoint"})),
        answers(metrics.counter("edgeroute_answers_total", "Answers by route and reason", {"route", "reason"})),
        answer_seconds(metrics.histogram("edgeroute_answer_duration_seconds",
                                         "End-to-end time of one routed answer by route", monitor::latency_buckets(),
                                         {"route"})),
        degraded(metrics.counter("edgeroute_degraded_answers_total", "Edge answers returned because the cloud failed")),
        cost(metrics.counter("edgeroute_cost_usd_total", "Inference cost of the answers (edge + cloud)")),
        cloud_only_cost(
            metrics.counter("edgeroute_cloud_only_cost_usd_total", "What the same answers would have cost cloud-only")),
        shed(metrics.counter("edgeroute_requests_shed_total", "Requests refused with 503 because the queue was full")),
        inflight_gauge(metrics.gauge("edgeroute_requests_in_flight", "Classify requests being served")),
        ready_gauge(metrics.gauge("edgeroute_ready", "1 when the service accepts traffic")),
        queue_gauge(metrics.gauge("edgeroute_queue_waiting", "Requests waiting for an inference worker")),
        engine_batch_texts(metrics.histogram("edgeroute_engine_batch_texts",
                                             "Texts per encoder call of single-text classify requests",
                                             {1, 2, 4, 8, 16, 32, 64, 128, 256})),
        cloud_calls(metrics.counter("edgeroute_cloud_calls_total", "Cloud escalations by outcome", {"outcome"})),
        breaker_state(metrics.gauge("edgeroute_cloud_breaker_state", "1 for the breaker's current state", {"state"})),
        breaker_transitions(metrics.counter("edgeroute_cloud_breaker_transitions_total",
                                            "Circuit breaker transitions by target state", {"to"})),
        cloud_inflight(metrics.gauge("edgeroute_cloud_in_flight", "Cloud calls in flight")),
        cloud_retries(metrics.counter("edgeroute_cloud_retries_total", "Second attempts sent to the cloud")),
        audit_commits(metrics.counter("edgeroute_audit_commits_total", "Audit group commits")),
        audit_records(metrics.counter("edgeroute_audit_records_total", "Audit rows committed")),
        audit_seconds(metrics.counter("edgeroute_audit_commit_seconds_total", "Time spent in audit commits")),
        audit_failures(metrics.counter("edgeroute_audit_failed_commits_total", "Audit commits that failed")),
        audit_waits(metrics.counter("edgeroute_audit_commit_waits_total",
                                    "Audit group commits that waited for more records (under load)")),
        feedback(metrics.counter("edgeroute_feedback_total",
                                 "Feedback labels received, by the route of the answer and whether it was right",
                                 {"route", "correct"})),
        shadow_requests(metrics.counter("edgeroute_shadow_requests_total",
                                        "Shadow calls answered by the cloud, by edge-cloud agreement", {"agreement"})),
        shadow_cost(metrics.counter("edgeroute_shadow_cost_usd_total", "Cloud cost of shadow calls (not in answers)")),
        drift_psi(metrics.gauge("edgeroute_drift_psi",
                                "Population stability index against the calibration reference, last hour",
                                {"distribution"})),
        ood_ratio(metrics.gauge("edgeroute_ood_ratio", "Share of answers above the OOD energy threshold, last hour")),
        edge_share(metrics.gauge("edgeroute_edge_share_ratio", "Share of answers given by the edge", {"window"})),
        alerts_firing(metrics.gauge("edgeroute_alerts_firing", "1 while the alert is firing", {"alert"})),
        health_score(metrics.gauge("edgeroute_health_score", "Health score 0..100 over the last hour")) {
    for (const router::Reason reason : router::all_reasons()) {
      const std::string rs(router::to_string(reason));
      answers.with({router::escalates(reason) ? "cloud" : "edge", rs});
    }
    metrics.on_collect([this] { collect(); });
    if (mon != nullptr) ticker = std::thread([this] { tick_loop(); });
  }

  ~Impl() {
    if (ticker.joinable()) {
      {
        std::lock_guard<std::mutex> lock(tick_mu);
        tick_stop = true;
      }
      tick_cv.notify_all();
      ticker.join();
    }
  }

  void tick_loop() {
    std::unique_lock<std::mutex> lock(tick_mu);
    while (!tick_cv.wait_for(lock, std::chrono::seconds(1), [this] { return tick_stop; })) {
      lock.unlock();
      tick();
      lock.lock();
    }
  }

  // Feeds what the monitor cannot see per request, then evaluates alerts.
  void tick() {
    const std::int64_t now = SystemClock::instance().unix_micros();
    if (router != nullptr && router->cloud() != nullptr) {
      mon->set_breaker_state(std::string(router::to_string(router->cloud()->state())));
    }
    if (router != nullptr && router->audit() != nullptr) {
      // The writer keeps running totals; this second's commits are recorded
      // at their mean duration.
      const router::AuditWriterStats st = router->audit()->stats();
      const std::uint64_t n = st.commits - last_audit.commits;
      const double secs = st.commit_seconds_sum - last_audit.commit_seconds_sum;
      for (std::uint64_t i = 0; i < n; ++i) mon->record_audit_commit(now, secs / static_cast<double>(n));
      last_audit = st;
    }
    try {
      mon->evaluate_alerts();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "edgeroute serve: alert evaluation failed: %s\n", e.what());
    }
  }

  void collect() {
    inflight_gauge.set({}, static_cast<double>(in_flight.load()));
    ready_gauge.set({}, self.ready() ? 1 : 0);
    queue_gauge.set({}, static_cast<double>(gate.waiting()));
    if (router != nullptr && router->cloud() != nullptr) {
      const router::CloudStats st = router->cloud()->stats();
      cloud_calls.set({"ok"}, static_cast<double>(st.successes));
      for (std::size_t k = 1; k < router::kCloudFailureCount; ++k) {
        cloud_calls.set({std::string(router::to_string(static_cast<router::CloudFailure>(k)))},
                        static_cast<double>(st.failures_by_kind[k]));
      }
      for (const auto s :
           {router::BreakerState::kClosed, router::BreakerState::kOpen, router::BreakerState::kHalfOpen}) {
        breaker_state.set({std::string(router::to_string(s))}, st.state == s ? 1 : 0);
      }
      breaker_transitions.set({"open"}, static_cast<double>(st.transitions_to_open));
      breaker_transitions.set({"half_open"}, static_cast<double>(st.transitions_to_half_open));
      breaker_transitions.set({"closed"}, static_cast<double>(st.transitions_to_closed));
      cloud_inflight.set({}, static_cast<double>(st.in_flight));
      cloud_retries.set({}, static_cast<double>(st.retries));
    }
    if (router != nullptr && router->audit() != nullptr) {
      const router::AuditWriterStats st = router->audit()->stats();
      audit_commits.set({}, static_cast<double>(st.commits));
      audit_records.set({}, static_cast<double>(st.records));
      audit_seconds.set({}, st.commit_seconds_sum);
      audit_failures.set({}, static_cast<double>(st.failed_commits));
      audit_waits.set({}, static_cast<double>(st.waited));
    }
    if (router != nullptr && router->shadow() != nullptr) {
      const router::ShadowStats st = router->shadow()->stats();
      shadow_requests.set({"agree"}, static_cast<double>(st.agreed));
      shadow_requests.set({"disagree"}, static_cast<double>(st.answered - st.agreed));
      shadow_cost.set({}, st.cost_usd);
    }
    if (mon != nullptr) {
      const monitor::Monitor::Gauges g = mon->gauges();
      for (std::size_t w = 0; w < monitor::Monitor::kWindows.size(); ++w) {
        if (g.edge_share[w]) edge_share.set({monitor::Monitor::kWindows[w]}, *g.edge_share[w]);
      }
      if (g.psi_confidence) drift_psi.set({"confidence"}, *g.psi_confidence);
      if (g.psi_labels) drift_psi.set({"labels"}, *g.psi_labels);
      if (g.ood_rate) ood_ratio.set({}, *g.ood_rate);
      for (const auto& [name, firing] : g.alerts_firing) alerts_firing.set({name}, firing ? 1 : 0);
      health_score.set({}, g.health_score);
    }
  }

  static void reply(httplib::Response& res, int status, const json& body) {
    reply_body(res, status, body.dump(-1, ' ', false, json::error_handler_t::replace));
  }
  // A JSON body already written; moved, not copied.
  static void reply_body(httplib::Response& res, int status, std::string body) {
    res.status = status;
    res.body = std::move(body);
    res.set_header("Content-Type", "application/json");
  }
  static void reply_error(httplib::Response& res, const HttpError& e) {
    reply(res, e.status, {{"error", {{"code", e.code}, {"message", e.message}}}});
  }

  void authorize(const httplib::Request& req) const {
    if (o.token.empty()) return;
    const std::string h = req.get_header_value("Authorization");
    constexpr std::string_view kBearer = "Bearer ";
    if (h.size() <= kBearer.size() || h.compare(0, kBearer.size(), kBearer) != 0 ||
        !constant_time_equal(std::string_view(h).substr(kBearer.size()), o.token)) {
      throw HttpError{401, "unauthorized", "a valid bearer token is required"};
    }
  }

  json parse_body(const httplib::Request& req) const {
    if (req.body.size() > o.max_body_bytes) {
      throw HttpError{413, "body_too_large", "the body exceeds " + std::to_string(o.max_body_bytes) + " bytes"};
    }
    const std::string ct = req.get_header_value("Content-Type");
    if (!ct.empty() && ct.find("application/json") == std::string::npos) {
      throw HttpError{415, "unsupported_media_type", "send Content-Type: application/json"};
    }
    if (json_depth(req.body) > o.max_json_depth) {
      throw HttpError{400, "too_deep", "JSON nesting deeper than " + std::to_string(o.max_json_depth)};
    }
    json j = json::parse(req.body, nullptr, false);
    if (j.is_discarded()) throw HttpError{400, "invalid_json", "the body is not valid JSON (or not valid UTF-8)"};
    if (!j.is_object()) throw HttpError{400, "invalid_request", "the body must be a JSON object"};
    return j;
  }

  std::string text_field(const json& v, const std::string& where) const {
    if (!v.is_string()) throw HttpError{400, "invalid_request", where + " must be a string"};
    std::string t = v.get<std::string>();
    if (text::find_invalid_utf8(t)) throw HttpError{400, "invalid_utf8", where + " is not valid UTF-8"};
    if (t.empty()) throw HttpError{400, "invalid_request", where + " must not be empty"};
    if (code_points(t) > o.max_text_code_points) {
      throw HttpError{413, "text_too_long",
                      where + " is longer than " + std::to_string(o.max_text_code_points) + " code points"};
    }
    return t;
  }

  std::string request_id_of(const json& body) const {
    if (!body.contains("request_id")) return router::new_request_id();
    const json& v = body["request_id"];
    if (!v.is_string() || v.get<std::string>().empty() || v.get<std::string>().size() > 128) {
      throw HttpError{400, "invalid_request", "request_id must be a non-empty string of at most 128 bytes"};
    }
    return v.get<std::string>();
  }

  // RAII for the in-flight count and the worker slot. The slot (and its
  // engine session) can be given back early (release_worker) once a request
  // only waits. With a `combinable` text the request may instead be served
  // by another request's batch (served(): the ticket holds its prediction
  // or routed answer), and then never holds a slot.
  struct Admission {
    Impl& impl;
    std::optional<std::size_t> slot;
    Gate::Ticket ticket;
    std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
    // A single-text request passes its text and request id (both must
    // outlive the admission).
    Admission(Impl& i, std::string_view text, const std::string& request_id) : Admission(i, text, &request_id) {}
    explicit Admission(Impl& i) : Admission(i, std::nullopt, nullptr) {}
    Admission(Impl& i, std::optional<std::string_view> combinable, const std::string* request_id) : impl(i) {
      ticket.request_id = request_id;
      ticket.t0 = t0;
      ++impl.in_flight;
      if (impl.draining.load()) {
        done();
        throw HttpError{503, "draining", "the service is shutting down"};
      }
      if (combinable) {
        ticket.text = *combinable;
        ticket.combinable = impl.o.engine_batch > 1;
      }
      std::size_t s = 0;
      switch (impl.gate.enter(ticket, s)) {
        case Gate::Entry::kSlot:
          slot = s;
          break;
        case Gate::Entry::kServed:
          break;
        case Gate::Entry::kFull:
          done();
          impl.shed.inc({});
          throw HttpError{503, "overloaded", "the request queue is full; retry later"};
      }
    }
    bool served() const { return !slot && ticket.done; }
    ~Admission() {
      release_worker();
      done();
    }
    Worker& worker() { return impl.workers.at(*slot); }
    engine::Session& session() { return worker().session; }
    void release_worker() {
      if (!slot) return;
      impl.gate.leave(*slot);
      slot.reset();
    }
    Admission(const Admission&) = delete;
    Admission& operator=(const Admission&) = delete;
    void done() {
      if (--impl.in_flight == 0) {
        std::lock_guard<std::mutex> lock(impl.drain_mu);
        impl.drain_cv.notify_all();
      }
    }
  };

  // The outcome of a single-text request (adm.ticket): computed by another
  // request's batch, or by this one (holding a slot) together with up to
  // engine_batch - 1 waiting requests. The slot holder classifies the batch
  // in one encoder call; in the edge role it then gives its slot back, decides
  // every answer, and commits the audit rows of the answers that need no
  // cloud call in one transaction before it wakes their owners: one wake-up
  // per request and one commit per batch, where each request thread used to
  // wake for its prediction and again for its commit. Throws what the model
  // or the audit commit threw for this text.
  void serve_ticket(Admission& adm) {
    Gate::Ticket& own = adm.ticket;
    if (!adm.served()) {
      Worker& w = adm.worker();
      w.batch.assign(1, &own);
      if (o.engine_batch > 1) gate.take(o.engine_batch - 1, w.batch);
      try {
        w.texts.clear();
        for (const Gate::Ticket* t : w.batch) w.texts.push_back(t->text);
        engine_batch_texts.observe({}, static_cast<double>(w.texts.size()));
        model.classify(w.texts, w.session, w.preds);
        for (std::size_t i = 0; i < w.batch.size(); ++i) w.batch[i]->prediction = std::move(w.preds[i]);
      } catch (...) {
        // Texts reach the model validated (UTF-8, length), so a failed call
        // is not one text's fault: it fails every request in it. Nothing may
        // leave a taken ticket without an outcome: its owner waits for one.
        for (Gate::Ticket* t : w.batch) t->error = std::current_exception();
      }
      // The worker's buffers belong to the next slot holder once the slot is
      // given back.
      const std::vector<Gate::Ticket*> batch = w.batch;
      if (router != nullptr) finish_batch(adm, batch);
      gate.complete(std::span(batch).subspan(1));
    }
    if (own.error) std::rethrow_exception(own.error);
  }

  // Edge role, on the slot holder: gives the slot back (deciding needs no
  // engine session, and holding the slot for it would delay the next encoder
  // batch), decides each classified ticket, then finishes together the
  // answers that await no cloud call.
  void finish_batch(Admission& adm, std::span<Gate::Ticket* const> batch) {
    adm.release_worker();
    for (Gate::Ticket* t : batch) {
      if (t->error) continue;
      try {
        t->routed = router->decide(*t->request_id, t->text, t->prediction, t->t0);
      } catch (...) {
        t->error = std::current_exception();
      }
    }
    const auto finishes_here = [](const Gate::Ticket* t) { return !t->error && !t->routed.awaiting_cloud; };
    std::vector<router::RouteResult*> done;
    std::vector<std::string_view> texts;
    for (Gate::Ticket* t : batch) {
      if (!finishes_here(t)) continue;
      done.push_back(&t->routed);
      texts.push_back(t->text);
    }
    if (done.empty()) return;
    try {
      router->finish_batch(done, texts);
    } catch (...) {
      for (Gate::Ticket* t : batch) {
        if (finishes_here(t)) t->error = std::current_exception();
      }
    }
  }

  // A single-text request (give_back_worker) was admitted with its text as
  // the ticket's; a batch request keeps its slot and classifies text by text.
  void answer(JsonWriter& w, const std::string& request_id, const std::string& text, Admission& adm,
              bool give_back_worker) {
    if (o.role == Role::kCloud) {
      const auto t0 = give_back_worker ? adm.t0 : std::chrono::steady_clock::now();
      std::vector<engine::Prediction> preds;
      if (!give_back_worker) {
        const std::string_view v = text;
        model.classify(std::span(&v, 1), adm.session(), preds);
      } else {
        serve_ticket(adm);
        preds.push_back(std::move(adm.ticket.prediction));
      }
      const engine::Prediction& p = preds.front();
      const auto& names = model.labels().names();
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      answers.inc({"cloud_model", "cloud_role"});
      answer_seconds.observe({"cloud_model"}, ms / 1000.0);
      w.begin_object();
      w.key("request_id").value(request_id);
      w.key("label").value(names[static_cast<std::size_t>(p.label)]);
      w.key("confidence").value(static_cast<double>(p.confidence));
      w.key("probabilities").begin_object();
      for (std::size_t i = 0; i < p.probabilities.size(); ++i) w.key(names[i]).value(p.probabilities[i]);
      w.end_object();
      w.key("route").value("cloud_model");
      w.key("latency_ms").value(ms);
      w.end_object();
      return;
    }
    router::RouteResult r;
    try {
      if (!give_back_worker) {
        r = router->route(request_id, text, adm.session());
      } else {
        serve_ticket(adm);
        r = std::move(adm.ticket.routed);
        if (r.awaiting_cloud) router->finish(r, text);
      }
    } catch (const Error& e) {
      // The edge model refused the text, or the audit commit failed: either
      // way nothing is acknowledged.
      std::fprintf(stderr, "edgeroute serve: request %s not answered: %s\n", request_id.c_str(), e.what());
      throw HttpError{503, "unavailable", std::string("the answer could not be recorded: ") + e.what()};
    }
    answers.inc({r.route, std::string(router::to_string(r.reason))});
    answer_seconds.observe({r.route}, r.latency_ms / 1000.0);
    if (r.degraded) degraded.inc({});
    cost.inc({}, r.cost_usd);
    cloud_only_cost.inc({}, r.cloud_only_cost_usd);
    if (mon != nullptr) {
      monitor::Observation ob;
      ob.ts_us = SystemClock::instance().unix_micros();
      ob.cloud = r.route == "cloud";
      ob.reason = static_cast<int>(r.reason);
      ob.degraded = r.degraded;
      ob.cost_usd = r.cost_usd;
      ob.cloud_only_cost_usd = r.cloud_only_cost_usd;
      ob.latency_ms = r.latency_ms;
      ob.edge_confidence = r.edge_confidence;
      const auto id = model.labels().id(r.edge_label);
      ob.edge_label = id ? static_cast<int>(*id) : -1;
      ob.energy = r.signals.energy;
      ob.complexity = r.complexity.score;
      mon->record(ob);
    }
    r.write_json(w);
  }

  // The checks every monitor endpoint shares: token, a monitor, a known
  // ?window= (default 1h).
  std::string monitor_window(const httplib::Request& req) const {
    authorize(req);
    if (mon == nullptr) throw HttpError{404, "no_monitor", "this node runs without a monitor"};
    const std::string window = req.has_param("window") ? req.get_param_value("window") : "1h";
    if (window != "1m" && window != "1h" && window != "24h") {
      throw HttpError{400, "invalid_request", "window must be 1m, 1h or 24h"};
    }
    return window;
  }

  template <typename Fn>
  void handle(const std::string& endpoint, const httplib::Request& req, httplib::Response& res, Fn fn) {
    const auto t0 = std::chrono::steady_clock::now();
    try {
      fn();
    } catch (const HttpError& e) {
      reply_error(res, e);
      if (e.status == 503) res.set_header("Retry-After", "1");
    } catch (const std::exception& e) {
      reply_error(res, {500, "internal", e.what()});
    }
    (void)req;
    if (mon != nullptr && res.status >= 400 && (endpoint == "classify" || endpoint == "classify_batch")) {
      mon->record_error(SystemClock::instance().unix_micros(), res.status);
    }
    http_requests.inc({endpoint, std::to_string(res.status)});
    http_seconds.observe({endpoint}, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }

  void routes() {
    http.Post("/v1/classify", [this](const httplib::Request& req, httplib::Response& res) {
      handle("classify", req, res, [&] {
        authorize(req);
        const json body = parse_body(req);
        if (!body.contains("text")) throw HttpError{400, "invalid_request", "missing field \"text\""};
        const std::string text = text_field(body["text"], "text");
        const std::string id = request_id_of(body);
        Admission adm(*this, text, id);
        std::string out;
        JsonWriter w(out);
        answer(w, id, text, adm, true);
        reply_body(res, 200, std::move(out));
      });
    });
    http.Post("/v1/classify/batch", [this](const httplib::Request& req, httplib::Response& res) {
      handle("classify_batch", req, res, [&] {
        authorize(req);
        const json body = parse_body(req);
        if (!body.contains("texts") || !body["texts"].is_array()) {
          throw HttpError{400, "invalid_request", "missing array field \"texts\""};
        }
        const json& texts = body["texts"];
        if (texts.empty()) throw HttpError{400, "invalid_request", "\"texts\" is empty"};
        if (texts.size() > o.max_batch) {
          throw HttpError{413, "batch_too_large", "at most " + std::to_string(o.max_batch) + " texts per batch"};
        }
        std::vector<std::string> items;
        for (std::size_t i = 0; i < texts.size(); ++i)
          items.push_back(text_field(texts[i], "texts[" + std::to_string(i) + "]"));
        Admission adm(*this);
        std::string out;
        JsonWriter w(out);
        w.begin_object().key("results").begin_array();
        for (const std::string& t : items) answer(w, router::new_request_id(), t, adm, false);
        w.end_array().end_object();
        reply_body(res, 200, std::move(out));
      });
    });
    http.Post("/v1/feedback", [this](const httplib::Request& req, httplib::Response& res) {
      handle("feedback", req, res, [&] {
        authorize(req);
        if (o.role != Role::kEdge || router == nullptr || router->audit() == nullptr) {
          throw HttpError{409, "no_audit", "feedback needs an edge node with an audit log (--audit)"};
        }
        const json body = parse_body(req);
        if (!body.contains("request_id") || !body["request_id"].is_string()) {
          throw HttpError{400, "invalid_request", "missing string field \"request_id\""};
        }
        if (!body.contains("label") || !body["label"].is_string()) {
          throw HttpError{400, "invalid_request", "missing string field \"label\""};
        }
        const std::string id = body["request_id"].get<std::string>();
        const std::string label = body["label"].get<std::string>();
        if (!model.labels().id(label)) throw HttpError{400, "unknown_label", "'" + label + "' is not a known label"};
        Admission adm(*this);
        router::AuditSink& sink = router->audit()->sink();
        const std::optional<router::AuditRecord> row = sink.find(id);
        if (!row) throw HttpError{404, "unknown_request", "no answer with request_id '" + id + "'"};
        router::Feedback f;
        f.request_id = id;
        f.label = label;
        f.ts_us = SystemClock::instance().unix_micros();
        sink.append_feedback(f);
        const bool correct = row->label == label;
        feedback.inc({row->route, correct ? "true" : "false"});
        if (mon != nullptr) mon->record_feedback(f.ts_us, row->route == "cloud", correct);
        reply(res, 200, {{"request_id", id}, {"label", label}, {"recorded", true}, {"answer_was_correct", correct}});
      });
    });
    http.Get("/v1/stats", [this](const httplib::Request& req, httplib::Response& res) {
      handle("stats", req, res, [&] {
        authorize(req);
        json j = router != nullptr ? router->ledger().stats() : json::object();
        j["role"] = o.role == Role::kEdge ? "edge" : "cloud";
        j["node"] = o.node;
        if (router != nullptr && router->cloud() != nullptr) {
          const router::CloudStats st = router->cloud()->stats();
          j["cloud"] = {{"backend", router->cloud()->backend().describe()},
                        {"breaker", std::string(router::to_string(st.state))},
                        {"calls", st.calls},
                        {"successes", st.successes},
                        {"retries", st.retries}};
        }
        reply(res, 200, j);
      });
    });
    http.Get("/healthz", [this](const httplib::Request& req, httplib::Response& res) {
      handle("healthz", req, res, [&] { reply(res, 200, {{"status", "ok"}}); });
    });
    http.Get("/readyz", [this](const httplib::Request& req, httplib::Response& res) {
      handle("readyz", req, res, [&] {
        if (!self.ready()) throw HttpError{503, "not_ready", draining ? "draining" : "starting"};
        reply(res, 200, {{"status", "ready"}});
      });
    });
    http.Get("/metrics", [this](const httplib::Request& req, httplib::Response& res) {
      handle("metrics", req, res, [&] {
        authorize(req);
        res.status = 200;
        res.set_content(metrics.render(), "text/plain; version=0.0.4");
      });
    });
    http.Get("/v1/monitor", [this](const httplib::Request& req, httplib::Response& res) {
      handle("monitor", req, res, [&] { reply(res, 200, mon->document(monitor_window(req))); });
    });
    http.Get("/v1/health/report", [this](const httplib::Request& req, httplib::Response& res) {
      handle("health_report", req, res, [&] { reply(res, 200, mon->health_report(monitor_window(req))); });
    });
    // The page is static and holds no data, so it needs no token; its
    // fetches of /v1/monitor carry the token from the URL fragment.
    http.Get("/dashboard", [this](const httplib::Request& req, httplib::Response& res) {
      handle("dashboard", req, res, [&] {
        if (mon == nullptr) throw HttpError{404, "no_monitor", "this node runs without a monitor"};
        res.status = 200;
        res.set_header("Cache-Control", "no-store");
        res.set_header("Content-Security-Policy",
                       "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                       "connect-src 'self'; img-src data:");
        res.set_content(monitor::dashboard_html(), "text/html; charset=utf-8");
      });
    });
    // Errors httplib produces itself (unknown path, body over the limit)
    // get a JSON body too.
    http.set_error_handler([](const httplib::Request&, httplib::Response& res) {
      if (!res.body.empty()) return;
      std::string code = "bad_request", message = "the request could not be parsed";
      if (res.status == 404) {
        code = "not_found";
        message = "no such endpoint";
      } else if (res.status == 413) {
        code = "body_too_large";
        message = "the body exceeds the size limit";
      } else if (res.status == 405) {
        code = "method_not_allowed";
        message = "method not allowed on this endpoint";
      }
      reply(res, res.status, {{"error", {{"code", code}, {"message", message}}}});
    });
  }
};

Service::Service(ServiceOptions options, const engine::Classifier& model, router::Router* router,
                 monitor::Monitor* monitor)
    : impl_(std::make_unique<Impl>(std::move(options), model, router, monitor, *this)) {
  if (impl_->o.role == Role::kEdge && router == nullptr) throw Error("serve: the edge role needs a router");
  if (impl_->o.role == Role::kCloud && monitor != nullptr) throw Error("serve: the monitor belongs to the edge role");
  if (impl_->o.workers == 0) throw Error("serve: --workers must be at least 1");
  const std::size_t threads = std::max<std::size_t>(impl_->o.max_connections, impl_->o.workers + 1);
  impl_->http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  impl_->http.set_payload_max_length(impl_->o.max_body_bytes);
  impl_->http.set_keep_alive_max_count(100000);
  impl_->http.set_tcp_nodelay(true);
  impl_->http.set_read_timeout(30, 0);
  impl_->routes();
}

Service::~Service() = default;

int Service::bind() {
  Impl& m = *impl_;
  if (m.o.port == 0) {
    port_ = m.http.bind_to_any_port(m.o.host);
  } else {
    port_ = m.http.bind_to_port(m.o.host, m.o.port) ? m.o.port : -1;
  }
  if (port_ <= 0) throw Error("serve: cannot listen on " + m.o.host + ":" + std::to_string(m.o.port));
  return port_;
}

void Service::run() {
  ready_ = true;
  impl_->http.listen_after_bind();
  ready_ = false;
}

void Service::drain() {
  Impl& m = *impl_;
  ready_ = false;
  m.draining = true;
  {
    std::unique_lock<std::mutex> lock(m.drain_mu);
    m.drain_cv.wait_for(lock, m.o.drain_timeout, [&] { return m.in_flight.load() == 0; });
  }
  m.http.shutdown();
}

void Service::stop() {
  ready_ = false;
  impl_->http.shutdown();
}

}  // namespace edgeroute::server
