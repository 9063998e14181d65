#pragma once

/// How this member joins a cluster (`cluster::start`, `spawn_cluster`); the
/// provider has its own settings (`etcd_config`). From config keys:
/// `cluster_config_from` (`system_config.hpp`).

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/error.hpp>

#include <troupe/actors/backoff.hpp>

namespace troupe::cluster {

struct cluster_config {
  /// The address other members reach this node at. Default "127.0.0.1";
  /// set it when the node listens on 0.0.0.0 or behind another address.
  std::string advertise_host = "127.0.0.1";
  /// The port they reach it at; 0 (default) = the node's listening port.
  uint16_t advertise_port = 0;
  /// Services this member runs from the start (more with `advertise`).
  std::vector<std::string> services;
  /// Delays between attempts to connect to a member not reached yet.
  actors::backoff connect_backoff =
    actors::backoff::exponential(std::chrono::milliseconds{100}, std::chrono::seconds{2})
      .with_jitter(actors::jitter::full);

  /// Returns an `invalid_config` error naming the bad field, or none.
  caf::error validate() const;
};

} // namespace troupe::cluster
