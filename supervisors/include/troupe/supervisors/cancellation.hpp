#pragma once

/// Makes an actor cooperate with cancellation and shutdown: cleanup hooks that
/// receive the reason, critical sections (shields) that cancellation waits
/// for, and exceptions turned into typed errors.
///
/// Without it, an actor asked to stop (an exit message with
/// `stop_reason::shutdown` or `stop_reason::cancelled`) dies at once, as CAF
/// does by default. With it:
/// 1. The request is trapped and remembered (`cancelled()`, `reason()`).
/// 2. If shields are open, the actor keeps running until each closes or
///    reaches its own bound.
/// 3. The cleanup hooks run, last registered first, with the reason.
/// 4. The actor exits with that same reason: a cancellation is never turned
///    into a normal exit or a failure.
/// The supervisor's (or scope's) shutdown timeout still applies: past it the
/// actor is killed, and hooks that have not run yet run as it terminates.
///
/// Concurrency: every member function must be called from the owning actor's
/// handlers. The object lives as long as the actor's handlers do.
///
/// Usage:
///   caf::behavior worker(caf::event_based_actor* self) {
///     auto c = cancellation::install(self);
///     c->on_cleanup([=](const caf::error& why) { flush_buffers(); });
///     return {
///       [=](write_atom, std::string row) {
///         auto s = c->shield(2s); // cancellation waits for the write
///         self->request(db, 1s, write_atom_v, row).then(
///           [=](ok_atom) { c->unshield(s); },
///           [=](caf::error& e) { c->fail(e); });
///       },
///     };
///   }

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/timespan.hpp>

namespace troupe::supervisors {

class cancellation {
public:
  /// A cleanup hook; gets the reason the actor stops (none for `finish`).
  using hook = std::function<void(const caf::error& reason)>;

  /// Identifies an open shield.
  using shield_id = uint64_t;

  /// Installs cancellation handling on `self`: sets its exit handler and
  /// exception handler, and attaches a final hook runner. Call once, from the
  /// actor's initialization.
  static std::shared_ptr<cancellation> install(caf::event_based_actor* self);

  // -- hooks -----------------------------------------------------------------

  /// Adds a cleanup hook. Hooks run once, last added first, when the actor
  /// stops through this object (cancel, `finish`, `fail`, an exception) or,
  /// as a last resort, when it terminates otherwise (killed, or
  /// `self->quit()` called directly); in that last case they run while the
  /// actor terminates and must not send through `self`. A hook that throws
  /// is logged; the others still run.
  void on_cleanup(hook f);

  // -- critical sections -----------------------------------------------------

  /// Opens a critical section: a cancellation waits until it closes, at most
  /// `bound` from now. Returns its id for `unshield`.
  shield_id shield(caf::timespan bound);

  /// Closes a critical section. If a cancellation is pending and this was the
  /// last open section, the cleanup runs and the actor stops.
  void unshield(shield_id id);

  /// Number of open critical sections.
  size_t open_shields() const noexcept;

  // -- stopping --------------------------------------------------------------

  /// Runs the cleanup with no error and stops the actor normally.
  void finish();

  /// Runs the cleanup with `reason` and stops the actor with it.
  void fail(caf::error reason);

  /// Stops the actor as if an exit message with `reason` had arrived: waits
  /// for open shields, runs the cleanup, exits with `reason`.
  void cancel(caf::error reason);

  // -- properties ------------------------------------------------------------

  /// True once a cancellation (or shutdown request) arrived.
  bool cancelled() const noexcept;

  /// The reason of the pending cancellation; none if there is none.
  const caf::error& reason() const noexcept;

  cancellation(const cancellation&) = delete;
  cancellation& operator=(const cancellation&) = delete;

private:
  explicit cancellation(caf::event_based_actor* self) : self_(self) {}

  void on_exit_message(const caf::actor_addr& source, const caf::error& reason);
  void complete(caf::error reason);
  void run_hooks(const caf::error& reason) noexcept;

  caf::event_based_actor* self_;
  std::vector<hook> hooks_;
  std::vector<shield_id> open_;
  shield_id next_shield_ = 1;
  caf::error reason_;
  bool cancelled_ = false;
  bool stopping_ = false;
};

} // namespace troupe::supervisors
