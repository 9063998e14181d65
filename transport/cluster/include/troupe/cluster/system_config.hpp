#pragma once

/// The actor system config for programs using `troupe::cluster`: everything
/// `troupe::transport::system_config` declares, plus the cluster's settings
/// as config keys, on the command line (`--troupe.cluster.provider=etcd`)
/// and in the config file:
///
///   troupe.cluster.{provider, advertise-host, advertise-port, seeds,
///                   etcd-endpoints, etcd-prefix, lease-ttl,
///                   etcd-request-timeout, etcd-start-attempts}
///
/// `provider` is "etcd" (default), "static" (the `seeds`, "host:port" each)
/// or "none" (this node alone). A program reads them with
/// `cluster_config_from`, `etcd_config_from` and `provider_from`:
///
///   cluster::start(sys, node, cluster_config_from(sys.config()),
///                  std::move(*provider_from(sys.config())));

#include <memory>

#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>

#include <troupe/transport/system_config.hpp>

#include "troupe/cluster/cluster.hpp"
#include "troupe/cluster/etcd_provider.hpp"
#include "troupe/cluster/membership_provider.hpp"

namespace troupe::cluster {

class system_config : public troupe::transport::system_config {
public:
  system_config();
};

/// `cluster_config`'s defaults overridden by the `troupe.cluster.*` keys.
cluster_config cluster_config_from(const caf::actor_system_config& cfg);

/// `etcd_config`'s defaults overridden by the `troupe.cluster.*` keys.
etcd_config etcd_config_from(const caf::actor_system_config& cfg);

/// The provider the `troupe.cluster.*` keys name, validated. Errors:
/// `invalid_config` (an unknown provider, a seed that is not host:port, a
/// bad etcd setting).
caf::expected<std::unique_ptr<membership_provider>>
provider_from(const caf::actor_system_config& cfg);

} // namespace troupe::cluster
