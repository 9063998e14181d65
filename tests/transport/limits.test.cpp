// Limits against hostile or broken peers (node_config): each one, when hit,
// gives a typed error, cleans up the one connection, and leaves the node
// serving everyone else.

#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include <troupe/actors/producer.hpp>
#include <troupe/flow.pb.h>
#include <troupe/transport/peer_event.hpp>
#include <troupe/transport/remote_stream.hpp>
#include <troupe/transport/transport_errc.hpp>
#include <troupe/transport/wire_error.hpp>

#include "support/echo_node.hpp"

using namespace std::chrono_literals;
using troupe::testing::raw_peer;
using troupe::transport::from_wire_error;
using troupe::transport::transport_errc;
using troupe::wire::Frame;

namespace {

using limited_node = troupe::testing::echo_node;

/// The error of a Refusal frame, or an error saying what came instead.
caf::error refusal_of(const std::optional<Frame>& frame) {
  if (!frame)
    return caf::make_error(caf::sec::runtime_error, "no frame");
  if (!frame->has_refusal())
    return caf::make_error(caf::sec::runtime_error, "not a refusal");
  return from_wire_error(frame->refusal().error());
}

} // namespace

TEST_CASE_METHOD(limited_node,
                 "an accepted connection beyond a connection limit is refused with "
                 "too_many_connections and the node keeps serving",
                 "[transport][limits]") {
  // Every raw peer comes from 127.0.0.1: a total limit of 2 and a per-address
  // limit of 2 out of 10 both stop the third.
  auto per_address = GENERATE(false, true);
  CAPTURE(per_address);
  auto cfg = troupe::testing::fast_config();
  cfg.max_connections = per_address ? 10 : 2;
  cfg.max_connections_per_address = 2;
  start(cfg);
  std::vector<std::unique_ptr<raw_peer>> admitted;
  for (int i = 0; i < 2; ++i) {
    admitted.push_back(std::make_unique<raw_peer>(n->port()));
    REQUIRE(admitted.back()->connected());
    auto welcome = admitted.back()->handshake("admitted-" + std::to_string(i));
    REQUIRE(welcome);
    REQUIRE(welcome->has_welcome());
  }
  raw_peer third{n->port()};
  REQUIRE(third.connected());
  auto err = refusal_of(third.read_frame());
  CHECK(err == transport_errc::too_many_connections);
  CHECK(render(err).find(per_address ? "max_connections_per_address" : "max_connections")
        != std::string::npos);
  CHECK(third.wait_closed());
  // A connection that ends frees its place: once the node has seen the
  // first one go, a new client is served again (bounded retries: the node
  // learns of the close asynchronously).
  admitted.front().reset();
  bool served = false;
  for (int attempt = 0; attempt < 50 && !served; ++attempt)
    served = serves_a_new_client();
  CHECK(served);
}

TEST_CASE_METHOD(limited_node,
                 "a peer that does not read its replies is disconnected with slow_peer "
                 "once max_write_buffer is queued",
                 "[transport][limits]") {
  auto cfg = troupe::testing::fast_config();
  cfg.max_frame_size = 1024 * 1024;
  cfg.max_write_buffer = 1024 * 1024;
  // The raw peer sends no heartbeats: only slow_peer may end it here, however
  // slowly the node runs (a sanitizer build), not the peer timeout.
  cfg.heartbeat_interval = std::chrono::seconds{1};
  cfg.peer_timeout = troupe::testing::hang_bound;
  start(cfg);
  caf::scoped_actor events{sys};
  n->subscribe(events);
  auto lazy = handshaken();
  events->receive([](const troupe::transport::peer_event&) {},
                  caf::after(troupe::testing::hang_bound) >> [] { FAIL("no peer up"); });
  // Requests whose replies (echoes of 512 KiB) it never reads: 64 of them
  // are 32 MiB, far beyond what the sockets of both sides can buffer.
  std::string text(512 * 1024, 'x');
  int written = 0;
  for (uint64_t id = 1; id <= 64; ++id) {
    auto call =
      limited_node::envelope("echo", "transport_test.v1.Call",
                             troupe::testing::full_call(text).SerializeAsString(), id);
    if (!lazy->write_frame(call))
      break; // the node closed the connection already
    ++written;
  }
  CAPTURE(written);
  caf::error reason;
  events->receive(
    [&](const troupe::transport::peer_event& e) {
      CHECK(e.status == troupe::transport::peer_status::down);
      reason = e.reason;
    },
    caf::after(troupe::testing::hang_bound) >> [] { FAIL("no peer down"); });
  CHECK(reason == transport_errc::slow_peer);
  CHECK(lazy->wait_closed(10s));
  CHECK(serves_a_new_client());
}

namespace {

/// The error of an ErrorFrame for `corr`, or an error saying what came.
caf::error error_for(const std::optional<Frame>& frame, uint64_t corr) {
  if (!frame)
    return caf::make_error(caf::sec::runtime_error, "no frame");
  if (!frame->has_error())
    return caf::make_error(caf::sec::runtime_error, "not an error frame");
  if (frame->error().correlation_id() != corr)
    return caf::make_error(caf::sec::runtime_error, "an error for another request");
  return from_wire_error(frame->error().error());
}

} // namespace

TEST_CASE_METHOD(limited_node,
                 "a peer at max_requests_per_peer gets too_many_requests and is served again "
                 "once its requests are answered",
                 "[transport][limits]") {
  auto cfg = troupe::testing::fast_config();
  cfg.max_requests_per_peer = 3;
  cfg.peer_timeout = 10s; // the raw peer sends no heartbeats while it waits
  start(cfg);
  auto peer = handshaken();
  // Three requests the echo service answers only after 500 ms fill the
  // peer's allowance ...
  for (uint64_t id = 1; id <= 3; ++id) {
    auto call = troupe::testing::full_call();
    call.set_sleep_ms(500);
    REQUIRE(peer->write_frame(
      limited_node::envelope("echo", "transport_test.v1.Call", call.SerializeAsString(), id)));
  }
  // ... so a fourth is answered at once, not delivered.
  REQUIRE(peer->write_frame(limited_node::envelope(
    "echo", "transport_test.v1.Call", troupe::testing::full_call().SerializeAsString(), 4)));
  CHECK(error_for(peer->read_frame(), 4) == transport_errc::too_many_requests);
  // The three come back, and the peer is served again.
  for (int i = 0; i < 3; ++i) {
    auto reply = peer->read_frame();
    REQUIRE(reply);
    CHECK(reply->has_reply());
  }
  REQUIRE(peer->write_frame(limited_node::envelope(
    "echo", "transport_test.v1.Call", troupe::testing::full_call().SerializeAsString(), 5)));
  auto fifth = peer->read_frame();
  REQUIRE(fifth);
  CHECK(fifth->has_reply());
  CHECK(fifth->reply().correlation_id() == 5);
  CHECK(serves_a_new_client());
}

TEST_CASE_METHOD(limited_node,
                 "a peer at max_sessions_per_peer of a stream gets too_many_sessions",
                 "[transport][limits]") {
  start(troupe::testing::fast_config());
  auto next = std::make_shared<uint64_t>(0);
  auto producer = troupe::actors::spawn_producer<troupe::testing::Tally>(
    sys, troupe::actors::producer_config{64, 10s},
    [next](size_t demand, std::vector<troupe::testing::Tally>& out) {
      while (out.size() < demand && *next < 1000) {
        out.emplace_back();
        out.back().set_handled(++*next);
      }
      return *next < 1000 ? troupe::actors::pull_status::more
                          : troupe::actors::pull_status::done;
    });
  REQUIRE(producer);
  troupe::transport::stream_export_config scfg;
  scfg.max_sessions_per_peer = 2;
  REQUIRE(
    troupe::transport::export_stream<troupe::testing::Tally>(*n, *producer, "tallies", scfg));
  auto peer = handshaken();
  auto open = [&](uint64_t stream_id, uint64_t corr) {
    troupe::flow::Pull pull;
    pull.set_stream_id(stream_id);
    pull.set_open(true);
    pull.set_capacity(4);
    pull.set_credit(4);
    return peer->write_frame(limited_node::envelope(
      "tallies", "troupe.flow.Pull", pull.SerializeAsString(), corr, 5'000'000));
  };
  REQUIRE(open(101, 1));
  REQUIRE(open(102, 2));
  REQUIRE(open(103, 3));
  // Two Batches and one refusal, in some order.
  int batches = 0;
  caf::error refused;
  for (int i = 0; i < 3; ++i) {
    auto frame = peer->read_frame();
    REQUIRE(frame);
    if (frame->has_reply())
      ++batches;
    else
      refused = error_for(frame, 3);
  }
  CHECK(batches == 2);
  CHECK(refused == transport_errc::too_many_sessions);
  peer.reset(); // its sessions end with the connection
  caf::anon_send_exit(*producer, caf::exit_reason::user_shutdown);
  CHECK(serves_a_new_client());
}
