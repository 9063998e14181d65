#pragma once

/// `upstream_ref`: how a flow actor finds the actor it consumes from.
///
/// Either a fixed handle (`caf::actor` converts implicitly: the upstream is
/// that actor, for its whole life) or a name looked up in a *directory*
/// actor, e.g. a supervisor and a sibling's id. A looked-up upstream is
/// found again whenever it is replaced: when the upstream dies or fails
/// (anything but a clean `done`), the flow actor asks the directory again
/// and subscribes to the new incarnation, instead of ending its input. That
/// is what lets a supervisor restart any member of a pipeline while its
/// neighbours re-bind by themselves (docs/flow-control.md, "Supervised
/// pipelines").
///
/// The directory protocol (a supervisor implements it for its children):
///
///   (lookup_atom, std::string name, caf::actor_addr stale) -> (caf::actor)
///
/// replies with the actor running under `name` once one runs that is not
/// `stale` (the incarnation the asker just saw die; the directory may not
/// have seen that death yet), with an invalid handle when `name` will not
/// run again (it finished, or the directory is stopping normally: the
/// asker's input then ends cleanly), or with an error (an unknown name, a
/// directory that fails). The directory may hold the request as long as it
/// needs: a restart with backoff is waited for.

#include <string>
#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/actor_cast.hpp>
#include <caf/atom.hpp>

namespace troupe::actors {

/// Asks a directory for the actor running under a name (see above).
using lookup_atom = caf::atom_constant<caf::atom("trp_lookup")>;

class upstream_ref {
public:
  upstream_ref() = default;

  /// A fixed upstream.
  upstream_ref(caf::actor fixed) : fixed_(std::move(fixed)) { // NOLINT: implicit on purpose
    // nop
  }

  /// The actor running under `name` in `directory`, looked up again after
  /// every incarnation ends. Holds the directory weakly.
  static upstream_ref lookup(const caf::actor& directory, std::string name) {
    upstream_ref result;
    result.lookup_ = true;
    result.directory_ = directory.address();
    result.name_ = std::move(name);
    return result;
  }

  /// True for a looked-up upstream.
  bool is_lookup() const noexcept {
    return lookup_;
  }

  /// True for a fixed handle, or a lookup with a directory and a name.
  bool valid() const noexcept {
    return lookup_ ? directory_ && !name_.empty() : static_cast<bool>(fixed_);
  }

  const caf::actor& fixed() const noexcept {
    return fixed_;
  }

  /// The directory, if it is still alive.
  caf::actor directory() const {
    return caf::actor_cast<caf::actor>(directory_);
  }

  const std::string& name() const noexcept {
    return name_;
  }

private:
  bool lookup_ = false;
  caf::actor fixed_;
  caf::actor_addr directory_;
  std::string name_;
};

} // namespace troupe::actors
