#pragma once

// Internal: the sender of every request a connection delivers to a
// published actor, and the one that turns the responses into reply frames.
//
// # Why an actor without a mailbox?
//
// Inbound requests go from the I/O thread straight into the published
// actor's mailbox. The published actor answers its sender; if that sender
// were the (scheduled) connection actor, every response would cost a
// mailbox hop and a wake-up before it reached the socket. The responder is a
// `monitorable_actor` whose `enqueue` encodes the reply frame on the
// answering actor's own thread, straight into the connection's write
// buffer. One responder per connection; it remembers, per request, the
// correlation id and the pre-encoded addresses and trace context of the
// reply.
//
// Thread safety: `expect` (I/O thread), `enqueue` (any thread) and `close`
// may run concurrently; the pending requests are guarded by one mutex.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>
#include <caf/message_id.hpp>
#include <caf/monitorable_actor.hpp>

#include "adaptive_mutex.hpp"
#include "envelope_reader.hpp"
#include "io.hpp"
#include "io_messages.hpp"

namespace spdlog {
class logger;
} // namespace spdlog

namespace troupe::transport::internal {

class responder final : public caf::monitorable_actor {
public:
  responder(caf::actor_config& cfg, connection_io_ptr io, config_ptr config);

  ~responder() override;

  const char* name() const override;

  /// Remembers the request `env`; returns the message id to deliver it
  /// with (sender: this responder).
  caf::message_id expect(const envelope_fields& env);

  /// Requests delivered and not yet answered.
  size_t in_flight() const;

  /// Turns a response into a reply (or error) frame.
  void enqueue(caf::mailbox_element_ptr what, caf::execution_unit* host) override;

  /// Forgets every pending request (the connection ended); later
  /// responses are dropped.
  void close(caf::error reason);

  /// Sets the "peer ..." prefix of log lines.
  void label(std::string x);

protected:
  void on_cleanup(const caf::error& reason) override;

private:
  struct inbound {
    uint64_t correlation_id = 0;
    /// Envelope fields 1, 2 (addresses, swapped) then 7, 8 (trace, attempt)
    /// of the reply, encoded.
    std::string echo;
    /// Where the trace fields start in `echo`.
    size_t split = 0;
  };

  using inbound_map = std::unordered_map<uint64_t, inbound>;

  void reply(inbound& req, caf::type_erased_tuple& content, caf::execution_unit* host);

  void send_error(const caf::error& err, const inbound& req, caf::execution_unit* host);

  std::string label() const;

  connection_io_ptr io_;
  config_ptr cfg_;
  std::shared_ptr<spdlog::logger> log_;

  mutable adaptive_mutex mtx_;
  bool closed_ = false;
  uint64_t next_id_ = 0;
  inbound_map pending_;
  std::vector<inbound_map::node_type> spare_;
  std::string label_;
};

/// Creates the responder of a connection.
caf::actor make_responder(caf::actor_system& sys, connection_io_ptr io, config_ptr cfg);

/// The responder behind `handle` (which must come from `make_responder`).
responder& responder_of(const caf::actor& handle);

} // namespace troupe::transport::internal
