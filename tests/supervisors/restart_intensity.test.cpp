// restart_intensity: the sliding window on its own, and a supervisor that
// exceeds it escalating to its parent.

#include <catch2/catch.hpp>

#include "probe.hpp"

#include <troupe/supervisors/restart_intensity.hpp>

using namespace std::chrono_literals;
using namespace troupe::supervisors;
using probe::fixture;
using strings = std::vector<std::string>;
using time_point = caf::actor_clock::time_point;

TEST_CASE("the window allows max_restarts and refuses one more", "[supervisors][intensity]") {
  restart_intensity_window w{{2, 10s}};
  time_point t0{};
  CHECK(w.record(t0));
  CHECK(w.record(t0 + 1s));
  CHECK_FALSE(w.record(t0 + 2s)); // the third within 10 s
  CHECK(w.count(t0 + 2s) == 3);
}

TEST_CASE("restarts older than the window no longer count", "[supervisors][intensity]") {
  restart_intensity_window w{{2, 10s}};
  time_point t0{};
  CHECK(w.record(t0));
  CHECK(w.record(t0 + 6s));
  CHECK(w.record(t0 + 12s)); // t0 left the window (t0 + 12s - 10s > t0)
  CHECK(w.count(t0 + 12s) == 2);
  CHECK(w.count(t0 + 22s) == 0);
  CHECK(w.record(t0 + 10s + 12s));
}

TEST_CASE("the window is half-open: a restart exactly one window ago has expired",
          "[supervisors][intensity]") {
  restart_intensity_window w{{1, 5s}};
  time_point t0{};
  CHECK(w.record(t0));
  CHECK_FALSE(w.record(t0 + 5s - 1ns));
  restart_intensity_window v{{1, 5s}};
  CHECK(v.record(t0));
  CHECK(v.record(t0 + 5s));
}

TEST_CASE("zero restarts means the first failure is too many", "[supervisors][intensity]") {
  restart_intensity_window w{{0, 1s}};
  CHECK_FALSE(w.record(time_point{}));
}

TEST_CASE("an intensity with a window of zero or less is refused",
          "[supervisors][intensity][bad_input]") {
  CHECK(is(restart_intensity{1, 0s}.validate(), supervisor_errc::invalid_config));
  CHECK(is(restart_intensity{1, -1s}.validate(), supervisor_errc::invalid_config));
  CHECK(!restart_intensity{0, 1ns}.validate());
  CHECK(to_string(restart_intensity{3, 10s}).find("3 restarts") == 0);
}

namespace {

/// A parent with one nested supervisor "sub" that has workers a and b.
supervisor_config tree(caf::actor test, restart_intensity sub_limits) {
  supervisor_config sub;
  sub.name = "sub";
  sub.intensity = sub_limits;
  sub.children = {{"a", probe::start(test)}, {"b", probe::start(test)}};
  supervisor_config parent;
  parent.name = "parent";
  parent.intensity = {5, 1min};
  parent.children = {supervisor_child("sub", sub)};
  parent.observers = {test};
  return parent;
}

} // namespace

TEST_CASE_METHOD(fixture, "R+1 failures within T fail the supervisor and its parent sees it",
                 "[supervisors][intensity][escalation]") {
  auto root = spawn_supervisor(sys, tree(tester(), {2, 10s}));
  REQUIRE(root);
  REQUIRE(take_log() == strings{"start:a", "start:b"});
  take_events();
  fail("b");
  advance_time(1s);
  fail("b");
  advance_time(1s);
  CHECK(take_log() == strings{"stop:b", "start:b", "stop:b", "start:b"});
  fail("b"); // the third failure within 10 s
  collect();
  // sub stopped its other child, failed, and the parent restarted it.
  CHECK(log == strings{"stop:b", "stop:a", "start:a", "start:b"});
  log.clear();
  collect();
  auto exited = std::find_if(events.begin(), events.end(), [](const supervision_event& ev) {
    return ev.supervisor == "parent" && ev.kind == event_kind::exited;
  });
  REQUIRE(exited != events.end());
  CHECK(is(exited->reason, supervisor_errc::intensity_exceeded));
  auto kinds = take_events();
  auto has = [&](const std::string& x) {
    return std::find(kinds.begin(), kinds.end(), x) != kinds.end();
  };
  CHECK(has("b:intensity_exceeded")); // reported by sub (inherited observer)
  CHECK(has("parent/sub:escalated")); // sub gives up
  CHECK(has("sub:exited"));           // the parent sees it
  CHECK(has("sub:restarting"));
  request_shutdown(*root);
  run();
  CHECK(alive() == 0);
}

TEST_CASE_METHOD(fixture,
                 "the parent sees intensity_exceeded as the nested supervisor's reason",
                 "[supervisors][intensity][escalation]") {
  supervisor_config sub;
  sub.name = "sub";
  sub.intensity = {1, 10s};
  sub.children = {{"a", probe::start(tester())}};
  supervisor_config parent;
  parent.name = "parent";
  parent.children = {supervisor_child("sub", sub)};
  parent.children[0].restart = restart_type::temporary; // not restarted: one exit to see
  parent.observers = {tester()};
  auto p = spawn_supervisor(sys, parent);
  REQUIRE(p);
  REQUIRE(take_log() == strings{"start:a"});
  auto children = ask<std::vector<child_info>>(*p, which_children_atom::value);
  REQUIRE(children);
  REQUIRE(children->size() == 1);
  auto s = children->front().handle;
  REQUIRE(s);
  watch(s);
  take_events();
  fail("a");
  fail("a");
  CHECK(take_log() == strings{"stop:a", "start:a", "stop:a"});
  auto reason = down_reason(s);
  REQUIRE(reason);
  CHECK(is(*reason, supervisor_errc::intensity_exceeded));
  CHECK(sys.render(*reason).find("sub") != std::string::npos);
  // The parent's own view of its child's exit carries that same reason.
  auto exited = std::find_if(events.begin(), events.end(), [](const supervision_event& ev) {
    return ev.supervisor == "parent" && ev.child == "sub" && ev.kind == event_kind::exited;
  });
  REQUIRE(exited != events.end());
  CHECK(exited->reason == *reason);
  request_shutdown(*p);
  run();
  CHECK(alive() == 0);
}

TEST_CASE_METHOD(fixture, "R failures spread over more than T do not escalate",
                 "[supervisors][intensity][escalation]") {
  supervisor_config sub;
  sub.name = "sub";
  sub.intensity = {2, 10s};
  sub.children = {{"a", probe::start(tester())}};
  auto s = spawn_supervisor(sys, sub);
  REQUIRE(s);
  watch(*s);
  REQUIRE(take_log() == strings{"start:a"});
  for (int i = 0; i < 6; ++i) {
    fail("a");
    advance_time(6s); // at most two failures in any 10 s
  }
  CHECK(take_log().size() == 12);
  CHECK_FALSE(down_reason(*s));
  request_shutdown(*s);
  run();
  CHECK(down_reason(*s));
  CHECK(alive() == 0);
}
