// Two nodes in one process, real sockets on 127.0.0.1: remote request /
// reply, deadlines, typed remote errors, failure detection, reconnect, auth.

#include <catch2/catch.hpp>

#include <google/protobuf/util/message_differencer.h>

#include <troupe/actors/flow_errc.hpp>
#include <troupe/transport/atoms.hpp>
#include <troupe/transport/diagnostics.hpp>
#include <troupe/transport/transport_errc.hpp>

#include "support/delay_relay.hpp"
#include "support/node_fixture.hpp"
#include "support/raw_peer.hpp"

using namespace std::chrono_literals;
using google::protobuf::util::MessageDifferencer;
using troupe::testing::Answer;
using troupe::testing::Call;
using troupe::testing::Count;
using troupe::testing::delay_relay;
using troupe::testing::fast_config;
using troupe::testing::hang_bound;
using troupe::testing::node_fixture;
using troupe::testing::Note;
using troupe::testing::service_stats;
using troupe::testing::Tally;
using troupe::transport::call_options;
using troupe::transport::node;
using troupe::transport::transport_errc;

namespace {

struct two_nodes : node_fixture {
  std::shared_ptr<service_stats> echo_stats = std::make_shared<service_stats>();
  std::shared_ptr<service_stats> recorder_stats = std::make_shared<service_stats>();
  std::optional<node> a;
  std::optional<node> b;
  caf::actor echo;
  caf::actor recorder;

  explicit two_nodes(troupe::transport::node_config cfg_a = fast_config(),
                     troupe::transport::node_config cfg_b = fast_config()) {
    auto na = node::start(sys, cfg_a);
    auto nb = node::start(sys, cfg_b);
    REQUIRE(na);
    REQUIRE(nb);
    a.emplace(std::move(*na));
    b.emplace(std::move(*nb));
    echo = sys.spawn(troupe::testing::echo_service, b->id(), echo_stats);
    recorder = sys.spawn(troupe::testing::recorder_service, b->id(), recorder_stats);
    REQUIRE(!b->publish(echo, "echo"));
    REQUIRE(!b->publish(recorder, "recorder", troupe::transport::delivery::with_envelope));
  }

  ~two_nodes() {
    a.reset();
    b.reset();
    caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(recorder, caf::exit_reason::user_shutdown);
  }
};

} // namespace

TEST_CASE_METHOD(two_nodes, "a remote request returns the reply with every field intact",
                 "[transport][node]") {
  auto proxy = a->remote_actor("recorder@127.0.0.1:" + std::to_string(b->port()));
  REQUIRE(proxy);
  auto request = troupe::testing::full_call();
  auto r = call<Answer>(*proxy, 5000ms, call_options{2s, "trace-1", "req-1", 3}, request);
  REQUIRE(r.value);
  CHECK(MessageDifferencer::Equals(r.value->echo(), request));
  CHECK(r.value->handled_by() == b->id());
  CHECK(r.value->trace_id() == "trace-1");
  CHECK(r.value->request_id() == "req-1");
  CHECK(r.value->attempt() == 3);
  CHECK(r.value->deadline_remaining_us() == 2'000'000);
  SECTION("without call options the node's default deadline and a generated trace apply") {
    auto r2 = call<Answer>(*proxy, 5000ms, request);
    REQUIRE(r2.value);
    CHECK(r2.value->deadline_remaining_us() == 10'000'000);
    CHECK(r2.value->request_id().rfind(a->id() + "/", 0) == 0);
  }
  SECTION("the same proxy is handed out again") {
    auto again = a->remote_actor("recorder", "127.0.0.1", b->port());
    REQUIRE(again);
    CHECK(*again == *proxy);
  }
}

TEST_CASE_METHOD(two_nodes, "one-way sends arrive in order with requests",
                 "[transport][node]") {
  auto proxy = a->remote_actor("echo", "127.0.0.1", b->port());
  REQUIRE(proxy);
  Note note;
  note.set_text("fire and forget");
  caf::anon_send(*proxy, note);
  caf::anon_send(*proxy, note);
  auto r = call<Tally>(*proxy, 5000ms, Count{});
  REQUIRE(r.value);
  CHECK(echo_stats->notes.load() == 2);
}

TEST_CASE_METHOD(two_nodes, "remote errors come back typed", "[transport][node]") {
  SECTION("a handler's error") {
    auto proxy = a->remote_actor("echo", "127.0.0.1", b->port());
    REQUIRE(proxy);
    auto request = troupe::testing::full_call();
    request.set_fail(true);
    auto r = call<Answer>(*proxy, 5000ms, request);
    CHECK(r.error == caf::sec::invalid_argument);
  }
  SECTION("an unpublished name") {
    auto proxy = a->remote_actor("nobody", "127.0.0.1", b->port());
    REQUIRE(proxy);
    auto r = call<Answer>(*proxy, 5000ms, troupe::testing::full_call());
    CHECK(r.error == transport_errc::unknown_actor);
  }
  SECTION("a message the remote actor does not handle") {
    auto proxy = a->remote_actor("echo", "127.0.0.1", b->port());
    REQUIRE(proxy);
    auto r = call<Answer>(*proxy, 5000ms, Tally{});
    CHECK(r.error == caf::sec::unexpected_message);
  }
  SECTION("a connection refused") {
    auto proxy = a->remote_actor("echo", "127.0.0.1", 1);
    CHECK(proxy.error() == transport_errc::connect_failed);
  }
}

TEST_CASE_METHOD(two_nodes,
                 "a request whose deadline expires in transit times out and never runs",
                 "[transport][node][deadline]") {
  // 150 ms each way: the handshake's round trips teach both sides that the
  // link's one-way latency is about 150 ms.
  delay_relay slow{b->port(), 150ms};
  auto proxy = a->remote_actor("recorder", "127.0.0.1", slow.port());
  REQUIRE(proxy);
  auto r =
    call<Answer>(*proxy, 5000ms, call_options{60ms, "", "", 1}, troupe::testing::full_call());
  CHECK(r.error == transport_errc::request_timeout);
  // Frames on one connection arrive in order: once Count is answered, the
  // expired request was seen and dropped.
  auto tally = call<Tally>(*proxy, 5000ms, call_options{3s, "", "", 1}, Count{});
  REQUIRE(tally.value);
  CHECK(tally.value->handled() == 0);
  CHECK(recorder_stats->handled.load() == 0);
}

TEST_CASE_METHOD(two_nodes,
                 "a stopped peer fails pending requests, downs monitors, and is reconnected",
                 "[transport][node][failure]") {
  caf::scoped_actor events{sys};
  a->subscribe(events);
  auto port = b->port();
  auto proxy = a->remote_actor("echo", "127.0.0.1", port);
  REQUIRE(proxy);
  events->receive(
    [](const troupe::transport::peer_event& e) {
      CHECK(e.status == troupe::transport::peer_status::up);
    },
    caf::after(3s) >> [] { FAIL("no peer_up"); });
  caf::scoped_actor client{sys};
  client->monitor(*proxy);
  auto slow = troupe::testing::full_call();
  slow.set_sleep_ms(10000);
  auto pending = client->request(*proxy, 20s, slow); // stays pending
  b->stop();
  caf::error pending_error;
  caf::error down_reason;
  pending.receive([](Answer&) { FAIL("the sleeping request was answered"); },
                  [&](caf::error& err) { pending_error = err; });
  client->receive([&](caf::down_msg& dm) { down_reason = dm.reason; },
                  caf::after(hang_bound) >> [] {});
  // Failed at once, by the closed connection: not by the request's own
  // deadline (request_timeout) nor by the heartbeats (peer_timeout).
  CHECK(down_reason == transport_errc::peer_lost);
  CHECK(pending_error == transport_errc::peer_lost);
  events->receive(
    [](const troupe::transport::peer_event& e) {
      CHECK(e.status == troupe::transport::peer_status::down);
    },
    caf::after(3s) >> [] { FAIL("no peer_down"); });
  // The peer comes back on the same port: the node reconnects by itself.
  auto cfg_b = fast_config();
  cfg_b.port = port;
  b.reset();
  auto nb = node::start(sys, cfg_b);
  REQUIRE(nb);
  b.emplace(std::move(*nb));
  REQUIRE(!b->publish(echo, "echo"));
  bool up = false;
  events->receive(
    [&](const troupe::transport::peer_event& e) {
      up = e.status == troupe::transport::peer_status::up && e.node_id == b->id();
    },
    caf::after(5s) >> [] {});
  CHECK(up);
  auto again = a->remote_actor("echo", "127.0.0.1", port);
  REQUIRE(again);
  auto r = call<Answer>(*again, 5000ms, troupe::testing::full_call());
  CHECK(r.value);
}

namespace {

/// b never gives up on a silent a: it keeps sending heartbeats every 50 ms,
/// a clock the test reads through the relay.
struct patient_peer : two_nodes {
  static troupe::transport::node_config patient() {
    auto cfg = fast_config();
    cfg.peer_timeout = 10min;
    return cfg;
  }
  patient_peer() : two_nodes(fast_config(), patient()) {
    // nop
  }
};

} // namespace

TEST_CASE_METHOD(patient_peer, "a silent peer is declared down within the peer timeout",
                 "[transport][node][failure]") {
  auto cfg = fast_config(); // a's: heartbeats every 50 ms, down after 400 ms
  delay_relay link{b->port(), 0ms};
  auto proxy = a->remote_actor("echo", "127.0.0.1", link.port());
  REQUIRE(proxy);
  REQUIRE(link.wait_heartbeat_to_dialer(hang_bound)); // b's heartbeats reach a
  caf::scoped_actor client{sys};
  client->monitor(*proxy);
  link.freeze(true);
  caf::error reason;
  client->receive([&](caf::down_msg& dm) { reason = dm.reason; },
                  caf::after(hang_bound) >> [] {});
  auto down_seen = std::chrono::steady_clock::now();
  CHECK(reason == transport_errc::peer_timeout);
  // Not too early. a got b's last heartbeat after the relay sent it on, and
  // a loaded machine only delays a's verdict: at least the peer timeout
  // passed since (less one heartbeat interval of margin, for a heartbeat
  // still unread in a's socket).
  auto quiet = down_seen - link.last_heartbeat_to_dialer();
  INFO("ms from b's last heartbeat through to a's verdict: "
       << std::chrono::duration_cast<std::chrono::milliseconds>(quiet).count());
  CHECK(quiet >= cfg.peer_timeout - cfg.heartbeat_interval);
  // Not too late, measured on b's clock instead of the test's: b sends a
  // heartbeat every 50 ms, and the frozen link swallowed those it sent until
  // a gave up (closed the connection). Within the timeout that is about
  // peer_timeout / heartbeat_interval = 8; more than twice that means a
  // waited more than twice the timeout. A loaded machine makes b send fewer.
  auto swallowed = link.heartbeats_dropped_to_dialer();
  INFO("heartbeats b sent while a waited: " << swallowed);
  CHECK(swallowed <= 2 * static_cast<size_t>(cfg.peer_timeout / cfg.heartbeat_interval));
}

TEST_CASE_METHOD(node_fixture, "nodes with the same secret connect; others are refused",
                 "[transport][node][auth]") {
  auto cfg = fast_config();
  cfg.secret = "correct horse";
  auto a = node::start(sys, cfg);
  auto b = node::start(sys, cfg);
  cfg.secret = "battery staple";
  auto c = node::start(sys, cfg);
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE(c);
  auto peer = a->connect("127.0.0.1", b->port());
  REQUIRE(peer);
  CHECK(*peer == b->id());
  auto refused = c->connect("127.0.0.1", b->port());
  CHECK(refused.error() == transport_errc::auth_failed);
}

TEST_CASE_METHOD(node_fixture, "two nodes dialing each other share one connection",
                 "[transport][node]") {
  auto a = node::start(sys, fast_config());
  auto b = node::start(sys, fast_config());
  REQUIRE(a);
  REQUIRE(b);
  caf::scoped_actor events{sys};
  a->subscribe(events);
  caf::scoped_actor s1{sys};
  caf::scoped_actor s2{sys};
  s1->send(a->handle(), troupe::transport::connect_atom::value, std::string{"127.0.0.1"},
           b->port());
  s2->send(b->handle(), troupe::transport::connect_atom::value, std::string{"127.0.0.1"},
           a->port());
  s1->receive([](std::string&) {}, [](caf::error& err) { FAIL(caf::to_string(err)); },
              caf::after(3s) >> [] { FAIL("no answer"); });
  s2->receive([](std::string&) {}, [](caf::error& err) { FAIL(caf::to_string(err)); },
              caf::after(3s) >> [] { FAIL("no answer"); });
  // Both sides keep the same connection: a request works both ways.
  auto peer = a->connect("127.0.0.1", b->port());
  REQUIRE(peer);
  CHECK(*peer == b->id());
  auto back = b->connect("127.0.0.1", a->port());
  REQUIRE(back);
  CHECK(*back == a->id());
}

TEST_CASE_METHOD(node_fixture, "a stopped node releases its I/O runtime",
                 "[transport][node][leak]") {
  // Stopping races the listener's close against the I/O threads running
  // out of work; a handler posted too late once kept the runtime (and its
  // io_context, threads and sockets) alive forever. Repeat to hit the race.
  auto before = troupe::transport::live_io_runtimes();
  for (int i = 0; i < 20; ++i) {
    auto n = node::start(sys, fast_config());
    REQUIRE(n);
    {
      troupe::testing::raw_peer peer{n->port()};
      REQUIRE(peer.connected());
      REQUIRE(peer.handshake("leak-check"));
    }
    n->stop();
  }
  for (int i = 0; i < 10; ++i) { // connected nodes, stopped in either order
    auto x = node::start(sys, fast_config());
    auto y = node::start(sys, fast_config());
    REQUIRE(x);
    REQUIRE(y);
    REQUIRE(x->connect("127.0.0.1", y->port()));
    if (i % 2 == 0)
      x->stop();
    else
      y->stop();
  }
  // Bounded wait: the last references (dead actors' io handles) go away
  // on CAF's threads shortly after stop returns.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (troupe::transport::live_io_runtimes() > before
         && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  CHECK(troupe::transport::live_io_runtimes() == before);
}

TEST_CASE_METHOD(node_fixture,
                 "two nodes dialing each other tell their observers one up and no down",
                 "[transport][node]") {
  // The peer may close the connection it drops before the one it keeps is
  // up on this side; observers must not see that as the peer going down
  // (a cluster would mark a healthy member down). Racy by nature: rounds.
  for (int round = 0; round < 20; ++round) {
    auto a = node::start(sys, fast_config());
    auto b = node::start(sys, fast_config());
    REQUIRE(a);
    REQUIRE(b);
    caf::scoped_actor events_a{sys};
    caf::scoped_actor events_b{sys};
    a->subscribe(events_a);
    b->subscribe(events_b);
    caf::scoped_actor s1{sys};
    caf::scoped_actor s2{sys};
    s1->send(a->handle(), troupe::transport::connect_atom::value, std::string{"127.0.0.1"},
             b->port());
    s2->send(b->handle(), troupe::transport::connect_atom::value, std::string{"127.0.0.1"},
             a->port());
    s1->receive([](std::string&) {}, [](caf::error& err) { FAIL(caf::to_string(err)); },
                caf::after(3s) >> [] { FAIL("no answer"); });
    s2->receive([](std::string&) {}, [](caf::error& err) { FAIL(caf::to_string(err)); },
                caf::after(3s) >> [] { FAIL("no answer"); });
    // Settled once a request works both ways; every event sent before
    // these answers is in the observers' mailboxes.
    REQUIRE(a->connect("127.0.0.1", b->port()));
    REQUIRE(b->connect("127.0.0.1", a->port()));
    for (auto* events : {&events_a, &events_b}) {
      int ups = 0;
      int downs = 0;
      bool more = true;
      while (more)
        (*events)->receive(
          [&](const troupe::transport::peer_event& e) {
            ++(e.status == troupe::transport::peer_status::up ? ups : downs);
          },
          caf::after(0s) >> [&] { more = false; });
      INFO("round " << round);
      CHECK(ups == 1);
      CHECK(downs == 0);
    }
    a->stop();
    b->stop();
  }
}

TEST_CASE_METHOD(node_fixture, "two nodes dialing each other lose no request and no proxy",
                 "[transport][node]") {
  // Both nodes dial at once and use what their dial gives them at once.
  // Only one connection may ever carry traffic: a second one dropped as a
  // duplicate would fail the requests in flight on it and kill the proxies
  // handed out on it. Racy by nature: rounds.
  constexpr int requests = 20;
  for (int round = 0; round < 20; ++round) {
    INFO("round " << round);
    auto a = node::start(sys, fast_config());
    auto b = node::start(sys, fast_config());
    REQUIRE(a);
    REQUIRE(b);
    auto stats = std::make_shared<service_stats>();
    auto echo_a = sys.spawn(troupe::testing::echo_service, a->id(), stats);
    auto echo_b = sys.spawn(troupe::testing::echo_service, b->id(), stats);
    REQUIRE(!a->publish(echo_a, "echo"));
    REQUIRE(!b->publish(echo_b, "echo"));
    caf::scoped_actor s1{sys};
    caf::scoped_actor s2{sys};
    auto remote = troupe::transport::remote_atom::value;
    s1->send(a->handle(), remote, std::string{"echo"}, std::string{"127.0.0.1"}, b->port());
    s2->send(b->handle(), remote, std::string{"echo"}, std::string{"127.0.0.1"}, a->port());
    std::vector<caf::actor> proxies;
    for (auto* s : {&s1, &s2})
      (*s)->receive([&](caf::actor& proxy) { proxies.push_back(std::move(proxy)); },
                    [](caf::error& err) { FAIL(caf::to_string(err)); },
                    caf::after(hang_bound) >> [] { FAIL("no proxy"); });
    // Requests at once on both sides, while the nodes may still be
    // settling which connection they keep.
    using handle = decltype(s1->request(proxies[0], hang_bound, Call{}));
    std::vector<handle> pending;
    for (int i = 0; i < requests; ++i) {
      pending.push_back(s1->request(proxies[0], hang_bound, Call{}));
      pending.push_back(s2->request(proxies[1], hang_bound, Call{}));
    }
    int answered = 0;
    std::vector<std::string> failures;
    for (auto& h : pending)
      h.receive([&](const Answer&) { ++answered; },
                [&](caf::error& err) { failures.push_back(render(err)); });
    CHECK(failures.empty());
    CHECK(answered == 2 * requests);
    // Settled once connect answers both ways: the proxies handed out first
    // still work (none was on a connection closed since).
    REQUIRE(a->connect("127.0.0.1", b->port()));
    REQUIRE(b->connect("127.0.0.1", a->port()));
    for (auto& proxy : proxies) {
      auto r = call<Answer>(proxy, 5000ms, Call{});
      CHECK(r.value);
      CHECK(!r.error);
    }
    a->stop();
    b->stop();
    caf::anon_send_exit(echo_a, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(echo_b, caf::exit_reason::user_shutdown);
  }
}
