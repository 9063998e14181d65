#pragma once

// Internal: the inbound side of one connection, run on its I/O thread.
//
// Envelopes and replies in canonical form are read in place
// (envelope_reader.hpp); other frames are parsed with protobuf onto an arena.
// Hot-path frames go straight to their actors, one hop from the socket:
//   - `envelope` -> the published actor's mailbox (requests with the
//     connection's responder as sender, one-way messages anonymously);
//   - `reply` / `error` with a proxy's correlation id -> that proxy, which
//     delivers the response into the requester's mailbox;
// Everything else (handshake, heartbeats, goodbye, protocol violations, late
// replies) goes to the connection actor, batched per read.
//
// Ordering: until the handshake is done, and after a frame that ends the
// connection (goodbye, unknown kind), the dispatcher pauses the reader after
// handing the frame to the connection actor; the actor resumes it once it
// has handled the frame (`connection_io::resume`). So no envelope is ever
// dispatched before the connection is established, and per-connection
// frame order is kept end to end.
//
// Thread safety: the `frame_sink` functions run on the I/O thread; the
// other members may be called from the connection actor at any time.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <google/protobuf/arena.h>

#include <caf/actor.hpp>
#include <caf/actor_clock.hpp>
#include <caf/timespan.hpp>

#include "adaptive_mutex.hpp"
#include "envelope_reader.hpp"
#include "io.hpp"
#include "io_messages.hpp"

namespace spdlog {
class logger;
} // namespace spdlog

namespace troupe {
class TraceContext;
} // namespace troupe

namespace troupe::transport::internal {

class dispatcher final : public frame_sink {
public:
  dispatcher(config_ptr cfg, connection_io_ptr io, caf::actor owner, caf::actor responder,
             route_registry_ptr routes);

  ~dispatcher() override;

  // -- called by the connection actor -------------------------------------------

  /// The handshake is done: dispatch from the next frame on. Call before
  /// `connection_io::resume`.
  void established(std::string label);

  /// The link's one-way latency estimate, subtracted from the remaining
  /// time of inbound requests.
  void one_way(caf::timespan x);

  /// Routes replies for correlation ids of proxy `index` to `proxy`.
  void add_proxy(uint32_t index, caf::actor proxy);

  void remove_proxy(uint32_t index);

  // -- frame_sink -------------------------------------------------------------

  void on_connected() override;

  verdict on_frame(std::string_view bytes, caf::error& err) override;

  void on_batch_end() override;

  void on_closed(caf::error reason) override;

private:
  /// A frame that is not an envelope or reply in canonical form.
  verdict on_parsed(wire::Frame& frame);

  /// Delivers an inbound envelope to the published actor it names.
  void deliver(const envelope_fields& env);

  /// Decodes a reply and hands it to its proxy.
  void complete_reply(const envelope_fields& env);

  /// Returns the proxy for correlation id `corr`, if any.
  caf::actor proxy_for(uint64_t corr);

  void send_error(const caf::error& err, uint64_t corr, const troupe::TraceContext* trace);

  /// Answers the request `env` with an error frame carrying its trace.
  void send_error(const caf::error& err, const envelope_fields& env);

  /// The route table for this batch of frames.
  const route_table& routes();

  /// Queues `frame` for the connection actor.
  void to_owner(wire::Frame& frame);

  config_ptr cfg_;
  connection_io_ptr io_;
  caf::actor owner_;
  caf::actor responder_;
  caf::strong_actor_ptr responder_ptr_;
  route_registry_ptr registry_;
  std::shared_ptr<spdlog::logger> log_;
  std::atomic<bool> established_{false};
  std::atomic<int64_t> one_way_ns_{0};
  /// The node's actor clock: a service call's deadline is moved onto it.
  caf::actor_clock* clock_;

  // -- I/O thread only ----------------------------------------------------------
  std::string label_;
  /// Refusing requests at `max_requests_per_peer` (logged once per episode).
  bool refusing_ = false;
  routes_ptr batch_routes_;
  std::vector<wire::Frame> control_;
  /// Frames that need protobuf's parser are parsed onto this arena, which
  /// is reset after every batch.
  std::unique_ptr<char[]> arena_block_;
  google::protobuf::Arena arena_;

  adaptive_mutex proxies_mtx_;
  std::unordered_map<uint32_t, caf::actor> proxies_;
};

using dispatcher_ptr = std::shared_ptr<dispatcher>;

} // namespace troupe::transport::internal
