#pragma once

/// Remote streams: the credit protocol across the wire. A consumer on node B
/// bounds a producer on node A exactly as a local consumer would.
///
///   node A: producer ──(local credit)──▶ export session ══╗
///   node B: consumers ◀──(local credit)── importer ◀══════╝ Pull / Batch
///
/// The importer on B owns the remote capacity C. It pulls with
/// `troupe.flow.Pull` requests whose credit never lets more than C items be
/// held by B or be on their way to it; every Pull also acknowledges the items
/// B's consumers finished. On A, an export session subscribes to the producer
/// as an ordinary consumer of capacity C and returns credit to it only for
/// acknowledged items. So the producer never has more than C items
/// outstanding towards B, whatever the speed of B's consumers, and the
/// session holds every unacknowledged item: if B goes silent, the session
/// closes after `idle_timeout` and the producer redelivers its items to its
/// other consumers (at-least-once).
///
/// Sessions come and go with their importers: give an exported producer a
/// `producer_config::no_consumer_grace` longer than an importer needs to
/// (re)connect, or a session that ends while holding items (its importer
/// went away) fails the producer with `no_consumers` when it was the only
/// one.
///
/// Items must be protobuf messages (they travel as their wire bytes, so a
/// non-C++ importer can speak the protocol: see docs/wire-protocol.md).
/// Sequence numbers are per hop: across the wire, de-duplicate on your own
/// message ids.
///
/// Usage:
///   // node A
///   export_stream<demo::Item>(node_a, producer, "items");
///   // node B
///   auto items = import_stream<demo::Item>(sys, node_b, "items@127.0.0.1:4711");
///   spawn_consumer<demo::Item>(sys, *items, consumer_config{64}, handle);

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/timespan.hpp>
#include <google/protobuf/message.h>

#include "troupe/transport/detail/stream_codec.hpp"
#include "troupe/transport/node.hpp"
#include "troupe/transport/transport_errc.hpp" // the errors of configs and sessions

namespace troupe::transport {

struct stream_export_config {
  /// Longest an importer's Pull waits at the exporter when there are no
  /// items; then an empty Batch answers it, so both sides see the other
  /// alive. Default 1 s.
  caf::timespan poll_interval = std::chrono::seconds{1};
  /// A stream whose importer sent no Pull for this long is closed; its
  /// unacknowledged items go back to the producer. Must exceed
  /// `poll_interval`. Default 10 s.
  caf::timespan idle_timeout = std::chrono::seconds{10};
  /// Most items per Batch. Default 1024.
  uint32_t max_batch = 1024;
  /// Most sessions of this stream one peer (one connection) may have open
  /// at once; a Pull that would open one more is answered
  /// `too_many_sessions`. Each session holds up to its importer's capacity
  /// of items: this bounds what one peer can make the exporter hold.
  /// Default 64.
  uint32_t max_sessions_per_peer = 64;

  /// Returns an `invalid_config` error naming the bad field, or none.
  caf::error validate() const;

  /// The defaults above, overridden by `troupe.stream.{poll-interval,
  /// idle-timeout, max-batch, max-sessions-per-peer}` of `cfg`.
  static stream_export_config from(const caf::actor_system_config& cfg);
};

struct stream_import_config {
  /// Most items held by this node or on their way to it: the remote bound.
  /// Default 1024.
  uint32_t capacity = 1024;
  /// Most items per batch to local consumers. Default 64.
  uint32_t batch_size = 64;
  /// Limit of one Pull round trip; must exceed the exporter's
  /// `poll_interval`. A Pull that fails (peer lost, timeout) ends the stream
  /// with that error, unless the stream's end arrived before or arrives with
  /// the other Pull in flight (every item is here then). Default 10 s.
  caf::timespan pull_timeout = std::chrono::seconds{10};

  /// Returns an `invalid_config` error naming the bad field, or none.
  caf::error validate() const;

  /// The defaults above, overridden by `troupe.stream.{capacity,
  /// batch-size, pull-timeout}` of `cfg`.
  static stream_import_config from(const caf::actor_system_config& cfg);
};

/// Publishes `producer`'s stream of `T` on `n` as `name`; importers on other
/// nodes pull it with `import_stream`. Returns the published hub actor.
/// `producer` is a handle, or a supervised producer named in its supervisor
/// (`actors::upstream_ref::lookup(supervisor, child id)`): then the stream
/// survives the producer's restarts (each session re-binds to the next
/// incarnation; what the old one sent and the importer did not acknowledge
/// comes again from the new one) and ends when the producer finishes or the
/// supervisor is gone.
template <class T>
caf::expected<caf::actor> export_stream(node& n, actors::upstream_ref producer,
                                        const std::string& name, stream_export_config cfg) {
  static_assert(std::is_base_of_v<google::protobuf::Message, T>,
                "remote stream items must be protobuf messages");
  return detail::export_stream(n, std::move(producer), name, &cfg,
                               std::make_shared<detail::typed_stream_codec<T>>());
}

/// Same with `stream_export_config::from` the system's config
/// (`troupe.stream.*`; the defaults unless set).
template <class T>
caf::expected<caf::actor> export_stream(node& n, actors::upstream_ref producer,
                                        const std::string& name) {
  static_assert(std::is_base_of_v<google::protobuf::Message, T>,
                "remote stream items must be protobuf messages");
  return detail::export_stream(n, std::move(producer), name, nullptr,
                               std::make_shared<detail::typed_stream_codec<T>>());
}

/// Returns a local producer of the stream published as `address`
/// ("name@host:port"); local consumers subscribe to it as to any producer.
template <class T>
caf::expected<caf::actor> import_stream(caf::actor_system& sys, node& n,
                                        const std::string& address, stream_import_config cfg) {
  static_assert(std::is_base_of_v<google::protobuf::Message, T>,
                "remote stream items must be protobuf messages");
  return detail::import_stream(sys, n, address, cfg,
                               std::make_shared<detail::typed_stream_codec<T>>());
}

/// Same with `stream_import_config::from(sys.config())` (`troupe.stream.*`;
/// the defaults unless set).
template <class T>
caf::expected<caf::actor> import_stream(caf::actor_system& sys, node& n,
                                        const std::string& address) {
  return import_stream<T>(sys, n, address, stream_import_config::from(sys.config()));
}

/// For code inside actors, which must not block on the node: the hub that
/// `export_stream` would publish, not yet published. Publish it yourself,
/// e.g. `request(node.handle(), ..., publish_atom::value, hub, name,
/// delivery::payload)`, and tell importers its name once that succeeded.
template <class T>
caf::expected<caf::actor> spawn_export_hub(caf::actor_system& sys,
                                           actors::upstream_ref producer,
                                           stream_export_config cfg) {
  static_assert(std::is_base_of_v<google::protobuf::Message, T>,
                "remote stream items must be protobuf messages");
  return detail::spawn_export_hub(sys, std::move(producer), &cfg,
                                  std::make_shared<detail::typed_stream_codec<T>>());
}

/// For code inside actors: the importer `import_stream` would return, for a
/// proxy `remote` of the exported stream (from `(remote_atom, name, host,
/// port)` to the node actor).
template <class T>
caf::expected<caf::actor> spawn_importer(caf::actor_system& sys, caf::actor remote,
                                         stream_import_config cfg) {
  static_assert(std::is_base_of_v<google::protobuf::Message, T>,
                "remote stream items must be protobuf messages");
  return detail::spawn_importer(sys, std::move(remote), cfg,
                                std::make_shared<detail::typed_stream_codec<T>>());
}

} // namespace troupe::transport
