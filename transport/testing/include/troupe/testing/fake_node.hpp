#pragma once

/// `fake_node`: services as a node would serve them, without the network.
///
/// A test publishes service implementations on it and calls them through
/// the generated stubs over `channel()`: the stub type a real client uses,
/// the directory a supervised service registers in, no sockets. It works on
/// a `deterministic_system` (deadlines on virtual time) as on a real one.
/// The services stop with the fake node.
///
/// What it does not exercise: the wire (serialization, a deadline carried
/// as remaining time, a restarting service's `unknown_actor` retries);
/// tests of those need two nodes on 127.0.0.1.
///
///   troupe::testing::deterministic_system<troupe::transport::system_config> f;
///   troupe::testing::fake_node node{f.sys};
///   node.publish<pricing>(/* constructor arguments */);
///   pricing::v1::Pricing::Stub stub{node.channel()};
///   // inside an actor: stub.get_quote(self, request, 100ms).then(...)
///
/// Thread safety: use it from the test's thread.

#include <memory>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <troupe/services/channel.hpp>
#include <troupe/services/service.hpp>

namespace troupe::testing {

class fake_node {
public:
  explicit fake_node(caf::actor_system& sys) : sys_(&sys) {
    // nop
  }

  /// Stops every service published on it.
  ~fake_node();

  fake_node(const fake_node&) = delete;
  fake_node& operator=(const fake_node&) = delete;

  /// Runs `Impl` (a generated `<Service>::Service` subclass) built from
  /// `args`, under its service name; returns its actor (to kill it, monitor
  /// it, ...). A second publish of the same service replaces the first for
  /// new calls.
  template <class Impl, class... Args>
  caf::actor publish(Args&&... args) {
    return publish(std::make_unique<Impl>(std::forward<Args>(args)...));
  }

  /// Same with an object built by the test.
  caf::actor publish(std::unique_ptr<services::service_base> impl);

  /// Where stubs find what was published.
  services::channel channel() const;

private:
  caf::actor_system* sys_;
  std::vector<caf::actor> published_;
};

} // namespace troupe::testing
