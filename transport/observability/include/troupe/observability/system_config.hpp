#pragma once

/// The actor system config for programs with an observability endpoint:
/// everything `troupe::cluster::system_config` declares (the transport's
/// and the cluster's keys), plus
///
///   troupe.http.host   address of the endpoint (default 127.0.0.1)
///   troupe.http.port   its port; 0 = ephemeral. Unset (default): no endpoint.
///
/// on the command line (`--troupe.http.port=9100`) and in the config file.
/// `endpoint_config::from(sys.config())` reads them.

#include <troupe/cluster/system_config.hpp>

namespace troupe::observability {

class system_config : public troupe::cluster::system_config {
public:
  system_config();
};

} // namespace troupe::observability
