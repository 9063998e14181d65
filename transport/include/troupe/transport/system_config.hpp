#pragma once

/// The actor system config for programs using `troupe::transport`.
///
/// Everything `troupe::supervisors::system_config` registers (and through it
/// `troupe::actors::system_config`: `transport_errc` registers itself when
/// linked), plus every node and remote-stream setting as a config key, on
/// the command line (`--troupe.node.port=4711`) and in the config file:
///
///   troupe.node.{host, port, listen, node-id, secret, max-frame-size,
///                max-handshake-frame-size, handshake-timeout,
///                connect-timeout, heartbeat-interval, peer-timeout,
///                default-deadline, reconnect, io-threads, stop-timeout}
///   troupe.stream.{poll-interval, idle-timeout, max-batch,   (exporting)
///                  capacity, batch-size, pull-timeout}       (importing)
///
/// Their defaults are the config structs' (`--dump-config` shows them). A
/// boolean on the command line is a flag (present: true); set it false in
/// the config file.
/// `node::start(sys)`, `export_stream` and `import_stream` without a config
/// read them (`node_config::from`, `stream_export_config::from`,
/// `stream_import_config::from`).

#include <string>

#include <caf/error.hpp>

#include <troupe/supervisors/system_config.hpp>

namespace troupe::transport {

class system_config : public troupe::supervisors::system_config {
public:
  system_config();

  /// Parses the command line and the config file as CAF does, except that
  /// `--help` (`-h`, `-?`) prints `help_text()` to stdout: the global
  /// options and Troupe's own, not the groups of CAF modules Troupe does not
  /// use (middleman, openssl, opencl, ...), which `--long-help` still lists.
  /// Sets `cli_helptext_printed` when it printed help.
  caf::error parse_args(int argc, char** argv);

  /// The global options and every `troupe.*` option, with descriptions.
  std::string help_text() const;
};

} // namespace troupe::transport
