// A node in another process (troupe-transport-test-node), on 127.0.0.1:
// request / reply, deadlines in transit, a killed peer, reconnect.

#include <catch2/catch.hpp>

#include <google/protobuf/util/message_differencer.h>

#include <troupe/messages/error_category.hpp>
#include <troupe/transport/atoms.hpp>
#include <troupe/transport/transport_errc.hpp>

#include "support/child_node.hpp"
#include "support/delay_relay.hpp"
#include "support/node_fixture.hpp"

using namespace std::chrono_literals;
using google::protobuf::util::MessageDifferencer;
using troupe::testing::Answer;
using troupe::testing::child_node;
using troupe::testing::Count;
using troupe::testing::delay_relay;
using troupe::testing::hang_bound;
using troupe::testing::Tally;
using troupe::transport::call_options;
using troupe::transport::transport_errc;

namespace {

const std::vector<std::string> fast_child = {"--heartbeat-ms=50", "--peer-timeout-ms=400",
                                             "--lifetime-s=60"};

struct local_node : troupe::testing::node_fixture {
  std::optional<troupe::transport::node> a;
  local_node() {
    auto started = troupe::transport::node::start(sys, troupe::testing::fast_config());
    REQUIRE(started);
    a.emplace(std::move(*started));
  }
};

} // namespace

TEST_CASE_METHOD(local_node, "a node in another process answers with every field intact",
                 "[transport][two_process]") {
  child_node child{TROUPE_TEST_NODE, fast_child};
  REQUIRE(child.port() != 0);
  auto proxy = a->remote_actor("recorder", "127.0.0.1", child.port());
  REQUIRE(proxy);
  auto request = troupe::testing::full_call("across processes");
  auto r = call<Answer>(*proxy, 5000ms, call_options{3s, "t-42", "r-42", 2}, request);
  REQUIRE(r.value);
  CHECK(MessageDifferencer::Equals(r.value->echo(), request));
  CHECK(!r.value->handled_by().empty());
  CHECK(r.value->handled_by() != a->id());
  CHECK(r.value->trace_id() == "t-42");
  CHECK(r.value->request_id() == "r-42");
  CHECK(r.value->attempt() == 2);
  CHECK(r.value->deadline_remaining_us() == 3'000'000);
}

TEST_CASE_METHOD(local_node,
                 "a deadline that expires in transit to another process never runs",
                 "[transport][two_process][deadline]") {
  child_node child{TROUPE_TEST_NODE, fast_child};
  REQUIRE(child.port() != 0);
  delay_relay slow{child.port(), 150ms};
  auto proxy = a->remote_actor("recorder", "127.0.0.1", slow.port());
  REQUIRE(proxy);
  auto r =
    call<Answer>(*proxy, 5000ms, call_options{60ms, "", "", 1}, troupe::testing::full_call());
  CHECK(r.error == transport_errc::request_timeout);
  auto tally = call<Tally>(*proxy, 5000ms, call_options{3s, "", "", 1}, Count{});
  REQUIRE(tally.value);
  CHECK(tally.value->handled() == 0);
}

TEST_CASE_METHOD(local_node,
                 "a killed peer process downs monitors and fails pending requests; it is "
                 "reconnected when it returns",
                 "[transport][two_process][failure]") {
  caf::scoped_actor events{sys};
  a->subscribe(events);
  auto child = std::make_unique<child_node>(TROUPE_TEST_NODE, fast_child);
  auto port = child->port();
  REQUIRE(port != 0);
  auto proxy = a->remote_actor("echo", "127.0.0.1", port);
  REQUIRE(proxy);
  events->receive(
    [](const troupe::transport::peer_event& e) {
      CHECK(e.status == troupe::transport::peer_status::up);
    },
    caf::after(3s) >> [] { FAIL("no peer_up"); });
  caf::scoped_actor client{sys};
  client->monitor(*proxy);
  // Mid-stream: a request the peer is still working on, and a stream of quick ones.
  auto slow = troupe::testing::full_call();
  slow.set_sleep_ms(10000);
  auto pending = client->request(*proxy, 20s, slow);
  for (int i = 0; i < 20; ++i)
    caf::anon_send(*proxy, troupe::testing::full_call());
  child->kill();
  caf::error pending_error;
  caf::error down_reason;
  pending.receive([](Answer&) { FAIL("answered by a dead process"); },
                  [&](caf::error& err) { pending_error = err; });
  client->receive([&](caf::down_msg& dm) { down_reason = dm.reason; },
                  caf::after(hang_bound) >> [] {});
  // The closed socket is seen at once: the failure is peer_lost, not the
  // request's own deadline (request_timeout) nor a silent peer found by the
  // heartbeats (peer_timeout).
  CHECK(pending_error == transport_errc::peer_lost);
  CHECK(down_reason == transport_errc::peer_lost);
  // The peer comes back on the same port: the node reconnects by itself.
  std::vector<std::string> args = fast_child;
  args.push_back("--port=" + std::to_string(port));
  child = std::make_unique<child_node>(TROUPE_TEST_NODE, args);
  REQUIRE(child->port() == port);
  bool up = false;
  for (int i = 0; i < 3 && !up; ++i)
    events->receive(
      [&](const troupe::transport::peer_event& e) {
        up = e.status == troupe::transport::peer_status::up;
      },
      caf::after(5s) >> [] {});
  CHECK(up);
  auto again = a->remote_actor("echo", "127.0.0.1", port);
  REQUIRE(again);
  CHECK(call<Answer>(*again, 5000ms, troupe::testing::full_call()).value);
}

TEST_CASE_METHOD(local_node,
                 "every request in flight to a peer killed with SIGKILL ends typed "
                 "before its deadline",
                 "[transport][two_process][failure]") {
  auto child = std::make_unique<child_node>(TROUPE_TEST_NODE, fast_child);
  auto proxy = a->remote_actor("echo", "127.0.0.1", child->port());
  REQUIRE(proxy);
  // One answered call first: the connection is up and the echo works.
  REQUIRE(call<Answer>(*proxy, 5000ms, troupe::testing::full_call()).value);
  // 50 requests the peer is still working on, each with a 5 s deadline.
  constexpr int in_flight = 50;
  caf::scoped_actor client{sys};
  auto slow = troupe::testing::full_call();
  slow.set_sleep_ms(10000);
  call_options opts;
  opts.deadline = 5s;
  std::vector<decltype(client->request(*proxy, caf::infinite, opts, slow))> pending;
  for (int i = 0; i < in_flight; ++i)
    pending.push_back(client->request(*proxy, caf::infinite, opts, slow));
  auto killed_at = std::chrono::steady_clock::now();
  child->kill(); // SIGKILL: no goodbye, the socket just closes
  int peer_lost = 0;
  for (auto& p : pending)
    p.receive([](Answer&) { FAIL("answered by a dead process"); },
              [&](caf::error& err) {
                CAPTURE(troupe::messages::describe(err));
                if (err == transport_errc::peer_lost)
                  ++peer_lost;
              });
  auto took = std::chrono::steady_clock::now() - killed_at;
  // Every one failed with the typed reason, none waited for its deadline
  // (and none hangs: the CAF timeout is infinite, the transport answers).
  CHECK(peer_lost == in_flight);
  CHECK(took < 5s);
}
