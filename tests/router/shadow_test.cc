// Shadow sampling against a real loopback cloud server (the fake edgeroute
// cloud role): which ids are chosen, what is sent, agreement and cost, and a
// full queue that drops instead of blocking.
#include "edgeroute/router/shadow.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "peers/fake_cloud_servers.h"

namespace edgeroute::router {
namespace {

std::unique_ptr<ResilientCloud> cloud_for(const test::FakeCloudServer& server, std::vector<std::string> labels) {
  CloudConfig c;
  c.url = server.base_url();
  c.labels = std::move(labels);
  return std::make_unique<ResilientCloud>(make_cloud_backend(c), ResilienceOptions{});
}

TEST(ShadowSelected, IsDeterministicAndNearTheFraction) {
  int chosen = 0;
  constexpr int kIds = 20000;
  for (int i = 0; i < kIds; ++i) {
    const std::string id = "req-" + std::to_string(i);
    const bool a = shadow_selected(id, 7, 0.1);
    EXPECT_EQ(a, shadow_selected(id, 7, 0.1));
    chosen += a ? 1 : 0;
  }
  // Binomial(20000, 0.1): sd ~ 42; 6 sd either side.
  EXPECT_NEAR(chosen, kIds / 10, 260);
  EXPECT_FALSE(shadow_selected("x", 7, 0.0));
  EXPECT_TRUE(shadow_selected("x", 7, 1.0));
}

TEST(ShadowSelected, TheSeedChangesTheChoice) {
  int differ = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = "r" + std::to_string(i);
    differ += shadow_selected(id, 1, 0.5) != shadow_selected(id, 2, 0.5) ? 1 : 0;
  }
  EXPECT_GT(differ, 350);
  EXPECT_LT(differ, 650);
}

TEST(ShadowSampler, ReportsAgreementAndCostOfEachCall) {
  const std::vector<std::string> labels = {"refund", "card", "other"};
  test::FakeEdgerouteServer server(labels);
  server.start();
  auto cloud = cloud_for(server, labels);
  std::vector<ShadowResult> results;
  std::mutex mu;
  ShadowSampler sampler(*cloud, {1.0, 3, 16}, 0.0136, [&](const ShadowResult& r) {
    std::lock_guard<std::mutex> lock(mu);
    results.push_back(r);
  });
  // The fake cloud answers the first label named in the text.
  EXPECT_TRUE(sampler.offer("a", "I want a refund", "refund"));
  EXPECT_TRUE(sampler.offer("b", "my card is blocked", "refund"));
  EXPECT_TRUE(sampler.offer("c", "card [EMAIL] card", "card"));
  sampler.flush();
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[0].agree);
  EXPECT_FALSE(results[1].agree);
  EXPECT_EQ(results[1].cloud_label, "card");
  EXPECT_TRUE(results[2].agree);
  EXPECT_EQ(server.last_request()["text"], "card [EMAIL] card");  // sent as given: the redacted text
  for (const ShadowResult& r : results) EXPECT_DOUBLE_EQ(r.cost_usd, 0.0136);
  const ShadowStats st = sampler.stats();
  EXPECT_EQ(st.selected, 3u);
  EXPECT_EQ(st.answered, 3u);
  EXPECT_EQ(st.agreed, 2u);
  EXPECT_NEAR(st.cost_usd, 3 * 0.0136, 1e-12);
}

TEST(ShadowSampler, AFailedCallIsReportedAndCostsNothing) {
  const std::vector<std::string> labels = {"x", "y"};
  test::FakeEdgerouteServer server(labels);
  server.start();
  server.fail_next(2, 500);  // the call and its retry
  auto cloud = cloud_for(server, labels);
  ShadowResult last;
  ShadowSampler sampler(*cloud, {1.0, 0, 4}, 0.01, [&](const ShadowResult& r) { last = r; });
  sampler.offer("id", "x", "x");
  sampler.flush();
  EXPECT_FALSE(last.ok);
  EXPECT_FALSE(last.agree);
  EXPECT_EQ(last.failure, CloudFailure::kHttpStatus);
  EXPECT_EQ(last.cost_usd, 0);
  EXPECT_EQ(sampler.stats().failed, 1u);
}

TEST(ShadowSampler, AFullQueueDropsWithoutBlocking) {
  const std::vector<std::string> labels = {"x", "y"};
  test::FakeEdgerouteServer server(labels);
  server.start();
  server.hold();
  auto cloud = cloud_for(server, labels);
  ShadowSampler sampler(*cloud, {1.0, 0, 2}, 0.01, nullptr);
  ASSERT_TRUE(sampler.offer("0", "x", "x"));
  ASSERT_TRUE(server.wait_held(1));  // the worker is busy with the first call
  const auto t0 = std::chrono::steady_clock::now();
  int queued = 0;
  for (int i = 1; i <= 10; ++i) queued += sampler.offer(std::to_string(i), "x", "x") ? 1 : 0;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(500));
  EXPECT_EQ(queued, 2);
  EXPECT_EQ(sampler.stats().dropped, 8u);
  server.release();
  sampler.flush();
  EXPECT_EQ(sampler.stats().answered, 3u);
}

TEST(ShadowSampler, UnselectedIdsAreNotSent) {
  const std::vector<std::string> labels = {"x", "y"};
  test::FakeEdgerouteServer server(labels);
  server.start();
  auto cloud = cloud_for(server, labels);
  ShadowSampler sampler(*cloud, {0.25, 11, 1000}, 0.01, nullptr);
  int expected = 0;
  for (int i = 0; i < 100; ++i) {
    const std::string id = "q" + std::to_string(i);
    expected += shadow_selected(id, 11, 0.25) ? 1 : 0;
    sampler.offer(id, "x", "x");
  }
  sampler.flush();
  EXPECT_EQ(server.requests(), expected);
  EXPECT_EQ(sampler.stats().offered, 100u);
  EXPECT_EQ(sampler.stats().selected, static_cast<std::uint64_t>(expected));
}

TEST(ShadowSampler, RefusesAFractionOutsideZeroToOne) {
  const std::vector<std::string> labels = {"x", "y"};
  test::FakeEdgerouteServer server(labels);
  server.start();
  auto cloud = cloud_for(server, labels);
  EXPECT_THROW(ShadowSampler(*cloud, {1.5, 0, 4}, 0.01, nullptr), Error);
  EXPECT_THROW(ShadowSampler(*cloud, {0.5, 0, 0}, 0.01, nullptr), Error);
}

}  // namespace
}  // namespace edgeroute::router
