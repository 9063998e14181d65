#pragma once

/// A real etcd for tests: Debian's `etcd` binary (package etcd-server,
/// installed by scripts/install-deps), started by the test itself on
/// 127.0.0.1 with free ports and a throwaway data directory, never as a
/// system service. Stopped (SIGTERM, then SIGKILL after 5 s) and its data
/// directory removed by the destructor; killed by the kernel if the thread
/// that started it dies first (a test killed mid-run leaves no etcd).
///
///   auto etcd = troupe::testing::etcd_server::start();
///   REQUIRE(etcd);                       // the error says why (binary, ports, health)
///   cfg.endpoints = {(*etcd)->endpoint()};
///   (*etcd)->stop();                     // etcd lost mid-run
///   REQUIRE_FALSE((*etcd)->restart());   // back, same ports and data
///
/// `ip netns exec`: `start` takes a command prefix and an address to listen
/// on, for an etcd inside a network namespace.
///
/// Thread safety: use it from one thread.

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace troupe::testing {

class etcd_server {
public:
  struct options {
    /// The address it listens on. Default 127.0.0.1.
    std::string host = "127.0.0.1";
    /// Its client port; 0 (default): a free one.
    uint16_t client_port = 0;
    /// Prepended to the command, e.g. {"ip", "netns", "exec", "h1"}.
    std::vector<std::string> prefix;
  };

  /// Starts etcd and waits (at most 20 s) until it answers `/health`.
  static caf::expected<std::unique_ptr<etcd_server>> start(options opts);
  static caf::expected<std::unique_ptr<etcd_server>> start();

  ~etcd_server();
  etcd_server(const etcd_server&) = delete;
  etcd_server& operator=(const etcd_server&) = delete;

  /// "http://<host>:<client port>".
  std::string endpoint() const;

  uint16_t client_port() const noexcept {
    return client_port_;
  }

  /// Stops the process (its data stays). Idempotent.
  void stop();

  /// Starts it again on the same ports with the same data.
  caf::error restart();

  /// Runs `etcdctl` against it with `args`; its standard output, or an
  /// error with its exit status.
  caf::expected<std::string> etcdctl(const std::vector<std::string>& args) const;

  /// The path of its log (etcd's output), for a failing test to show.
  const std::string& log_path() const noexcept {
    return log_;
  }

private:
  etcd_server() = default;
  caf::error launch();

  options opts_;
  uint16_t client_port_ = 0;
  uint16_t peer_port_ = 0;
  std::string dir_;
  std::string log_;
  pid_t pid_ = -1;
};

} // namespace troupe::testing
