// Blocking work runs on the pool's own threads, never on the scheduler's.

#include <catch2/catch.hpp>

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include <caf/all.hpp>

#include <troupe/actors/blocking_pool.hpp>
#include <troupe/actors/system_config.hpp>

using namespace std::chrono_literals;
using namespace troupe::actors;

namespace {

using go_atom = caf::atom_constant<caf::atom("go")>;

/// A one-shot gate a blocking job waits on.
struct latch {
  std::mutex mtx;
  std::condition_variable cv;
  bool open = false;

  void release() {
    std::lock_guard<std::mutex> guard{mtx};
    open = true;
    cv.notify_all();
  }

  bool wait(std::chrono::seconds limit) {
    std::unique_lock<std::mutex> guard{mtx};
    return cv.wait_for(guard, limit, [&] { return open; });
  }
};

} // namespace

TEST_CASE("a blocking job does not stall a one-thread scheduler", "[actors][blocking]") {
  system_config cfg;
  cfg.set("scheduler.max-threads", 1);
  caf::actor_system sys{cfg};
  auto pool = spawn_blocking_pool(sys, 2);
  REQUIRE(pool);
  latch gate;
  std::promise<std::string> outcome;
  // The job blocks until an actor on the (single) scheduler thread opens
  // the latch: if the job ran on that thread, this would dead-lock.
  auto opener = sys.spawn([&](caf::event_based_actor*) -> caf::behavior {
    return {[&](go_atom) { gate.release(); }};
  });
  sys.spawn([&](caf::event_based_actor* self) {
    run_blocking(self, *pool, 10s,
                 [&] {
                   caf::anon_send(opener, go_atom::value);
                   return gate.wait(std::chrono::seconds{5}) ? std::string{"opened"}
                                                             : std::string{"stuck"};
                 })
      .then([&](std::string& s) { outcome.set_value(s); },
            [&](caf::error& err) { outcome.set_value(sys.render(err)); });
  });
  auto f = outcome.get_future();
  REQUIRE(f.wait_for(10s) == std::future_status::ready);
  CHECK(f.get() == "opened");
  caf::anon_send_exit(*pool, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(opener, caf::exit_reason::user_shutdown);
}

TEST_CASE("a blocking job that throws answers with handler_failed", "[actors][blocking]") {
  system_config cfg;
  caf::actor_system sys{cfg};
  auto pool = spawn_blocking_pool(sys, 1);
  REQUIRE(pool);
  std::promise<caf::error> outcome;
  sys.spawn([&](caf::event_based_actor* self) {
    run_blocking(self, *pool, 10s, []() -> int { throw std::runtime_error("disk unplugged"); })
      .then([&](int) { outcome.set_value(caf::error{}); },
            [&](caf::error& err) { outcome.set_value(err); });
  });
  auto f = outcome.get_future();
  REQUIRE(f.wait_for(10s) == std::future_status::ready);
  auto err = f.get();
  CHECK(err == caf::make_error(flow_errc::handler_failed));
  CHECK(sys.render(err).find("disk unplugged") != std::string::npos);
  caf::anon_send_exit(*pool, caf::exit_reason::user_shutdown);
}

TEST_CASE("a blocking job that returns an expected answers with its value or its typed error",
          "[actors][blocking]") {
  system_config cfg;
  caf::actor_system sys{cfg};
  auto pool = spawn_blocking_pool(sys, 1);
  REQUIRE(pool);
  auto ask = [&](bool fail) {
    std::promise<caf::expected<int>> outcome;
    sys.spawn([&](caf::event_based_actor* self) {
      run_blocking(self, *pool, 10s,
                   [fail]() -> caf::expected<int> {
                     if (fail)
                       return caf::make_error(flow_errc::invalid_config, "no such file");
                     return 42;
                   })
        .then([&](int x) { outcome.set_value(x); },
              [&](caf::error& err) { outcome.set_value(std::move(err)); });
    });
    auto f = outcome.get_future();
    REQUIRE(f.wait_for(10s) == std::future_status::ready);
    return f.get();
  };
  auto ok = ask(false);
  REQUIRE(ok);
  CHECK(*ok == 42);
  auto failed = ask(true);
  REQUIRE(!failed);
  CHECK(failed.error() == caf::make_error(flow_errc::invalid_config)); // not handler_failed
  CHECK(sys.render(failed.error()).find("no such file") != std::string::npos);
  caf::anon_send_exit(*pool, caf::exit_reason::user_shutdown);
}

TEST_CASE("a pool of zero threads is refused", "[actors][blocking]") {
  system_config cfg;
  caf::actor_system sys{cfg};
  CHECK(spawn_blocking_pool(sys, 0).error() == caf::make_error(flow_errc::invalid_config));
}
