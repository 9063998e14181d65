// The server side and the stub on CAF's deterministic scheduler: methods
// told apart by name, typed statuses, deferred replies, well-known and
// nested types, deadlines on virtual time (also in a second hop), and a
// supervised service whose name survives its restart.

#include <catch2/catch.hpp>

#include <troupe/actors/consumer.hpp>
#include <troupe/services/service_child.hpp>
#include <troupe/services/service_directory.hpp>
#include <troupe/supervisors/supervisor.hpp>
#include <troupe/supervisors/supervisor_errc.hpp>
#include <troupe/testing/deterministic_system.hpp>
#include <troupe/transport/system_config.hpp>

#include "support/greeter.hpp"
#include "support/outcome.hpp"

using namespace std::chrono_literals;
using namespace troupe::services;
using services_test::v1::Greeter;
using services_test::v1::Greeting;
using services_test::v1::Hello;
using troupe::messages::is;
using troupe::testing::failed_atom;
using troupe::testing::greeter;
using troupe::testing::greeter_probe;
using troupe::testing::report_to;
using troupe::testing::spawn_client;

namespace {

/// Stops the services a test started: a running actor would keep the
/// actor system from shutting down.
struct fixture : troupe::testing::deterministic_system<troupe::transport::system_config> {
  std::vector<caf::actor> started;

  caf::actor keep(caf::actor x) {
    started.push_back(x);
    return x;
  }

  ~fixture() {
    for (auto& x : started)
      caf::anon_send_exit(x, caf::exit_reason::user_shutdown);
    run();
  }
};

Hello hello(std::string name, std::string mode = "") {
  Hello result;
  result.set_name(std::move(name));
  result.set_mode(std::move(mode));
  return result;
}

/// Spawns a greeter and registers it under its name.
caf::actor
start_greeter(fixture& f,
              std::shared_ptr<greeter_probe> probe = std::make_shared<greeter_probe>()) {
  auto g = f.keep(spawn_service(f.sys, std::make_unique<greeter>(std::move(probe))));
  register_service(f.sys, std::string{Greeter::full_name}, g);
  f.run();
  return g;
}

/// Greets `who` from a fresh actor; the outcome goes to the test.
void greet(fixture& f, const Greeter::Stub& stub, Hello req, call_options opts = {}) {
  auto test = caf::actor_cast<caf::actor>(f.self);
  spawn_client(f.sys, [=](caf::event_based_actor* self) {
    auto [ok, fail] = report_to<Greeting>(test);
    stub.greet(self, req, opts).then(ok, fail);
  });
}

caf::error failure(fixture& f) {
  auto got = f.received<failed_atom, caf::error>();
  REQUIRE(got);
  return std::get<1>(*got);
}

} // namespace

TEST_CASE_METHOD(fixture,
                 "a stub calls a local service by name and methods sharing a request "
                 "type stay apart",
                 "[services][service]") {
  start_greeter(*this);
  Greeter::Stub stub{channel::local(sys)};
  greet(*this, stub, hello("ann"));
  auto test = caf::actor_cast<caf::actor>(self);
  spawn_client(sys, [=](caf::event_based_actor* c) {
    auto [ok, fail] = report_to<Greeting>(test);
    stub.shout(c, hello("bob")).then(ok, fail);
  });
  run();
  auto first = received<Greeting>();
  auto second = received<Greeting>();
  REQUIRE(first);
  REQUIRE(second);
  auto texts = std::set<std::string>{std::get<0>(*first).text(), std::get<0>(*second).text()};
  CHECK(texts == std::set<std::string>{"hello, ann", "HELLO, BOB"});
  auto methods =
    std::set<std::string>{std::get<0>(*first).method(), std::get<0>(*second).method()};
  CHECK(methods
        == std::set<std::string>{"/services_test.v1.Greeter/Greet",
                                 "/services_test.v1.Greeter/Shout"});
  CHECK(std::get<0>(*first).attempt() == 1);
}

TEST_CASE_METHOD(fixture, "a handler's typed status reaches the caller unchanged",
                 "[services][service][status]") {
  start_greeter(*this);
  Greeter::Stub stub{channel::local(sys)};
  greet(*this, stub, hello("ann", "fail:5"));
  run();
  auto err = failure(*this);
  CHECK(is(err, rpc_errc::not_found));
  CHECK(troupe::messages::describe(err).find("asked to fail: ann") != std::string::npos);
}

TEST_CASE_METHOD(fixture, "a method the service does not implement answers unimplemented",
                 "[services][service][status]") {
  start_greeter(*this);
  Greeter::Stub stub{channel::local(sys)};
  auto test = caf::actor_cast<caf::actor>(self);
  spawn_client(sys, [=](caf::event_based_actor* c) {
    auto [ok, fail] = report_to<services_test::v1::Record>(test);
    stub.not_implemented(c, services_test::v1::Key{}).then(ok, fail);
  });
  run();
  CHECK(is(failure(*this), rpc_errc::unimplemented));
}

TEST_CASE_METHOD(fixture, "a deferred reply is delivered when the handler completes it",
                 "[services][service][async]") {
  start_greeter(*this);
  Greeter::Stub stub{channel::local(sys)};
  greet(*this, stub, hello("ann", "defer"));
  run();
  auto got = received<Greeting>();
  REQUIRE(got);
  CHECK(std::get<0>(*got).text() == "hello later, ann");
}

TEST_CASE_METHOD(fixture, "well-known and nested message types work as requests and replies",
                 "[services][service][types]") {
  start_greeter(*this);
  Greeter::Stub stub{channel::local(sys)};
  auto test = caf::actor_cast<caf::actor>(self);
  spawn_client(sys, [=](caf::event_based_actor* c) {
    auto [ok, fail] = report_to<google::protobuf::Empty>(test);
    stub.ping(c, google::protobuf::Empty{}).then(ok, fail);
    services_test::v1::Key key;
    key.set_id("k1");
    auto [ok2, fail2] = report_to<services_test::v1::Record::Entry>(test);
    stub.lookup(c, key).then(ok2, fail2);
  });
  run();
  CHECK(received<google::protobuf::Empty>());
  auto entry = received<services_test::v1::Record::Entry>();
  REQUIRE(entry);
  CHECK(std::get<0>(*entry).value() == "value of k1");
}

TEST_CASE_METHOD(fixture,
                 "a call fails with deadline_exceeded at its deadline on virtual time",
                 "[services][service][deadline]") {
  start_greeter(*this);
  Greeter::Stub stub{channel::local(sys)};
  greet(*this, stub, hello("ann", "hold"), 100ms);
  run();
  CHECK_FALSE(received<failed_atom, caf::error>());
  advance_time(99ms);
  CHECK_FALSE(received<failed_atom, caf::error>());
  advance_time(1ms);
  CHECK(is(failure(*this), rpc_errc::deadline_exceeded));
}

TEST_CASE_METHOD(fixture,
                 "the handler sees the deadline and a call whose deadline passed is "
                 "not started",
                 "[services][service][deadline]") {
  auto probe = std::make_shared<greeter_probe>();
  auto g = start_greeter(*this, probe);
  Greeter::Stub stub{channel::to(g)};
  auto client = spawn_client(
    sys, [=, test = caf::actor_cast<caf::actor>(self)](caf::event_based_actor* c) {
      auto [ok, fail] = report_to<Greeting>(test);
      stub.greet(c, hello("ann"), 300ms).then(ok, fail);
    });
  run_only(client);          // the request waits in the greeter's mailbox ...
  sched.advance_time(300ms); // ... until its deadline passed
  run();
  CHECK(is(failure(*this), rpc_errc::deadline_exceeded));
  CHECK(probe->calls == 0); // the method never ran
  // A call in time sees what is left of its deadline.
  greet(*this, stub, hello("bob"), 300ms);
  run();
  auto got = received<Greeting>();
  REQUIRE(got);
  CHECK(std::get<0>(*got).remaining_ms() == 300);
  caf::anon_send_exit(g, caf::exit_reason::kill);
  run();
  CHECK(probe->refused_expired == 1);
}

TEST_CASE_METHOD(fixture,
                 "a deadline set at the ingress expires in the second hop and the "
                 "first hop is told",
                 "[services][service][deadline]") {
  auto probe = std::make_shared<greeter_probe>();
  auto relayed = std::make_shared<troupe::testing::relay_probe>();
  auto g = start_greeter(*this, probe);
  // Both hops find their services in the directory: no CAF timer of their
  // own, so what ends each call is the deadline travelling with it.
  auto r = keep(spawn_service(
    sys, std::make_unique<troupe::testing::relay>(channel::local(sys), relayed)));
  register_service(sys, std::string{services_test::v1::Relay::full_name}, r);
  run();
  services_test::v1::Relay::Stub relay{channel::local(sys)};
  auto test = caf::actor_cast<caf::actor>(self);
  auto forward = [&](Hello req, caf::timespan timeout) {
    return spawn_client(sys, [=](caf::event_based_actor* c) {
      auto [ok, fail] = report_to<Greeting>(test);
      relay.forward(c, req, timeout).then(ok, fail);
    });
  };
  // Warm the relay's stub: its first call looks the greeter up.
  forward(hello("warm"), 1s);
  run();
  REQUIRE(received<Greeting>());
  REQUIRE(relayed->relayed == 1);
  auto calls_before = probe->calls.load();
  auto client = forward(hello("ann"), 100ms);
  run_only(client);          // the ingress call, 100 ms
  run_only(r);               // the relay calls the greeter with what is left
  sched.advance_time(150ms); // the greeter is slow to get to it
  run();
  CHECK(is(failure(*this), rpc_errc::deadline_exceeded));
  CHECK(probe->calls == calls_before);    // the second hop never ran the method
  CHECK(relayed->deadline_exceeded == 1); // the first hop was told
  CHECK(relayed->other_failures == 0);
  caf::anon_send_exit(g, caf::exit_reason::kill);
  run();
  CHECK(probe->refused_expired == 1); // the second hop refused it
}

TEST_CASE_METHOD(fixture, "a handler that throws answers internal and its actor fails",
                 "[services][service][status]") {
  auto g = start_greeter(*this);
  self->monitor(g);
  Greeter::Stub stub{channel::local(sys)};
  greet(*this, stub, hello("ann", "throw"));
  run();
  auto err = failure(*this);
  CHECK(is(err, rpc_errc::internal));
  CHECK(troupe::messages::describe(err).find("asked to throw") != std::string::npos);
  auto down = received<caf::down_msg>();
  REQUIRE(down);
  // The actor fails with the text too (its supervisor logs and decides on
  // it), not CAF's bare runtime_error.
  auto reason = std::get<0>(*down).reason;
  CHECK(is(reason, troupe::supervisors::supervisor_errc::exception_thrown));
  CHECK(troupe::messages::describe(reason).find("asked to throw") != std::string::npos);
}

TEST_CASE_METHOD(fixture, "a supervised service keeps its name across a restart",
                 "[services][service][restart]") {
  auto probe = std::make_shared<greeter_probe>();
  troupe::supervisors::supervisor_config cfg;
  cfg.name = "services";
  cfg.intensity = {10, 1s};
  cfg.restart_backoff = troupe::actors::backoff::constant(200ms);
  cfg.children.push_back(service_child<greeter>(service_options{}, probe));
  auto sup = troupe::supervisors::spawn_supervisor(sys, cfg);
  REQUIRE(sup);
  run();
  REQUIRE(probe->starts == 1);
  Greeter::Stub stub{channel::local(sys)};
  greet(*this, stub, hello("ann"));
  run();
  REQUIRE(received<Greeting>());
  SECTION("a call during the restart waits for the new incarnation") {
    caf::anon_send_exit(probe->current(), caf::exit_reason::kill);
    run();
    greet(*this, stub, hello("bob"), 1s);
    run();
    CHECK_FALSE(received<Greeting>()); // waits: the restart is 200 ms away
    advance_time(200ms);
    auto got = received<Greeting>();
    REQUIRE(got);
    CHECK(std::get<0>(*got).text() == "hello, bob");
    CHECK(std::get<0>(*got).attempt() == 2); // the first went to the dead one
    CHECK(probe->starts == 2);
  }
  SECTION("a call whose deadline ends before the restart fails deadline_exceeded") {
    caf::anon_send_exit(probe->current(), caf::exit_reason::kill);
    run();
    greet(*this, stub, hello("bob"), 100ms);
    advance_time(100ms);
    CHECK(is(failure(*this), rpc_errc::deadline_exceeded));
  }
  SECTION("without wait_for_ready the call fails unavailable at once") {
    caf::anon_send_exit(probe->current(), caf::exit_reason::kill);
    run();
    call_options opts = 1s;
    opts.wait_for_ready = false;
    greet(*this, stub, hello("bob"), opts);
    run();
    CHECK(is(failure(*this), rpc_errc::unavailable));
  }
  caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
  advance_time(1s);
}

namespace {

using done_atom = caf::atom_constant<caf::atom("done")>;
using services_test::v1::CountRequest;
using services_test::v1::Tick;

CountRequest count_to(uint32_t n) {
  CountRequest result;
  result.set_n(n);
  return result;
}

} // namespace

TEST_CASE_METHOD(fixture, "a server-streaming method streams at the caller's capacity",
                 "[services][service][stream]") {
  auto probe = std::make_shared<greeter_probe>();
  start_greeter(*this, probe);
  Greeter::Stub stub{channel::local(sys)};
  auto test = caf::actor_cast<caf::actor>(self);
  constexpr uint32_t capacity = 8;
  spawn_client(sys, [=](caf::event_based_actor* c) {
    stub.count(c, count_to(100), capacity)
      .then(
        [=](caf::actor& stream) {
          auto consumer = troupe::actors::spawn_consumer<Tick>(
            *c, stream, troupe::actors::consumer_config{capacity},
            [probe](const Tick&) { ++probe->consumed; },
            [test](const caf::error& err) { caf::anon_send(test, done_atom::value, err); });
          if (!consumer)
            caf::anon_send(test, failed_atom::value, consumer.error());
        },
        [test](caf::error& err) { caf::anon_send(test, failed_atom::value, err); });
  });
  run();
  auto done = received<done_atom, caf::error>();
  REQUIRE(done);
  CHECK_FALSE(std::get<1>(*done));
  CHECK(probe->consumed == 100);
  CHECK(probe->max_unconsumed <= capacity);
  CHECK(probe->max_demand <= capacity);
}

TEST_CASE_METHOD(fixture, "a streaming method fails with its status like any method",
                 "[services][service][stream]") {
  start_greeter(*this);
  Greeter::Stub stub{channel::local(sys)};
  auto test = caf::actor_cast<caf::actor>(self);
  spawn_client(sys, [=](caf::event_based_actor* c) {
    stub.count(c, count_to(0), 8)
      .then([test](caf::actor&) { caf::anon_send(test, done_atom::value, caf::error{}); },
            [test](caf::error& err) { caf::anon_send(test, failed_atom::value, err); });
  });
  run();
  CHECK(is(failure(*this), rpc_errc::invalid_argument));
}

TEST_CASE_METHOD(fixture, "a stream nobody subscribes to is stopped at the call's deadline",
                 "[services][service][stream]") {
  auto probe = std::make_shared<greeter_probe>();
  SECTION("a pull source") {
    // nop
  }
  SECTION("a producer the method spawned and handed over as owned") {
    probe->own_producer = true;
  }
  auto g = start_greeter(*this, probe);
  Greeter::Stub stub{channel::local(sys)};
  auto test = caf::actor_cast<caf::actor>(self);
  spawn_client(sys, [=](caf::event_based_actor* c) {
    stub.count(c, count_to(10), 4, 100ms)
      .then([test](caf::actor& stream) { caf::anon_send(test, stream); },
            [test](caf::error& err) { caf::anon_send(test, failed_atom::value, err); });
  });
  run();
  auto stream = received<caf::actor>();
  REQUIRE(stream);
  self->monitor(std::get<0>(*stream));
  advance_time(100ms);
  auto down = received<caf::down_msg>();
  REQUIRE(down);
  CHECK(is(std::get<0>(*down).reason, rpc_errc::deadline_exceeded));
  CHECK(probe->produced == 0);
  caf::anon_send_exit(g, caf::exit_reason::kill);
  run();
  CHECK(probe->streams_unclaimed == 1);
}

TEST_CASE_METHOD(fixture, "a local call to a service that never answers fails at its deadline",
                 "[services][service][deadline]") {
  // Registered under the Greeter's name but not a Troupe service: only the
  // stub's own deadline watch can end the call.
  auto mute = keep(sys.spawn([](caf::event_based_actor* self) -> caf::behavior {
    return {[self](troupe::actors::call_context&, Hello&) -> caf::result<Greeting> {
      return self->make_response_promise<Greeting>(); // dropped: never answered
    }};
  }));
  register_service(sys, std::string{Greeter::full_name}, mute);
  run();
  // [cookbook:virtual_time]
  Greeter::Stub stub{channel::local(sys)};
  greet(*this, stub, hello("ann"), 200ms);
  run();
  advance_time(199ms);
  CHECK_FALSE(received<failed_atom, caf::error>());
  advance_time(1ms);
  CHECK(is(failure(*this), rpc_errc::deadline_exceeded));
  // [/cookbook:virtual_time]
}

TEST_CASE_METHOD(fixture, "a service answers a deferred reply it did not give by the deadline",
                 "[services][service][deadline]") {
  auto g = start_greeter(*this);
  // A caller without a timer of its own: the service must answer.
  auto ctx = troupe::actors::call_context::ingress("/services_test.v1.Greeter/Greet",
                                                   sched.clock().now(), 100ms);
  spawn_client(sys, [=, test = caf::actor_cast<caf::actor>(self)](caf::event_based_actor* c) {
    auto [ok, fail] = report_to<Greeting>(test);
    c->request(g, caf::infinite, ctx, hello("ann", "hold")).then(ok, fail);
  });
  run();
  CHECK_FALSE(received<failed_atom, caf::error>());
  advance_time(100ms);
  CHECK(is(failure(*this), rpc_errc::deadline_exceeded));
}

TEST_CASE_METHOD(fixture, "a service that stops answers its pending deferred replies",
                 "[services][service][deadline]") {
  auto g = start_greeter(*this);
  Greeter::Stub stub{channel::to(g)};
  greet(*this, stub, hello("ann", "hold"), 10s);
  run();
  caf::anon_send_exit(g, caf::exit_reason::user_shutdown);
  run();
  CHECK(is(failure(*this), rpc_errc::unavailable));
  CHECK(now() < 10s); // answered at once, not at the deadline
}

TEST_CASE_METHOD(fixture,
                 "the service directory leaves with the last service and keeps no "
                 "actor system alive",
                 "[services][service][directory]") {
  auto probe = std::make_shared<greeter_probe>();
  troupe::supervisors::supervisor_config cfg;
  cfg.name = "services";
  cfg.children.push_back(service_child<greeter>(service_options{}, probe));
  auto sup = troupe::supervisors::spawn_supervisor(sys, cfg);
  REQUIRE(sup);
  run();
  Greeter::Stub stub{channel::local(sys)};
  // A call, a stream, and a call to a name nobody runs.
  greet(*this, stub, hello("ann"), 1s);
  auto test = caf::actor_cast<caf::actor>(self);
  spawn_client(sys, [=](caf::event_based_actor* c) {
    stub.count(c, count_to(5), 4, 1s)
      .then(
        [=](caf::actor& stream) {
          (void)troupe::actors::spawn_consumer<Tick>(
            *c, stream, troupe::actors::consumer_config{4}, [](const Tick&) {},
            [test](const caf::error& err) { caf::anon_send(test, done_atom::value, err); });
        },
        [test](caf::error& err) { caf::anon_send(test, failed_atom::value, err); });
  });
  services_test::v1::Relay::Stub nobody{channel::local(sys)};
  spawn_client(sys, [=](caf::event_based_actor* c) {
    auto [ok, fail] = report_to<Greeting>(test);
    nobody.forward(c, hello("bob"), 50ms).then(ok, fail);
  });
  run();
  advance_time(50ms);
  CHECK(received<Greeting>());
  auto done = received<done_atom, caf::error>();
  REQUIRE(done);
  CHECK_FALSE(std::get<1>(*done));
  CHECK(is(failure(*this), rpc_errc::deadline_exceeded));
  caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
  run();
  // Everything ended within the calls' deadlines (1 s at most; a stub's
  // deadline watch keeps its actor until then): nothing is left running
  // (the directory included), and no timer is left to fire.
  advance_time(1s);
  CHECK(running_actors() == 0);
  // Nothing re-arms for ever (the supervisor's own stop timer is 5 s).
  advance_time(5s);
  CHECK(sched.trigger_timeouts() == 0);
}

TEST_CASE_METHOD(fixture, "a service counts each call once, by method and status",
                 "[services][service][report]") {
  auto g = start_greeter(*this);
  Greeter::Stub stub{channel::local(sys)};
  greet(*this, stub, hello("ann"));
  greet(*this, stub, hello("bob", "fail:5")); // not_found
  greet(*this, stub, hello("cy", "defer"));   // answered later: counted once, then
  greet(*this, stub, hello("di", "hold"), call_options{200ms}); // the service answers
  run();
  sched.advance_time(std::chrono::milliseconds{250});
  run();
  // A call naming a method the service does not have: never a method entry.
  auto nope = troupe::actors::call_context::ingress("/services_test.v1.Greeter/Nope",
                                                    sys.clock().now(), 1s);
  self->send(g, nope, hello("eve"));
  run();
  self->receive([](caf::error& err) { CHECK(is(err, rpc_errc::unimplemented)); },
                caf::after(std::chrono::seconds{0}) >> [] { FAIL("no answer"); });
  self->send(g, service_report_atom::value);
  run();
  std::optional<service_report> report;
  self->receive([&](service_report& r) { report = std::move(r); },
                caf::after(std::chrono::seconds{0}) >> [] {});
  REQUIRE(report);
  CHECK(report->service == "services_test.v1.Greeter");
  CHECK(report->stats.calls == 5);
  CHECK(report->stats.unknown_method == 1);
  REQUIRE(report->methods.size() == 1);
  auto& greet_stats = report->methods.front();
  CHECK(greet_stats.method == "/services_test.v1.Greeter/Greet");
  CHECK(greet_stats.answered() == 4);
  CHECK(greet_stats.by_status[0] == 2); // ann, cy
  CHECK(greet_stats.by_status[static_cast<size_t>(rpc_errc::not_found)] == 1);
  CHECK(greet_stats.by_status[static_cast<size_t>(rpc_errc::deadline_exceeded)] == 1);
  // On virtual time: three answered at once, the held one once its
  // deadline (200 ms) passed, seen when the test moved the clock (250 ms).
  CHECK(greet_stats.buckets[0] == 3);
  CHECK(greet_stats.latency_sum >= 200ms);
  CHECK(greet_stats.latency_sum <= 250ms);
}
