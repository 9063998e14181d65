// Bounded mailboxes: every overflow policy does what its name says, with
// counters to match, and waiting never blocks a thread.

#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "flow_test_support.hpp"

#include <troupe/actors/bounded_mailbox.hpp>

using namespace std::chrono_literals;
using namespace troupe::actors;
using namespace troupe::testing;

namespace {

using sample_atom = caf::atom_constant<caf::atom("sample")>;

/// Doubles numbers and records what it handled, in order; samples are
/// recorded negated. The tests stall it by running only the gate
/// (`run_only(gate)`), which lets them fill the mailbox deterministically.
caf::behavior recording_worker(caf::event_based_actor*, std::vector<int32_t>* handled) {
  return {
    [=](int32_t x) {
      handled->push_back(x);
      return 2 * x;
    },
    [=](sample_atom, int32_t x) { handled->push_back(-x); },
  };
}

caf::behavior stateful_worker(caf::stateful_actor<int32_t>* self) {
  return {[=](int32_t x) { return self->state += x; }};
}

mailbox_stats stats(flow_fixture& fx, const caf::actor& gate) {
  fx.self->send(gate, mailbox_stats_atom::value);
  fx.run();
  auto x = fx.received<mailbox_stats>();
  REQUIRE(x);
  return std::get<0>(*x);
}

} // namespace

TEST_CASE_METHOD(flow_fixture, "a bounded mailbox passes messages and replies through",
                 "[actors][mailbox]") {
  std::vector<int32_t> handled;
  auto gate = spawn_bounded(sys, mailbox_config{}, recording_worker, &handled);
  REQUIRE(gate);
  for (int32_t i = 1; i <= 5; ++i)
    self->send(*gate, i);
  run();
  CHECK(handled == std::vector<int32_t>{1, 2, 3, 4, 5});
  for (int32_t i = 1; i <= 5; ++i) {
    auto reply = received<int32_t>();
    REQUIRE(reply);
    CHECK(std::get<0>(*reply) == 2 * i); // the worker's reply reached the sender
  }
  auto s = stats(*this, *gate);
  CHECK(s.accepted == 5);
  CHECK(s.processed == 5);
  self->send_exit(*gate, caf::exit_reason::user_shutdown);
  run();
  CHECK(running_actors() == 0); // the worker went down with its gate
}

TEST_CASE_METHOD(flow_fixture, "a stateful worker keeps its state behind the gate",
                 "[actors][mailbox]") {
  auto gate = spawn_bounded(sys, mailbox_config{}, stateful_worker);
  REQUIRE(gate);
  self->send(*gate, int32_t{2});
  self->send(*gate, int32_t{3});
  run();
  CHECK(received<int32_t>() == std::make_tuple(int32_t{2}));
  CHECK(received<int32_t>() == std::make_tuple(int32_t{5}));
  self->send_exit(*gate, caf::exit_reason::user_shutdown);
  run();
}

TEST_CASE_METHOD(flow_fixture, "reject refuses what does not fit with mailbox_full",
                 "[actors][mailbox][overflow]") {
  std::vector<int32_t> handled;
  mailbox_config cfg;
  cfg.capacity = 3;
  cfg.worker_window = 1;
  cfg.policy = overflow::reject();
  auto gate = spawn_bounded(sys, cfg, recording_worker, &handled);
  REQUIRE(gate);
  run();
  for (int32_t i = 1; i <= 5; ++i)
    self->send(*gate, i);
  run_only(*gate); // 1 at the worker, 2 and 3 queued, 4 and 5 refused
  for (int32_t i = 4; i <= 5; ++i) {
    // Plain sends: each comes back, typed, with the refused message.
    auto refused = received<mailbox_refused_atom, caf::error, caf::message>();
    REQUIRE(refused);
    CHECK(std::get<1>(*refused) == caf::make_error(flow_errc::mailbox_full));
    CHECK(std::get<2>(*refused).match_elements<int32_t>());
    CHECK(std::get<2>(*refused).get_as<int32_t>(0) == i);
  }
  run();
  CHECK(handled == std::vector<int32_t>{1, 2, 3});
  for (int32_t i = 1; i <= 3; ++i)
    CHECK(received<int32_t>() == std::make_tuple(2 * i));
  auto s = stats(*this, *gate);
  CHECK(s.accepted == 3);
  CHECK(s.rejected == 2);
  CHECK(s.processed == 3);
  CHECK(s.max_held == 3);
  self->send_exit(*gate, caf::exit_reason::user_shutdown);
  run();
}

TEST_CASE_METHOD(flow_fixture,
                 "drop_newest drops what does not fit; a dropped request still "
                 "gets mailbox_full",
                 "[actors][mailbox][overflow]") {
  std::vector<int32_t> handled;
  mailbox_config cfg;
  cfg.capacity = 2;
  cfg.worker_window = 1;
  cfg.policy = overflow::drop_newest();
  auto gate = spawn_bounded(sys, cfg, recording_worker, &handled);
  REQUIRE(gate);
  run();
  for (int32_t i = 1; i <= 4; ++i)
    caf::anon_send(*gate, i); // plain sends: 3 and 4 vanish, counted
  run_only(*gate);
  caf::error seen;
  bool replied = false;
  auto asker = sys.spawn([&](caf::event_based_actor* a) {
    a->request(*gate, caf::infinite, int32_t{100})
      .then([&](int32_t) { replied = true; }, [&](caf::error& err) { seen = err; });
  });
  run_only(asker);
  run_only(*gate);
  run_only(asker);
  CHECK_FALSE(replied);
  CHECK(seen == caf::make_error(flow_errc::mailbox_full));
  run();
  CHECK(handled == std::vector<int32_t>{1, 2});
  auto s = stats(*this, *gate);
  CHECK(s.accepted == 2);
  CHECK(s.dropped == 3);
  CHECK(s.processed == 2);
  self->send_exit(*gate, caf::exit_reason::user_shutdown);
  run();
}

TEST_CASE_METHOD(flow_fixture, "drop_oldest makes room by dropping the oldest queued message",
                 "[actors][mailbox][overflow]") {
  std::vector<int32_t> handled;
  mailbox_config cfg;
  cfg.capacity = 3;
  cfg.worker_window = 1; // 1 at the worker, 2 queued at the gate
  cfg.policy = overflow::drop_oldest();
  auto gate = spawn_bounded(sys, cfg, recording_worker, &handled);
  REQUIRE(gate);
  run();
  for (int32_t i = 1; i <= 6; ++i)
    caf::anon_send(*gate, i);
  run_only(*gate);
  run();
  // 1 was at the worker already; 2, 3, 4 were dropped in turn for 4, 5, 6.
  CHECK(handled == std::vector<int32_t>{1, 5, 6});
  auto s = stats(*this, *gate);
  CHECK(s.dropped == 3);
  CHECK(s.accepted == 6);
  CHECK(s.processed == 3);
  self->send_exit(*gate, caf::exit_reason::user_shutdown);
  run();
}

TEST_CASE_METHOD(flow_fixture,
                 "wait parks a message until there is room, and expires it with "
                 "mailbox_wait_expired after its max_wait",
                 "[actors][mailbox][overflow]") {
  std::vector<int32_t> handled;
  mailbox_config cfg;
  cfg.capacity = 1;
  cfg.max_parked = 4;
  cfg.policy = overflow::wait(100ms);
  auto gate = spawn_bounded(sys, cfg, recording_worker, &handled);
  REQUIRE(gate);
  run();
  SECTION("room frees up in time") {
    self->send(*gate, int32_t{1});
    self->send(*gate, int32_t{2}); // parked
    run_only(*gate);
    run(); // the worker handles 1, the gate admits 2
    CHECK(handled == std::vector<int32_t>{1, 2});
    CHECK(received<int32_t>() == std::make_tuple(int32_t{2}));
    CHECK(received<int32_t>() == std::make_tuple(int32_t{4}));
    advance_time(100ms); // its expiry timer fires harmlessly
    CHECK_FALSE(received<caf::error>());
    CHECK_FALSE((received<mailbox_refused_atom, caf::error, caf::message>()));
    auto s = stats(*this, *gate);
    CHECK(s.parked == 1);
    CHECK(s.expired == 0);
  }
  SECTION("the worker stays busy past max_wait") {
    self->send(*gate, int32_t{1});
    self->send(*gate, int32_t{2});
    self->send(*gate, int32_t{3});
    run_only(*gate); // 1 at the worker, 2 and 3 parked
    sched.advance_time(100ms);
    run_only(*gate); // both expire before the worker ever runs
    for (int i = 0; i < 2; ++i) {
      auto refused = received<mailbox_refused_atom, caf::error, caf::message>();
      REQUIRE(refused);
      CHECK(std::get<1>(*refused) == caf::make_error(flow_errc::mailbox_wait_expired));
    }
    run();
    CHECK(handled == std::vector<int32_t>{1});
    auto s = stats(*this, *gate);
    CHECK(s.parked == 2);
    CHECK(s.expired == 2);
    CHECK(s.accepted == 1);
  }
  self->send_exit(*gate, caf::exit_reason::user_shutdown);
  run();
}

TEST_CASE_METHOD(flow_fixture,
                 "a per-type policy overrides the actor's policy for its messages",
                 "[actors][mailbox][overflow]") {
  std::vector<int32_t> handled;
  mailbox_config cfg;
  cfg.capacity = 4;
  cfg.worker_window = 1;
  cfg.policy = overflow::reject();
  cfg.per_type.push_back(
    mailbox_config::for_atom(sample_atom::value, overflow::drop_oldest(), 2));
  auto gate = spawn_bounded(sys, cfg, recording_worker, &handled);
  REQUIRE(gate);
  run();
  self->send(*gate, int32_t{1}); // handed to the worker
  for (int32_t i = 1; i <= 5; ++i)
    caf::anon_send(*gate, sample_atom::value, i); // at most 2 samples queued
  self->send(*gate, int32_t{2});
  self->send(*gate, int32_t{3}); // full: rejected
  run_only(*gate);
  auto refused = received<mailbox_refused_atom, caf::error, caf::message>();
  REQUIRE(refused);
  CHECK(std::get<1>(*refused) == caf::make_error(flow_errc::mailbox_full));
  run();
  // The two newest samples survived; numbers were never dropped.
  CHECK(handled == std::vector<int32_t>{1, -4, -5, 2});
  auto s = stats(*this, *gate);
  CHECK(s.dropped == 3);
  CHECK(s.rejected == 1);
  self->send_exit(*gate, caf::exit_reason::user_shutdown);
  run();
}

TEST_CASE_METHOD(flow_fixture, "invalid mailbox settings are refused with the field named",
                 "[actors][mailbox][errors]") {
  std::vector<int32_t> handled;
  mailbox_config cfg;
  cfg.capacity = 0;
  auto r = spawn_bounded(sys, cfg, recording_worker, &handled);
  REQUIRE_FALSE(r);
  CHECK(r.error() == caf::make_error(flow_errc::invalid_config));
  CHECK(sys.render(r.error()).find("capacity") != std::string::npos);
  cfg = {};
  cfg.policy = overflow::wait(0ms);
  CHECK(spawn_bounded(sys, cfg, recording_worker, &handled).error()
        == caf::make_error(flow_errc::invalid_config));
  cfg = {};
  cfg.per_type.push_back(mailbox_config::for_type<int32_t>(overflow::reject()));
  cfg.per_type.push_back(mailbox_config::for_type<int32_t>(overflow::drop_oldest()));
  CHECK(spawn_bounded(sys, cfg, recording_worker, &handled).error()
        == caf::make_error(flow_errc::invalid_config));
  CHECK(running_actors() == 0);
}

TEST_CASE_METHOD(flow_fixture,
                 "when the gate goes down, queued and parked senders get the reason",
                 "[actors][mailbox]") {
  std::vector<int32_t> handled;
  mailbox_config cfg;
  cfg.capacity = 2;
  cfg.worker_window = 1;
  cfg.policy = overflow::wait(1s);
  auto gate = spawn_bounded(sys, cfg, recording_worker, &handled);
  REQUIRE(gate);
  run();
  for (int32_t i = 1; i <= 4; ++i)
    self->send(*gate, i); // 1 at the worker, 2 queued, 3 and 4 parked
  run_only(*gate);
  self->send_exit(*gate, caf::exit_reason::user_shutdown);
  run_only(*gate);
  size_t errors = 0;
  while (auto refused = received<mailbox_refused_atom, caf::error, caf::message>()) {
    CHECK(std::get<1>(*refused) == caf::exit_reason::user_shutdown);
    ++errors;
  }
  CHECK(errors == 3); // queued and parked ones: nobody is left hanging
  run();
  CHECK(running_actors() == 0); // the worker went down with its gate
}

TEST_CASE_METHOD(flow_fixture,
                 "a refused plain send does not kill an event-based sender; it can "
                 "handle the refusal",
                 "[actors][mailbox][overflow]") {
  std::vector<int32_t> handled;
  mailbox_config cfg;
  cfg.capacity = 2;
  cfg.worker_window = 1;
  auto expired = GENERATE(false, true);
  CAPTURE(expired);
  cfg.policy = expired ? overflow::wait(100ms) : overflow::reject();
  cfg.max_parked = 10;
  auto gate = spawn_bounded(sys, cfg, recording_worker, &handled);
  REQUIRE(gate);
  run();
  // One sender handles refusals, the other does not: both must live.
  auto refusals = std::make_shared<std::vector<caf::error>>();
  auto handling = sys.spawn([=](caf::event_based_actor* a) -> caf::behavior {
    for (int32_t i = 1; i <= 4; ++i)
      a->send(*gate, i);
    return {
      [=](mailbox_refused_atom, caf::error& err, caf::message&) {
        refusals->push_back(std::move(err));
      },
      [](int32_t) {}, // the worker's answers to what it did take
    };
  });
  auto ignoring = sys.spawn([=](caf::event_based_actor* a) -> caf::behavior {
    for (int32_t i = 11; i <= 14; ++i)
      a->send(*gate, i);
    return {[](int32_t) {}};
  });
  self->monitor(handling);
  self->monitor(ignoring);
  run_only(handling);
  run_only(ignoring);
  run_only(*gate); // the worker stalls: 2 held, the rest refused or parked
  if (expired) {
    sched.advance_time(100ms); // the worker still never ran: the parked expire
    run_only(*gate);
  }
  run_only(handling);
  run_only(ignoring);
  CHECK_FALSE(received<caf::down_msg>()); // nobody quit
  REQUIRE(refusals->size() == 2);         // 3 and 4
  for (auto& err : *refusals)
    CHECK(
      err
      == caf::make_error(expired ? flow_errc::mailbox_wait_expired : flow_errc::mailbox_full));
  run(); // the worker answers 1 and 2 with plain messages, as without a gate
  CHECK_FALSE(received<caf::down_msg>());
  CHECK(handled == std::vector<int32_t>{1, 2});
  // The refusals that `ignoring` dropped bounced back to the gate: it lives.
  CHECK(stats(*this, *gate).processed == 2);
  anon_send_exit(handling, caf::exit_reason::user_shutdown);
  anon_send_exit(ignoring, caf::exit_reason::user_shutdown);
  self->send_exit(*gate, caf::exit_reason::user_shutdown);
  run();
}

TEST_CASE_METHOD(flow_fixture,
                 "a gated worker that calls become or replies later does not stall "
                 "the gate",
                 "[actors][mailbox]") {
  mailbox_config cfg;
  cfg.capacity = 2;
  cfg.worker_window = 1;
  cfg.policy = overflow::wait(10s);
  cfg.max_parked = 100;
  SECTION("become") {
    auto handled = std::make_shared<int32_t>(0);
    auto gate = spawn_bounded(sys, cfg, [handled](caf::event_based_actor* a) -> caf::behavior {
      return {[=](int32_t x) {
        ++*handled;
        // A new behavior without the gate's acknowledgement handler.
        a->become([=](int32_t y) {
          ++*handled;
          return y;
        });
        return x;
      }};
    });
    REQUIRE(gate);
    for (int32_t i = 1; i <= 20; ++i)
      self->send(*gate, i);
    run();
    CHECK(*handled == 20);
    CHECK(stats(*this, *gate).processed == 20);
    self->send_exit(*gate, caf::exit_reason::user_shutdown);
  }
  SECTION("delayed replies") {
    using later_atom = caf::atom_constant<caf::atom("later")>;
    auto gate = spawn_bounded(sys, cfg, [](caf::event_based_actor* a) -> caf::behavior {
      auto promises = std::make_shared<std::vector<caf::response_promise>>();
      return {
        [=](int32_t) {
          promises->push_back(a->make_response_promise());
          a->delayed_send(a, 10ms, later_atom::value);
          return promises->back();
        },
        [=](later_atom) {
          promises->front().deliver(int32_t{1});
          promises->erase(promises->begin());
        },
      };
    });
    REQUIRE(gate);
    auto replies = std::make_shared<int32_t>(0);
    auto asker = sys.spawn([=](caf::event_based_actor* a) {
      for (int32_t i = 1; i <= 20; ++i)
        a->request(*gate, caf::infinite, i).then([=](int32_t) { ++*replies; });
    });
    for (int i = 0; i < 40 && *replies < 20; ++i)
      advance_time(10ms);
    CHECK(*replies == 20);
    anon_send_exit(asker, caf::exit_reason::user_shutdown);
    self->send_exit(*gate, caf::exit_reason::user_shutdown);
  }
  run();
}

TEST_CASE("wait never blocks a thread: one scheduler thread serves parked "
          "senders and the worker",
          "[actors][mailbox][threads]") {
  troupe::actors::system_config cfg;
  cfg.set("scheduler.max-threads", 1);
  caf::actor_system sys{cfg};
  std::atomic<int32_t> handled{0};
  mailbox_config mcfg;
  mcfg.capacity = 2;
  mcfg.max_parked = 10;
  mcfg.policy = overflow::wait(std::chrono::seconds{30});
  auto gate = spawn_bounded(sys, mcfg, [&](caf::event_based_actor*) -> caf::behavior {
    return {[&](int32_t x) {
      ++handled;
      return x;
    }};
  });
  REQUIRE(gate);
  std::mutex mtx;
  std::condition_variable cv;
  int replies = 0;
  // 10 requests at once, sent in one handler, so all reach the gate before
  // it runs (ten separate requesters could interleave with the gate on the
  // one thread and never fill it): most must park.
  sys.spawn([&](caf::event_based_actor* a) {
    for (int32_t i = 0; i < 10; ++i) {
      a->request(*gate, std::chrono::seconds{30}, i)
        .then(
          [&](int32_t) {
            std::lock_guard<std::mutex> guard{mtx};
            ++replies;
            cv.notify_all();
          },
          [&](caf::error&) {
            std::lock_guard<std::mutex> guard{mtx};
            replies += 1000; // shows up as a failure below
            cv.notify_all();
          });
    }
  });
  {
    std::unique_lock<std::mutex> guard{mtx};
    REQUIRE(cv.wait_for(guard, std::chrono::seconds{20}, [&] { return replies >= 10; }));
  }
  CHECK(replies == 10);
  CHECK(handled == 10);
  caf::scoped_actor self{sys};
  self->request(*gate, std::chrono::seconds{10}, mailbox_stats_atom::value)
    .receive([](const mailbox_stats& s) { CHECK(s.parked > 0); }, // it did wait
             [](caf::error&) { FAIL("no stats"); });
  self->send_exit(*gate, caf::exit_reason::user_shutdown);
}
