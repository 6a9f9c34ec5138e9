// Tests of the pure parts of edgeroute_cloud: the circuit breaker state
// machine and the retry budget under a FakeClock, Retry-After parsing, the
// failure/state names and cloud URL validation.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "edgeroute/common/clock.h"
#include "edgeroute/router/cloud.h"

namespace edgeroute::router {
namespace {

using namespace std::chrono_literals;

TEST(CircuitBreaker, OpensAfterThresholdConsecutiveFailures) {
  FakeClock clock;
  CircuitBreaker b(3, 5000ms, clock);
  EXPECT_EQ(b.state(), BreakerState::kClosed);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(b.allow());
    b.on_failure();
  }
  EXPECT_EQ(b.state(), BreakerState::kClosed);
  EXPECT_EQ(b.consecutive_failures(), 2);
  ASSERT_TRUE(b.allow());
  b.on_failure();
  EXPECT_EQ(b.state(), BreakerState::kOpen);
  EXPECT_EQ(b.transitions_to_open(), 1u);
  EXPECT_FALSE(b.allow());
  EXPECT_FALSE(b.allow());
}

TEST(CircuitBreaker, SuccessResetsTheConsecutiveCount) {
  FakeClock clock;
  CircuitBreaker b(2, 1000ms, clock);
  ASSERT_TRUE(b.allow());
  b.on_failure();
  ASSERT_TRUE(b.allow());
  b.on_success();
  EXPECT_EQ(b.consecutive_failures(), 0);
  ASSERT_TRUE(b.allow());
  b.on_failure();
  EXPECT_EQ(b.state(), BreakerState::kClosed);
  ASSERT_TRUE(b.allow());
  b.on_failure();
  EXPECT_EQ(b.state(), BreakerState::kOpen);
}

TEST(CircuitBreaker, HalfOpenAfterWaitAdmitsOneProbeThatClosesOnSuccess) {
  FakeClock clock;
  CircuitBreaker b(1, 5000ms, clock);
  ASSERT_TRUE(b.allow());
  b.on_failure();
  ASSERT_EQ(b.state(), BreakerState::kOpen);
  clock.advance(4999ms);
  EXPECT_FALSE(b.allow());
  EXPECT_EQ(b.state(), BreakerState::kOpen);
  clock.advance(1ms);
  EXPECT_EQ(b.state(), BreakerState::kHalfOpen);
  EXPECT_EQ(b.transitions_to_half_open(), 1u);
  EXPECT_TRUE(b.allow());   // the probe
  EXPECT_FALSE(b.allow());  // only one
  EXPECT_FALSE(b.allow());
  b.on_success();
  EXPECT_EQ(b.state(), BreakerState::kClosed);
  EXPECT_EQ(b.transitions_to_closed(), 1u);
  EXPECT_TRUE(b.allow());
  EXPECT_TRUE(b.allow());
}

TEST(CircuitBreaker, ProbeFailureReopensForAnotherWait) {
  FakeClock clock;
  CircuitBreaker b(2, 1000ms, clock);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(b.allow());
    b.on_failure();
  }
  clock.advance(1000ms);
  ASSERT_TRUE(b.allow());
  b.on_failure();  // one failure is enough in half-open
  EXPECT_EQ(b.state(), BreakerState::kOpen);
  EXPECT_EQ(b.transitions_to_open(), 2u);
  clock.advance(999ms);
  EXPECT_FALSE(b.allow());
  clock.advance(1ms);
  EXPECT_TRUE(b.allow());
  b.on_success();
  EXPECT_EQ(b.state(), BreakerState::kClosed);
  EXPECT_EQ(b.transitions_to_open(), 2u);
  EXPECT_EQ(b.transitions_to_half_open(), 2u);
  EXPECT_EQ(b.transitions_to_closed(), 1u);
}

TEST(CircuitBreaker, LateResultsWhileOpenAreIgnored) {
  FakeClock clock;
  CircuitBreaker b(1, 1000ms, clock);
  ASSERT_TRUE(b.allow());  // admitted while closed, finishes later
  ASSERT_TRUE(b.allow());
  b.on_failure();
  ASSERT_EQ(b.state(), BreakerState::kOpen);
  b.on_success();  // the late one
  EXPECT_EQ(b.state(), BreakerState::kOpen);
  b.on_failure();
  EXPECT_EQ(b.transitions_to_open(), 1u);
}

TEST(RetryBudget, FloorRefillsPerSecond) {
  FakeClock clock;
  RetryBudget budget(0.0, 2, clock);
  EXPECT_TRUE(budget.try_retry());
  EXPECT_TRUE(budget.try_retry());
  EXPECT_FALSE(budget.try_retry());
  clock.advance(500ms);
  EXPECT_TRUE(budget.try_retry());
  EXPECT_FALSE(budget.try_retry());
  clock.advance(10s);  // capped at min_per_s
  EXPECT_TRUE(budget.try_retry());
  EXPECT_TRUE(budget.try_retry());
  EXPECT_FALSE(budget.try_retry());
}

TEST(RetryBudget, RatioEarnsRetriesPerCall) {
  FakeClock clock;
  RetryBudget budget(0.25, 0, clock);
  EXPECT_FALSE(budget.try_retry());
  for (int i = 0; i < 3; ++i) budget.on_call();
  EXPECT_FALSE(budget.try_retry());
  budget.on_call();
  EXPECT_TRUE(budget.try_retry());
  EXPECT_FALSE(budget.try_retry());
}

TEST(RetryBudget, ZeroBudgetNeverRetries) {
  FakeClock clock;
  RetryBudget budget(0.0, 0, clock);
  for (int i = 0; i < 100; ++i) budget.on_call();
  clock.advance(60s);
  EXPECT_FALSE(budget.try_retry());
}

TEST(RetryAfter, ParsesSecondsAndHttpDates) {
  const std::int64_t now = 1'700'000'000'000'000;  // 2023-11-14T22:13:20Z
  EXPECT_EQ(parse_retry_after("120", now), 120.0);
  EXPECT_EQ(parse_retry_after(" 0 ", now), 0.0);
  EXPECT_EQ(parse_retry_after("1.5", now), 1.5);
  EXPECT_EQ(parse_retry_after("Tue, 14 Nov 2023 22:13:50 GMT", now), 30.0);
  EXPECT_EQ(parse_retry_after("Tuesday, 14-Nov-23 22:14:20 GMT", now), 60.0);
  EXPECT_EQ(parse_retry_after("Tue Nov 14 22:13:30 2023", now), 10.0);
  EXPECT_EQ(parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", now), 0.0);  // past
  EXPECT_FALSE(parse_retry_after("", now).has_value());
  EXPECT_FALSE(parse_retry_after("soon", now).has_value());
  EXPECT_FALSE(parse_retry_after("-5", now).has_value());
  EXPECT_FALSE(parse_retry_after("1.2.3", now).has_value());
}

TEST(CloudNames, FailureAndStateNames) {
  EXPECT_EQ(to_string(CloudFailure::kNone), "none");
  EXPECT_EQ(to_string(CloudFailure::kTimeout), "timeout");
  EXPECT_EQ(to_string(CloudFailure::kConnect), "connect");
  EXPECT_EQ(to_string(CloudFailure::kHttpStatus), "http_status");
  EXPECT_EQ(to_string(CloudFailure::kRejected), "rejected");
  EXPECT_EQ(to_string(CloudFailure::kProtocol), "protocol");
  EXPECT_EQ(to_string(CloudFailure::kBreakerOpen), "breaker_open");
  EXPECT_EQ(to_string(CloudFailure::kInFlightCap), "in_flight_cap");
  EXPECT_EQ(to_string(CloudFailure::kRetryAfter), "retry_after");
  EXPECT_EQ(static_cast<std::size_t>(CloudFailure::kRetryAfter) + 1, kCloudFailureCount);
  EXPECT_EQ(to_string(BreakerState::kClosed), "closed");
  EXPECT_EQ(to_string(BreakerState::kOpen), "open");
  EXPECT_EQ(to_string(BreakerState::kHalfOpen), "half_open");
}

void expect_config_error(const std::string& url, const std::string& fragment) {
  CloudConfig config;
  config.url = url;
  config.labels = {"billing", "card"};
  try {
    make_cloud_backend(config);
    ADD_FAILURE() << "no error for " << url;
  } catch (const CloudError& e) {
    ADD_FAILURE() << "a config error must be edgeroute::Error, not CloudError: " << e.what();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(CloudUrl, RejectsBadUrlsNamingThem) {
  expect_config_error("ftp://127.0.0.1:1", "ftp://127.0.0.1:1");
  expect_config_error("127.0.0.1:9001", "no scheme");
  expect_config_error("grpc+http://127.0.0.1:9001", "unknown protocol 'grpc'");
  expect_config_error("http://:9001", "no host");
  expect_config_error("http://127.0.0.1:99999", "bad port '99999'");
  expect_config_error("http://127.0.0.1:abc", "bad port");
  expect_config_error("http://user:secret@127.0.0.1:9001", "credentials");
  expect_config_error("http://127.0.0.1:9001/x?y=1", "query");
  expect_config_error("kserve+http://127.0.0.1:9001/v1/models/m", "/v2/models/NAME");
  expect_config_error("kserve+http://127.0.0.1:9001/v2/models/", "/v2/models/NAME");
}

TEST(CloudUrl, DescribesWithoutSecrets) {
  CloudConfig config;
  config.labels = {"billing", "card"};
  config.bearer_token = "sk-secret";
  config.url = "http://127.0.0.1:9001";
  EXPECT_EQ(make_cloud_backend(config)->describe(), "edgeroute http://127.0.0.1:9001");
  config.url = "openai+http://localhost:8080/";
  const std::string openai = make_cloud_backend(config)->describe();
  EXPECT_EQ(openai, "openai http://localhost:8080/v1 model gpt-4o-mini");
  EXPECT_EQ(openai.find("sk-secret"), std::string::npos);
  config.url = "openai+http://[::1]:8080/api/v1";
  EXPECT_EQ(make_cloud_backend(config)->describe(), "openai http://[::1]:8080/api/v1 model gpt-4o-mini");
}

TEST(CloudConfigCheck, RejectsEmptyOrDuplicateLabelsAndMissingVocab) {
  CloudConfig config;
  config.url = "http://127.0.0.1:9001";
  EXPECT_THROW(make_cloud_backend(config), Error);
  config.labels = {"a", "b", "a"};
  EXPECT_THROW(make_cloud_backend(config), Error);
  config.labels = {"a", "b"};
  config.max_connections = 0;
  EXPECT_THROW(make_cloud_backend(config), Error);
  config.max_connections = 4;
  config.url = "kserve+http://127.0.0.1:9001/v2/models/m";
  try {
    make_cloud_backend(config);
    ADD_FAILURE() << "no error without vocab_dir";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("vocab_dir"), std::string::npos) << e.what();
  }
  config.vocab_dir = "/nonexistent/edgeroute-vocab";
  EXPECT_THROW(make_cloud_backend(config), Error);
}

}  // namespace
}  // namespace edgeroute::router
