// supervision_event: every lifecycle event reaches observers and the log of
// the supervisor's path; restart delays follow the backoff policy on virtual
// time and start over after a stable period.

#include <catch2/catch.hpp>

#include <sstream>

#include <spdlog/sinks/ostream_sink.h>

#include <troupe/actors/backoff.hpp>
#include <troupe/actors/log.hpp>

#include "probe.hpp"

using namespace std::chrono_literals;
using namespace troupe::supervisors;
using probe::fixture;
using strings = std::vector<std::string>;
using troupe::actors::backoff;
using troupe::actors::jitter;

namespace {

supervisor_config one_child(caf::actor test, backoff b) {
  supervisor_config cfg;
  cfg.name = "sup";
  cfg.intensity = {1000, 1s};
  cfg.restart_backoff = b;
  cfg.stable_period = 5s;
  cfg.seed = 42;
  cfg.children = {{"a", probe::start(test)}};
  cfg.observers = {test};
  return cfg;
}

/// Fails child a and returns the restart delay the supervisor announced.
caf::timespan fail_and_get_delay(fixture& f) {
  f.events.clear();
  f.fail("a");
  f.collect();
  for (auto& ev : f.events)
    if (ev.kind == event_kind::restarting)
      return ev.delay;
  FAIL("no restarting event");
  return {};
}

/// An observer that is not the test: forwards every event to `test`.
caf::behavior forwarder(caf::event_based_actor*, caf::actor test) {
  return {[test](const supervision_event& ev) { caf::anon_send(test, ev); }};
}

/// True while somebody still holds a strong reference to the actor at `addr`
/// (a supervisor keeping a dead observer would).
bool referenced(const caf::actor_addr& addr) {
  return caf::actor_cast<caf::actor>(addr) != nullptr;
}

/// Advances to just before `delay` (nothing starts), then to it (a starts).
void expect_restart_after(fixture& f, caf::timespan delay) {
  REQUIRE(f.take_log() == strings{"stop:a"});
  if (delay > 0ns) {
    f.advance_time(delay - 1ns);
    CHECK(f.take_log().empty());
    f.advance_time(1ns);
  }
  CHECK(f.take_log() == strings{"start:a"});
}

} // namespace

TEST_CASE_METHOD(fixture, "observers receive every lifecycle event in order",
                 "[supervisors][events]") {
  auto cfg = one_child(tester(), backoff::constant(1s));
  cfg.children.push_back({"stuck", probe::start(tester(), probe::options{true})});
  cfg.children.back().shutdown = shutdown_policy::timeout(1s);
  auto sup = spawn_supervisor(sys, cfg);
  REQUIRE(sup);
  CHECK(take_events() == strings{"a:started", "stuck:started"});
  fail("a");
  CHECK(take_events() == strings{"a:exited", "a:restarting"});
  advance_time(1s);
  collect();
  REQUIRE(!events.empty());
  CHECK(events.back().restarts == 1);
  CHECK(events.back().supervisor == "sup");
  CHECK(take_events() == strings{"a:started"});
  request_shutdown(*sup);
  advance_time(1s);
  CHECK(take_events() == strings{"stuck:killed", "stuck:stopped", "a:stopped"});
  CHECK(alive() == 0);
}

TEST_CASE_METHOD(fixture, "a subscriber receives the events after subscribing",
                 "[supervisors][events]") {
  auto cfg = one_child(tester(), backoff::none());
  cfg.observers.clear();
  auto sup = spawn_supervisor(sys, cfg);
  REQUIRE(sup);
  CHECK(take_events().empty());
  CHECK(ask<caf::ok_atom>(*sup, troupe::actors::subscribe_atom::value, tester()));
  fail("a");
  CHECK(take_events() == strings{"a:exited", "a:restarting", "a:started"});
  request_shutdown(*sup);
  run();
}

TEST_CASE_METHOD(fixture, "subscribing twice is one subscription; unsubscribing ends it",
                 "[supervisors][events][observers]") {
  auto cfg = one_child(tester(), backoff::none());
  cfg.observers.clear();
  auto sup = spawn_supervisor(sys, cfg);
  REQUIRE(sup);
  CHECK(ask<caf::ok_atom>(*sup, troupe::actors::subscribe_atom::value, tester()));
  CHECK(ask<caf::ok_atom>(*sup, troupe::actors::subscribe_atom::value, tester()));
  fail("a");
  CHECK(take_events() == strings{"a:exited", "a:restarting", "a:started"});
  CHECK(take_log() == strings{"start:a", "stop:a", "start:a"});
  CHECK(ask<caf::ok_atom>(*sup, troupe::actors::unsubscribe_atom::value, tester()));
  fail("a");
  CHECK(take_log() == strings{"stop:a", "start:a"}); // restarted, unobserved
  CHECK(take_events().empty());
  // Unsubscribing a stranger is harmless.
  CHECK(ask<caf::ok_atom>(*sup, troupe::actors::unsubscribe_atom::value, tester()));
  request_shutdown(*sup);
  run();
  CHECK(take_events().empty());
  CHECK(alive() == 0);
}

TEST_CASE_METHOD(fixture, "an unsubscribed observer is no longer referenced",
                 "[supervisors][events][observers]") {
  auto cfg = one_child(tester(), backoff::none());
  cfg.observers.clear();
  auto sup = spawn_supervisor(sys, cfg);
  REQUIRE(sup);
  auto obs = sys.spawn(forwarder, tester());
  auto addr = obs.address();
  CHECK(ask<caf::ok_atom>(*sup, troupe::actors::subscribe_atom::value, obs));
  fail("a");
  CHECK(take_events() == strings{"a:exited", "a:restarting", "a:started"});
  CHECK(ask<caf::ok_atom>(*sup, troupe::actors::unsubscribe_atom::value, obs));
  caf::anon_send_exit(obs, caf::exit_reason::user_shutdown);
  obs = nullptr;
  run();
  CHECK_FALSE(referenced(addr));
  request_shutdown(*sup);
  run();
  CHECK(alive() == 0);
}

TEST_CASE_METHOD(fixture, "a dead observer is dropped by every supervisor of the tree",
                 "[supervisors][events][observers]") {
  auto obs = sys.spawn(forwarder, tester());
  auto addr = obs.address();
  supervisor_config inner;
  inner.name = "inner";
  inner.children = {{"w", probe::start(tester())}};
  auto root = one_child(tester(), backoff::none());
  root.observers = {obs}; // inner inherits it
  root.children.push_back(supervisor_child("inner", inner));
  auto sup = spawn_supervisor(sys, root);
  REQUIRE(sup);
  root.observers.clear(); // the test keeps no reference but `obs`
  CHECK(take_events() == strings{"a:started", "inner:started", "w:started"});
  SECTION("it is dropped when it terminates") {
    caf::anon_send_exit(obs, caf::exit_reason::user_shutdown);
  }
  SECTION("it is dropped when it is killed") {
    caf::anon_send_exit(obs, caf::exit_reason::kill);
  }
  obs = nullptr;
  run();
  CHECK_FALSE(referenced(addr));
  // The tree carries on without it.
  fail("w");
  CHECK(take_log() == strings{"start:a", "start:w", "stop:w", "start:w"});
  CHECK(take_events().empty());
  auto a = ask<std::vector<child_info>>(*sup, which_children_atom::value);
  REQUIRE(a);
  CHECK(a->size() == 2);
  request_shutdown(*sup);
  run();
  CHECK(alive() == 0);
}

TEST_CASE_METHOD(fixture, "lifecycle events are logged with the supervisor path",
                 "[supervisors][events][log]") {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(out);
  sink->set_pattern("[%n] %v");
  supervisor_config inner;
  inner.name = "inner";
  inner.intensity = {0, 1s};
  inner.children = {{"w", probe::start(tester())}};
  supervisor_config root;
  root.name = "logroot";
  root.intensity = {0, 1s};
  root.children = {supervisor_child("inner", inner)};
  for (auto name : {"logroot", "logroot/inner"}) {
    auto log = troupe::actors::logger(name);
    log->sinks().push_back(sink);
    log->set_level(spdlog::level::debug);
  }
  auto sup = spawn_supervisor(sys, root);
  REQUIRE(sup);
  collect();
  fail("w");
  collect();
  auto text = out.str();
  CAPTURE(text);
  CHECK(text.find("[logroot/inner] w started") != std::string::npos);
  CHECK(text.find("[logroot/inner] w exited") != std::string::npos);
  CHECK(text.find("[logroot/inner] w intensity_exceeded") != std::string::npos);
  CHECK(text.find("[logroot/inner] escalated (trp_sup:intensity_exceeded")
        != std::string::npos);
  CHECK(text.find("[logroot] inner exited") != std::string::npos);
  CHECK(text.find("[logroot] escalated") != std::string::npos);
  for (auto name : {"logroot", "logroot/inner"}) {
    auto log = troupe::actors::logger(name);
    log->sinks().pop_back();
  }
  CHECK(alive() == 0);
}

TEST_CASE_METHOD(fixture, "restart delays grow exponentially up to the cap",
                 "[supervisors][backoff]") {
  auto sup = spawn_supervisor(sys, one_child(tester(), backoff::exponential(100ms, 1s)));
  REQUIRE(sup);
  REQUIRE(take_log() == strings{"start:a"});
  for (auto expected : {100ms, 200ms, 400ms, 800ms, 1000ms, 1000ms}) {
    auto delay = fail_and_get_delay(*this);
    CHECK(delay == expected);
    expect_restart_after(*this, delay);
  }
  request_shutdown(*sup);
  run();
}

TEST_CASE_METHOD(fixture, "the backoff starts over after a stable period",
                 "[supervisors][backoff]") {
  auto sup = spawn_supervisor(sys, one_child(tester(), backoff::exponential(100ms, 10s)));
  REQUIRE(sup);
  REQUIRE(take_log() == strings{"start:a"});
  for (auto expected : {100ms, 200ms, 400ms}) {
    auto delay = fail_and_get_delay(*this);
    CHECK(delay == expected);
    expect_restart_after(*this, delay);
  }
  SECTION("a short run keeps growing") {
    advance_time(5s - 1ns);
    CHECK(fail_and_get_delay(*this) == 800ms);
  }
  SECTION("a stable run resets") {
    advance_time(5s);
    CHECK(fail_and_get_delay(*this) == 100ms);
  }
  take_log();
  request_shutdown(*sup);
  run();
  advance_time(10s);
  CHECK(alive() == 0);
}

TEST_CASE_METHOD(fixture, "jittered restart delays stay within the policy bounds",
                 "[supervisors][backoff]") {
  auto kind = GENERATE(jitter::full, jitter::equal, jitter::decorrelated);
  CAPTURE(to_string(kind));
  auto policy = backoff::exponential(10ms, 500ms).with_jitter(kind);
  auto sup = spawn_supervisor(sys, one_child(tester(), policy));
  REQUIRE(sup);
  REQUIRE(take_log() == strings{"start:a"});
  caf::timespan previous{0};
  std::vector<caf::timespan> capped; // drawn where the nominal delay is capped
  for (uint32_t n = 1; n <= 12; ++n) {
    auto delay = fail_and_get_delay(*this);
    auto nominal = policy.nominal(n);
    switch (kind) {
      case jitter::full:
        CHECK(delay >= 0ms);
        CHECK(delay <= nominal);
        break;
      case jitter::equal:
        CHECK(delay >= nominal / 2);
        CHECK(delay <= nominal);
        break;
      default:
        CHECK(delay >= 10ms);
        CHECK(delay
              <= std::min<caf::timespan>(500ms, std::max<caf::timespan>(previous, 10ms) * 3));
        break;
    }
    expect_restart_after(*this, delay);
    previous = delay;
    if (nominal == 500ms)
      capped.push_back(delay);
  }
  // Once capped, the nominal delay no longer changes: only jitter can make
  // the delays differ.
  REQUIRE(capped.size() >= 2);
  std::sort(capped.begin(), capped.end());
  CHECK(capped.front() != capped.back()); // jitter, not a constant
  request_shutdown(*sup);
  run();
}

TEST_CASE_METHOD(fixture, "an exit the child spec expects is logged at info, others warn",
                 "[supervisors][events][log]") {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(out);
  sink->set_pattern("%l %v");
  child_spec w{"w", probe::start(tester())};
  w.expected_exit = [](const caf::error& reason) {
    return reason == caf::sec::bad_function_call;
  };
  supervisor_config cfg;
  cfg.name = "quietroot";
  cfg.intensity = {10, 1s};
  cfg.children = {w};
  auto log = troupe::actors::logger("quietroot");
  log->sinks().push_back(sink);
  log->set_level(spdlog::level::debug);
  auto sup = spawn_supervisor(sys, cfg);
  REQUIRE(sup);
  collect();
  fail("w", caf::make_error(caf::sec::bad_function_call, std::string{"expected"}));
  collect();
  fail("w", caf::make_error(caf::sec::runtime_error, std::string{"unexpected"}));
  collect();
  log->sinks().pop_back();
  auto text = out.str();
  CAPTURE(text);
  CHECK(text.find("info w exited (system:bad_function_call") != std::string::npos);
  CHECK(text.find("warning w exited (system:runtime_error") != std::string::npos);
  // The expected exit is still a failure for the restart policy.
  CHECK(text.find("info w restarting") != std::string::npos);
  caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
  collect();
  CHECK(alive() == 0);
}
