// A fetcher running real HTTP GETs against a local server on 127.0.0.1:
// bounded concurrency as the server observes it, and typed errors for 5xx,
// timeouts and refused connections. Real time, bounded by short limits.

#include <catch2/catch.hpp>

#include <condition_variable>
#include <mutex>

#include <caf/all.hpp>

#include <troupe/actors/consumer.hpp>
#include <troupe/actors/fetcher.hpp>
#include <troupe/actors/producer.hpp>
#include <troupe/actors/system_config.hpp>
#include <troupe/http/http_get.hpp>
#include <troupe/testing/http_test_server.hpp>

using namespace std::chrono_literals;
using namespace troupe::actors;
using troupe::http::http_get;
using troupe::http::http_request;
using troupe::http::http_response;

namespace {

using result_t = fetch_result<http_request, http_response>;

/// Fetches `urls` through a fetcher with `cfg` and returns the results.
std::vector<result_t> fetch_all(const std::vector<std::string>& urls, fetcher_config cfg) {
  system_config sys_cfg;
  sys_cfg.set("scheduler.max-threads", 2);
  caf::actor_system sys{sys_cfg};
  size_t next = 0;
  auto p = spawn_producer<http_request>(
    sys, producer_config{4, {}}, [&](size_t demand, std::vector<http_request>& out) {
      while (out.size() < demand && next < urls.size())
        out.push_back(http_request{urls[next++], {}});
      return next == urls.size() ? pull_status::done : pull_status::more;
    });
  REQUIRE(p);
  auto f =
    spawn_fetcher<http_request, http_response>(sys, *p, cfg, std::make_unique<http_get>());
  REQUIRE(f);
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<result_t> results;
  bool done = false;
  auto c = spawn_consumer<result_t>(
    sys, *f, consumer_config{8, 1},
    [&](const result_t& r) {
      std::lock_guard<std::mutex> guard{mtx};
      results.push_back(r);
    },
    [&](const caf::error&) {
      std::lock_guard<std::mutex> guard{mtx};
      done = true;
      cv.notify_all();
    });
  REQUIRE(c);
  std::unique_lock<std::mutex> guard{mtx};
  REQUIRE(cv.wait_for(guard, 30s, [&] { return done; }));
  return results;
}

fetcher_config quick(uint32_t max_in_flight) {
  fetcher_config cfg;
  cfg.capacity = 16;
  cfg.max_in_flight = max_in_flight;
  cfg.attempt_timeout = 5s;
  cfg.retry = retry_policy::never();
  return cfg;
}

} // namespace

TEST_CASE("concurrent GETs never exceed max_in_flight at the server", "[http][fetcher]") {
  troupe::testing::http_test_server server;
  REQUIRE(server.port() != 0);
  std::vector<std::string> urls(24, server.url("/delay?ms=40"));
  auto results = fetch_all(urls, quick(4));
  REQUIRE(results.size() == 24);
  for (auto& r : results) {
    CHECK(r.ok());
    CHECK(r.response.status == 200);
  }
  CHECK(server.max_concurrency() <= 4);
  CHECK(server.max_concurrency() >= 2); // it really ran concurrently
  CHECK(server.total_requests() == 24);
}

TEST_CASE("a 500 is retried and ends with retries_exhausted naming the status",
          "[http][fetcher]") {
  troupe::testing::http_test_server server;
  auto cfg = quick(2);
  cfg.retry = retry_policy::up_to(3, backoff::constant(20ms));
  auto results = fetch_all({server.url("/status?code=500")}, cfg);
  REQUIRE(results.size() == 1);
  CHECK(results[0].error == caf::make_error(fetch_errc::retries_exhausted));
  CHECK(results[0].attempts == 3);
  CHECK(server.total_requests() == 3);
}

TEST_CASE("a hanging server fails the attempt with attempt_timeout", "[http][fetcher]") {
  troupe::testing::http_test_server server;
  auto cfg = quick(1);
  // Bounds the /ok attempt too: generous enough for a loaded sanitizer build.
  cfg.attempt_timeout = 1s;
  auto results = fetch_all({server.url("/hang"), server.url("/ok")}, cfg);
  REQUIRE(results.size() == 2);
  CHECK(results[0].error == caf::make_error(fetch_errc::attempt_timeout));
  CHECK(results[1].ok()); // the fetcher carried on
}

TEST_CASE("a refused connection fails with connect_failed", "[http][fetcher]") {
  uint16_t closed_port;
  {
    troupe::testing::http_test_server server;
    closed_port = server.port();
  } // stopped: nothing listens there now
  auto results =
    fetch_all({"http://127.0.0.1:" + std::to_string(closed_port) + "/ok"}, quick(1));
  REQUIRE(results.size() == 1);
  CHECK(results[0].error == caf::make_error(fetch_errc::connect_failed));
}
