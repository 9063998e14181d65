#pragma once

/// `channel`: where a stub's calls go. A stub is the same type whatever its
/// channel; only the channel knows whether the service is in this process
/// or on another node.
///
///   Pricing::Stub local{channel::local(sys)};                 // by name, this process
///   Pricing::Stub remote{channel::remote(node, "10.0.0.2", 4711)}; // by name, that node
///   Pricing::Stub fixed{channel::to(actor)};                   // one given actor
///   Pricing::Stub named{cluster.channel()};                    // by name, anywhere
///
/// `local` and `remote` find the service by its full name (the stub's) and
/// find it again when the incarnation they used is gone: `local` in the
/// service directory (waiting for a restart within the call's deadline),
/// `remote` through the node (a proxy for `<name>@host:port`, reconnecting
/// if needed). `located` asks a `service_locator` (a cluster's membership)
/// for an instance on any node, on every call. A stub caches the actor it found (see
/// `stub_core`).
///
/// Thread safety: immutable once made; any thread may use a channel.

#include <cstdint>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <troupe/transport/node_actor.hpp>

#include "troupe/services/service_locator.hpp"

namespace troupe::services {

class channel {
public:
  /// How a channel finds its service.
  enum class kind : uint8_t {
    /// This process's service directory.
    local,
    /// A node's proxy for `<service name>@host:port`.
    remote,
    /// One fixed actor.
    fixed,
    /// A `service_locator`, on every call.
    located,
  };

  /// The services of `sys`, by name (`service_directory`).
  static channel local(caf::actor_system& sys);

  /// The services published on the node at `host:port`, reached through
  /// `node` (this process's node).
  static channel remote(const transport::node_actor& node, std::string host, uint16_t port);

  /// Always `target` (a service actor, or a proxy for one).
  static channel to(caf::actor target);

  /// Whatever instance `locator` picks, in `sys`.
  static channel located(caf::actor_system& sys, std::shared_ptr<service_locator> locator);

  kind how() const noexcept;

  /// The actor system calls run in.
  caf::actor_system& system() const;

  /// For `to`: the actor.
  const caf::actor& fixed() const;

  /// For `remote`: the node, host and port.
  const transport::node_actor& node() const;
  const std::string& host() const;
  uint16_t port() const;

  /// For `located`: the locator.
  service_locator& locator() const;

  struct state;

private:
  explicit channel(std::shared_ptr<state> st) : state_(std::move(st)) {
    // nop
  }

  std::shared_ptr<state> state_;
};

} // namespace troupe::services
