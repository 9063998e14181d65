#include "troupe/cluster/system_config.hpp"

#include <cstring>
#include <string>
#include <vector>

#include <caf/config_option_adder.hpp>
#include <caf/settings.hpp>

#include <troupe/messages/error_category.hpp>
#include <troupe/transport/node.hpp>

#include "troupe/cluster/cluster_errc.hpp"
#include "troupe/cluster/static_provider.hpp"

namespace troupe::cluster {

namespace {

constexpr const char* group = "troupe.cluster";

std::string key(const char* name) {
  return std::string{group} + "." + name;
}

caf::string_view view(const char* literal) {
  return {literal, std::strlen(literal)};
}

/// The settings besides the two config structs' fields.
struct extra_keys {
  std::string provider = "etcd";
  std::vector<std::string> seeds;
};

/// Every key once: `system_config` declares them, the `*_from` read them.
template <class F>
void visit_keys(cluster_config& c, etcd_config& e, extra_keys& x, F&& f) {
  f("provider", x.provider, "membership: etcd, static (the seeds) or none");
  f("advertise-host", c.advertise_host, "the address other members reach this node at");
  f("advertise-port", c.advertise_port, "the port they reach it at; 0 = the node's port");
  f("seeds", x.seeds, "static provider: the members, host:port each");
  f("etcd-endpoints", e.endpoints, "etcd client URLs, tried in order");
  f("etcd-prefix", e.prefix, "key prefix of the cluster's members (ends with /)");
  f("lease-ttl", e.lease_ttl, "how long after a crash the others see this member down");
  f("etcd-request-timeout", e.request_timeout, "bound on one request to etcd");
  f("etcd-start-attempts", e.start_attempts,
    "attempts at start before membership_unreachable is reported");
}

/// Every `troupe.cluster.*` key of `cfg` over the defaults.
struct settings {
  cluster_config cluster;
  etcd_config etcd;
  extra_keys extra;

  explicit settings(const caf::actor_system_config& cfg) {
    visit_keys(cluster, etcd, extra, [&cfg](const char* name, auto& field, const char*) {
      field = caf::get_or(cfg, key(name), field);
    });
  }
};

} // namespace

system_config::system_config() {
  cluster_config c;
  etcd_config e;
  extra_keys x;
  opt_group options{custom_options_, view(group)};
  visit_keys(c, e, x, [&](const char* name, const auto& field, const char* text) {
    options.add<std::decay_t<decltype(field)>>(view(name), view(text));
    caf::put(content, key(name), field);
  });
}

cluster_config cluster_config_from(const caf::actor_system_config& cfg) {
  return settings{cfg}.cluster;
}

etcd_config etcd_config_from(const caf::actor_system_config& cfg) {
  return settings{cfg}.etcd;
}

caf::expected<std::unique_ptr<membership_provider>>
provider_from(const caf::actor_system_config& cfg) {
  settings all{cfg};
  auto& e = all.etcd;
  auto& x = all.extra;
  if (x.provider == "etcd") {
    if (auto err = e.validate())
      return err;
    return etcd_provider(std::move(e));
  }
  if (x.provider == "static" || x.provider == "none") {
    std::vector<member> seeds;
    for (const auto& s : x.seeds) {
      std::string name;
      member m;
      // host:port, parsed like a node address without the name.
      if (auto err = transport::parse_address("seed@" + s, name, m.host, m.port))
        return caf::make_error(cluster_errc::invalid_config,
                               "troupe.cluster.seeds: not host:port: " + s);
      seeds.push_back(std::move(m));
    }
    if (x.provider == "none" && !seeds.empty())
      return caf::make_error(cluster_errc::invalid_config,
                             "troupe.cluster.seeds given with provider none");
    return static_provider(std::move(seeds));
  }
  return caf::make_error(cluster_errc::invalid_config,
                         "troupe.cluster.provider: etcd, static or none, not " + x.provider);
}

} // namespace troupe::cluster
