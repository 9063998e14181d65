// transport::system_config: every node and remote-stream setting is a config
// key (command line, config file), read by node_config::from and the stream
// configs' from; --help lists Troupe's keys, not CAF modules Troupe does not
// use.

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/settings.hpp>

#include <troupe/messages/error_category.hpp>
#include <troupe/transport/node.hpp>
#include <troupe/transport/node_config.hpp>
#include <troupe/transport/remote_stream.hpp>
#include <troupe/transport/system_config.hpp>
#include <troupe/transport/transport_errc.hpp>

using namespace std::chrono_literals;
using troupe::transport::node_config;
using troupe::transport::stream_export_config;
using troupe::transport::stream_import_config;
using troupe::transport::system_config;

namespace {

/// Parses `args` (without the program name) into `cfg`.
void parse(system_config& cfg, std::vector<std::string> args) {
  std::vector<char*> argv{const_cast<char*>("test")};
  for (auto& a : args)
    argv.push_back(a.data());
  auto err = cfg.parse_args(static_cast<int>(argv.size()), argv.data());
  REQUIRE_FALSE(err);
}

} // namespace

TEST_CASE("every node and stream setting is reachable from the command line",
          "[transport][config]") {
  system_config cfg;
  parse(cfg,
        {"--troupe.node.host=0.0.0.0", "--troupe.node.port=4711",
         "--troupe.node.secret=s3cret", "--troupe.node.heartbeat-interval=250ms",
         "--troupe.node.peer-timeout=2s", "--troupe.node.max-frame-size=65536",
         "--troupe.stream.capacity=32", "--troupe.stream.poll-interval=100ms"});
  // A boolean on the command line is a flag (present: true); false comes
  // from the config file, here written straight into the settings.
  caf::put(cfg.content, "troupe.node.reconnect", false);
  auto n = node_config::from(cfg);
  CHECK(n.host == "0.0.0.0");
  CHECK(n.port == 4711);
  CHECK(n.secret == "s3cret");
  CHECK(n.heartbeat_interval == 250ms);
  CHECK(n.peer_timeout == 2s);
  CHECK(n.max_frame_size == 65536u);
  CHECK_FALSE(n.reconnect);
  CHECK(stream_import_config::from(cfg).capacity == 32u);
  CHECK(stream_export_config::from(cfg).poll_interval == 100ms);
  // What was not set keeps the struct's default.
  node_config defaults;
  CHECK(n.handshake_timeout == defaults.handshake_timeout);
  CHECK(n.max_handshake_frame_size == defaults.max_handshake_frame_size);
  CHECK(stream_import_config::from(cfg).batch_size == stream_import_config{}.batch_size);
}

TEST_CASE("TLS settings come from troupe.node.tls.* and a bad verify mode is refused",
          "[transport][config][tls]") {
  system_config cfg;
  parse(cfg,
        {"--troupe.node.tls.enabled", "--troupe.node.tls.certificate-file=/etc/n.crt",
         "--troupe.node.tls.verify=peer"});
  auto n = node_config::from(cfg);
  CHECK(n.tls.enabled);
  CHECK(n.tls.certificate_file == "/etc/n.crt");
  CHECK(n.tls.verify == troupe::transport::tls_verify::peer);
  CHECK(node_config::from(system_config{}).tls.verify == node_config{}.tls.verify);
  system_config bad;
  parse(bad, {"--troupe.node.tls.verify=sometimes"});
  auto err = node_config::from(bad).validate();
  REQUIRE(err == troupe::transport::transport_errc::invalid_config);
  CHECK(troupe::messages::describe(err).find("sometimes") != std::string::npos);
}

TEST_CASE("without settings, the config gives the structs' defaults", "[transport][config]") {
  system_config cfg;
  parse(cfg, {});
  auto n = node_config::from(cfg);
  node_config defaults;
  CHECK(n.host == defaults.host);
  CHECK(n.port == defaults.port);
  CHECK(n.listen == defaults.listen);
  CHECK(n.heartbeat_interval == defaults.heartbeat_interval);
  CHECK(n.stop_timeout == defaults.stop_timeout);
  CHECK(stream_export_config::from(cfg).idle_timeout == stream_export_config{}.idle_timeout);
}

TEST_CASE("node::start(sys) uses the configured settings", "[transport][config]") {
  system_config cfg;
  parse(cfg, {"--troupe.node.io-threads=2"});
  caf::put(cfg.content, "troupe.node.listen", false); // as a config file says it
  caf::actor_system sys{cfg};
  auto n = troupe::transport::node::start(sys);
  REQUIRE(n);
  CHECK(n->port() == 0); // not listening, as configured
  n->stop();
}

TEST_CASE("--help lists Troupe's settings and hides CAF modules Troupe does not use",
          "[transport][config]") {
  system_config cfg;
  auto help = cfg.help_text();
  for (auto key :
       {"--troupe.node.port", "--troupe.node.secret", "--troupe.node.heartbeat-interval",
        "--troupe.stream.capacity", "--troupe.stream.pull-timeout",
        "--troupe.node.tls.certificate-file", "--troupe.node.tls.verify", "--dump-config"}) {
    CAPTURE(key);
    CHECK(help.find(key) != std::string::npos);
  }
  for (auto hidden : {"middleman", "openssl", "opencl"}) {
    CAPTURE(hidden);
    CHECK(help.find(hidden) == std::string::npos);
  }
}
