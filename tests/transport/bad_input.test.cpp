// Bad input on the listening port: each case gets a typed error where the
// protocol allows one, the connection is closed, and the node keeps serving.

#include <catch2/catch.hpp>

#include <random>

#include <troupe/actors/flow_errc.hpp>
#include <troupe/messages/message_errc.hpp>
#include <troupe/transport/transport_errc.hpp>
#include <troupe/transport/wire_error.hpp>

#include "support/echo_node.hpp"

using namespace std::chrono_literals;
using troupe::testing::Answer;
using troupe::testing::raw_peer;
using troupe::transport::from_wire_error;
using troupe::transport::transport_errc;
using troupe::wire::Frame;

namespace {

struct serving_node : troupe::testing::echo_node {
  serving_node() {
    auto cfg = troupe::testing::fast_config();
    cfg.max_frame_size = 1024 * 1024;
    cfg.handshake_timeout = 1s;
    start(cfg);
  }

  /// The typed error in the next error / refusal frame, if any.
  static caf::error next_error(raw_peer& peer) {
    auto frame = peer.read_frame();
    if (!frame)
      return caf::make_error(caf::sec::runtime_error, "no frame");
    if (frame->has_error())
      return from_wire_error(frame->error().error());
    if (frame->has_refusal())
      return from_wire_error(frame->refusal().error());
    return caf::make_error(caf::sec::runtime_error, "not an error frame");
  }

  /// A well-behaved client still gets answers: the node is unharmed.
  void check_still_serving() {
    REQUIRE(serves_a_new_client());
  }
};

} // namespace

TEST_CASE_METHOD(serving_node, "random bytes are rejected and the node keeps serving",
                 "[transport][bad_input]") {
  raw_peer peer{n->port()};
  std::mt19937 rng{42};
  std::string junk(4096, '\0');
  for (auto& c : junk)
    c = static_cast<char>(rng());
  junk[0] = '\x05'; // a plausible small length, then garbage
  peer.write(junk);
  auto err = next_error(peer);
  // Whatever the bytes happen to parse as, the answer is a typed transport
  // error (malformed_frame, unexpected_frame, version_mismatch, ...).
  CHECK(err.category() == troupe::transport::transport_errc_category);
  INFO(troupe::messages::describe(err));
  CHECK(peer.wait_closed());
  check_still_serving();
}

TEST_CASE_METHOD(serving_node, "a length prefix of 2^31 is rejected before allocation",
                 "[transport][bad_input]") {
  raw_peer peer{n->port()};
  peer.write(std::string{"\x80\x80\x80\x80\x08", 5});
  CHECK(next_error(peer) == transport_errc::frame_too_large);
  CHECK(peer.wait_closed());
  check_still_serving();
}

TEST_CASE_METHOD(serving_node, "a truncated frame is reported when the peer stops sending",
                 "[transport][bad_input]") {
  raw_peer peer{n->port()};
  Frame hello;
  hello.mutable_hello()->set_protocol_version(1);
  hello.mutable_hello()->set_node_id("truncating-client");
  hello.mutable_hello()->set_nonce(std::string(16, 'n'));
  std::string bytes;
  REQUIRE(!troupe::transport::internal::append_frame(hello, 1024, bytes));
  bytes.resize(bytes.size() - 5);
  peer.write(bytes);
  peer.shutdown_write();
  CHECK(next_error(peer) == transport_errc::truncated_frame);
  CHECK(peer.wait_closed());
  check_still_serving();
}

TEST_CASE_METHOD(serving_node, "a truncated frame on a silent connection times out",
                 "[transport][bad_input]") {
  raw_peer peer{n->port()};
  peer.write(std::string{"\x40\x01\x02", 3}); // 64 bytes announced, 2 sent
  CHECK(next_error(peer) == transport_errc::handshake_timeout);
  CHECK(peer.wait_closed());
  check_still_serving();
}

TEST_CASE_METHOD(serving_node, "a wrong protocol version is refused with its reason",
                 "[transport][bad_input]") {
  raw_peer peer{n->port()};
  auto last = peer.handshake("old-client", "", 99);
  REQUIRE(last);
  REQUIRE(last->has_refusal());
  auto err = from_wire_error(last->refusal().error());
  CHECK(err == transport_errc::version_mismatch);
  CHECK(last->refusal().error().message().find("99") != std::string::npos);
  CHECK(peer.wait_closed());
  check_still_serving();
}

TEST_CASE_METHOD(serving_node, "a bad auth response is refused", "[transport][bad_input]") {
  // A node with a secret; the client answers the challenge with junk.
  auto cfg = troupe::testing::fast_config();
  cfg.secret = "s3cret";
  auto guarded = troupe::transport::node::start(sys, cfg);
  REQUIRE(guarded);
  raw_peer peer{guarded->port()};
  Frame hello;
  hello.mutable_hello()->set_protocol_version(1);
  hello.mutable_hello()->set_node_id("impostor");
  hello.mutable_hello()->set_nonce(troupe::transport::internal::random_nonce());
  REQUIRE(peer.write_frame(hello));
  auto challenge = peer.read_frame();
  REQUIRE(challenge);
  REQUIRE(challenge->has_challenge());
  CHECK(challenge->challenge().proof().size() == 32);
  Frame auth;
  auth.mutable_auth()->set_proof(std::string(32, '\x01'));
  REQUIRE(peer.write_frame(auth));
  CHECK(next_error(peer) == transport_errc::auth_failed);
  CHECK(peer.wait_closed());
  raw_peer wrong_secret{guarded->port()};
  auto last = wrong_secret.handshake("wrong", "not the secret");
  REQUIRE(last);
  CHECK(last->has_challenge()); // the client itself refuses: the proof mismatches
  check_still_serving();
}

TEST_CASE_METHOD(serving_node, "a frame of unknown kind closes the connection",
                 "[transport][bad_input]") {
  auto peer = handshaken();
  // Field 99 (a kind from a future version): parses, but sets no known kind.
  peer->write(std::string{"\x03\x98\x06\x01", 4});
  CHECK(next_error(*peer) == transport_errc::unexpected_frame);
  CHECK(peer->wait_closed());
  check_still_serving();
}

TEST_CASE_METHOD(serving_node, "an unknown message type gets a typed error frame",
                 "[transport][bad_input]") {
  auto peer = handshaken();
  auto frame = envelope("echo", "no.such.Type", "whatever", 11);
  REQUIRE(peer->write_frame(frame));
  auto reply = peer->read_frame();
  REQUIRE(reply);
  REQUIRE(reply->has_error());
  CHECK(reply->error().correlation_id() == 11);
  CHECK(from_wire_error(reply->error().error())
        == troupe::messages::message_errc::unknown_message_type);
  check_still_serving();
}

TEST_CASE_METHOD(serving_node, "a valid frame for a nonexistent actor gets unknown_actor",
                 "[transport][bad_input]") {
  auto peer = handshaken();
  auto frame = envelope("nobody", "transport_test.v1.Call",
                        troupe::testing::full_call().SerializeAsString(), 12);
  REQUIRE(peer->write_frame(frame));
  auto reply = peer->read_frame();
  REQUIRE(reply);
  REQUIRE(reply->has_error());
  CHECK(reply->error().correlation_id() == 12);
  CHECK(from_wire_error(reply->error().error()) == transport_errc::unknown_actor);
  check_still_serving();
}

TEST_CASE_METHOD(serving_node, "an envelope before the handshake is refused",
                 "[transport][bad_input]") {
  raw_peer peer{n->port()};
  Frame frame;
  frame.mutable_envelope()->mutable_receiver()->set_name("echo");
  REQUIRE(peer.write_frame(frame));
  CHECK(next_error(peer) == transport_errc::unexpected_frame);
  CHECK(peer.wait_closed());
  check_still_serving();
}

TEST_CASE_METHOD(serving_node,
                 "a request whose deadline already passed (negative remaining time) is "
                 "refused with deadline_exceeded and never started",
                 "[transport][bad_input][deadline]") {
  auto peer = handshaken();
  auto frame = envelope("echo", "transport_test.v1.Call",
                        troupe::testing::full_call().SerializeAsString(), 13, -1);
  REQUIRE(peer->write_frame(frame));
  auto reply = peer->read_frame();
  REQUIRE(reply);
  REQUIRE(reply->has_error());
  CHECK(reply->error().correlation_id() == 13);
  CHECK(from_wire_error(reply->error().error())
        == troupe::actors::flow_errc::deadline_exceeded);
  // The echo service never saw the call: it handled nothing.
  auto count = envelope("echo", "transport_test.v1.Count", std::string{}, 14);
  REQUIRE(peer->write_frame(count));
  auto tally = peer->read_frame();
  REQUIRE(tally);
  REQUIRE(tally->has_reply());
  troupe::testing::Tally t;
  REQUIRE(t.ParseFromString(tally->reply().payload()));
  CHECK(t.handled() == 0);
}

TEST_CASE_METHOD(serving_node,
                 "a failed one-way message gets an error frame that does not close the "
                 "connection, unlike a protocol violation",
                 "[transport][bad_input]") {
  auto peer = handshaken();
  auto note = envelope("nobody", "transport_test.v1.Note", std::string{}, 0);
  REQUIRE(peer->write_frame(note));
  auto reply = peer->read_frame();
  REQUIRE(reply);
  REQUIRE(reply->has_error());
  CHECK(reply->error().correlation_id() == 0);
  CHECK_FALSE(reply->error().closing());
  CHECK(from_wire_error(reply->error().error()) == transport_errc::unknown_actor);
  // The same connection still serves requests.
  auto call = envelope("echo", "transport_test.v1.Call",
                       troupe::testing::full_call().SerializeAsString(), 15);
  REQUIRE(peer->write_frame(call));
  auto answer = peer->read_frame();
  REQUIRE(answer);
  CHECK(answer->has_reply());
  // A frame of unknown kind is a protocol violation: closing, then closed.
  REQUIRE(peer->write_frame(Frame{}));
  auto fatal = peer->read_frame();
  REQUIRE(fatal);
  REQUIRE(fatal->has_error());
  CHECK(fatal->error().closing());
  CHECK(peer->wait_closed());
}

TEST_CASE_METHOD(serving_node,
                 "before the handshake a frame beyond max_handshake_frame_size is refused "
                 "with frame_too_large; after it, full-size frames pass",
                 "[transport][bad_input]") {
  {
    raw_peer peer{n->port()};
    REQUIRE(peer.connected());
    Frame hello;
    hello.mutable_hello()->set_protocol_version(troupe::transport::protocol_version);
    hello.mutable_hello()->set_node_id(std::string(5000, 'x')); // > 4 KiB
    hello.mutable_hello()->set_nonce(troupe::transport::internal::random_nonce());
    REQUIRE(peer.write_frame(hello));
    CHECK(next_error(peer) == transport_errc::frame_too_large);
    CHECK(peer.wait_closed());
  }
  // An authenticated peer may send frames up to max_frame_size (1 MiB here).
  auto peer = handshaken();
  auto call = troupe::testing::full_call();
  call.set_blob(std::string(200 * 1024, 'b'));
  REQUIRE(peer->write_frame(
    envelope("echo", "transport_test.v1.Call", call.SerializeAsString(), 16)));
  auto reply = peer->read_frame();
  REQUIRE(reply);
  REQUIRE(reply->has_reply());
  CHECK(reply->reply().correlation_id() == 16);
}
