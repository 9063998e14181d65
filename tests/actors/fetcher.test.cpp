// Fetchers: bounded concurrency, per-attempt timeouts, retries with backoff,
// a circuit breaker, and results under downstream credit. The operation is a
// fake the test completes by hand, so every step runs on virtual time.

#include <catch2/catch.hpp>

#include <memory>

#include "flow_test_support.hpp"

#include <troupe/actors/fetcher.hpp>

using namespace std::chrono_literals;
using namespace troupe::actors;
using namespace troupe::testing;

namespace {

using result_t = fetch_result<int64_t, std::string>;

/// What the fake operation saw; shared with the test.
struct fake_state {
  struct attempt {
    uint64_t id;
    int64_t request;
    completion<std::string> done;
    caf::timespan started_at;
  };
  std::vector<attempt> started;
  std::vector<uint64_t> cancelled;
  std::function<caf::timespan()> now;
  /// If set, completes each attempt at once with this outcome.
  std::function<caf::expected<std::string>(int64_t)> auto_reply;

  size_t running() const {
    return started.size() - finished;
  }
  size_t finished = 0;

  void succeed(size_t i) {
    ++finished;
    started[i].done("answer " + std::to_string(started[i].request));
  }
  void fail(size_t i, caf::error err) {
    ++finished;
    started[i].done(std::move(err));
  }
};

class fake_operation : public async_operation<int64_t, std::string> {
public:
  explicit fake_operation(std::shared_ptr<fake_state> st) : st_(std::move(st)) {}

  void start(uint64_t id, const int64_t& req, completion<std::string> done) override {
    st_->started.push_back({id, req, done, st_->now()});
    if (st_->auto_reply) {
      ++st_->finished;
      done(st_->auto_reply(req));
    }
  }

  void cancel(uint64_t id) override {
    st_->cancelled.push_back(id);
  }

private:
  std::shared_ptr<fake_state> st_;
};

/// A producer of 1..n that stays open (waiting) until `finish_source()`,
/// so the fetcher stays alive for its stats until the test ends the stream.
struct fetcher_fixture : flow_fixture {
  std::shared_ptr<fake_state> st = std::make_shared<fake_state>();
  std::vector<result_t> results;
  caf::actor producer;
  caf::actor fetcher;
  caf::actor sink;
  std::shared_ptr<bool> source_finished = std::make_shared<bool>(false);

  fetcher_fixture() {
    st->now = [this] { return now(); };
  }

  ~fetcher_fixture() {
    finish_source();
    while (sched.run() + sched.trigger_timeouts() > 0) {
      // let the stream end: pending retries and timeouts included
    }
  }

  void finish_source() {
    *source_finished = true;
    if (producer)
      self->send(producer, flow_resume_atom::value);
    run();
  }

  void start(int64_t n, fetcher_config cfg, uint32_t sink_capacity = 64) {
    auto next = std::make_shared<int64_t>(1);
    auto p = spawn_producer<int64_t>(
      sys, producer_config{8, {}},
      [next, n, fin = source_finished](size_t d, std::vector<int64_t>& out) {
        while (out.size() < d && *next <= n)
          out.push_back((*next)++);
        if (*next > n)
          return *fin ? pull_status::done : pull_status::wait;
        return pull_status::more;
      });
    REQUIRE(p);
    producer = *p;
    auto f =
      spawn_fetcher<int64_t, std::string>(sys, *p, cfg, std::make_unique<fake_operation>(st));
    REQUIRE(f);
    fetcher = *f;
    auto c = spawn_consumer<result_t>(sys, fetcher, consumer_config{sink_capacity, 1},
                                      [this](const result_t& r) { results.push_back(r); });
    REQUIRE(c);
    sink = *c;
    run();
  }

  fetch_stats fstats() {
    self->send(fetcher, fetch_stats_atom::value);
    run();
    auto x = received<fetch_stats>();
    REQUIRE(x);
    return std::get<0>(*x);
  }
};

fetcher_config no_retry() {
  fetcher_config cfg;
  cfg.retry = retry_policy::never();
  cfg.seed = 7;
  return cfg;
}

} // namespace

TEST_CASE_METHOD(fetcher_fixture, "a fetcher runs at most max_in_flight attempts at once",
                 "[actors][fetcher]") {
  auto cfg = no_retry();
  cfg.max_in_flight = 3;
  cfg.capacity = 10;
  start(20, cfg);
  CHECK(st->started.size() == 3);
  size_t next = 0;
  while (next < st->started.size()) {
    CHECK(st->running() <= 3);
    st->succeed(next++);
    run();
  }
  CHECK(st->started.size() == 20);
  REQUIRE(results.size() == 20);
  for (auto& r : results) {
    CHECK(r.ok());
    CHECK(r.response == "answer " + std::to_string(r.request));
    CHECK(r.attempts == 1);
  }
  CHECK(fstats().max_in_flight_seen == 3);
  finish_source();
  CHECK(running_actors() == 0); // the stream ended and everyone exited
}

TEST_CASE_METHOD(fetcher_fixture,
                 "an attempt past attempt_timeout is cancelled and fails with "
                 "attempt_timeout",
                 "[actors][fetcher][timeout]") {
  auto cfg = no_retry();
  cfg.attempt_timeout = 250ms;
  start(1, cfg);
  REQUIRE(st->started.size() == 1);
  advance_time(249ms);
  CHECK(results.empty());
  advance_time(1ms);
  REQUIRE(results.size() == 1);
  CHECK(results[0].error == caf::make_error(fetch_errc::attempt_timeout));
  CHECK(st->cancelled == std::vector<uint64_t>{st->started[0].id});
  st->succeed(0); // a late answer is ignored
  run();
  CHECK(results.size() == 1);
  CHECK(fstats().timeouts == 1);
}

TEST_CASE_METHOD(fetcher_fixture,
                 "failed attempts are retried after backoff delays within the "
                 "policy's bounds, then end with retries_exhausted",
                 "[actors][fetcher][retry]") {
  auto cfg = no_retry();
  auto b = backoff::exponential(100ms, 1s).with_jitter(jitter::equal);
  cfg.retry = retry_policy::up_to(5, b);
  st->auto_reply = [](int64_t) -> caf::expected<std::string> {
    return caf::make_error(fetch_errc::http_status, 503, "http://x");
  };
  start(1, cfg);
  for (int i = 0; i < 10000 && results.empty(); ++i)
    advance_time(1ms); // fine steps: start times are exact to the ms
  REQUIRE(results.size() == 1);
  REQUIRE(st->started.size() == 5);
  for (uint32_t n = 1; n < 5; ++n) {
    auto delay = st->started[n].started_at - st->started[n - 1].started_at;
    CAPTURE(n, delay.count());
    CHECK(delay >= b.nominal(n) / 2); // equal jitter: [d/2, d]
    CHECK(delay <= b.nominal(n));
  }
  CHECK(results[0].error == caf::make_error(fetch_errc::retries_exhausted));
  CHECK(sys.render(results[0].error).find("503") != std::string::npos);
  CHECK(results[0].attempts == 5);
  auto s = fstats();
  CHECK(s.attempts == 5);
  CHECK(s.retries == 4);
  CHECK(s.failed == 1);
}

TEST_CASE_METHOD(fetcher_fixture, "errors the policy does not list are not retried",
                 "[actors][fetcher][retry]") {
  auto cfg = no_retry();
  cfg.retry =
    retry_policy::up_to(5, backoff::constant(10ms)).retry_on({fetch_errc::attempt_timeout});
  st->auto_reply = [](int64_t) -> caf::expected<std::string> {
    return caf::make_error(fetch_errc::http_status, 404, "http://x");
  };
  start(1, cfg);
  advance_time(1s);
  REQUIRE(results.size() == 1);
  CHECK(st->started.size() == 1);
  CHECK(results[0].error == caf::make_error(fetch_errc::http_status));
}

TEST_CASE_METHOD(fetcher_fixture,
                 "the circuit breaker opens after repeated failures, fails fast "
                 "while open, and closes after a successful probe",
                 "[actors][fetcher][breaker]") {
  auto cfg = no_retry();
  cfg.max_in_flight = 1;
  cfg.breaker.failure_threshold = 2;
  cfg.breaker.open_interval = 10s;
  cfg.breaker.half_open_probes = 1;
  start(6, cfg);
  st->fail(0, caf::make_error(fetch_errc::connect_failed));
  run();
  st->fail(1, caf::make_error(fetch_errc::connect_failed));
  run();
  // Open: the remaining four fail fast without reaching the operation.
  CHECK(st->started.size() == 2);
  REQUIRE(results.size() == 6);
  for (size_t i = 2; i < 6; ++i) {
    CHECK(results[i].error == caf::make_error(fetch_errc::circuit_open));
    CHECK(results[i].attempts == 0);
  }
  auto s = fstats();
  CHECK(s.breaker_opened == 1);
  CHECK(s.short_circuited == 4);
}

TEST_CASE_METHOD(fetcher_fixture,
                 "a retry that comes due while the breaker is open fails fast "
                 "with circuit_open",
                 "[actors][fetcher][breaker]") {
  auto cfg = no_retry();
  cfg.max_in_flight = 1;
  cfg.breaker.failure_threshold = 1;
  cfg.breaker.open_interval = 10s;
  cfg.retry = retry_policy::up_to(3, backoff::constant(6s));
  start(1, cfg);
  st->fail(0, caf::make_error(fetch_errc::connect_failed)); // opens
  run();
  advance_time(6s); // retry 1: still open → circuit_open, not retried
  REQUIRE(results.size() == 1);
  CHECK(results[0].error == caf::make_error(fetch_errc::circuit_open));
  CHECK(st->started.size() == 1);
}

TEST_CASE_METHOD(fetcher_fixture, "a half-open breaker probes once and closes on success",
                 "[actors][fetcher][breaker]") {
  auto cfg = no_retry();
  cfg.max_in_flight = 1;
  cfg.breaker.failure_threshold = 1;
  cfg.breaker.open_interval = 10s;
  cfg.retry = retry_policy::up_to(2, backoff::constant(10s));
  start(2, cfg);
  st->fail(0, caf::make_error(fetch_errc::connect_failed)); // opens; retry in 10 s
  run();
  REQUIRE(results.size() == 1); // request 2 failed fast
  CHECK(results[0].error == caf::make_error(fetch_errc::circuit_open));
  advance_time(10s); // the retry of request 1 is the half-open probe
  REQUIRE(st->started.size() == 2);
  st->succeed(1);
  run();
  REQUIRE(results.size() == 2);
  CHECK(results[1].ok());
  CHECK(results[1].attempts == 2);
}

TEST_CASE_METHOD(fetcher_fixture,
                 "a slow sink bounds the fetcher: requests are pulled only as "
                 "results leave",
                 "[actors][fetcher][backpressure]") {
  auto cfg = no_retry();
  cfg.capacity = 4;
  cfg.max_in_flight = 2;
  st->auto_reply = [](int64_t x) -> caf::expected<std::string> { return std::to_string(x); };
  // A sink that holds what it gets until the test finishes it.
  auto src = std::make_shared<counting_source>(counting_source{50});
  auto p = spawn_producer<int64_t>(
    sys, producer_config{8, {}},
    [src](size_t d, std::vector<int64_t>& out) { return (*src)(d, out); });
  auto f =
    spawn_fetcher<int64_t, std::string>(sys, *p, cfg, std::make_unique<fake_operation>(st));
  REQUIRE(f);
  held_items held;
  std::vector<std::pair<result_t, item_done>> sink_held;
  auto c = spawn_consumer<result_t>(sys, *f, consumer_config{3, 3},
                                    [&](const result_t& r, seq_t, item_done done) {
                                      sink_held.emplace_back(r, std::move(done));
                                    });
  REQUIRE(c);
  run();
  size_t handled = 0;
  while (!sink_held.empty()) {
    // Pulled minus delivered never exceeds fetcher + sink capacity.
    CHECK(static_cast<size_t>(src->next - 1) - handled <= 4 + 3);
    auto x = std::move(sink_held.front());
    sink_held.erase(sink_held.begin());
    x.second();
    ++handled;
    run();
  }
  CHECK(handled == 50);
  CHECK(running_actors() == 0);
}

TEST_CASE_METHOD(flow_fixture, "invalid fetcher settings are refused with the field named",
                 "[actors][fetcher][errors]") {
  counting_source src{1};
  auto p = spawn_producer<int64_t>(sys, producer_config{}, std::ref(src));
  REQUIRE(p);
  auto st = std::make_shared<fake_state>();
  auto make = [&](fetcher_config cfg) {
    return spawn_fetcher<int64_t, std::string>(sys, *p, cfg,
                                               std::make_unique<fake_operation>(st));
  };
  fetcher_config cfg;
  cfg.max_in_flight = 0;
  auto r = make(cfg);
  REQUIRE_FALSE(r);
  CHECK(sys.render(r.error()).find("max_in_flight") != std::string::npos);
  cfg = {};
  cfg.max_in_flight = 100;
  cfg.capacity = 10;
  CHECK(make(cfg).error() == caf::make_error(flow_errc::invalid_config));
  cfg = {};
  cfg.attempt_timeout = 0s;
  CHECK(make(cfg).error() == caf::make_error(flow_errc::invalid_config));
  cfg = {};
  cfg.breaker.failure_threshold = 0;
  CHECK(make(cfg).error() == caf::make_error(flow_errc::invalid_config));
  CHECK(spawn_fetcher<int64_t, std::string>(sys, *p, fetcher_config{}, nullptr).error()
        == caf::make_error(flow_errc::invalid_config));
  cfg = {};
  cfg.max_in_flight_per_key = 2; // int64_t has no fetch_key: no keys to group by
  auto keyless = make(cfg);
  REQUIRE_FALSE(keyless);
  CHECK(sys.render(keyless.error()).find("fetch_key") != std::string::npos);
  self->send_exit(*p, caf::exit_reason::user_shutdown);
  run();
}

namespace keyed {

/// A request to a host: the fetcher groups by `fetch_key`.
struct request {
  int64_t n;
  std::string host;
};

std::string fetch_key(const request& r) {
  return r.host;
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, request& x) {
  return f(x.n, x.host);
}

using result = fetch_result<request, std::string>;

/// An operation the test completes by hand: attempts by request number.
struct hand_operation : async_operation<request, std::string> {
  std::shared_ptr<std::vector<std::pair<request, completion<std::string>>>> started =
    std::make_shared<std::vector<std::pair<request, completion<std::string>>>>();
  void start(uint64_t, const request& req, completion<std::string> done) override {
    started->emplace_back(req, std::move(done));
  }
  void cancel(uint64_t) override {}
};

} // namespace keyed

TEST_CASE_METHOD(flow_fixture,
                 "a per-key limit holds each host's attempts while other hosts go "
                 "ahead, and each host has its own breaker",
                 "[actors][fetcher][keys]") {
  // Hosts: four requests to a, one to b, one more to a, two more to b.
  std::vector<keyed::request> reqs{{1, "a"}, {2, "a"}, {3, "a"}, {4, "a"},
                                   {5, "b"}, {6, "a"}, {7, "b"}, {8, "b"}};
  auto next = std::make_shared<size_t>(0);
  auto p = spawn_producer<keyed::request>(
    sys, producer_config{16, {}}, [reqs, next](size_t d, std::vector<keyed::request>& out) {
      while (out.size() < d && *next < reqs.size())
        out.push_back(reqs[(*next)++]);
      return *next < reqs.size() ? pull_status::more : pull_status::done;
    });
  REQUIRE(p);
  auto op = std::make_unique<keyed::hand_operation>();
  auto started = op->started;
  fetcher_config cfg;
  cfg.retry = retry_policy::never();
  cfg.capacity = 16;
  cfg.max_in_flight = 3;
  cfg.max_in_flight_per_key = 2;
  cfg.breaker_per_key = true;
  cfg.breaker.failure_threshold = 1;
  cfg.breaker.open_interval = 10s;
  auto f = spawn_fetcher<keyed::request, std::string>(sys, *p, cfg, std::move(op));
  REQUIRE(f);
  std::vector<keyed::result> results;
  auto c = spawn_consumer<keyed::result>(
    sys, *f, consumer_config{16, 1}, [&](const keyed::result& r) { results.push_back(r); });
  REQUIRE(c);
  run();
  auto numbers = [&] {
    std::vector<int64_t> xs;
    for (auto& s : *started)
      xs.push_back(s.first.n);
    return xs;
  };
  // Two of a (its limit), then b's first past a's waiting two: no
  // head-of-line blocking.
  CHECK(numbers() == std::vector<int64_t>{1, 2, 5});
  // a's first attempt fails: a's breaker opens and a's waiting requests
  // fail fast; b's next one takes the free slot (one breaker for all would
  // have refused it too).
  (*started)[0].second(caf::make_error(fetch_errc::connect_failed));
  run();
  CHECK(numbers() == std::vector<int64_t>{1, 2, 5, 7});
  size_t open = 0;
  for (auto& r : results)
    if (r.error == caf::make_error(fetch_errc::circuit_open)) {
      CHECK(r.request.host == "a");
      ++open;
    }
  CHECK(open == 3);                        // 3, 4 and 6
  self->send(*f, fetch_stats_atom::value); // while the others still run
  run();
  auto stats = received<fetch_stats>();
  REQUIRE(stats);
  CHECK(std::get<0>(*stats).max_key_in_flight_seen == 2);
  CHECK(std::get<0>(*stats).max_in_flight_seen == 3);
  CHECK(std::get<0>(*stats).breaker == "open");
  // b is at its limit (5 and 7): 8 waits for one of them.
  (*started)[2].second(std::string{"b5"});
  run();
  CHECK(numbers() == std::vector<int64_t>{1, 2, 5, 7, 8});
  (*started)[1].second(std::string{"a2"});
  (*started)[3].second(std::string{"b7"});
  (*started)[4].second(std::string{"b8"});
  run();
  REQUIRE(results.size() == 8);
  run();
  CHECK(running_actors() == 0);
}
