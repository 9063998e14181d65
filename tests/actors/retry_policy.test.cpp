// retry_policy: how many attempts, and which errors retry.

#include <catch2/catch.hpp>

#include <caf/sec.hpp>

#include <troupe/actors/fetch_errc.hpp>
#include <troupe/actors/flow_errc.hpp>
#include <troupe/actors/retry_policy.hpp>

using namespace std::chrono_literals;
using troupe::actors::backoff;
using troupe::actors::fetch_errc;
using troupe::actors::flow_errc;
using troupe::actors::retry_policy;

TEST_CASE("a retry policy allows at most max_attempts attempts", "[actors][policy][retry]") {
  auto p = retry_policy::up_to(3, backoff::constant(10ms));
  auto err = caf::make_error(fetch_errc::attempt_timeout);
  CHECK(p.should_retry(1, err));
  CHECK(p.should_retry(2, err));
  CHECK_FALSE(p.should_retry(3, err));
  CHECK_FALSE(retry_policy::never().should_retry(1, err));
  CHECK_FALSE(p.should_retry(1, caf::error{})); // success is not retried
}

TEST_CASE("a retry policy with a list retries only the listed errors",
          "[actors][policy][retry]") {
  auto p = retry_policy::up_to(5, backoff::none())
             .retry_on({fetch_errc::attempt_timeout, caf::sec::request_timeout});
  CHECK(p.should_retry(1, caf::make_error(fetch_errc::attempt_timeout, "with context")));
  CHECK(p.should_retry(1, caf::make_error(caf::sec::request_timeout)));
  CHECK_FALSE(p.should_retry(1, caf::make_error(fetch_errc::http_status, 404)));
  CHECK_FALSE(p.should_retry(1, caf::make_error(flow_errc::cancelled)));
}

TEST_CASE("a retry policy with zero attempts is refused", "[actors][policy][retry]") {
  CHECK(retry_policy::up_to(0, backoff::none()).validate()
        == caf::make_error(flow_errc::invalid_config));
  CHECK(retry_policy::up_to(1, backoff::exponential(2s, 1s)).validate()
        == caf::make_error(flow_errc::invalid_config)); // the backoff is checked too
  CHECK(!retry_policy::up_to(4, backoff::exponential(1ms, 1s)).validate());
}

TEST_CASE("the final error is retries_exhausted only for a retryable error that was retried",
          "[actors][retry_policy]") {
  auto p = retry_policy::up_to(3, backoff::constant(10ms))
             .retry_on({caf::make_error(fetch_errc::attempt_timeout)});
  auto timeout = caf::make_error(fetch_errc::attempt_timeout);
  auto other = caf::make_error(caf::sec::runtime_error);
  // Retried until the attempts ran out.
  CHECK(p.final_error(3, timeout) == fetch_errc::retries_exhausted);
  // Not worth a retry: the error speaks for itself, even on the last attempt.
  CHECK(p.final_error(3, other) == caf::sec::runtime_error);
  CHECK(p.final_error(1, other) == caf::sec::runtime_error);
  // One attempt only: nothing was exhausted.
  CHECK(retry_policy::never().final_error(1, timeout) == fetch_errc::attempt_timeout);
}
