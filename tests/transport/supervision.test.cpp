// The listener and the connections are supervised children of their node:
// their lifecycle shows up as supervision events, a crash is handled by the
// tree, and the node keeps serving. Real sockets on 127.0.0.1.

#include <catch2/catch.hpp>

#include <troupe/supervisors/atoms.hpp>
#include <troupe/supervisors/supervision_event.hpp>
#include <troupe/supervisors/supervisor.hpp>
#include <troupe/transport/transport_errc.hpp>

#include "support/node_fixture.hpp"
#include "support/raw_peer.hpp"

using namespace std::chrono_literals;
using troupe::supervisors::child_info;
using troupe::supervisors::event_kind;
using troupe::supervisors::supervision_event;
using troupe::supervisors::which_children_atom;
using troupe::testing::Answer;
using troupe::testing::fast_config;
using troupe::testing::node_fixture;
using troupe::transport::node;

namespace {

struct supervised_nodes : node_fixture {
  caf::scoped_actor events{sys};
  std::optional<node> a;
  std::optional<node> b;
  caf::actor echo;

  supervised_nodes() {
    auto cfg_a = fast_config();
    cfg_a.observers = {caf::actor{events}};
    auto na = node::start(sys, cfg_a);
    auto nb = node::start(sys, fast_config());
    REQUIRE(na);
    REQUIRE(nb);
    a.emplace(std::move(*na));
    b.emplace(std::move(*nb));
    echo = sys.spawn(troupe::testing::echo_service, b->id(),
                     std::make_shared<troupe::testing::service_stats>());
    REQUIRE(!b->publish(echo, "echo"));
  }

  ~supervised_nodes() {
    a.reset();
    b.reset();
    caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
  }

  /// Waits (bounded) for the first event of `kind` about `child`; events
  /// before it are skipped.
  std::optional<supervision_event> next_event(event_kind kind, const std::string& child) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
      std::optional<supervision_event> found;
      bool timed_out = false;
      events->receive(
        [&](supervision_event& ev) {
          if (ev.kind == kind && ev.child == child)
            found = std::move(ev);
        },
        caf::after(std::chrono::milliseconds{200}) >> [&] { timed_out = true; });
      if (found)
        return found;
      (void)timed_out;
    }
    return std::nullopt;
  }

  /// The children of `sup`, in start order.
  std::vector<child_info> children_of(const caf::actor& sup) {
    auto r = call<std::vector<child_info>>(sup, 3000ms, which_children_atom::value);
    REQUIRE(r.value);
    return *r.value;
  }

  /// The running child `id` of `sup`.
  caf::actor child(const caf::actor& sup, const std::string& id) {
    for (auto& c : children_of(sup))
      if (c.id == id)
        return c.handle;
    return {};
  }

  bool serves(const caf::actor& proxy) {
    return call<Answer>(proxy, 5000ms, troupe::testing::full_call()).value.has_value();
  }
};

} // namespace

TEST_CASE_METHOD(supervised_nodes, "a node's listener and connections form a supervisor tree",
                 "[transport][supervision]") {
  auto root = a->supervisor();
  REQUIRE(root);
  auto top = children_of(root);
  REQUIRE(top.size() == 2);
  // Started first, stopped last: the connections outlive the listener.
  CHECK(top[0].id == "connections");
  CHECK(top[0].kind == troupe::supervisors::child_kind::supervisor);
  CHECK(top[1].id == "listener");
  CHECK(top[1].restart == troupe::supervisors::restart_type::permanent);
  auto proxy = a->remote_actor("echo", "127.0.0.1", b->port());
  REQUIRE(proxy);
  CHECK(next_event(event_kind::started, "conn-1"));
  auto conns = children_of(top[0].handle);
  REQUIRE(conns.size() == 1);
  CHECK(conns[0].id == "conn-1");
  CHECK(conns[0].restart == troupe::supervisors::restart_type::temporary);
}

TEST_CASE_METHOD(supervised_nodes,
                 "a crashed connection is a supervision event and the node keeps serving",
                 "[transport][supervision]") {
  auto proxy = a->remote_actor("echo", "127.0.0.1", b->port());
  REQUIRE(proxy);
  REQUIRE(serves(*proxy));
  REQUIRE(next_event(event_kind::started, "conn-1"));
  auto conns = child(a->supervisor(), "connections");
  REQUIRE(conns);
  auto conn = child(conns, "conn-1");
  REQUIRE(conn);
  caf::scoped_actor client{sys};
  client->monitor(*proxy);
  caf::anon_send_exit(conn, caf::exit_reason::kill);
  // The supervisor saw the crash; a temporary child is not restarted.
  auto exited = next_event(event_kind::exited, "conn-1");
  REQUIRE(exited);
  CHECK(exited->reason == caf::exit_reason::kill);
  CHECK(exited->supervisor.find("/connections") != std::string::npos);
  // The connection's proxies went down with it, with its reason.
  caf::error down_reason;
  client->receive([&](caf::down_msg& dm) { down_reason = dm.reason; },
                  caf::after(3s) >> [] { FAIL("the proxy did not go down"); });
  CHECK(down_reason == caf::exit_reason::kill);
  // The node re-dials (its own job, not the supervisor's) and keeps
  // serving through a new connection.
  CHECK(next_event(event_kind::started, "conn-2"));
  auto again = a->remote_actor("echo", "127.0.0.1", b->port());
  REQUIRE(again);
  CHECK(*again != *proxy);
  CHECK(serves(*again));
}

TEST_CASE_METHOD(supervised_nodes, "a crashed listener is restarted on the same socket",
                 "[transport][supervision]") {
  auto listener = child(a->supervisor(), "listener");
  REQUIRE(listener);
  caf::anon_send_exit(listener, caf::exit_reason::kill);
  REQUIRE(next_event(event_kind::exited, "listener"));
  REQUIRE(next_event(event_kind::started, "listener"));
  auto restarted = child(a->supervisor(), "listener");
  CHECK(restarted);
  CHECK(restarted != listener);
  // Same port, still accepting: a raw client completes the handshake.
  troupe::testing::raw_peer peer{a->port()};
  REQUIRE(peer.connected());
  auto welcome = peer.handshake("after-restart");
  REQUIRE(welcome);
  CHECK(welcome->has_welcome());
}

TEST_CASE_METHOD(supervised_nodes, "a node stops through its supervisor, in order",
                 "[transport][supervision]") {
  auto proxy = a->remote_actor("echo", "127.0.0.1", b->port());
  REQUIRE(proxy);
  REQUIRE(next_event(event_kind::started, "conn-1"));
  auto root = a->supervisor();
  caf::scoped_actor watcher{sys};
  watcher->monitor(root);
  a->stop();
  // Listener first (no new peers), then the connection.
  CHECK(next_event(event_kind::stopped, "listener"));
  CHECK(next_event(event_kind::stopped, "conn-1"));
  bool down = false;
  watcher->receive([&](caf::down_msg&) { down = true; }, caf::after(3s) >> [] {});
  CHECK(down);
}
