#pragma once

/// Everything a supervisor is made of: its children, its strategy, how often
/// and how fast it restarts, and who watches it.
///
/// Usage:
///   supervisor_config cfg;
///   cfg.name = "root";
///   cfg.strategy = restart_strategy::rest_for_one;
///   cfg.intensity = {3, 10s};
///   cfg.restart_backoff = backoff::exponential(100ms, 10s).with_jitter(jitter::full);
///   cfg.children = {{"db", spawn_with(db)}, {"api", spawn_with(api)}};
///   auto sup = spawn_supervisor(sys, cfg); // expected<actor>

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/timespan.hpp>

#include <troupe/actors/backoff.hpp>

#include "troupe/supervisors/child_spec.hpp"
#include "troupe/supervisors/restart_intensity.hpp"

namespace troupe::supervisors {

/// Which children a failure restarts (OTP's strategies).
enum class restart_strategy : uint8_t {
  /// Only the child that stopped.
  one_for_one,
  /// All children: the others are stopped (in reverse order), then all are
  /// started again (in order).
  one_for_all,
  /// The child that stopped and every child after it in start order.
  rest_for_one,
  /// Many children of one spec, started at run time with `start_child`
  /// (OTP's simple_one_for_one). Each restarts on its own; they stop in
  /// parallel, so shutting them down takes one timeout, not one per child.
  dynamic,
};

/// Returns "one_for_one", "one_for_all", "rest_for_one" or "dynamic".
std::string to_string(restart_strategy x);

/// In which order a supervisor's shutdown stops its children (one at a
/// time, each within its shutdown policy).
enum class stop_order : uint8_t {
  /// Last started first (as OTP): a child stops before what it depends on.
  reverse_start,
  /// First started first: a pipeline stops from its source, which drains,
  /// and the stages and consumers after it end by themselves once they
  /// finished the items in flight (`pipeline.hpp`).
  start,
};

/// Returns "reverse_start" or "start".
std::string to_string(stop_order x);

/// When a supervisor shuts itself down because significant children ended
/// (`child_spec::significant`; OTP's auto_shutdown).
enum class auto_shutdown : uint8_t {
  /// Never: it runs until asked to stop or its intensity is exceeded.
  never,
  /// As soon as one significant child ended and will not be restarted.
  any_significant,
  /// Once every significant child ended and none will be restarted.
  all_significant,
};

/// Returns "never", "any_significant" or "all_significant".
std::string to_string(auto_shutdown x);

struct supervisor_config {
  /// The supervisor's name: the path of a root supervisor and its logger name.
  /// A nested supervisor takes its path from its parent ("root/<child id>").
  /// Must not be empty or contain '/'. Default "supervisor".
  std::string name = "supervisor";
  /// Which children a failure restarts. Default one_for_one.
  restart_strategy strategy = restart_strategy::one_for_one;
  /// At most this many restarts within a window; one more and the supervisor
  /// stops its children and fails with `intensity_exceeded`, which its own
  /// supervisor sees. Default 1 restart in 5 s (OTP's default).
  restart_intensity intensity;
  /// Delay before each restart of a child, drawn per child. Default none:
  /// restart at once (as OTP). With exponential growth and jitter, a crash
  /// loop slows down instead of hammering a broken dependency (as Akka's
  /// BackoffSupervisor).
  actors::backoff restart_backoff = actors::backoff::none();
  /// A child that ran at least this long before it stopped starts its backoff
  /// over at the first delay. Default 30 s.
  caf::timespan stable_period = std::chrono::seconds{30};
  /// Seed for jitter draws (per child: seed + start order). 0 draws a random
  /// seed. Tests set it for reproducible delays. Default 0.
  uint64_t seed = 0;
  /// The children: started in this order, stopped in reverse order. For the
  /// dynamic strategy, exactly one spec: the template for `start_child`.
  std::vector<child_spec> children;
  /// Actors that receive every `supervision_event` of this supervisor (and,
  /// through `supervisor_child`, of nested ones). Default none.
  std::vector<caf::actor> observers;
  /// In which order a shutdown stops the children. Default reverse_start.
  stop_order shutdown_order = stop_order::reverse_start;
  /// Whether significant children ending shut the supervisor down (with
  /// `stop_reason::shutdown`, a normal stop). Default never.
  supervisors::auto_shutdown auto_shutdown = supervisors::auto_shutdown::never;

  /// Returns `invalid_config` or `duplicate_child_id` naming the bad field, or
  /// none. `spawn_supervisor` calls it first.
  caf::error validate() const;

  /// Returns the longest a shutdown of this supervisor can take when every
  /// child uses its full timeout: the sum of the children's timeouts (one
  /// timeout for the dynamic strategy, whose children stop in parallel).
  /// Children added later with `start_child` are not included.
  caf::timespan shutdown_bound() const;
};

} // namespace troupe::supervisors
