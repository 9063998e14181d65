// The rule that decides, inside the handshake, which of two connections
// between the same two nodes is kept (transport/src/connection_claims.hpp).
// The end-to-end race is in node.test.cpp ("two nodes dialing each other
// lose no request and no proxy").

#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include "transport/src/connection_claims.hpp"

using troupe::transport::internal::connection_claims;

namespace {

struct fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  /// Stand-ins for connection actors: only their addresses are used.
  caf::actor_addr conn() {
    auto a = sys.spawn([]() -> caf::behavior { return {[](int) {}}; });
    actors.push_back(a);
    return a.address();
  }
  std::vector<caf::actor> actors;
  ~fixture() {
    for (auto& a : actors)
      caf::anon_send_exit(a, caf::exit_reason::kill);
  }
};

} // namespace

TEST_CASE_METHOD(fixture,
                 "simultaneous dials: the smaller node id's dial is kept at both ends",
                 "[transport][claims]") {
  // Node "a" (smaller id) at 127.0.0.1:1000 and node "b" at :2000 dial
  // each other; each then receives the other's dial.
  connection_claims at_a{"a"};
  connection_claims at_b{"b"};
  auto a_dial = conn();
  auto b_dial = conn();
  auto a_accepts = conn();
  auto b_accepts = conn();
  CHECK(at_a.dialing(a_dial, "127.0.0.1:2000", "127.0.0.1:2000").empty());
  CHECK(at_b.dialing(b_dial, "127.0.0.1:1000", "127.0.0.1:1000").empty());
  SECTION("matched by the listen address before the peer's id is known") {
    CHECK_FALSE(at_a.welcome(a_accepts, "b", "127.0.0.1:2000")); // a's dial wins
    CHECK(at_b.welcome(b_accepts, "a", "127.0.0.1:1000"));       // b lets a's dial in
  }
  SECTION("matched by the peer's id once its Challenge told it") {
    REQUIRE(at_a.dialing_peer(a_dial, "b"));
    REQUIRE(at_b.dialing_peer(b_dial, "a"));
    CHECK_FALSE(at_a.welcome(a_accepts, "b", "")); // no listen address needed
    CHECK(at_b.welcome(b_accepts, "a", ""));
  }
}

TEST_CASE_METHOD(fixture, "an established connection makes any other one a duplicate",
                 "[transport][claims]") {
  connection_claims claims{"z"}; // the larger id: the dial rule alone would welcome
  auto accepted = conn();
  REQUIRE(claims.welcome(accepted, "p", "127.0.0.1:2000"));
  CHECK(claims.established_at("127.0.0.1:2000"));
  CHECK_FALSE(claims.established_at("127.0.0.1:3000"));
  SECTION("a second connection from the peer is refused") {
    CHECK_FALSE(claims.welcome(conn(), "p", "127.0.0.1:2000"));
  }
  SECTION("a dial to the peer's listen address ends before its Hello") {
    CHECK(claims.dialing(conn(), "127.0.0.1:2000", "127.0.0.1:2000") == "p");
  }
  SECTION("a dial that learns it reached the peer ends before its Auth") {
    auto dial = conn();
    REQUIRE(claims.dialing(dial, "alias:2000", "10.0.0.9:2000").empty());
    CHECK_FALSE(claims.dialing_peer(dial, "p"));
  }
  SECTION("once the connection ended, the peer is welcome again") {
    claims.ended(accepted);
    CHECK_FALSE(claims.established_at("127.0.0.1:2000"));
    CHECK(claims.welcome(conn(), "p", "127.0.0.1:2000"));
  }
  SECTION("other peers are not affected") {
    CHECK(claims.welcome(conn(), "q", "127.0.0.1:3000"));
  }
}
