#pragma once

// An actor system for integration tests with real sockets on 127.0.0.1, and
// bounded blocking helpers.

#include <chrono>
#include <optional>

#include <caf/all.hpp>

#include <troupe/transport/call_options.hpp>
#include <troupe/transport/node.hpp>
#include <troupe/transport/system_config.hpp>

#include "support/services.hpp"

namespace troupe::testing {

/// Fast failure detection for tests: heartbeats every 50 ms, a peer is down
/// after 400 ms of silence, reconnect after 50..200 ms.
inline transport::node_config fast_config() {
  using namespace std::chrono_literals;
  transport::node_config cfg;
  cfg.heartbeat_interval = 50ms;
  cfg.peer_timeout = 400ms;
  cfg.handshake_timeout = 3s;
  cfg.connect_timeout = 2s;
  cfg.reconnect_backoff = actors::backoff::exponential(50ms, 200ms);
  return cfg;
}

/// Bounds a wait that only a hung implementation reaches, never a slow
/// machine. Tests assert typed outcomes and orderings, not how long a step
/// took.
inline constexpr std::chrono::seconds hang_bound{30};

struct node_fixture {
  transport::system_config cfg;
  caf::actor_system sys{cfg};

  /// The outcome of one blocking request.
  template <class T>
  struct outcome {
    std::optional<T> value;
    caf::error error;
  };

  /// Sends `xs...` to `dest` as a request and waits (bounded) for the answer.
  template <class T, class... Ts>
  outcome<T> call(const caf::actor& dest, std::chrono::milliseconds bound, Ts&&... xs) {
    caf::scoped_actor self{sys};
    outcome<T> result;
    self->request(dest, bound, std::forward<Ts>(xs)...)
      .receive([&](T& x) { result.value = std::move(x); },
               [&](caf::error& err) { result.error = std::move(err); });
    return result;
  }

  std::string render(const caf::error& err) {
    return sys.render(err);
  }
};

} // namespace troupe::testing
