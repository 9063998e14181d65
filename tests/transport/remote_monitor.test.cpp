// Remote monitors between two nodes on 127.0.0.1: `node::watch` hands out
// an actor whose down message carries the watched remote actor's own exit
// reason, `unknown_actor` for a name nobody publishes, and the
// connection's reason when the watched actor's node goes away first.

#include <catch2/catch.hpp>

#include <troupe/messages/error_category.hpp>
#include <troupe/transport/node.hpp>
#include <troupe/transport/transport_errc.hpp>

#include "support/node_fixture.hpp"

using namespace std::chrono_literals;
using troupe::messages::is;
using troupe::testing::fast_config;
using troupe::testing::hang_bound;
using troupe::testing::node_fixture;
using troupe::transport::node;
using troupe::transport::transport_errc;

namespace {

struct watched_pair : node_fixture {
  std::optional<node> a;
  std::optional<node> b;
  caf::actor victim;

  watched_pair() {
    auto na = node::start(sys, fast_config());
    auto nb = node::start(sys, fast_config());
    REQUIRE(na);
    REQUIRE(nb);
    a.emplace(std::move(*na));
    b.emplace(std::move(*nb));
    victim =
      sys.spawn([]() -> caf::behavior { return {[](const std::string& x) { return x; }}; });
    REQUIRE(!b->publish(victim, "victim"));
  }

  ~watched_pair() {
    caf::anon_send_exit(victim, caf::exit_reason::user_shutdown);
    a.reset();
    b.reset();
  }

  /// The reason of `sentinel`'s down message.
  caf::error down_reason(const caf::actor& sentinel) {
    caf::scoped_actor self{sys};
    self->monitor(sentinel);
    caf::error reason;
    bool seen = false;
    self->receive(
      [&](caf::down_msg& msg) {
        reason = msg.reason;
        seen = true;
      },
      caf::after(hang_bound) >> [] {});
    REQUIRE(seen);
    return reason;
  }
};

} // namespace

TEST_CASE_METHOD(watched_pair, "a remote monitor reports the watched actor's exit reason",
                 "[transport][monitor]") {
  auto watch = a->watch("victim", "127.0.0.1", b->port());
  REQUIRE(watch);
  // A second watch of the same actor gets the same news.
  auto again = a->watch("victim", "127.0.0.1", b->port());
  REQUIRE(again);
  // Terminates with a typed reason of its own, not a connection loss.
  caf::anon_send_exit(victim, caf::exit_reason::user_shutdown);
  CHECK(down_reason(*watch) == caf::exit_reason::user_shutdown);
  CHECK(down_reason(*again) == caf::exit_reason::user_shutdown);
  // The connection is fine: another actor is reachable.
  CHECK(a->connect("127.0.0.1", b->port()));
}

TEST_CASE_METHOD(watched_pair,
                 "a remote monitor of a name nobody publishes ends with unknown_actor",
                 "[transport][monitor]") {
  auto watch = a->watch("nobody", "127.0.0.1", b->port());
  REQUIRE(watch);
  CHECK(is(down_reason(*watch), transport_errc::unknown_actor));
}

TEST_CASE_METHOD(watched_pair,
                 "a remote monitor ends with the connection's reason when the node leaves",
                 "[transport][monitor]") {
  auto watch = a->watch("victim", "127.0.0.1", b->port());
  REQUIRE(watch);
  b->stop();
  auto reason = down_reason(*watch);
  INFO(troupe::messages::describe(reason));
  CHECK(is(reason, transport_errc::peer_lost));
  CHECK(troupe::messages::describe(reason).find("node_stopped") != std::string::npos);
}

TEST_CASE_METHOD(watched_pair,
                 "a dropped remote monitor is withdrawn so watches never pile up on the peer",
                 "[transport][monitor]") {
  // More than the peer serves per connection (4096): without Unwatch the
  // peer would refuse the last ones with too_many_requests.
  for (int i = 0; i < 5000; ++i) {
    auto watch = a->watch("victim", "127.0.0.1", b->port());
    REQUIRE(watch);
  } // each sentinel is dropped here: its watch is withdrawn (Unwatch)
  auto kept = a->watch("victim", "127.0.0.1", b->port());
  REQUIRE(kept);
  caf::anon_send_exit(victim, caf::exit_reason::kill);
  auto reason = down_reason(*kept);
  INFO(troupe::messages::describe(reason));
  CHECK(reason == caf::exit_reason::kill);
}
