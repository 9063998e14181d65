#pragma once

/// `stub_core`: the non-template part of a generated stub — finding the
/// service (and again after it restarted), the call's context and deadline,
/// the deadline watch, retries. Shared by a stub's copies and its calls in
/// flight. See `stub.hpp`.
///
/// Thread safety: shared by copies of a stub used from any thread or actor;
/// its caches and deadline watches are under locks.

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/actor_clock.hpp>
#include <caf/duration.hpp>
#include <caf/error.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/expected.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/timespan.hpp>

#include <troupe/actors/call_context.hpp>

#include "troupe/service.pb.h"
#include "troupe/services/call_options.hpp"
#include "troupe/services/channel.hpp"

namespace troupe::services {

namespace detail {

/// A call in flight that its deadline may end (see `stub_core::watch`).
struct expirable {
  virtual ~expirable() = default;
  /// Ends the call with `deadline_exceeded` unless it has ended.
  virtual void expire() = 0;
};

} // namespace detail

/// The non-template part of a stub, shared by its copies and its calls in
/// flight (a call outlives a temporary stub).
class stub_core : public std::enable_shared_from_this<stub_core> {
public:
  stub_core(channel ch, std::string service, stub_config cfg);

  const channel& target() const noexcept {
    return channel_;
  }

  const std::string& service_name() const noexcept {
    return service_;
  }

  const stub_config& config() const noexcept {
    return cfg_;
  }

  /// The deadline a call with `opts` made at `now` gets: the earlier of its
  /// timeout and the current context's deadline, else the timeout (the
  /// stub's default without one).
  caf::actor_clock::time_point deadline_for(const call_options& opts,
                                            caf::actor_clock::time_point now) const;

  /// The context of a new call of `method` at `now` (see above).
  actors::call_context make_context(const char* method, const call_options& opts,
                                    caf::actor_clock::time_point now) const;

  /// Finds the service's actor (not `stale`) from inside `self`, then
  /// calls `k` once, in `self`, with it or with the status why not.
  void resolve(caf::event_based_actor* self, const caf::actor_addr& stale, caf::timespan left,
               bool wait, std::function<void(caf::expected<caf::actor>)> k) const;

  /// Same, blocking.
  caf::expected<caf::actor> resolve(caf::scoped_actor& self, const caf::actor_addr& stale,
                                    caf::timespan left, bool wait) const;

  /// True if `err` says the call never reached a running service, so
  /// trying again (after looking it up again) cannot run it twice.
  static bool not_delivered(const caf::error& err);

  /// True if `err` says the actor called is unreachable from now on (its
  /// connection ended): the next call looks the service up again, though
  /// this one is not retried (it may have run).
  static bool target_gone(const caf::error& err);

  /// The actor found last for this service, unless it is `stale`; null if
  /// none.
  caf::actor cached(const caf::actor_addr& stale) const;

  /// Remembers `target` as the service's actor.
  void remember(const caf::actor& target) const;

  /// Forgets `target` (it died or cannot be reached).
  void forget(const caf::actor_addr& target) const;

  /// The CAF timeout of an attempt with `left` of the deadline: `left` for
  /// a fixed actor; none through a node's proxy, which enforces the deadline
  /// itself (`call_options.hpp`), nor to a service found in the directory
  /// or by a locator, whose deadline `watch` enforces (a service always answers, at the
  /// latest when its deferred replies expire or it stops).
  caf::duration request_timeout(caf::timespan left) const;

  /// True if calls of this stub need `watch` (see `request_timeout`).
  bool watches_deadlines() const noexcept;

  /// Ends `call` with `deadline_exceeded` at `deadline` unless it ended
  /// before: one timer per actor and stub for the earliest deadline
  /// instead of one CAF timer per call (CAF 0.17 wakes its clock thread
  /// for every timeout it is given).
  void watch(caf::event_based_actor* self, caf::actor_clock::time_point deadline,
             std::weak_ptr<detail::expirable> call) const;

  /// The pause before retry number `retry` (1, 2, ...).
  caf::timespan retry_delay(uint32_t retry) const;

  /// Runs `f` in `self` after `delay`.
  void after(caf::event_based_actor* self, caf::timespan delay, std::function<void()> f) const;

  /// The status of a call whose deadline passed before it was sent.
  static caf::error expired(const actors::call_context& ctx);

  /// Makes the local end of a remote stream: an importer of `Item`s
  /// pulling from `remote` with `capacity` (`transport::spawn_importer`).
  using importer_factory = caf::expected<caf::actor> (*)(caf::actor_system&, caf::actor remote,
                                                         uint32_t capacity);

  /// Finds the stream a server-streaming call answered by `from` opened,
  /// from inside `self`: the producer itself (in this process) or an
  /// importer pulling with `capacity` from the node `from` runs on; calls
  /// `k` once, in `self`.
  void claim(caf::event_based_actor* self, const troupe::StreamOpened& opened,
             const caf::actor& from, uint32_t capacity, caf::timespan left,
             importer_factory make_importer,
             std::function<void(caf::expected<caf::actor>)> k) const;

  /// Same, blocking.
  caf::expected<caf::actor> claim(caf::scoped_actor& self, const troupe::StreamOpened& opened,
                                  const caf::actor& from, uint32_t capacity,
                                  caf::timespan left, importer_factory make_importer) const;

private:
  /// The node a stream opened by `from` is published on; false if it is
  /// in this process.
  bool stream_node(const caf::actor& from, transport::node_actor& node, std::string& host,
                   uint16_t& port) const;

  caf::expected<caf::actor> resolve_fixed(const caf::actor_addr& stale) const;

  struct sweeper;

  /// Sets the timer of `sw` for `at`.
  void arm(caf::event_based_actor* self, const std::shared_ptr<sweeper>& sw,
           caf::actor_clock::time_point at) const;

  /// Ends the calls of `self` whose deadline passed, if `armed_for` is
  /// still the live timer; arms the next one.
  void sweep(caf::event_based_actor* self, const std::shared_ptr<sweeper>& sw,
             caf::actor_clock::time_point armed_for) const;

  channel channel_;
  std::string service_;
  stub_config cfg_;
  /// The service's actor found last (calls from any thread share it).
  mutable std::mutex cache_mtx_;
  mutable caf::actor cached_;
  /// Deadline watches per calling actor (`watch`).
  mutable std::mutex sweep_mtx_;
  mutable std::unordered_map<caf::event_based_actor*, std::shared_ptr<sweeper>> sweepers_;
};

using stub_core_ptr = std::shared_ptr<const stub_core>;

} // namespace troupe::services
