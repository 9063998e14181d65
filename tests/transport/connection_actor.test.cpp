// The connection actor on virtual time: handshake timeout, connect timeout,
// heartbeats and the peer timeout, with an in-memory connection where the
// test plays the peer (support/memory_connection.hpp). No sockets, no wall
// clock: every bound is checked exactly, one tick before and at the limit.

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>

#include <caf/all.hpp>

#include <troupe/testing/deterministic_system.hpp>
#include <troupe/transport/node_config.hpp>
#include <troupe/transport/system_config.hpp>
#include <troupe/transport/transport_errc.hpp>
#include <troupe/transport/wire_error.hpp>

#include "support/memory_connection.hpp"
#include "transport/src/connection_actor.hpp"
#include "transport/src/handshake.hpp"

using namespace std::chrono_literals;
using troupe::testing::memory_connection;
using troupe::transport::node_config;
using troupe::transport::transport_errc;
using troupe::wire::Frame;
namespace internal = troupe::transport::internal;

namespace {

struct connection_fixture
  : troupe::testing::deterministic_system<troupe::transport::system_config> {
  std::shared_ptr<memory_connection> io = std::make_shared<memory_connection>();
  node_config settings;
  caf::actor conn;
  /// The peer's side of the handshake.
  std::unique_ptr<internal::handshake> peer;
  /// Frames read during the handshake that were not part of it.
  std::vector<Frame> leftover;

  connection_fixture() {
    settings.heartbeat_interval = 100ms;
    settings.peer_timeout = 500ms;
    settings.handshake_timeout = 2s;
    settings.connect_timeout = 1s;
  }

  /// Spawns the connection actor in `role`, with the test as its parent,
  /// and monitors it.
  void spawn(internal::handshake_role role) {
    internal::connection_args args;
    args.cfg = std::make_shared<const node_config>(settings);
    args.node_id = "node-under-test";
    args.io = io;
    args.role = role;
    args.host = "peer.example";
    args.port = 4711;
    args.routes = std::make_shared<internal::route_registry>();
    conn = sys.spawn<internal::connection_actor>(args, caf::actor_cast<caf::actor>(self));
    self->monitor(conn);
    run();
  }

  /// The reason the connection ended with, if it ended.
  std::optional<caf::error> ended() {
    run();
    if (auto dm = received<caf::down_msg>())
      return std::get<0>(*dm).reason;
    return std::nullopt;
  }

  /// Checks that the connection is alive one tick before `bound` (virtual
  /// time from now) and ends with `code` at `bound`.
  void expect_end_at(caf::timespan bound, transport_errc code) {
    advance_time(bound - 1ms);
    CHECK_FALSE(ended());
    advance_time(1ms);
    auto reason = ended();
    REQUIRE(reason);
    CHECK(*reason == code);
  }

  /// Plays the initiating peer through the handshake of an accepted
  /// connection; true once both sides are done.
  bool handshake_as_initiator() {
    peer = std::make_unique<internal::handshake>(
      internal::handshake_role::initiator,
      internal::handshake::params{"the-peer", "", "", 0, troupe::transport::protocol_version},
      internal::random_nonce());
    Frame out;
    peer->start(out);
    for (int i = 0; i < 4 && !peer->done(); ++i) {
      if (!io->deliver(out))
        return false;
      run();
      auto frames = io->written_frames();
      if (frames.empty())
        return false;
      leftover.assign(frames.begin() + 1, frames.end());
      caf::error err;
      out.Clear();
      if (!peer->handle(frames.front(), out, err) || err)
        return peer->done() && !err;
    }
    return peer->done();
  }

  /// Every frame the connection wrote since the last call.
  std::vector<Frame> written() {
    auto result = std::move(leftover);
    leftover.clear();
    for (auto& frame : io->written_frames())
      result.push_back(std::move(frame));
    return result;
  }

  /// Heartbeats the connection wrote since the last call (pings only).
  size_t pings_written() {
    size_t n = 0;
    for (auto& frame : written())
      if (frame.kind_case() == Frame::kHeartbeat && !frame.heartbeat().reply())
        ++n;
    return n;
  }

  Frame heartbeat(int64_t timestamp_us, bool reply) {
    Frame frame;
    frame.mutable_heartbeat()->set_timestamp_us(timestamp_us);
    frame.mutable_heartbeat()->set_reply(reply);
    return frame;
  }
};

} // namespace

TEST_CASE_METHOD(connection_fixture,
                 "an accepted connection without a handshake ends with handshake_timeout "
                 "exactly at the handshake timeout, and tells the peer",
                 "[transport][connection][virtual_time]") {
  spawn(internal::handshake_role::acceptor);
  expect_end_at(settings.handshake_timeout, transport_errc::handshake_timeout);
  // A protocol error is reported to the peer before the socket closes.
  auto frames = written();
  REQUIRE(frames.size() == 1);
  REQUIRE(frames[0].kind_case() == Frame::kError);
  CHECK(troupe::transport::from_wire_error(frames[0].error().error())
        == transport_errc::handshake_timeout);
  CHECK(frames[0].error().closing()); // not about one message: the connection ends
  CHECK(io->closed());
}

TEST_CASE_METHOD(connection_fixture,
                 "a dial that does not connect ends with connect_failed at the connect "
                 "timeout",
                 "[transport][connection][virtual_time]") {
  spawn(internal::handshake_role::initiator);
  expect_end_at(settings.connect_timeout, transport_errc::connect_failed);
  CHECK(written().empty()); // nothing to tell a peer never reached
}

TEST_CASE_METHOD(connection_fixture,
                 "a dialed connection sends Hello once connected and then needs the "
                 "handshake within the handshake timeout",
                 "[transport][connection][virtual_time]") {
  spawn(internal::handshake_role::initiator);
  advance_time(500ms);
  io->connected();
  run();
  auto frames = written();
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].kind_case() == Frame::kHello);
  // The connect timer no longer counts; the handshake timer does.
  expect_end_at(settings.handshake_timeout, transport_errc::handshake_timeout);
}

TEST_CASE_METHOD(connection_fixture,
                 "an established connection sends a heartbeat every heartbeat interval and "
                 "answers the peer's",
                 "[transport][connection][virtual_time]") {
  spawn(internal::handshake_role::acceptor);
  CHECK(io->frame_limit() == 0); // still the handshake's limit
  REQUIRE(handshake_as_initiator());
  CHECK(io->frame_limit() == settings.max_frame_size); // authenticated: full size
  auto established = received<troupe::transport::internal::established_atom, std::string,
                              std::string, std::string>();
  REQUIRE(established);
  CHECK(std::get<1>(*established) == "the-peer");
  CHECK(pings_written() == 1); // the first one at once
  for (int i = 0; i < 3; ++i) {
    io->deliver(heartbeat(0, true)); // the peer answers: it stays alive
    advance_time(settings.heartbeat_interval - 1ms);
    CHECK(pings_written() == 0);
    advance_time(1ms);
    CHECK(pings_written() == 1);
  }
  // The peer's ping is answered with its own timestamp.
  REQUIRE(io->deliver(heartbeat(123456, false)));
  run();
  auto frames = written();
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].heartbeat().reply());
  CHECK(frames[0].heartbeat().timestamp_us() == 123456);
  CHECK_FALSE(ended());
}

TEST_CASE_METHOD(connection_fixture,
                 "a peer silent for the peer timeout ends the connection with peer_timeout; "
                 "heartbeats keep it alive",
                 "[transport][connection][virtual_time]") {
  spawn(internal::handshake_role::acceptor);
  REQUIRE(handshake_as_initiator());
  // Heard from the peer for twice the peer timeout: alive.
  for (caf::timespan t{0}; t < 2 * settings.peer_timeout; t += settings.heartbeat_interval) {
    io->deliver(heartbeat(0, true));
    advance_time(settings.heartbeat_interval);
  }
  CHECK_FALSE(ended());
  // Then silence from the last heartbeat on. The check runs once per
  // heartbeat interval: the connection is alive at the peer timeout and down
  // one interval later.
  io->deliver(heartbeat(0, true));
  advance_time(settings.peer_timeout);
  CHECK_FALSE(ended());
  advance_time(settings.heartbeat_interval);
  auto reason = ended();
  REQUIRE(reason);
  CHECK(*reason == transport_errc::peer_timeout);
  CHECK(io->closed());
}

TEST_CASE_METHOD(connection_fixture,
                 "a goodbye ends the connection with peer_lost at once, a broken socket "
                 "too",
                 "[transport][connection][virtual_time]") {
  SECTION("goodbye") {
    spawn(internal::handshake_role::acceptor);
    REQUIRE(handshake_as_initiator());
    Frame bye;
    troupe::transport::to_wire_error(caf::make_error(transport_errc::node_stopped), "bye",
                                     *bye.mutable_goodbye()->mutable_reason());
    io->deliver(bye);
  }
  SECTION("broken socket") {
    spawn(internal::handshake_role::acceptor);
    REQUIRE(handshake_as_initiator());
    io->break_off(caf::make_error(transport_errc::peer_lost, "reset"));
  }
  auto reason = ended();
  REQUIRE(reason);
  CHECK(*reason == transport_errc::peer_lost);
  CHECK(now() < settings.heartbeat_interval); // no timer was needed
}

TEST_CASE_METHOD(connection_fixture,
                 "a node that stops says goodbye only on established connections: during "
                 "the handshake it just closes",
                 "[transport][connection][virtual_time]") {
  SECTION("in the handshake") {
    spawn(internal::handshake_role::acceptor);
    self->send_exit(conn, caf::exit_reason::user_shutdown);
    auto reason = ended();
    REQUIRE(reason);
    CHECK(*reason == transport_errc::node_stopped);
    CHECK(written().empty()); // the protocol allows no goodbye before Welcome
    CHECK(io->closed());
  }
  SECTION("established") {
    spawn(internal::handshake_role::acceptor);
    REQUIRE(handshake_as_initiator());
    written(); // the first heartbeat
    self->send_exit(conn, caf::exit_reason::user_shutdown);
    auto reason = ended();
    REQUIRE(reason);
    auto frames = written();
    REQUIRE(frames.size() == 1);
    REQUIRE(frames[0].kind_case() == Frame::kGoodbye);
    CHECK(troupe::transport::from_wire_error(frames[0].goodbye().reason())
          == transport_errc::node_stopped);
  }
}

TEST_CASE_METHOD(connection_fixture,
                 "a connection that gives up on a silent peer tells it why in a goodbye",
                 "[transport][connection][virtual_time]") {
  spawn(internal::handshake_role::acceptor);
  REQUIRE(handshake_as_initiator());
  advance_time(settings.peer_timeout + settings.heartbeat_interval);
  auto reason = ended();
  REQUIRE(reason);
  CHECK(*reason == transport_errc::peer_timeout);
  Frame last;
  for (auto& frame : written())
    last = frame;
  REQUIRE(last.kind_case() == Frame::kGoodbye);
  CHECK(troupe::transport::from_wire_error(last.goodbye().reason())
        == transport_errc::peer_timeout);
}
