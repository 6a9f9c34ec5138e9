// The Prometheus registry: exposition format, cumulative histogram buckets,
// name validation and concurrent updates.
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "edgeroute/common/error.h"
#include "edgeroute/monitor/metrics.h"

namespace edgeroute::monitor {
namespace {

TEST(Metrics, TextExposition) {
  Registry r;
  Family& c = r.counter("x_requests_total", "Requests", {"route"});
  Family& g = r.gauge("x_ready", "Ready");
  Family& h = r.histogram("x_seconds", "Latency", {0.1, 1.0}, {"route"});
  c.inc({"edge"});
  c.inc({"edge"}, 2);
  c.inc({"cl\"oud"});
  g.set({}, 1);
  h.observe({"edge"}, 0.0625);
  h.observe({"edge"}, 0.5);
  h.observe({"edge"}, 4);
  const std::string t = r.render();
  for (const char* line :
       {"# HELP x_requests_total Requests\n", "# TYPE x_requests_total counter\n",
        "x_requests_total{route=\"edge\"} 3\n", "x_requests_total{route=\"cl\\\"oud\"} 1\n", "# TYPE x_ready gauge\n",
        "x_ready 1\n", "# TYPE x_seconds histogram\n",
        "x_seconds_bucket{route=\"edge\",le=\"0.10000000000000001\"} 1\n",
        "x_seconds_bucket{route=\"edge\",le=\"1\"} 2\n", "x_seconds_bucket{route=\"edge\",le=\"+Inf\"} 3\n",
        "x_seconds_sum{route=\"edge\"} 4.5625\n", "x_seconds_count{route=\"edge\"} 3\n"}) {
    EXPECT_NE(t.find(line), std::string::npos) << line << "\n" << t;
  }
}

TEST(Metrics, NamesAreValidated) {
  Registry r;
  EXPECT_THROW(r.counter("no_suffix", "x"), Error);
  EXPECT_THROW(r.gauge("1bad", "x"), Error);
  EXPECT_THROW(r.gauge("ok", "x", {"le"}), Error);
  EXPECT_THROW(r.gauge("ok2", "x", {"__reserved"}), Error);
  EXPECT_THROW(r.histogram("h", "x", {1.0, 0.5}), Error);
  r.gauge("dup", "x");
  EXPECT_THROW(r.gauge("dup", "x"), Error);
  Family& f = r.counter("n_total", "x", {"a"});
  EXPECT_THROW(f.inc({}), Error);
}

TEST(Metrics, ConcurrentUpdatesAreNotLost) {
  Registry r;
  Family& c = r.counter("c_total", "x", {"k"});
  Family& h = r.histogram("h_seconds", "x", latency_buckets());
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) {
        c.inc({t % 2 == 0 ? "a" : "b"});
        h.observe({}, 0.001);
      }
    });
  }
  for (auto& t : ts) t.join();
  const std::string text = r.render();
  EXPECT_NE(text.find("c_total{k=\"a\"} 20000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("c_total{k=\"b\"} 20000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_seconds_count 40000\n"), std::string::npos) << text;
}

TEST(Metrics, CollectorsRunBeforeRendering) {
  Registry r;
  Family& g = r.gauge("g", "x");
  int calls = 0;
  r.on_collect([&] { g.set({}, ++calls); });
  EXPECT_NE(r.render().find("g 1\n"), std::string::npos);
  EXPECT_NE(r.render().find("g 2\n"), std::string::npos);
}

}  // namespace
}  // namespace edgeroute::monitor
