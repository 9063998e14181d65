#pragma once

// Shared pieces of the flow-control tests: a deterministic fixture with
// Troupe's config, a counting source, and a consumer whose items the test
// finishes by hand ("slow" at exactly the pace the test chooses).

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <vector>

#include <caf/all.hpp>

#include <troupe/actors/consumer.hpp>
#include <troupe/actors/producer.hpp>
#include <troupe/actors/system_config.hpp>
#include <troupe/testing/deterministic_system.hpp>

namespace troupe::testing {

using flow_fixture = deterministic_system<troupe::actors::system_config>;

/// Produces 1..n and checks the demand contract on every call.
struct counting_source {
  int64_t n;
  int64_t next = 1;
  size_t calls = 0;
  size_t zero_demand_calls = 0;
  size_t max_demand = 0;

  troupe::actors::pull_status operator()(size_t demand, std::vector<int64_t>& out) {
    ++calls;
    if (demand == 0)
      ++zero_demand_calls;
    max_demand = std::max(max_demand, demand);
    while (out.size() < demand && next <= n)
      out.push_back(next++);
    return next > n ? troupe::actors::pull_status::done : troupe::actors::pull_status::more;
  }
};

/// Items an async consumer started and the test has not finished yet.
struct held_items {
  struct item {
    int64_t value;
    troupe::actors::seq_t seq;
    troupe::actors::item_done done;
  };
  std::deque<item> items;

  /// Finishes the oldest held item; returns false if none.
  bool finish_one() {
    if (items.empty())
      return false;
    auto x = std::move(items.front());
    items.pop_front();
    x.done();
    return true;
  }

  /// An asynchronous handler that holds the item `value` here and finishes
  /// every other item at once, counting every item it is given in `handled`.
  auto hold_only(int64_t value, size_t& handled) {
    return [this, value, &handled](const int64_t& x, troupe::actors::seq_t seq,
                                   troupe::actors::item_done done) {
      ++handled;
      if (x == value)
        items.push_back({x, seq, std::move(done)});
      else
        done();
    };
  }
};

/// Asks a flow actor for its stats through the deterministic scheduler;
/// std::nullopt if it has exited.
template <class Fixture>
std::optional<troupe::actors::flow_stats> maybe_stats_of(Fixture& fx, const caf::actor& who) {
  fx.self->send(who, troupe::actors::flow_stats_atom::value);
  fx.run();
  std::optional<troupe::actors::flow_stats> result;
  fx.self->receive([&](troupe::actors::flow_stats& x) { result = x; },
                   caf::after(std::chrono::seconds{0}) >> [] {});
  return result;
}

/// Like `maybe_stats_of`, for an actor that must still be alive.
template <class Fixture>
troupe::actors::flow_stats stats_of(Fixture& fx, const caf::actor& who) {
  auto result = maybe_stats_of(fx, who);
  REQUIRE(result);
  return *result;
}

/// Returns the exit reason of `who`, which the test monitors, once it is down.
template <class Fixture>
std::optional<caf::error> exit_reason(Fixture& fx, const caf::actor_addr& who) {
  std::optional<caf::error> result;
  fx.self->receive(
    [&](caf::down_msg& dm) {
      if (dm.source == who)
        result = dm.reason;
    },
    caf::after(std::chrono::seconds{0}) >> [] {});
  return result;
}

} // namespace troupe::testing
