// The same stubs across two nodes on 127.0.0.1: one stub type for a local
// and a remote service, typed statuses over the wire, the deadline and the
// trace context in both hops' log lines, and a remote service restarted
// while callers keep calling.

#include <map>
#include <optional>
#include <sstream>

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>

#include <troupe/actors/consumer.hpp>
#include <troupe/services/service_child.hpp>
#include <troupe/supervisors/supervisor.hpp>
#include <troupe/transport/node.hpp>
#include <troupe/transport/system_config.hpp>

#include "support/greeter.hpp"
#include "support/outcome.hpp"

using namespace std::chrono_literals;
using namespace troupe::services;
using services_test::v1::Greeter;
using services_test::v1::Greeting;
using services_test::v1::Hello;
using troupe::messages::is;
using troupe::testing::greeter;
using troupe::testing::greeter_probe;
using troupe::transport::node;

namespace {

/// Bounds waits only a hung implementation reaches.
constexpr auto hang_bound = 30s;

Hello hello(std::string name, std::string mode = "") {
  Hello result;
  result.set_name(std::move(name));
  result.set_mode(std::move(mode));
  return result;
}

/// Node `a` calls, node `b` serves a supervised Greeter published on it.
struct two_nodes {
  troupe::transport::system_config cfg;
  caf::actor_system sys{cfg};
  std::optional<node> a;
  std::optional<node> b;
  std::shared_ptr<greeter_probe> probe = std::make_shared<greeter_probe>();
  troupe::supervisors::supervisor_actor services;

  two_nodes() {
    auto na = node::start(sys, troupe::transport::node_config{});
    auto nb = node::start(sys, troupe::transport::node_config{});
    REQUIRE(na);
    REQUIRE(nb);
    a.emplace(std::move(*na));
    b.emplace(std::move(*nb));
    troupe::supervisors::supervisor_config sup;
    sup.name = "b-services";
    sup.intensity = {10, 1s};
    // A restart leaves a gap callers must bridge (the restart test).
    sup.restart_backoff = troupe::actors::backoff::constant(100ms);
    sup.children.push_back(
      service_child<greeter>(service_options{}.published_on(b->handle()), probe));
    auto spawned = troupe::supervisors::spawn_supervisor(sys, sup);
    REQUIRE(spawned);
    services = *spawned;
  }

  ~two_nodes() {
    caf::anon_send_exit(services, caf::exit_reason::user_shutdown);
    a.reset();
    b.reset();
  }

  channel remote_b() const {
    return channel::remote(a->handle(), "127.0.0.1", b->port());
  }

  /// A relay in this process calls the greeter on b (two hops, the second
  /// over TCP) for `request_id`; returns the answer and the lines the
  /// "services_test" logger wrote meanwhile, in `format`.
  std::pair<caf::expected<Greeting>, std::string>
  relay_logged(troupe::actors::log_format format, std::string request_id) {
    std::ostringstream lines;
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(lines);
    sink->set_formatter(troupe::actors::make_formatter(format));
    auto log = troupe::actors::logger("services_test");
    log->sinks().push_back(sink);
    auto relay = spawn_service(sys, std::make_unique<troupe::testing::relay>(remote_b()));
    services_test::v1::Relay::Stub stub{channel::to(relay)};
    call_options opts = 5s;
    opts.request_id = std::move(request_id);
    auto got = stub.forward(hello("ann"), opts);
    log->sinks().pop_back();
    caf::anon_send_exit(relay, caf::exit_reason::user_shutdown);
    return {std::move(got), lines.str()};
  }
};

/// The calling code does not know where the service runs.
caf::expected<Greeting> greet_ann(const Greeter::Stub& stub) {
  return stub.greet(hello("ann"), 5s);
}

} // namespace

TEST_CASE_METHOD(two_nodes, "one stub type calls a local and a remote service alike",
                 "[services][remote]") {
  Greeter::Stub local{channel::local(sys)};
  Greeter::Stub remote{remote_b()};
  auto here = greet_ann(local);
  auto there = greet_ann(remote);
  REQUIRE(here);
  REQUIRE(there);
  CHECK(here->text() == "hello, ann");
  CHECK(there->text() == "hello, ann");
  CHECK(there->method() == "/services_test.v1.Greeter/Greet");
  CHECK(there->trace_id().size() == 32);
  CHECK(there->attempt() == 1);
  // The deadline travelled as remaining time.
  CHECK(there->remaining_ms() > 0);
  CHECK(there->remaining_ms() <= 5000);
  // Two methods with one request type stay apart over the wire too.
  auto loud = remote.shout(hello("bob"), 5s);
  REQUIRE(loud);
  CHECK(loud->text() == "HELLO, BOB");
  // Well-known types cross the wire.
  CHECK(remote.ping(google::protobuf::Empty{}, 5s));
}

TEST_CASE_METHOD(two_nodes, "typed statuses cross the wire intact",
                 "[services][remote][status]") {
  Greeter::Stub remote{remote_b()};
  auto code = GENERATE(rpc_errc::invalid_argument, rpc_errc::not_found,
                       rpc_errc::failed_precondition, rpc_errc::internal);
  auto got = remote.greet(hello("ann", "fail:" + std::to_string(static_cast<int>(code))), 5s);
  REQUIRE_FALSE(got);
  CHECK(status_of(got.error()) == code);
  CHECK(troupe::messages::describe(got.error()).find("asked to fail: ann")
        != std::string::npos);
  auto missing = remote.not_implemented(services_test::v1::Key{}, 5s);
  REQUIRE_FALSE(missing);
  CHECK(is(missing.error(), rpc_errc::unimplemented));
}

TEST_CASE_METHOD(two_nodes, "a remote call past its deadline fails deadline_exceeded",
                 "[services][remote][deadline]") {
  Greeter::Stub remote{remote_b()};
  auto got = remote.greet(hello("ann", "hold"), 200ms);
  REQUIRE_FALSE(got);
  CHECK(is(got.error(), rpc_errc::deadline_exceeded));
}

TEST_CASE_METHOD(two_nodes, "trace id and request id are in the log lines of both hops",
                 "[services][remote][context]") {
  // Hop 1: a relay in this process; hop 2: the greeter, over TCP.
  auto logged = relay_logged(troupe::actors::log_format::text, "req-42");
  auto& got = logged.first;
  const auto& text = logged.second;
  REQUIRE(got);
  CHECK(got->request_id() == "req-42");
  auto trace = got->trace_id();
  CAPTURE(text);
  auto line_of = [&](const std::string& what) {
    auto end = text.find(what);
    REQUIRE(end != std::string::npos);
    auto begin = text.rfind('\n', end);
    return text.substr(begin == std::string::npos ? 0 : begin + 1,
                       end - (begin == std::string::npos ? 0 : begin + 1));
  };
  auto hop1 = line_of("relaying ann");
  auto hop2 = line_of("greeting ann");
  CHECK(hop1.find("trace=" + trace) != std::string::npos);
  CHECK(hop2.find("trace=" + trace) != std::string::npos);
  CHECK(hop1.find("req=req-42]") != std::string::npos);
  CHECK(hop2.find("req=req-42]") != std::string::npos);
  // Each hop is a span of its own.
  CHECK(hop1.substr(hop1.find("span=")) != hop2.substr(hop2.find("span=")));
}

TEST_CASE_METHOD(two_nodes, "JSON log lines carry the context of both hops of a remote call",
                 "[services][remote][context][log]") {
  auto logged = relay_logged(troupe::actors::log_format::json, "req-43");
  auto& got = logged.first;
  const auto& text = logged.second;
  REQUIRE(got);
  std::map<std::string, nlohmann::json> by_msg;
  std::istringstream in{text};
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line); // every line is one JSON object
    by_msg[j["msg"].get<std::string>()] = j;
  }
  REQUIRE(by_msg.count("relaying ann") == 1);
  REQUIRE(by_msg.count("greeting ann") == 1);
  auto& hop1 = by_msg["relaying ann"];
  auto& hop2 = by_msg["greeting ann"];
  CHECK(hop1["actor"] == "services_test.v1.Relay");              // unsupervised: its name
  CHECK(hop2["actor"] == "b-services/services_test.v1.Greeter"); // its place in the tree
  CHECK(hop1["method"] == "/services_test.v1.Relay/Forward");
  CHECK(hop2["method"] == "/services_test.v1.Greeter/Greet");
  CHECK(hop1["trace_id"] == got->trace_id());
  CHECK(hop2["trace_id"] == got->trace_id());
  CHECK(hop1["request_id"] == "req-43");
  CHECK(hop2["request_id"] == "req-43");
  CHECK(hop1["span_id"] != hop2["span_id"]);
  CHECK(hop2["attempt"] == 1);
  // The deadline crossed the wire as time left: less on the second hop.
  CHECK(hop1["deadline_left_ms"].get<double>() > 0);
  CHECK(hop1["deadline_left_ms"].get<double>() <= 5000);
  CHECK(hop2["deadline_left_ms"].get<double>() > 0);
  CHECK(hop2["deadline_left_ms"].get<double>() <= hop1["deadline_left_ms"].get<double>());
}

TEST_CASE_METHOD(two_nodes, "callers of a remote service restarted mid-calls recover",
                 "[services][remote][restart]") {
  using done_atom = caf::atom_constant<caf::atom("done")>;
  constexpr int total = 400;
  constexpr int window = 50;
  constexpr int kill_after = 100;
  struct client_state {
    int sent = 0;
    int ok = 0;
    int failed = 0;
    uint32_t max_attempt = 0;
    bool killed = false;
  };
  caf::scoped_actor self{sys};
  auto probe_ptr = probe;
  auto client = sys.spawn([=, stub = Greeter::Stub{remote_b()},
                           me = caf::actor{self}](caf::stateful_actor<client_state>* c) {
    auto next = std::make_shared<std::function<void()>>();
    *next = [=] {
      auto& st = c->state;
      if (st.sent == total)
        return;
      ++st.sent;
      stub.greet(c, hello("n" + std::to_string(st.sent)), 10s)
        .then(
          [=](Greeting& g) {
            auto& st = c->state;
            ++st.ok;
            st.max_attempt = std::max(st.max_attempt, g.attempt());
            if (st.ok == kill_after && !st.killed) {
              st.killed = true;
              caf::anon_send_exit(probe_ptr->current(), caf::exit_reason::kill);
            }
            (*next)();
            if (st.ok + st.failed == total)
              c->send(me, done_atom::value, st.ok, st.failed, st.max_attempt);
          },
          [=](caf::error&) {
            auto& st = c->state;
            ++st.failed;
            (*next)();
            if (st.ok + st.failed == total)
              c->send(me, done_atom::value, st.ok, st.failed, st.max_attempt);
          });
    };
    for (int i = 0; i < window; ++i)
      (*next)();
  });
  int ok = 0;
  int failed = -1;
  uint32_t max_attempt = 0;
  self->receive(
    [&](done_atom, int x, int y, uint32_t z) {
      ok = x;
      failed = y;
      max_attempt = z;
    },
    caf::after(hang_bound) >> [] { FAIL("the calls did not finish"); });
  caf::anon_send_exit(client, caf::exit_reason::user_shutdown);
  CHECK(probe->starts == 2);
  // Calls that reached the dead incarnation's mailbox were bounced and
  // retried; a call the incarnation was running when killed is the only
  // one that may fail (unavailable or its deadline).
  CHECK(ok + failed == total);
  CHECK(failed <= 1);
  CHECK(ok >= total - 1);
  // Calls sent while it restarted were retried: the stubs recovered, not
  // the timing.
  CHECK(max_attempt >= 2);
}

TEST_CASE_METHOD(two_nodes,
                 "a remote server-streaming method streams at the caller's capacity",
                 "[services][remote][stream]") {
  using done_atom = caf::atom_constant<caf::atom("done")>;
  constexpr uint32_t capacity = 16;
  constexpr uint32_t items = 2000;
  Greeter::Stub remote{remote_b()};
  services_test::v1::CountRequest req;
  req.set_n(items);
  auto stream = remote.count(req, capacity, 5s);
  REQUIRE(stream);
  caf::scoped_actor self{sys};
  auto probe_ptr = probe;
  auto consumer = troupe::actors::spawn_consumer<services_test::v1::Tick>(
    sys, *stream, troupe::actors::consumer_config{capacity},
    [probe_ptr](const services_test::v1::Tick&) { ++probe_ptr->consumed; },
    [me = caf::actor{self}](const caf::error& err) {
      caf::anon_send(me, done_atom::value, err);
    });
  REQUIRE(consumer);
  caf::error outcome = caf::make_error(caf::sec::request_timeout);
  self->receive([&](done_atom, const caf::error& err) { outcome = err; },
                caf::after(hang_bound) >> [] { FAIL("the stream did not finish"); });
  CHECK_FALSE(outcome);
  CHECK(probe->consumed == items);
  // The producer on node b never ran ahead of the caller by more than its
  // capacity: the wire and both nodes' buffers included.
  CHECK(probe->max_unconsumed <= capacity);
  CHECK(probe->max_demand <= capacity);
}

TEST_CASE_METHOD(
  two_nodes, "a remote stub whose connection ended finds the service again on its next call",
  "[services][remote]") {
  Greeter::Stub remote{remote_b()};
  REQUIRE(remote.greet(hello("before"), 5s));
  // b's node goes away and comes back on the same port (a restarted host):
  // the proxy the stub used died with the connection.
  auto port = b->port();
  caf::anon_send_exit(services, caf::exit_reason::user_shutdown);
  b.reset();
  troupe::transport::node_config cfg;
  cfg.port = port;
  auto nb = node::start(sys, cfg);
  REQUIRE(nb);
  b.emplace(std::move(*nb));
  troupe::supervisors::supervisor_config sup;
  sup.name = "b-services-again";
  sup.children.push_back(
    service_child<greeter>(service_options{}.published_on(b->handle()), probe));
  auto spawned = troupe::supervisors::spawn_supervisor(sys, sup);
  REQUIRE(spawned);
  services = *spawned;
  // A call through the dead proxy was never sent: the stub looks the name
  // up again (a new connection) instead of failing every call from now on.
  auto again = remote.greet(hello("after"), 5s);
  INFO(troupe::messages::describe(again ? caf::error{} : again.error()));
  CHECK(again);
  CHECK(remote.greet(hello("and after"), 5s));
}
