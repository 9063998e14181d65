// scope: a TaskGroup of actors. The first failure cancels the rest, each
// cancelled task cleans up, the owner gets every outcome; shields delay the
// stop; the isolate mode cancels nothing.

#include <catch2/catch.hpp>

#include "probe.hpp"

#include <troupe/actors/flow_errc.hpp>

using namespace std::chrono_literals;
using namespace troupe::supervisors;
using probe::fixture;
using strings = std::vector<std::string>;

namespace {

scope_config ten_tasks(caf::actor test, scope_mode mode = scope_mode::cancel_on_failure,
                       probe::options opts = {}) {
  scope_config cfg;
  cfg.name = "group";
  cfg.mode = mode;
  cfg.cancel_timeout = 5s;
  cfg.owner = test;
  for (int i = 1; i <= 10; ++i)
    cfg.tasks.push_back({"t" + std::to_string(i), probe::start(test, opts)});
  return cfg;
}

std::string context_text(caf::actor_system& sys, const caf::error& err) {
  return sys.render(err);
}

} // namespace

TEST_CASE_METHOD(fixture,
                 "the first failure cancels the other nine and the owner gets all ten",
                 "[supervisors][scope]") {
  auto s = spawn_scope(sys, ten_tasks(tester()));
  REQUIRE(s);
  watch(*s);
  CHECK(take_log().size() == 10);
  CHECK(alive() == 11);
  fail("t3", caf::make_error(caf::sec::runtime_error, std::string{"disk full"}));
  collect();
  // t3 stopped first; then each of the other nine ran its cleanup.
  REQUIRE(log.size() == 10);
  CHECK(log.front() == "stop:t3");
  for (int i = 1; i <= 10; ++i) {
    auto id = "t" + std::to_string(i);
    CAPTURE(id);
    CHECK(std::count(log.begin(), log.end(), "stop:" + id) == 1);
    if (id == "t3")
      continue;
    // The cleanup hook got the typed cancellation, naming the cause.
    CHECK(is(reasons[id], stop_reason::cancelled));
    auto text = context_text(sys, reasons[id]);
    CHECK(text.find("t3") != std::string::npos);
    CHECK(text.find("disk full") != std::string::npos);
  }
  REQUIRE(reports.size() == 1);
  auto& r = reports.front();
  CHECK(r.scope == "group");
  CHECK(r.outcomes.size() == 10);
  CHECK(r.count(task_status::failed) == 1);
  CHECK(r.count(task_status::cancelled) == 9);
  CHECK(r.count(task_status::succeeded) == 0);
  CHECK_FALSE(r.ok());
  REQUIRE(r.failures().size() == 1);
  CHECK(r.failures().front().id == "t3");
  CHECK(r.failures().front().reason == caf::sec::runtime_error);
  REQUIRE(r.find("t7") != nullptr);
  CHECK(r.find("t7")->status == task_status::cancelled);
  auto reason = down_reason(*s);
  REQUIRE(reason);
  CHECK(is(*reason, supervisor_errc::scope_failed));
  CHECK(alive() == 0);
}

TEST_CASE_METHOD(fixture, "tasks that all succeed give a clean report",
                 "[supervisors][scope]") {
  auto s = spawn_scope(sys, ten_tasks(tester()));
  REQUIRE(s);
  watch(*s);
  collect();
  for (int i = 1; i <= 10; ++i)
    finish("t" + std::to_string(i));
  collect();
  REQUIRE(reports.size() == 1);
  CHECK(reports.front().ok());
  CHECK(reports.front().count(task_status::succeeded) == 10);
  auto reason = down_reason(*s);
  REQUIRE(reason);
  CHECK(!*reason);
}

TEST_CASE_METHOD(fixture, "a shielded section completes before its task stops",
                 "[supervisors][scope][shield]") {
  auto s = spawn_scope(sys, ten_tasks(tester()));
  REQUIRE(s);
  take_log();
  self->send(handles["t5"], probe::enter_atom::value);
  CHECK(take_log() == strings{"enter:t5"});
  auto t5 = handles["t5"];
  fail("t3");
  collect();
  CHECK(std::count(log.begin(), log.end(), "stop:t5") == 0); // still in its section
  CHECK(log.size() == 9);
  CHECK(reports.empty()); // the scope waits for t5
  log.clear();
  self->send(t5, probe::leave_atom::value);
  CHECK(take_log() == strings{"leave:t5", "stop:t5"});
  REQUIRE(reports.size() == 1);
  CHECK(reports.front().find("t5")->status == task_status::cancelled);
  CHECK(alive() == 0);
}

TEST_CASE_METHOD(fixture, "a shield that outlives its bound no longer holds the cancellation",
                 "[supervisors][scope][shield]") {
  probe::options opts;
  opts.shield_bound = 2s;
  auto s = spawn_scope(sys, ten_tasks(tester(), scope_mode::cancel_on_failure, opts));
  REQUIRE(s);
  collect();
  self->send(handles["t5"], probe::enter_atom::value);
  take_log();
  fail("t3");
  CHECK(take_log().size() == 9);
  advance_time(2s - 1ns);
  CHECK(take_log().empty());
  advance_time(1ns);
  CHECK(take_log() == strings{"stop:t5"});
  CHECK(is(reasons["t5"], stop_reason::cancelled));
  CHECK(reports.size() == 1);
  CHECK(alive() == 0);
}

TEST_CASE_METHOD(fixture,
                 "a task that ignores cancellation is killed after the cancel timeout",
                 "[supervisors][scope]") {
  auto cfg = ten_tasks(tester());
  cfg.tasks[9].start = probe::start(tester(), probe::options{true});
  auto s = spawn_scope(sys, cfg);
  REQUIRE(s);
  take_log();
  fail("t1");
  CHECK(take_log().size() == 9);
  CHECK(reports.empty());
  advance_time(5s - 1ns);
  CHECK(take_log().empty());
  advance_time(1ns);
  CHECK(take_log() == strings{"stop:t10"});
  REQUIRE(reports.size() == 1);
  auto t10 = reports.front().find("t10");
  REQUIRE(t10 != nullptr);
  CHECK(t10->status == task_status::cancelled);
  CHECK(t10->reason == caf::exit_reason::kill);
  CHECK(alive() == 0);
}

TEST_CASE_METHOD(fixture, "in isolate mode a failure cancels nothing",
                 "[supervisors][scope]") {
  auto s = spawn_scope(sys, ten_tasks(tester(), scope_mode::isolate));
  REQUIRE(s);
  take_log();
  fail("t3");
  fail("t8");
  CHECK(take_log() == strings{"stop:t3", "stop:t8"});
  CHECK(reports.empty());
  for (int i = 1; i <= 10; ++i)
    if (i != 3 && i != 8)
      finish("t" + std::to_string(i));
  collect();
  REQUIRE(reports.size() == 1);
  CHECK(reports.front().count(task_status::failed) == 2);
  CHECK(reports.front().count(task_status::succeeded) == 8);
  CHECK(reports.front().count(task_status::cancelled) == 0);
  CHECK(alive() == 0);
}

TEST_CASE_METHOD(fixture,
                 "cancelling the scope from outside cancels every task with that reason",
                 "[supervisors][scope]") {
  auto s = spawn_scope(sys, ten_tasks(tester()));
  REQUIRE(s);
  watch(*s);
  collect();
  request_shutdown(*s, make_cancelled("operator"));
  collect();
  CHECK(log.size() == 20);
  REQUIRE(reports.size() == 1);
  CHECK(reports.front().count(task_status::cancelled) == 10);
  CHECK(is(reports.front().cancelled_by, stop_reason::cancelled));
  auto reason = down_reason(*s);
  REQUIRE(reason);
  CHECK(is(*reason, stop_reason::cancelled));
  CHECK(alive() == 0);
}

TEST_CASE_METHOD(fixture, "the tasks of a scope whose owner dies are cancelled",
                 "[supervisors][scope]") {
  auto owner =
    sys.spawn([](caf::event_based_actor*) -> caf::behavior { return {[](int) {}}; });
  auto cfg = ten_tasks(tester());
  cfg.owner = owner;
  auto s = spawn_scope(sys, cfg);
  REQUIRE(s);
  collect();
  caf::anon_send_exit(owner, caf::exit_reason::user_shutdown);
  collect();
  CHECK(std::count_if(log.begin(), log.end(),
                      [](const std::string& x) { return x.rfind("stop:", 0) == 0; })
        == 10);
  for (auto& kvp : reasons)
    CHECK(is(kvp.second, stop_reason::cancelled));
  CHECK(alive() == 0);
}

TEST_CASE_METHOD(fixture,
                 "a task that fails to start counts as a failure and cancels the rest",
                 "[supervisors][scope]") {
  auto cfg = ten_tasks(tester());
  cfg.tasks[4].start = [](const start_context&) -> caf::expected<caf::actor> {
    throw std::runtime_error("bad url");
  };
  auto s = spawn_scope(sys, cfg);
  REQUIRE(s);
  collect();
  REQUIRE(reports.size() == 1);
  auto& r = reports.front();
  CHECK(r.count(task_status::failed) == 1);
  CHECK(r.count(task_status::cancelled) == 9);
  // t1..t4 started and were cancelled; t6..t10 never started.
  CHECK(std::count(log.begin(), log.end(), "start:t6") == 0);
  CHECK(is(r.find("t5")->reason, supervisor_errc::start_failed));
  CHECK(sys.render(r.find("t5")->reason).find("bad url") != std::string::npos);
  CHECK(alive() == 0);
}

TEST_CASE_METHOD(fixture, "tasks can join a running scope and the report can be awaited",
                 "[supervisors][scope]") {
  scope_config cfg;
  cfg.name = "open";
  cfg.tasks = {{"first", probe::start(tester())}};
  auto s = spawn_scope(sys, cfg);
  REQUIRE(s);
  collect();
  auto joined =
    ask<caf::actor>(*s, start_child_atom::value, task_spec{"second", probe::start(tester())});
  CHECK(joined);
  auto dup =
    ask<caf::actor>(*s, start_child_atom::value, task_spec{"second", probe::start(tester())});
  CHECK(is(dup.error(), supervisor_errc::duplicate_child_id));
  auto handle = self->request(*s, caf::infinite, await_atom::value);
  finish("first");
  finish("second");
  run();
  std::optional<scope_report> report;
  handle.receive([&](scope_report& r) { report = std::move(r); }, [](caf::error&) {});
  REQUIRE(report);
  CHECK(report->ok());
  CHECK(report->outcomes.size() == 2);
  CHECK(alive() == 0);
}

TEST_CASE_METHOD(fixture, "invalid scope configs are refused with a typed error",
                 "[supervisors][scope][bad_input]") {
  scope_config cfg;
  cfg.tasks = {{"x", probe::start(tester())}, {"x", probe::start(tester())}};
  CHECK(is(spawn_scope(sys, cfg).error(), supervisor_errc::duplicate_child_id));
  cfg.tasks.pop_back();
  cfg.cancel_timeout = -1s;
  CHECK(is(spawn_scope(sys, cfg).error(), supervisor_errc::invalid_config));
  cfg.cancel_timeout = 1s;
  cfg.name = "";
  CHECK(is(spawn_scope(sys, cfg).error(), supervisor_errc::invalid_config));
  cfg.name = "ok";
  cfg.tasks[0].start = nullptr;
  CHECK(is(spawn_scope(sys, cfg).error(), supervisor_errc::invalid_config));
  CHECK(alive() == 0);
}

TEST_CASE_METHOD(fixture, "a scope under a supervisor starts with the tree and stops with it",
                 "[supervisors][scope]") {
  scope_config group = ten_tasks(tester());
  group.owner = nullptr;
  supervisor_config root;
  root.name = "root";
  child_spec spec{"group", [group](const start_context& ctx) -> caf::expected<caf::actor> {
                    auto s = spawn_scope(ctx.system, group, ctx.path);
                    if (!s)
                      return std::move(s.error());
                    return caf::actor_cast<caf::actor>(*s); // children are caf::actor
                  }};
  spec.kind = child_kind::supervisor; // answers ready_atom
  root.children = {spec, {"after", probe::start(tester())}};
  auto sup = spawn_supervisor(sys, root);
  REQUIRE(sup);
  auto log = take_log();
  REQUIRE(log.size() == 11);
  CHECK(log.back() == "start:after"); // after every task of the scope
  request_shutdown(*sup);
  log = take_log();
  REQUIRE(log.size() == 11);
  CHECK(log.front() == "stop:after");
  for (int i = 1; i <= 10; ++i)
    CHECK(is(reasons["t" + std::to_string(i)], stop_reason::shutdown));
  CHECK(alive() == 0);
}

TEST_CASE_METHOD(fixture, "a scope's deadline cancels what still runs and fails the scope",
                 "[supervisors][scope]") {
  auto cfg = ten_tasks(tester());
  cfg.deadline = 1s;
  auto s = spawn_scope(sys, cfg);
  REQUIRE(s);
  watch(*s);
  CHECK(take_log().size() == 10);
  finish("t1"); // done in time: stays a success
  collect();
  advance_time(1s - 1ms);
  CHECK_FALSE(down_reason(*s));
  advance_time(1ms);
  auto reason = down_reason(*s);
  REQUIRE(reason);
  CHECK(is(*reason, troupe::actors::flow_errc::deadline_exceeded));
  REQUIRE(reports.size() == 1);
  auto& r = reports.front();
  CHECK_FALSE(r.ok());
  CHECK(is(r.cancelled_by, troupe::actors::flow_errc::deadline_exceeded));
  CHECK(r.count(task_status::succeeded) == 1);
  CHECK(r.count(task_status::cancelled) == 9); // their cleanup ran
  CHECK(is(reasons["t2"], stop_reason::cancelled));
  CHECK(alive() == 0);
}

namespace {

/// A task that reports `x * 10` as its result and ends.
caf::behavior tenfold(caf::event_based_actor* self, caf::actor scope, int32_t x) {
  report_task_result(self, scope, x * 10);
  self->quit();
  return {};
}

} // namespace

TEST_CASE_METHOD(fixture, "scope tasks return values in the report", "[supervisors][scope]") {
  scope_config cfg;
  cfg.name = "sum";
  cfg.owner = tester();
  for (int32_t i = 1; i <= 3; ++i)
    cfg.tasks.push_back({"t" + std::to_string(i), spawn_task(tenfold, i)});
  auto s = spawn_scope(sys, cfg);
  REQUIRE(s);
  collect();
  REQUIRE(reports.size() == 1);
  auto& r = reports.front();
  CHECK(r.ok());
  for (int32_t i = 1; i <= 3; ++i) {
    auto* x = r.result_of<int32_t>("t" + std::to_string(i));
    REQUIRE(x != nullptr);
    CHECK(*x == i * 10);
  }
  CHECK(r.result_of<std::string>("t1") == nullptr); // a different type
}

namespace {

/// A contender in a race: after `delay` it reports `value` and ends, or
/// (value < 0) fails. Its cleanup, which runs however it ends, tells the
/// test ("stop:<id>" with the reason).
caf::behavior contender(caf::event_based_actor* self, caf::actor scope, caf::actor test,
                        std::string id, int32_t value, caf::timespan delay) {
  auto c = cancellation::install(self);
  c->on_cleanup([test, id](const caf::error& reason) {
    caf::anon_send(test, probe::stopped_atom::value, id, reason);
  });
  self->delayed_send(self, delay, probe::finish_atom::value);
  return {[=](probe::finish_atom) {
    if (value < 0) {
      c->fail(caf::make_error(caf::sec::runtime_error, std::string{"lost its way"}));
      return;
    }
    report_task_result(self, scope, value);
    c->finish();
  }};
}

} // namespace

TEST_CASE_METHOD(fixture, "first_success over tasks takes the winner and cancels the losers",
                 "[supervisors][scope][race]") {
  auto got = std::make_shared<std::optional<caf::expected<int32_t>>>();
  auto race = [&](std::vector<std::pair<int32_t, caf::timespan>> contenders,
                  caf::timespan deadline) {
    std::vector<task_spec> tasks;
    for (size_t i = 0; i < contenders.size(); ++i) {
      auto id = "c" + std::to_string(i);
      tasks.push_back(
        {id, spawn_task(contender, tester(), id, contenders[i].first, contenders[i].second)});
    }
    sys.spawn([=](caf::event_based_actor* self) {
      first_success<int32_t>(self, tasks, deadline,
                             [=](caf::expected<int32_t> x) { *got = std::move(x); });
    });
    run();
  };
  SECTION("the fastest success wins; the slower one is cancelled, not awaited") {
    race({{1, 300ms}, {2, 100ms}, {-1, 10ms}}, 1s);
    advance_time(10ms); // c2 fails: nothing else happens
    CHECK_FALSE(*got);
    advance_time(90ms); // c1 wins
    REQUIRE(*got);
    REQUIRE(**got);
    CHECK(***got == 2);
    CHECK(now() == 100ms); // c0 did not run to its end: it was cancelled
    collect();
    CHECK(is(reasons["c0"], stop_reason::cancelled)); // and its cleanup ran
    CHECK_FALSE(reasons["c1"]);
  }
  SECTION("a deadline cancels everyone") {
    race({{1, 300ms}, {2, 300ms}}, 200ms);
    advance_time(200ms);
    REQUIRE(*got);
    REQUIRE_FALSE(**got);
    CHECK(is((**got).error(), troupe::actors::flow_errc::deadline_exceeded));
    collect();
    CHECK(is(reasons["c0"], stop_reason::cancelled));
    CHECK(is(reasons["c1"], stop_reason::cancelled));
  }
  SECTION("when all fail, every error comes back") {
    race({{-1, 10ms}, {-1, 20ms}}, 1s);
    advance_time(20ms);
    REQUIRE(*got);
    REQUIRE_FALSE(**got);
    CHECK(is((**got).error(), troupe::actors::flow_errc::all_failed));
    CHECK(sys.render((**got).error()).find("lost its way") != std::string::npos);
  }
  run();
  CHECK(alive() == 0);
}
