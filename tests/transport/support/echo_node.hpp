#pragma once

// A node on 127.0.0.1 that publishes the echo service, and what tests that
// talk to it through raw sockets need: envelope frames, a handshaken raw
// peer, and a check that a new well-behaved client is still served.

#include <memory>
#include <optional>
#include <string>

#include <catch2/catch.hpp>

#include <troupe/transport/node.hpp>

#include "support/node_fixture.hpp"
#include "support/raw_peer.hpp"

namespace troupe::testing {

struct echo_node : node_fixture {
  std::optional<transport::node> n;
  caf::actor echo;

  /// Starts the node with `cfg` and publishes the echo service as "echo".
  void start(const transport::node_config& cfg) {
    auto started = transport::node::start(sys, cfg);
    REQUIRE(started);
    n.emplace(std::move(*started));
    echo = sys.spawn(echo_service, n->id(), std::make_shared<service_stats>());
    REQUIRE(!n->publish(echo, "echo"));
  }

  ~echo_node() {
    n.reset();
    caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
  }

  /// An envelope frame for `receiver`; `correlation_id` 0 is one-way.
  static wire::Frame envelope(const std::string& receiver, const std::string& type,
                              const std::string& payload, uint64_t correlation_id,
                              int64_t deadline_remaining_us = 0) {
    wire::Frame frame;
    auto* env = frame.mutable_envelope();
    env->mutable_receiver()->set_name(receiver);
    env->set_type(type);
    env->set_payload(payload);
    env->set_correlation_id(correlation_id);
    env->set_deadline_remaining_us(deadline_remaining_us);
    return frame;
  }

  /// A connection that finished the handshake.
  std::unique_ptr<raw_peer> handshaken() {
    auto peer = std::make_unique<raw_peer>(n->port());
    REQUIRE(peer->connected());
    auto welcome = peer->handshake("raw-client");
    REQUIRE(welcome);
    REQUIRE(welcome->has_welcome());
    return peer;
  }

  /// A new client completes its handshake and gets its call answered: the
  /// node is unharmed. False (not a failed assertion) otherwise, so a test
  /// may also retry it a bounded number of times.
  bool serves_a_new_client() {
    raw_peer good{n->port()};
    if (!good.connected())
      return false;
    auto welcome = good.handshake("good-client");
    if (!welcome || !welcome->has_welcome())
      return false;
    auto call = envelope("echo", "transport_test.v1.Call", full_call().SerializeAsString(), 7);
    if (!good.write_frame(call))
      return false;
    auto reply = good.read_frame();
    Answer answer;
    return reply && reply->has_reply() && reply->reply().correlation_id() == 7
      && answer.ParseFromString(reply->reply().payload());
  }
};

} // namespace troupe::testing
