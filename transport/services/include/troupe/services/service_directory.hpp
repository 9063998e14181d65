#pragma once

/// The service directory: which actor runs each service of an actor system
/// now, by the service's full name ("shop.v1.Pricing").
///
/// A supervised service (`service_child`) registers every incarnation as it
/// starts, so a name stays valid across restarts; a stub (`channel::local`)
/// looks the name up and, when the incarnation it used dies, looks it up
/// again — waiting for the next one within its call's deadline. The
/// directory watches what it holds: a service that terminates is removed at
/// once.
///
/// # Lifetime
///
/// The directory lives while it has something to do: a registered service
/// or a waiting lookup. Once it has none and no message
/// waits in its mailbox, it retires, and the next use spawns a new one.
/// So it never keeps an actor system from shutting down (once the services
/// are stopped, it is gone), and it is never an idle actor that outlives the
/// system's scheduler. Every message reaches it through
/// `with_service_directory`, which holds the lock the directory takes to
/// retire: a message cannot slip in between its last look at the mailbox
/// and its exit.
///
/// Protocol (`service_directory_actor`):
///
///   (register_service_atom, std::string name, caf::actor) -> ok
///       the actor runs `name` from now on (replaces an earlier one)
///   (unregister_service_atom, std::string name, caf::actor_addr) -> ok
///       removes `name` if that actor still runs it
///   (find_service_atom, std::string name, caf::actor_addr stale, caf::timespan wait)
///       -> caf::actor   the actor running `name` that is not `stale`;
///       if none, the next one registered within `wait`, else
///       `rpc_errc::unavailable` (wait 0: at once) or
///       `rpc_errc::deadline_exceeded` (after waiting)
///   (expire_atom, uint64_t) -- internal: the directory's own timer for
///       waiting lookups (a typed actor's timers are part of its interface)
///
/// At most `max_waiting_lookups` lookups wait per name; more fail with
/// `rpc_errc::resource_exhausted`.
///
/// Thread safety: an actor; `with_service_directory` may be called from
/// any thread.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/timespan.hpp>
#include <caf/typed_actor.hpp>

namespace troupe::services {

using register_service_atom = caf::atom_constant<caf::atom("trp_svcreg")>;
using unregister_service_atom = caf::atom_constant<caf::atom("trp_svcunr")>;
using find_service_atom = caf::atom_constant<caf::atom("trp_svcfnd")>;
/// Internal: a waiting lookup is due.
using expire_atom = caf::atom_constant<caf::atom("trp_svcexp")>;

using service_directory_actor = caf::typed_actor<
  caf::replies_to<register_service_atom, std::string, caf::actor>::with<caf::ok_atom>,
  caf::replies_to<unregister_service_atom, std::string, caf::actor_addr>::with<caf::ok_atom>,
  caf::replies_to<find_service_atom, std::string, caf::actor_addr,
                  caf::timespan>::with<caf::actor>,
  caf::reacts_to<expire_atom, uint64_t>>;

/// Lookups that may wait for one name at once.
constexpr size_t max_waiting_lookups = 4096;

/// Registers `actor` as the one running `name` in the directory of `sys`
/// (asynchronously: a lookup that arrives first waits for it).
void register_service(caf::actor_system& sys, std::string name, caf::actor actor);

/// Calls `send(directory)` with the directory of `sys` (spawned if none
/// runs) while it cannot retire. `send` must only send to it (`send`,
/// `request`, `anon_send`): it runs under a process-wide lock.
void with_service_directory(caf::actor_system& sys,
                            const std::function<void(const service_directory_actor&)>& send);

} // namespace troupe::services
