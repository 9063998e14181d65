// The handshake state machine: frames in, frames out, no sockets.

#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include "transport/src/handshake.hpp"
#include <troupe/transport/transport_errc.hpp>
#include <troupe/transport/wire_error.hpp>

#include "troupe/wire.pb.h"

using namespace troupe::transport;
using troupe::messages::describe;
using namespace troupe::transport::internal;
using troupe::wire::Frame;

namespace {

struct outcome {
  caf::error initiator_error;
  caf::error acceptor_error;
  bool initiator_done = false;
  bool acceptor_done = false;
  std::string acceptor_saw_listen;
};

/// Runs both sides against each other until neither has anything to send,
/// over a connection that is `encrypted` (TLS) or not.
/// With TLS, each side sees its own end's channel binding: the same for one
/// TLS session, different across a man in the middle.
outcome run(handshake::params ini, handshake::params acc, bool encrypted = false,
            std::string binding_i = "", std::string binding_a = "") {
  handshake a{handshake_role::initiator, std::move(ini), random_nonce()};
  handshake b{handshake_role::acceptor, std::move(acc), random_nonce()};
  a.set_encrypted(encrypted, std::move(binding_i));
  b.set_encrypted(encrypted, std::move(binding_a));
  outcome result;
  Frame to_b;
  REQUIRE(a.start(to_b));
  for (int round = 0; round < 4; ++round) {
    Frame to_a;
    caf::error err;
    bool b_sends = b.handle(to_b, to_a, err);
    if (err)
      result.acceptor_error = err;
    if (!b_sends)
      break;
    Frame next;
    caf::error err2;
    bool a_sends = a.handle(to_a, next, err2);
    if (err2)
      result.initiator_error = err2;
    if (!a_sends)
      break;
    to_b = next;
  }
  result.initiator_done = a.done();
  result.acceptor_done = b.done();
  result.acceptor_saw_listen = b.peer_listen_address();
  return result;
}

handshake::params side(std::string id, std::string secret = "", uint32_t version = 1) {
  return handshake::params{std::move(id), std::move(secret), "127.0.0.1", 4711, version};
}

} // namespace

TEST_CASE("two sides without a secret establish a connection", "[transport][handshake]") {
  auto r = run(side("a"), side("b"));
  CHECK(!r.initiator_error);
  CHECK(!r.acceptor_error);
  CHECK(r.initiator_done);
  CHECK(r.acceptor_done);
  CHECK(r.acceptor_saw_listen == "127.0.0.1:4711");
}

TEST_CASE("two sides with the same secret authenticate each other", "[transport][handshake]") {
  auto r = run(side("a", "s3cret"), side("b", "s3cret"));
  CHECK(r.initiator_done);
  CHECK(r.acceptor_done);
}

TEST_CASE("mismatched secrets are refused with auth_failed", "[transport][handshake]") {
  SECTION("different secrets") {
    auto r = run(side("a", "one"), side("b", "two"));
    // The initiator checks the acceptor's proof first and refuses.
    CHECK(r.initiator_error == transport_errc::auth_failed);
    CHECK(r.acceptor_error == transport_errc::auth_failed); // from the Refusal
    CHECK_FALSE(r.acceptor_done);
  }
  SECTION("only the acceptor has a secret") {
    auto r = run(side("a"), side("b", "two"));
    CHECK(r.acceptor_error == transport_errc::auth_failed);
    CHECK(r.initiator_error == transport_errc::auth_failed);
  }
  SECTION("only the initiator has a secret") {
    auto r = run(side("a", "one"), side("b"));
    CHECK(r.initiator_error == transport_errc::auth_failed);
    CHECK_FALSE(r.acceptor_done);
  }
}

TEST_CASE("a version mismatch is refused with a reason the other side can print",
          "[transport][handshake]") {
  auto r = run(side("a", "", 2), side("b"));
  CHECK(r.acceptor_error == transport_errc::version_mismatch);
  REQUIRE(r.initiator_error == transport_errc::version_mismatch);
  CHECK(describe(r.initiator_error).find("version 2") != std::string::npos);
}

TEST_CASE("a node that requires TLS refuses a Hello that came in plaintext",
          "[transport][handshake][tls]") {
  auto tls_side = side("b", "s3cret");
  tls_side.require_encryption = true;
  SECTION("plaintext connection: refused, and the initiator reads why") {
    auto r = run(side("a", "s3cret"), tls_side);
    CHECK(r.acceptor_error == transport_errc::tls_mismatch);
    REQUIRE(r.initiator_error == transport_errc::tls_mismatch);
    CHECK(describe(r.initiator_error).find("requires TLS") != std::string::npos);
    CHECK_FALSE(r.acceptor_done);
  }
  SECTION("encrypted connection: the secret still authenticates inside it") {
    auto r = run(side("a", "s3cret"), tls_side, true, "session-1", "session-1");
    CHECK(r.initiator_done);
    CHECK(r.acceptor_done);
    auto wrong = run(side("a", "other"), tls_side, true, "session-1", "session-1");
    CHECK(wrong.initiator_error == transport_errc::auth_failed);
  }
  SECTION("the proofs cover the TLS session: a relay between two sessions fails") {
    // A man in the middle that ends TLS on both sides (possible when nobody
    // checks certificates) relays frames between two TLS sessions with
    // different keying material: the proofs no longer match.
    auto relayed = run(side("a", "s3cret"), tls_side, true, "session-1", "session-2");
    CHECK(relayed.initiator_error == transport_errc::auth_failed);
    CHECK_FALSE(relayed.acceptor_done);
  }
}

TEST_CASE("a node that reaches itself is refused", "[transport][handshake]") {
  auto r = run(side("same"), side("same"));
  CHECK(r.acceptor_error == transport_errc::self_connection);
}

TEST_CASE("a frame out of order is refused as unexpected", "[transport][handshake]") {
  handshake b{handshake_role::acceptor, side("b"), random_nonce()};
  Frame in;
  in.mutable_envelope()->set_type("x");
  Frame reply;
  caf::error err;
  CHECK(b.handle(in, reply, err));
  CHECK(err == transport_errc::unexpected_frame);
  REQUIRE(reply.has_refusal());
  CHECK(from_wire_error(reply.refusal().error()) == transport_errc::unexpected_frame);
}

TEST_CASE("a wrong proof in Auth is refused", "[transport][handshake]") {
  handshake b{handshake_role::acceptor, side("b", "s"), random_nonce()};
  Frame hello;
  hello.mutable_hello()->set_protocol_version(1);
  hello.mutable_hello()->set_node_id("a");
  hello.mutable_hello()->set_nonce(random_nonce());
  Frame reply;
  caf::error err;
  REQUIRE(b.handle(hello, reply, err));
  REQUIRE(reply.has_challenge());
  CHECK(reply.challenge().proof().size() == 32);
  Frame auth;
  auth.mutable_auth()->set_proof(std::string(32, 'x'));
  CHECK(b.handle(auth, reply, err));
  CHECK(err == transport_errc::auth_failed);
  CHECK(reply.has_refusal());
}

TEST_CASE("proofs depend on every input and never contain the secret",
          "[transport][handshake]") {
  auto p = handshake_proof("secret", "troupe-v1/acceptor", "n1", "n2", "a", "b");
  CHECK(p.size() == 32);
  CHECK(p == handshake_proof("secret", "troupe-v1/acceptor", "n1", "n2", "a", "b"));
  CHECK(p != handshake_proof("secret", "troupe-v1/initiator", "n1", "n2", "a", "b"));
  CHECK(p != handshake_proof("secret", "troupe-v1/acceptor", "n1", "n2", "b", "a"));
  CHECK(p != handshake_proof("other", "troupe-v1/acceptor", "n1", "n2", "a", "b"));
  CHECK(p != handshake_proof("secret", "troupe-v1/acceptor", "n1", "n2", "a", "b", "tls"));
  CHECK(p.find("secret") == std::string::npos);
}
