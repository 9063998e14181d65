#pragma once

// Internal: the proxy, the local handle of one remote actor.
//
// # Why not an event-based actor?
//
// A proxy only translates: a message in, an envelope frame out; a reply
// frame in, a response out. As a scheduled actor it cost two mailbox hops
// per request (the request into the proxy, the reply frame into the proxy)
// and a wake-up of a scheduler thread for each. Like CAF's own network
// proxies (`forwarding_actor_proxy`), this proxy is a `monitorable_actor`
// whose `enqueue` does the work on the caller's thread: it encodes the
// envelope straight into the connection's write buffer and remembers the
// request; the I/O thread that reads the reply delivers the response
// straight into the requester's mailbox. Monitors, links and exit messages
// behave as for any actor.
//
// Deadlines: one timer per proxy, on the actor clock. Requests are kept in
// a min-heap by deadline; the clock is asked for a message only when a new
// deadline is earlier than the one already scheduled (with one default
// deadline, that is once per deadline, not once per request).
//
// Thread safety: `enqueue`, `on_reply` and `kill` may run concurrently on
// any threads; the pending requests are guarded by one mutex.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_clock.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/message_id.hpp>
#include <caf/monitorable_actor.hpp>

#include "adaptive_mutex.hpp"
#include "io.hpp"
#include "io_messages.hpp"

namespace spdlog {
class logger;
} // namespace spdlog

namespace troupe::transport::internal {

/// What a proxy needs.
struct proxy_args {
  config_ptr cfg;
  connection_io_ptr io;
  uint32_t index;
  std::string local_node;
  std::string peer_node;
  std::string name;
};

class remote_proxy final : public caf::monitorable_actor {
public:
  using time_point = caf::actor_clock::time_point;

  remote_proxy(caf::actor_config& cfg, proxy_args args);

  ~remote_proxy() override;

  const char* name() const override;

  /// Sends the message to the remote actor (requests are remembered until
  /// answered, failed or past their deadline).
  void enqueue(caf::mailbox_element_ptr what, caf::execution_unit* host) override;

  /// Delivers `msg` (a reply's payload, empty for an empty reply, or a
  /// `caf::error`) as the response to request `corr`; drops late ones.
  /// Called on the I/O thread.
  void complete(uint64_t corr, caf::message msg);

  /// Fails every pending request with `reason` and terminates with it, so
  /// monitors get a `down_msg` and links an exit with that reason.
  void kill(caf::error reason);

protected:
  void on_cleanup(const caf::error& reason) override;

private:
  struct request {
    caf::strong_actor_ptr sender;
    caf::message_id mid;
    caf::mailbox_element::forwarding_stack stages;
  };

  using request_map = std::unordered_map<uint64_t, request>;
  using deadline_entry = std::pair<time_point, uint64_t>;

  /// Sends one message; returns the error to answer a request with.
  caf::error forward(caf::mailbox_element& what, caf::execution_unit* host);

  /// Removes the request `corr`, if pending, into `out`.
  bool take(uint64_t corr, request_map::node_type& out);

  /// Returns a finished request's node for reuse.
  void recycle(request_map::node_type&& node);

  /// Delivers `msg` as the response to `req`.
  void respond(request& req, caf::message msg, caf::execution_unit* host);

  /// Fails every request whose deadline passed; re-arms the timer.
  void sweep();

  /// Drops deadlines of answered requests. Requires `mtx_`.
  void compact();

  /// Asks the clock for a sweep at `t` unless one is due earlier. Requires
  /// `mtx_`.
  void arm(time_point t);

  uint64_t next_correlation_id();

  proxy_args args_;
  std::shared_ptr<spdlog::logger> log_;
  /// Pre-encoded sender and receiver of every envelope this proxy sends.
  std::string addresses_;
  caf::actor_clock* clock_;

  mutable adaptive_mutex mtx_;
  bool dead_ = false;
  caf::error reason_;
  uint64_t seq_ = 0;
  request_map requests_;
  std::vector<request_map::node_type> spare_;
  /// Min-heap of (deadline, correlation id); answered requests leave stale
  /// entries that the sweep (or a rebuild) drops.
  std::vector<deadline_entry> deadlines_;
  time_point armed_ = time_point::max();
};

/// Creates a proxy (not scheduled: it has no mailbox of its own).
caf::actor make_proxy(caf::actor_system& sys, proxy_args args);

/// The proxy behind `handle` (which must come from `make_proxy`).
remote_proxy& proxy_of(const caf::actor& handle);

} // namespace troupe::transport::internal
