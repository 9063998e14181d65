#pragma once

// Test children and a fixture that records what they report.
//
// A probe is a worker using `cancellation`. It tells the test when it starts
// (`started_atom`, id, handle) and when its cleanup runs (`stopped_atom`, id,
// reason), so tests assert start/stop sequences as lists of strings:
// {"start:a", "start:b", "stop:b", …}. Commands: `die_atom` (fail with a
// reason), `finish_atom` (exit normally), `enter_atom` / `leave_atom` (open /
// close a critical section, logged as "enter:<id>" / "leave:<id>").

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "troupe/supervisors/cancellation.hpp"
#include "troupe/supervisors/scope.hpp"
#include "troupe/supervisors/stop_reason.hpp"
#include "troupe/supervisors/supervision_event.hpp"
#include "troupe/supervisors/supervisor.hpp"
#include "troupe/supervisors/supervisor_errc.hpp"
#include "troupe/supervisors/system_config.hpp"
#include "troupe/testing/deterministic_system.hpp"

namespace probe {

using started_atom = caf::atom_constant<caf::atom("p_started")>;
using stopped_atom = caf::atom_constant<caf::atom("p_stopped")>;
using note_atom = caf::atom_constant<caf::atom("p_note")>;
using die_atom = caf::atom_constant<caf::atom("p_die")>;
using finish_atom = caf::atom_constant<caf::atom("p_finish")>;
using enter_atom = caf::atom_constant<caf::atom("p_enter")>;
using leave_atom = caf::atom_constant<caf::atom("p_leave")>;

/// How a probe behaves.
struct options {
  /// Traps shutdown and cancellation requests and does nothing: only a kill
  /// stops it (its cleanup then runs as it terminates).
  bool ignore_stop = false;
  /// Bound of the critical section opened by `enter_atom`.
  caf::timespan shield_bound = std::chrono::seconds{60};
};

inline caf::behavior worker(caf::event_based_actor* self, caf::actor test, std::string id,
                            options opts) {
  auto c = troupe::supervisors::cancellation::install(self);
  self->send(test, started_atom::value, id, caf::actor_cast<caf::actor>(self));
  c->on_cleanup([test, id](const caf::error& reason) {
    caf::anon_send(test, stopped_atom::value, id, reason);
  });
  if (opts.ignore_stop)
    self->set_exit_handler([](caf::exit_msg&) {});
  auto shield = std::make_shared<troupe::supervisors::cancellation::shield_id>(0);
  return {
    [=](die_atom, caf::error& reason) { c->fail(std::move(reason)); },
    [=](finish_atom) { c->finish(); },
    [=](enter_atom) {
      *shield = c->shield(opts.shield_bound);
      self->send(test, note_atom::value, "enter:" + id);
    },
    [=](leave_atom) {
      self->send(test, note_atom::value, "leave:" + id);
      c->unshield(*shield);
    },
  };
}

/// Returns a start function that spawns a probe named after the child id.
inline troupe::supervisors::start_function start(caf::actor test, options opts = {}) {
  return
    [test, opts](const troupe::supervisors::start_context& ctx) -> caf::expected<caf::actor> {
      return ctx.system.spawn(worker, test, ctx.id, opts);
    };
}

/// A start function that always fails.
inline troupe::supervisors::start_function failing_start() {
  return [](const troupe::supervisors::start_context&) -> caf::expected<caf::actor> {
    return caf::make_error(caf::sec::runtime_error, std::string{"no resources"});
  };
}

/// The deterministic system plus a recorder for everything sent to `self`.
class fixture
  : public troupe::testing::deterministic_system<troupe::supervisors::system_config> {
public:
  fixture() : baseline(sys.registry().running()) {
    // nop
  }

  /// The test itself, as a handle children and supervisors can send to.
  caf::actor tester() {
    return caf::actor_cast<caf::actor>(self);
  }

  /// Runs until idle and records everything probes, supervisors and scopes
  /// sent to the test.
  void collect() {
    run();
    for (bool more = true; more;) {
      more = false;
      self->receive(
        [&](started_atom, std::string& id, caf::actor& h) {
          log.push_back("start:" + id);
          handles[id] = h;
          more = true;
        },
        [&](stopped_atom, std::string& id, caf::error& reason) {
          log.push_back("stop:" + id);
          reasons[id] = reason;
          handles.erase(id);
          more = true;
        },
        [&](note_atom, std::string& text) {
          log.push_back(text);
          more = true;
        },
        [&](troupe::supervisors::supervision_event& ev) {
          events.push_back(std::move(ev));
          more = true;
        },
        [&](troupe::supervisors::scope_report& r) {
          reports.push_back(std::move(r));
          more = true;
        },
        [&](caf::down_msg& dm) {
          downs[dm.source.id()] = dm.reason;
          more = true;
        },
        caf::after(std::chrono::seconds{0}) >> [] {});
    }
  }

  /// Returns the start/stop log since the last call.
  std::vector<std::string> take_log() {
    collect();
    auto result = std::move(log);
    log.clear();
    return result;
  }

  /// Returns the kinds of the events since the last call, as "child:kind".
  std::vector<std::string> take_events() {
    collect();
    std::vector<std::string> result;
    for (auto& ev : events)
      result.push_back((ev.child.empty() ? ev.supervisor : ev.child) + ":"
                       + to_string(ev.kind));
    events.clear();
    return result;
  }

  /// Tells probe `id` to fail with `reason`.
  void fail(const std::string& id,
            caf::error reason = caf::make_error(caf::sec::runtime_error,
                                                std::string{"boom"})) {
    collect();
    REQUIRE(handles.count(id) == 1);
    self->send(handles[id], die_atom::value, std::move(reason));
  }

  /// Tells probe `id` to exit normally.
  void finish(const std::string& id) {
    collect();
    REQUIRE(handles.count(id) == 1);
    self->send(handles[id], finish_atom::value);
  }

  /// Sends a request and runs until idle; returns the reply. The reply must
  /// arrive without advancing time (a blocking receive would dead-lock).
  /// Through a typed handle (`supervisor_actor`, `scope_actor`) the message
  /// and `T` are checked at compile time.
  template <class T, class Handle, class... Ts>
  caf::expected<T> ask(const Handle& dest, Ts&&... xs) {
    collect();
    auto handle = self->request(dest, caf::infinite, std::forward<Ts>(xs)...);
    run();
    caf::expected<T> result{caf::make_error(caf::sec::request_timeout)};
    handle.receive([&](T& x) { result = std::move(x); },
                   [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  /// Monitors `a` (any handle) from the test; `down_reason(a)` then tells
  /// how it ended.
  template <class Handle>
  void watch(const Handle& a) {
    self->monitor(a);
  }

  /// Returns the exit reason of a watched actor once it is down.
  template <class Handle>
  std::optional<caf::error> down_reason(const Handle& a) {
    collect();
    auto i = downs.find(a.id());
    if (i == downs.end())
      return std::nullopt;
    return i->second;
  }

  /// Number of actors running beyond those alive when the fixture started.
  size_t alive() {
    return sys.registry().running() - baseline;
  }

  size_t baseline;
  std::vector<std::string> log;
  std::map<std::string, caf::actor> handles;
  std::map<std::string, caf::error> reasons;
  std::vector<troupe::supervisors::supervision_event> events;
  std::vector<troupe::supervisors::scope_report> reports;
  std::map<caf::actor_id, caf::error> downs;
};

} // namespace probe
