#pragma once

// Internal: the node's I/O side behind small interfaces, so actors never see
// Asio (and Asio stays out of the CAF-heavy translation units). The TCP
// implementation lives in tcp_io.cpp.
//
// Contract: every member function is thread-safe. Completion handlers run on
// the I/O thread(s) and reach actors only through messages (io_messages.hpp),
// capturing actor handles, never actor pointers.

#include <cstdint>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/timespan.hpp>

namespace troupe::transport::detail {

/// The io_context and its thread(s).
class io_runtime {
public:
  virtual ~io_runtime();

  /// Lets pending I/O finish (every socket is closed by then) and joins the
  /// thread(s); stops the loop after `bound` if it does not finish.
  virtual void shutdown(caf::timespan bound) = 0;
};

using io_runtime_ptr = std::shared_ptr<io_runtime>;

/// Starts `threads` I/O threads.
io_runtime_ptr make_io_runtime(uint32_t threads);

/// One TCP connection: reads frames and hands them to actors, writes bytes.
///
/// Inbound frames go to the owner as `(frame_atom, std::vector<wire::Frame>)`
/// (all frames decoded from one read, in order), except
/// replies and error frames whose correlation id belongs to a registered
/// proxy (`correlation_id >> proxy_shift`), which go to that proxy directly.
/// The end of the stream, an I/O error or a framing error is reported once as
/// `(io_closed_atom, caf::error)`; reading stops then.
class connection_io {
public:
  virtual ~connection_io();

  /// Dials `host:port`; reports `(connected_atom)` or `(io_closed_atom,
  /// connect_failed)` to `owner`, then reads.
  virtual void connect(caf::actor owner, std::string host, uint16_t port) = 0;

  /// Starts reading an accepted connection for `owner`.
  virtual void start(caf::actor owner) = 0;

  /// Queues `bytes` (one or more encoded frames). No-op once closed.
  virtual void send(std::string bytes) = 0;

  /// Queues `bytes`, then closes once they are written.
  virtual void send_and_close(std::string bytes) = 0;

  /// Closes at once; queued bytes are dropped. Idempotent.
  virtual void close() = 0;

  /// Routes replies / errors for `index` to `proxy`.
  virtual void add_proxy(uint32_t index, caf::actor proxy) = 0;

  virtual void remove_proxy(uint32_t index) = 0;

  /// "ip:port" of the peer (or of the dialed address), for log lines.
  virtual std::string remote_address() const = 0;
};

using connection_io_ptr = std::shared_ptr<connection_io>;

/// A correlation id is `(proxy index << proxy_shift) | sequence number`.
constexpr unsigned proxy_shift = 40;

/// Returns an unconnected TCP connection (call `connect`).
connection_io_ptr make_tcp_connection(const io_runtime_ptr& rt, uint32_t max_frame_size);

/// A listening socket.
class listener_io {
public:
  virtual ~listener_io();

  /// Accepts connections; each goes to `owner` as `(accepted_atom,
  /// connection_io_ptr)`.
  virtual void start(caf::actor owner) = 0;

  virtual void close() = 0;

  /// The bound port.
  virtual uint16_t port() const = 0;
};

using listener_io_ptr = std::shared_ptr<listener_io>;

/// Binds and listens on `host:port` (synchronously). Error: `listen_failed`.
caf::expected<listener_io_ptr> make_tcp_listener(const io_runtime_ptr& rt,
                                                 const std::string& host,
                                                 uint16_t port,
                                                 uint32_t max_frame_size);

} // namespace troupe::transport::detail
