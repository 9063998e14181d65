// Cluster membership on virtual time: the in-process store's leases run on
// the deterministic scheduler's clock and the nodes are scripted, so every
// transition (join, lease expiry, re-registration, leave, a transport
// failure, a duplicate id, a flapping member) is checked exactly, with no
// sleeps and no sockets.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <troupe/cluster/cluster.hpp>
#include <troupe/cluster/cluster_errc.hpp>
#include <troupe/cluster/in_process_membership.hpp>
#include <troupe/services/rpc_errc.hpp>
#include <troupe/testing/deterministic_system.hpp>
#include <troupe/transport/system_config.hpp>
#include <troupe/transport/transport_errc.hpp>

#include "scripted_node.hpp"

using namespace std::chrono_literals;
using namespace troupe::cluster;
using troupe::messages::is;

namespace {

constexpr auto ttl = 5s;

/// One member: its scripted node, its cluster actor, the events it saw.
struct test_member {
  std::string id;
  uint16_t port = 0;
  troupe::transport::node_actor node;
  std::shared_ptr<std::vector<caf::actor>> peers = std::make_shared<std::vector<caf::actor>>();
  std::shared_ptr<membership_provider> provider;
  spawned_cluster cluster;
  std::shared_ptr<std::vector<member_event>> events =
    std::make_shared<std::vector<member_event>>();
  caf::actor recorder;
};

struct fixture {
  troupe::testing::deterministic_system<troupe::transport::system_config> f;
  std::shared_ptr<troupe::testing::scripted_network> net =
    std::make_shared<troupe::testing::scripted_network>();
  in_process_membership store{f.sys, ttl};
  std::map<std::string, test_member> members;

  ~fixture() {
    for (auto& [id, m] : members) {
      caf::anon_send_exit(m.cluster.actor, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(m.recorder, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(m.node, caf::exit_reason::user_shutdown);
    }
    for (auto& [key, proxy] : net->proxies)
      caf::anon_send_exit(proxy, caf::exit_reason::user_shutdown);
  }

  test_member& add(const std::string& id, uint16_t port,
                   std::vector<std::string> services = {}) {
    auto& m = members[id];
    m.id = id;
    m.port = port;
    net->answers["127.0.0.1:" + std::to_string(port)] = id;
    m.node = troupe::testing::spawn_scripted_node(f.sys, net, m.peers);
    member self;
    self.id = id;
    self.host = "127.0.0.1";
    self.port = port;
    self.services = std::move(services);
    m.provider = store.provider();
    m.cluster = spawn_cluster(f.sys, m.node, self, cluster_config{}, m.provider);
    m.recorder = f.sys.spawn([events = m.events]() -> caf::behavior {
      return {[events](const member_event& ev) { events->push_back(ev); }};
    });
    caf::anon_send(m.cluster.actor, subscribe_atom::value, m.recorder);
    f.run();
    return m;
  }

  /// What `who` knows of `other` now (state `removed` if nothing).
  member_state state_of(const std::string& who, const std::string& other) {
    member_state result = member_state::removed;
    f.self->send(members[who].cluster.actor, members_atom::value);
    f.run();
    f.self->receive([&](std::vector<member>& xs) {
      for (auto& x : xs)
        if (x.id == other)
          result = x.state;
    });
    return result;
  }

  /// The states `who` saw `other` pass through, in order.
  std::vector<member_state> seen(const std::string& who, const std::string& other) {
    std::vector<member_state> result;
    for (auto& ev : *members[who].events)
      if (ev.who.id == other)
        result.push_back(ev.who.state);
    return result;
  }

  /// Tells `who`'s cluster that the transport lost or regained `other`.
  void peer(const std::string& who, const std::string& other,
            troupe::transport::peer_status s) {
    troupe::transport::peer_event ev;
    ev.status = s;
    ev.node_id = other;
    if (s == troupe::transport::peer_status::down)
      ev.reason = caf::make_error(troupe::transport::transport_errc::peer_timeout);
    for (auto& observer : *members[who].peers)
      caf::anon_send(observer, ev);
    f.run();
  }

  caf::expected<caf::actor> find(const std::string& who, const std::string& service,
                                 caf::actor_addr stale = {}) {
    caf::expected<caf::actor> result{caf::actor{}};
    f.self->send(members[who].cluster.actor, find_service_atom::value, service, stale,
                 caf::timespan{0});
    f.run();
    f.self->receive([&](caf::actor& x) { result = std::move(x); },
                    [&](caf::error& err) { result = std::move(err); });
    return result;
  }
};

using S = member_state;

} // namespace

TEST_CASE_METHOD(fixture, "members that join see each other up through the store and the node",
                 "[cluster]") {
  add("a", 1001);
  add("b", 1002);
  add("c", 1003);
  for (auto who : {"a", "b", "c"})
    for (auto other : {"a", "b", "c"})
      CHECK(state_of(who, other) == S::up);
  CHECK(seen("a", "b") == std::vector<S>{S::joining, S::up});
  CHECK(seen("c", "a") == std::vector<S>{S::joining, S::up});
  // This member's own record: joining until registered, then up.
  CHECK(seen("a", "a") == std::vector<S>{S::up});
}

TEST_CASE_METHOD(fixture,
                 "a member whose lease expires goes down then removed exactly at its ttl",
                 "[cluster]") {
  add("a", 1001);
  add("b", 1002);
  store.cut("b");
  f.advance_time(ttl - 1ms);
  CHECK(state_of("a", "b") == S::up);
  f.advance_time(1ms);
  CHECK(state_of("a", "b") == S::removed);
  CHECK(seen("a", "b") == std::vector<S>{S::joining, S::up, S::down, S::removed});
  auto& last = members["a"].events->back();
  CHECK(is(last.reason, cluster_errc::member_expired));
}

TEST_CASE_METHOD(fixture, "a member that lost its lease registers again and comes back up",
                 "[cluster]") {
  add("a", 1001);
  add("b", 1002);
  store.cut("b");
  f.advance_time(ttl);
  REQUIRE(state_of("a", "b") == S::removed);
  store.heal("b");
  f.run();
  CHECK(state_of("a", "b") == S::up);
  CHECK(seen("a", "b")
        == std::vector<S>{S::joining, S::up, S::down, S::removed, S::joining, S::up});
  // b heard that its lease was lost (down), then registered again (up).
  CHECK(seen("b", "b") == std::vector<S>{S::up, S::down, S::up});
  // b missed nothing while cut off: it still knows a.
  CHECK(state_of("b", "a") == S::up);
}

TEST_CASE_METHOD(fixture, "a member that leaves is removed without ever being down",
                 "[cluster]") {
  add("a", 1001);
  add("b", 1002);
  f.self->send(members["b"].cluster.actor, leave_atom::value);
  f.run();
  CHECK(state_of("a", "b") == S::leaving);
  members["b"].provider->stop(); // what cluster::stop does next
  f.run();
  CHECK(state_of("a", "b") == S::removed);
  CHECK(seen("a", "b") == std::vector<S>{S::joining, S::up, S::leaving, S::removed});
  CHECK(is(members["a"].events->back().reason, cluster_errc::member_left));
  // Its lease does not expire later: nothing more is seen.
  f.advance_time(2 * ttl);
  CHECK(seen("a", "b").size() == 4);
}

TEST_CASE_METHOD(fixture, "the transport losing a member marks it down and its return up",
                 "[cluster]") {
  add("a", 1001);
  add("b", 1002, {"test.Svc"});
  REQUIRE(find("a", "test.Svc"));
  peer("a", "b", troupe::transport::peer_status::down);
  CHECK(state_of("a", "b") == S::down);
  CHECK(
    is(members["a"].events->back().reason, troupe::transport::transport_errc::peer_timeout));
  // A down member takes no calls.
  auto none = find("a", "test.Svc");
  REQUIRE_FALSE(none);
  CHECK(is(none.error(), troupe::services::rpc_errc::unavailable));
  peer("a", "b", troupe::transport::peer_status::up);
  CHECK(state_of("a", "b") == S::up);
  CHECK(find("a", "test.Svc"));
}

TEST_CASE_METHOD(fixture, "a second member claiming a live identity gets duplicate_member",
                 "[cluster]") {
  add("a", 1001);
  add("b", 1002);
  // Another process that took b's id.
  auto node = troupe::testing::spawn_scripted_node(f.sys, net, members["a"].peers);
  member twin;
  twin.id = "b";
  twin.host = "127.0.0.1";
  twin.port = 1009;
  auto dup = spawn_cluster(f.sys, node, twin, cluster_config{}, store.provider());
  f.self->send(dup.actor, joined_atom::value);
  f.run();
  caf::error err;
  f.self->receive([](caf::ok_atom) {}, [&](caf::error& x) { err = std::move(x); });
  INFO(troupe::messages::describe(err));
  CHECK(is(err, cluster_errc::duplicate_member));
  // The original is untouched.
  CHECK(state_of("a", "b") == S::up);
  caf::anon_send_exit(dup.actor, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(node, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(fixture, "a flapping member ends up in the state of its last transition",
                 "[cluster]") {
  add("a", 1001);
  add("b", 1002, {"test.Svc"});
  for (int i = 0; i < 20; ++i) {
    store.cut("b");
    f.advance_time(ttl);
    REQUIRE(state_of("a", "b") == S::removed);
    store.heal("b");
    f.run();
    REQUIRE(state_of("a", "b") == S::up);
  }
  // Every flap is seen, in order, and its services are callable again.
  CHECK(seen("a", "b").size() == 2 + 20 * 4);
  CHECK(find("a", "test.Svc"));
}

TEST_CASE_METHOD(fixture,
                 "calls by name go round robin over up members and skip the one that failed",
                 "[cluster]") {
  add("a", 1001);
  add("b", 1002, {"test.Svc"});
  add("c", 1003, {"test.Svc"});
  std::map<caf::actor_addr, int> picked;
  for (int i = 0; i < 10; ++i) {
    auto x = members["a"].cluster.locator->pick("test.Svc", caf::actor_addr{});
    REQUIRE(x);
    ++picked[x.address()];
  }
  CHECK(picked.size() == 2);
  for (auto& [addr, n] : picked)
    CHECK(n == 5);
  // A stale instance (its last call was not delivered) is skipped.
  auto first = members["a"].cluster.locator->pick("test.Svc", caf::actor_addr{});
  for (int i = 0; i < 4; ++i)
    CHECK(members["a"].cluster.locator->pick("test.Svc", first.address()).address()
          != first.address());
  // Failover: c's node is lost; only b's instance remains.
  peer("a", "c", troupe::transport::peer_status::down);
  auto at_b = net->proxies["test.Svc@127.0.0.1:1002"];
  for (int i = 0; i < 4; ++i)
    CHECK(members["a"].cluster.locator->pick("test.Svc", caf::actor_addr{}) == at_b);
}

TEST_CASE_METHOD(fixture, "an instance whose proxy dies while its member is up is replaced",
                 "[cluster]") {
  add("a", 1001);
  add("b", 1002, {"test.Svc"});
  auto key = std::string{"test.Svc@127.0.0.1:1002"};
  auto old = net->proxies[key];
  REQUIRE(members["a"].cluster.locator->pick("test.Svc", caf::actor_addr{}) == old);
  // Its connection lost a duplicate-connection tie-break: the proxy ends,
  // the member stays up through the other connection.
  net->proxies.erase(key);
  caf::anon_send_exit(old, caf::exit_reason::user_shutdown);
  f.run();
  CHECK(state_of("a", "b") == S::up);
  auto fresh = members["a"].cluster.locator->pick("test.Svc", caf::actor_addr{});
  REQUIRE(fresh);
  CHECK(fresh != old);
  CHECK(fresh == net->proxies[key]);
}

TEST_CASE_METHOD(fixture,
                 "a member that cannot be reached is down and dialed again until it answers",
                 "[cluster]") {
  add("a", 1001);
  add("b", 1002);
  // The transport loses b, and nothing answers at its address for now.
  net->answers.erase("127.0.0.1:1002");
  peer("a", "b", troupe::transport::peer_status::down);
  CHECK(state_of("a", "b") == S::down);
  // The cluster dials again after its backoff (at most 2 s, then refused
  // again, and so on): once b answers, the next dial finds it up.
  f.advance_time(2s);
  CHECK(state_of("a", "b") == S::down);
  net->answers["127.0.0.1:1002"] = "b";
  f.advance_time(2s);
  f.advance_time(2s);
  CHECK(state_of("a", "b") == S::up);
}
