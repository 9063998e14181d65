// supervisor: strategies x restart types, ordered start and stop, shutdown
// timeouts, the dynamic strategy, the request protocol, and lifetime.

#include <catch2/catch.hpp>

#include "probe.hpp"

#include <troupe/supervisors/spawn_with.hpp>
#include <troupe/supervisors/system_config.hpp>

using namespace std::chrono_literals;
using namespace troupe::supervisors;
using probe::fixture;
using strings = std::vector<std::string>;

namespace {

supervisor_config three_children(caf::actor test, restart_strategy strategy,
                                 restart_type b_restart = restart_type::permanent) {
  supervisor_config cfg;
  cfg.name = "sup";
  cfg.strategy = strategy;
  cfg.intensity = {10, 1s};
  cfg.children = {
    {"a", probe::start(test)}, {"b", probe::start(test)}, {"c", probe::start(test)}};
  cfg.children[1].restart = b_restart;
  return cfg;
}

supervisor_actor spawn_ok(caf::actor_system& sys, supervisor_config cfg) {
  auto sup = spawn_supervisor(sys, std::move(cfg));
  REQUIRE(sup);
  return *sup;
}

std::vector<child_info> which_children(fixture& f, const supervisor_actor& sup) {
  auto reply = f.ask<std::vector<child_info>>(sup, which_children_atom::value);
  REQUIRE(reply);
  return *reply;
}

} // namespace

TEST_CASE_METHOD(fixture, "children start in order and stop in reverse order",
                 "[supervisors][supervisor][lifetime]") {
  auto sup = spawn_ok(sys, three_children(tester(), restart_strategy::one_for_one));
  watch(sup);
  CHECK(take_log() == strings{"start:a", "start:b", "start:c"});
  CHECK(alive() == 4);
  request_shutdown(sup);
  CHECK(take_log() == strings{"stop:c", "stop:b", "stop:a"});
  for (auto id : {"a", "b", "c"}) {
    CAPTURE(id);
    CHECK(is(reasons[id], stop_reason::shutdown));
  }
  auto reason = down_reason(sup);
  REQUIRE(reason);
  CHECK(is(*reason, stop_reason::shutdown));
  CHECK(alive() == 0);
}

TEST_CASE_METHOD(fixture, "each strategy and restart type restarts exactly the right children",
                 "[supervisors][supervisor][strategy]") {
  auto strategy = GENERATE(restart_strategy::one_for_one, restart_strategy::one_for_all,
                           restart_strategy::rest_for_one);
  auto restart =
    GENERATE(restart_type::permanent, restart_type::transient, restart_type::temporary);
  auto abnormal = GENERATE(true, false);
  CAPTURE(to_string(strategy), to_string(restart), abnormal);
  auto sup = spawn_ok(sys, three_children(tester(), strategy, restart));
  REQUIRE(take_log() == strings{"start:a", "start:b", "start:c"});
  if (abnormal)
    fail("b");
  else
    finish("b");
  auto restarts =
    restart == restart_type::permanent || (restart == restart_type::transient && abnormal);
  strings expected{"stop:b"};
  if (restarts) {
    switch (strategy) {
      case restart_strategy::one_for_one:
        expected = {"stop:b", "start:b"};
        break;
      case restart_strategy::one_for_all:
        expected = {"stop:b", "stop:c", "stop:a", "start:a", "start:b", "start:c"};
        break;
      default: // rest_for_one
        expected = {"stop:b", "stop:c", "start:b", "start:c"};
        break;
    }
  }
  CHECK(take_log() == expected);
  auto children = which_children(*this, sup);
  strings ids;
  for (auto& x : children)
    ids.push_back(x.id + (x.handle ? "+" : "-"));
  if (restart == restart_type::temporary)
    CHECK(ids == strings{"a+", "c+"}); // temporary children are removed
  else
    CHECK(ids == strings{"a+", restarts ? "b+" : "b-", "c+"});
  // siblings stopped for a group restart were asked to shut down
  if (restarts && strategy != restart_strategy::one_for_one)
    CHECK(is(reasons["c"], stop_reason::shutdown));
  request_shutdown(sup);
  run();
  CHECK(alive() == 0);
}

TEST_CASE_METHOD(fixture, "a group restart drops temporary siblings",
                 "[supervisors][supervisor][strategy]") {
  auto cfg = three_children(tester(), restart_strategy::one_for_all);
  cfg.children[0].restart = restart_type::temporary;
  auto sup = spawn_ok(sys, cfg);
  REQUIRE(take_log() == strings{"start:a", "start:b", "start:c"});
  fail("c");
  CHECK(take_log() == strings{"stop:c", "stop:b", "stop:a", "start:b", "start:c"});
  auto children = which_children(*this, sup);
  REQUIRE(children.size() == 2);
  CHECK(children[0].id == "b");
  CHECK(children[0].restarts == 1);
  CHECK(children[1].id == "c");
  CHECK(children[1].restarts == 1);
  request_shutdown(sup);
  run();
  CHECK(alive() == 0);
}

TEST_CASE_METHOD(fixture, "a child that ignores shutdown is killed at its timeout",
                 "[supervisors][supervisor][shutdown]") {
  auto cfg = three_children(tester(), restart_strategy::one_for_one);
  cfg.children[1].start = probe::start(tester(), probe::options{true});
  cfg.children[1].shutdown = shutdown_policy::timeout(2s);
  auto sup = spawn_ok(sys, cfg);
  watch(sup);
  REQUIRE(take_log() == strings{"start:a", "start:b", "start:c"});
  auto t0 = now();
  request_shutdown(sup);
  CHECK(take_log() == strings{"stop:c"});
  advance_time(2s - 1ns);
  CHECK(take_log().empty()); // b still runs, a still waits
  advance_time(1ns);
  CHECK(take_log() == strings{"stop:b", "stop:a"});
  CHECK(reasons["b"] == caf::exit_reason::kill); // its cleanup still ran
  CHECK(down_reason(sup));
  CHECK(now() - t0 == 2s);
  CHECK(alive() == 0);
}

TEST_CASE_METHOD(fixture, "brutal_kill stops a child at once without a cleanup request",
                 "[supervisors][supervisor][shutdown]") {
  auto cfg = three_children(tester(), restart_strategy::one_for_one);
  cfg.children[2].start = probe::start(tester(), probe::options{true});
  cfg.children[2].shutdown = shutdown_policy::brutal_kill();
  auto sup = spawn_ok(sys, cfg);
  REQUIRE(take_log() == strings{"start:a", "start:b", "start:c"});
  request_shutdown(sup);
  CHECK(take_log() == strings{"stop:c", "stop:b", "stop:a"});
  CHECK(reasons["c"] == caf::exit_reason::kill);
  CHECK(alive() == 0);
}

TEST_CASE_METHOD(fixture, "a tree with stuck children stops within the sum of its bounds",
                 "[supervisors][supervisor][shutdown]") {
  probe::options stuck{true};
  supervisor_config leaf;
  leaf.name = "leaf";
  leaf.children = {{"l1", probe::start(tester(), stuck)},
                   {"l2", probe::start(tester(), stuck)}};
  leaf.children[0].shutdown = shutdown_policy::timeout(1s);
  leaf.children[1].shutdown = shutdown_policy::timeout(3s);
  supervisor_config mid;
  mid.name = "mid";
  mid.strategy = restart_strategy::rest_for_one;
  mid.children = {supervisor_child("leaf", leaf), {"m1", probe::start(tester(), stuck)}};
  mid.children[1].shutdown = shutdown_policy::timeout(2s);
  supervisor_config root;
  root.name = "root";
  root.children = {{"r1", probe::start(tester(), stuck)}, supervisor_child("mid", mid)};
  root.children[0].shutdown = shutdown_policy::timeout(500ms);
  CHECK(leaf.shutdown_bound() == 4s);
  CHECK(mid.shutdown_bound() == 6s);
  CHECK(root.shutdown_bound() == 6500ms);
  auto sup = spawn_ok(sys, root);
  watch(sup);
  CHECK(take_log() == strings{"start:r1", "start:l1", "start:l2", "start:m1"});
  CHECK(alive() == 7);
  auto t0 = now();
  request_shutdown(sup);
  // Every stuck child is killed after its own timeout, in reverse order.
  for (int i = 0; i < 100 && !down_reason(sup); ++i)
    advance_time(100ms);
  REQUIRE(down_reason(sup));
  CHECK(now() - t0 <= root.shutdown_bound());
  CHECK(take_log() == strings{"stop:m1", "stop:l2", "stop:l1", "stop:r1"});
  CHECK(alive() == 0);
}

TEST_CASE_METHOD(fixture, "no child outlives a supervisor that is killed",
                 "[supervisors][supervisor][lifetime]") {
  supervisor_config inner;
  inner.name = "inner";
  inner.children = {{"i1", probe::start(tester(), probe::options{true})}};
  supervisor_config root;
  root.name = "root";
  root.children = {{"r1", probe::start(tester(), probe::options{true})},
                   supervisor_child("inner", inner)};
  auto sup = spawn_ok(sys, root);
  REQUIRE(take_log() == strings{"start:r1", "start:i1"});
  CHECK(alive() == 4);
  caf::anon_send_exit(sup, caf::exit_reason::kill);
  auto log = take_log();
  std::sort(log.begin(), log.end());
  CHECK(log == strings{"stop:i1", "stop:r1"});
  CHECK(alive() == 0);
}

TEST_CASE_METHOD(fixture, "a child that fails to start fails its supervisor in order",
                 "[supervisors][supervisor][lifetime]") {
  auto cfg = three_children(tester(), restart_strategy::one_for_one);
  cfg.children[2].start = probe::failing_start();
  auto sup = spawn_ok(sys, cfg);
  watch(sup);
  CHECK(take_log() == strings{"start:a", "start:b", "stop:b", "stop:a"});
  auto reason = down_reason(sup);
  REQUIRE(reason);
  CHECK(is(*reason, supervisor_errc::start_failed));
  CHECK(alive() == 0);
}

TEST_CASE_METHOD(fixture, "a start function that throws becomes a typed start error",
                 "[supervisors][supervisor][lifetime]") {
  supervisor_config cfg;
  cfg.name = "sup";
  cfg.children = {{"x", [](const start_context&) -> caf::expected<caf::actor> {
                     throw std::runtime_error("no database");
                   }}};
  auto sup = spawn_ok(sys, cfg);
  watch(sup);
  run();
  auto reason = down_reason(sup);
  REQUIRE(reason);
  CHECK(is(*reason, supervisor_errc::start_failed));
  CHECK(sys.render(*reason).find("no database") != std::string::npos);
}

TEST_CASE_METHOD(fixture, "a dynamic supervisor starts children of one spec at run time",
                 "[supervisors][supervisor][dynamic]") {
  supervisor_config cfg;
  cfg.name = "pool";
  cfg.strategy = restart_strategy::dynamic;
  cfg.intensity = {10, 1s};
  cfg.children = {{"w", [t = tester()](const start_context& ctx) -> caf::expected<caf::actor> {
                     // the arguments of start_child reach the start function
                     auto name = ctx.id + "@" + ctx.args.get_as<std::string>(0);
                     return ctx.system.spawn(probe::worker, t, name, probe::options{true});
                   }}};
  cfg.children[0].restart = restart_type::transient;
  cfg.children[0].shutdown = shutdown_policy::timeout(2s);
  auto sup = spawn_ok(sys, cfg);
  watch(sup);
  CHECK(take_log().empty()); // nothing starts by itself
  for (auto arg : {"x", "y", "z"})
    self->send(sup, start_child_atom::value, caf::make_message(std::string{arg}));
  CHECK(take_log() == strings{"start:w-1@x", "start:w-2@y", "start:w-3@z"});
  SECTION("only the failed child restarts") {
    fail("w-2@y");
    CHECK(take_log() == strings{"stop:w-2@y", "start:w-2@y"});
    finish("w-1@x"); // transient: a normal exit removes it
    CHECK(take_log() == strings{"stop:w-1@x"});
    CHECK(which_children(*this, sup).size() == 2);
  }
  SECTION("children stop in parallel: one timeout for all") {
    auto t0 = now();
    request_shutdown(sup);
    advance_time(2s);
    auto log = take_log();
    std::sort(log.begin(), log.end());
    CHECK(log == strings{"stop:w-1@x", "stop:w-2@y", "stop:w-3@z"});
    CHECK(down_reason(sup));
    CHECK(now() - t0 == 2s);
  }
  SECTION("static requests are refused") {
    auto reply =
      ask<caf::actor>(sup, start_child_atom::value, child_spec{"s", probe::start(tester())});
    CHECK(is(reply.error(), supervisor_errc::unsupported_operation));
  }
  request_shutdown(sup);
  advance_time(2s);
  CHECK(alive() == 0);
}

TEST_CASE_METHOD(fixture, "children can be added and removed at run time",
                 "[supervisors][supervisor][protocol]") {
  auto sup = spawn_ok(sys, three_children(tester(), restart_strategy::rest_for_one));
  REQUIRE(take_log() == strings{"start:a", "start:b", "start:c"});
  auto d =
    ask<caf::actor>(sup, start_child_atom::value, child_spec{"d", probe::start(tester())});
  CHECK(d);
  CHECK(take_log() == strings{"start:d"});
  SECTION("a duplicate id is refused") {
    auto reply =
      ask<caf::actor>(sup, start_child_atom::value, child_spec{"d", probe::start(tester())});
    CHECK(is(reply.error(), supervisor_errc::duplicate_child_id));
  }
  SECTION("an invalid spec is refused") {
    auto reply =
      ask<caf::actor>(sup, start_child_atom::value, child_spec{"", probe::start(tester())});
    CHECK(is(reply.error(), supervisor_errc::invalid_config));
  }
  SECTION("the added child takes part in rest_for_one") {
    fail("b");
    CHECK(take_log()
          == strings{"stop:b", "stop:d", "stop:c", "start:b", "start:c", "start:d"});
  }
  SECTION("stop_child stops and removes one child") {
    CHECK(ask<caf::ok_atom>(sup, stop_child_atom::value, std::string{"b"}));
    CHECK(take_log() == strings{"stop:b"});
    strings ids;
    for (auto& x : which_children(*this, sup))
      ids.push_back(x.id);
    CHECK(ids == strings{"a", "c", "d"});
    auto again = ask<caf::ok_atom>(sup, stop_child_atom::value, std::string{"b"});
    CHECK(is(again.error(), supervisor_errc::unknown_child));
  }
  request_shutdown(sup);
  run();
  CHECK(alive() == 0);
}

TEST_CASE_METHOD(fixture, "spawn_with starts a function-based actor with fixed arguments",
                 "[supervisors][supervisor][protocol]") {
  supervisor_config cfg;
  cfg.name = "sup";
  cfg.children = {
    {"x", spawn_with(probe::worker, tester(), std::string{"fixed"}, probe::options{})}};
  auto sup = spawn_ok(sys, cfg);
  CHECK(take_log() == strings{"start:fixed"});
  auto children = which_children(*this, sup);
  REQUIRE(children.size() == 1);
  CHECK(children[0].handle == handles["fixed"]);
  request_shutdown(sup);
  CHECK(take_log() == strings{"stop:fixed"});
  CHECK(alive() == 0);
}

TEST_CASE_METHOD(fixture, "lookup names a running child and waits through its restart",
                 "[supervisors][supervisor][lookup]") {
  auto cfg = three_children(tester(), restart_strategy::one_for_one);
  cfg.restart_backoff = troupe::actors::backoff::constant(100ms);
  auto sup = spawn_ok(sys, cfg);
  CHECK(take_log() == strings{"start:a", "start:b", "start:c"});
  auto b = handles.at("b");
  SECTION("a running child is answered at once") {
    auto reply = ask<caf::actor>(sup, troupe::actors::lookup_atom::value, std::string{"b"},
                                 caf::actor_addr{});
    REQUIRE(reply);
    CHECK(*reply == b);
  }
  SECTION("the incarnation the asker saw die is not named again") {
    // Asked before the supervisor saw b die: the answer waits for the next b.
    auto pending = self->request(sup, caf::infinite, troupe::actors::lookup_atom::value,
                                 std::string{"b"}, b.address());
    run();
    fail("b");
    run();
    CHECK(take_log() == strings{"stop:b"});
    advance_time(100ms); // the backoff
    CHECK(take_log() == strings{"start:b"});
    caf::actor next;
    pending.receive([&](caf::actor& x) { next = x; },
                    [&](caf::error& err) { FAIL(troupe::messages::describe(err)); });
    CHECK(next == handles.at("b"));
    CHECK(next != b);
  }
  SECTION("an unknown id is a typed error") {
    auto reply = ask<caf::actor>(sup, troupe::actors::lookup_atom::value, std::string{"x"},
                                 caf::actor_addr{});
    REQUIRE_FALSE(reply);
    CHECK(is(reply.error(), supervisor_errc::unknown_child));
  }
  request_shutdown(sup);
  collect();
}

TEST_CASE_METHOD(fixture, "lookup of a finished child or during shutdown answers 'no more'",
                 "[supervisors][supervisor][lookup]") {
  auto sup = spawn_ok(
    sys, three_children(tester(), restart_strategy::one_for_one, restart_type::transient));
  finish("b");
  collect();
  auto reply = ask<caf::actor>(sup, troupe::actors::lookup_atom::value, std::string{"b"},
                               caf::actor_addr{});
  REQUIRE(reply);
  CHECK_FALSE(*reply); // b ended normally and is not restarted
  request_shutdown(sup);
  collect();
}

TEST_CASE_METHOD(fixture, "stop_order::start stops the first child first",
                 "[supervisors][supervisor][lifetime]") {
  auto cfg = three_children(tester(), restart_strategy::one_for_one);
  cfg.shutdown_order = stop_order::start;
  auto sup = spawn_ok(sys, cfg);
  CHECK(take_log() == strings{"start:a", "start:b", "start:c"});
  request_shutdown(sup);
  CHECK(take_log() == strings{"stop:a", "stop:b", "stop:c"});
}

TEST_CASE_METHOD(fixture,
                 "auto_shutdown ends a supervisor once its significant children ended",
                 "[supervisors][supervisor][lifetime]") {
  auto cfg = three_children(tester(), restart_strategy::one_for_one);
  for (auto& c : cfg.children) {
    c.restart = restart_type::transient;
    c.significant = c.id != "c";
  }
  SECTION("all_significant waits for every significant child") {
    cfg.auto_shutdown = auto_shutdown::all_significant;
    auto sup = spawn_ok(sys, cfg);
    watch(sup);
    finish("a");
    collect();
    CHECK_FALSE(down_reason(sup));
    fail("b"); // a failure restarts it: not an end
    collect();
    CHECK_FALSE(down_reason(sup));
    finish("b");
    collect();
    auto reason = down_reason(sup);
    REQUIRE(reason);
    CHECK(is_normal_stop(*reason));
    CHECK(alive() == 0); // c, not significant, was stopped with it
  }
  SECTION("any_significant ends at the first") {
    cfg.auto_shutdown = auto_shutdown::any_significant;
    auto sup = spawn_ok(sys, cfg);
    watch(sup);
    finish("b");
    collect();
    auto reason = down_reason(sup);
    REQUIRE(reason);
    CHECK(alive() == 0);
  }
  SECTION("never keeps it running") {
    auto sup = spawn_ok(sys, cfg);
    watch(sup);
    finish("a");
    finish("b");
    collect();
    CHECK_FALSE(down_reason(sup));
    request_shutdown(sup);
    collect();
  }
}

TEST_CASE_METHOD(fixture, "a lookup waiting on a supervisor that fails gets the failure",
                 "[supervisors][supervisor][lookup]") {
  auto cfg = three_children(tester(), restart_strategy::one_for_one);
  cfg.intensity = {0, 1s}; // the first failure is one too many
  auto sup = spawn_ok(sys, cfg);
  CHECK(take_log() == strings{"start:a", "start:b", "start:c"});
  auto b = handles.at("b");
  auto pending = self->request(sup, caf::infinite, troupe::actors::lookup_atom::value,
                               std::string{"b"}, b.address());
  run();
  fail("b");
  run();
  caf::error got;
  pending.receive([&](caf::actor&) { FAIL("a dead tree named a child"); },
                  [&](caf::error& err) { got = err; });
  // Not "finished": downstream must not report a failed stream as complete.
  CHECK(is(got, supervisor_errc::intensity_exceeded));
}

TEST_CASE("stop_and_wait stops a tree in order and waits for it, within a limit",
          "[supervisors][shutdown]") {
  // A real system: the wait blocks a thread of its own.
  troupe::supervisors::system_config cfg;
  caf::actor_system sys{cfg};
  auto worker = [](caf::event_based_actor*) -> caf::behavior { return {[](int) {}}; };
  // Ignores the shutdown: only its supervisor's kill, after the grace, ends
  // it.
  auto stubborn = [](caf::event_based_actor* self) -> caf::behavior {
    self->set_exit_handler([](caf::exit_msg&) {});
    return {[](int) {}};
  };
  supervisor_config quick;
  quick.name = "quick";
  quick.children = {{"w", spawn_with(worker)}};
  auto a = spawn_supervisor(sys, quick);
  REQUIRE(a);
  CHECK(stop_and_wait(sys, *a, 10s));
  // Down already: true at once.
  CHECK(stop_and_wait(sys, *a, 0s));
  supervisor_config slow;
  slow.name = "slow";
  slow.children = {{"s", spawn_with(stubborn)}};
  slow.children[0].shutdown = shutdown_policy::timeout(2s);
  auto b = spawn_supervisor(sys, slow);
  REQUIRE(b);
  CHECK_FALSE(stop_and_wait(sys, *b, 50ms)); // its child holds it up
  CHECK(stop_and_wait(sys, *b, 10s));        // until the grace ends
}
