#pragma once

/// What a supervisor needs to know about one child: how to start it, when to
/// restart it, how to stop it, and whether it is itself a supervisor.
///
/// Usage:
///   child_spec db{"db", spawn_with(db_actor)};
///   db.restart = restart_type::transient;
///   db.shutdown = shutdown_policy::timeout(2s);

#include <cstdint>
#include <functional>
#include <string>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/error.hpp>
#include <caf/timespan.hpp>

#include "troupe/supervisors/start_function.hpp"

namespace troupe::supervisors {

/// When a child that stopped is started again (OTP's restart types).
enum class restart_type : uint8_t {
  /// Always restarted, whatever the reason it stopped.
  permanent,
  /// Restarted only after a failure: a normal exit or a `stop_reason` (see
  /// `is_normal_stop`) leaves it stopped.
  transient,
  /// Never restarted; removed from the supervisor once it stops.
  temporary,
};

/// Returns "permanent", "transient" or "temporary".
std::string to_string(restart_type x);

/// Whether a child is a worker or a supervisor (trees nest).
enum class child_kind : uint8_t {
  worker,
  supervisor,
};

/// Returns "worker" or "supervisor".
std::string to_string(child_kind x);

/// How a supervisor stops a child: ask and wait at most a timeout, then kill;
/// or kill at once.
///
/// Every shutdown is bounded: there is no "infinity" (OTP's default for
/// supervisor children). Give a nested supervisor a timeout of at least its
/// own `supervisor_config::shutdown_bound()`; `supervisor_child` does.
class shutdown_policy {
public:
  /// Sends `stop_reason::shutdown` and waits up to `grace` for the child to
  /// run its cleanup and exit; then kills it (`exit_reason::kill`).
  static shutdown_policy timeout(caf::timespan grace);

  /// Kills the child at once, without a cleanup (OTP's `brutal_kill`).
  static shutdown_policy brutal_kill();

  /// True for `brutal_kill()`.
  bool is_brutal_kill() const noexcept {
    return brutal_;
  }

  /// How long the child may take to stop; 0 for `brutal_kill()`.
  caf::timespan grace() const noexcept {
    return grace_;
  }

  /// Returns `invalid_config` for a negative timeout, or none.
  caf::error validate() const;

  friend bool operator==(const shutdown_policy& x, const shutdown_policy& y) noexcept {
    return x.brutal_ == y.brutal_ && x.grace_ == y.grace_;
  }
  friend bool operator!=(const shutdown_policy& x, const shutdown_policy& y) noexcept {
    return !(x == y);
  }

private:
  shutdown_policy(caf::timespan grace, bool brutal) : grace_(grace), brutal_(brutal) {}

  caf::timespan grace_;
  bool brutal_;
};

/// Returns "timeout(5s)" or "brutal_kill".
std::string to_string(const shutdown_policy& x);

/// One child of a supervisor. A plain value; copies share the start function.
struct child_spec {
  /// Unique among the supervisor's children; part of the child's path. Must
  /// not be empty or contain '/'.
  std::string id;
  /// Spawns the child. Required.
  start_function start;
  /// When the child is restarted. Default: permanent (as in OTP).
  restart_type restart = restart_type::permanent;
  /// How the child is stopped. Default: a 5 s timeout (OTP's default for
  /// workers).
  shutdown_policy shutdown = shutdown_policy::timeout(std::chrono::seconds{5});
  /// Worker or supervisor; supervisors get their own path and logger.
  /// Default: worker.
  child_kind kind = child_kind::worker;
  /// A significant child's end (without a restart) can end its supervisor:
  /// see `supervisor_config::auto_shutdown` (OTP's significant children).
  /// Only for transient or temporary children. Default false.
  bool significant = false;

  /// Exits this child makes in normal operation although their reason is
  /// not a normal stop (a connection whose peer said goodbye): logged at
  /// info, not as a warning. Restarts, intensity and the events observers
  /// get are the same as for any other exit. Empty: none.
  std::function<bool(const caf::error&)> expected_exit{};

  /// Returns `invalid_config` naming the bad field, or none.
  caf::error validate() const;
};

} // namespace troupe::supervisors

// Child specs travel in local messages (`start_child`); they hold a function
// and are never serialized.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(troupe::supervisors::child_spec)
