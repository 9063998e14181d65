// Limits against hostile or broken peers (node_config): each one, when hit,
// gives a typed error, cleans up the one connection, and leaves the node
// serving everyone else.

#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include <troupe/transport/peer_event.hpp>
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
