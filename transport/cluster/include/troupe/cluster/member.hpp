#pragma once

/// A member of a cluster: one node (one process run) as membership sees it,
/// and its states (the events about them: `member_event.hpp`).
///
///   joining ──► up ──► leaving ──► removed
///      │        │ ▲                   ▲
///      │        ▼ │                   │
///      └──────► down ─────────────────┘
///
/// - joining: its record appeared (the provider saw it); this node has not
///   connected to it yet.
/// - up: its record is there and its node answered (the transport's
///   handshake completed).
/// - leaving: it announced that it leaves (a graceful stop).
/// - down: its lease expired or the transport lost it (heartbeats failed,
///   connection refused); a down member whose record is still there comes
///   back up when the transport reconnects.
/// - removed: its record is gone; the last event about it.
///
/// A restarted process is a new member: a member's id is its node id,
/// unique per process run.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

namespace troupe::cluster {

enum class member_state : uint8_t {
  joining,
  up,
  leaving,
  down,
  removed,
};

/// Returns the enumerator's name, e.g. "up".
std::string to_string(member_state x);

struct member {
  /// The member's node id.
  std::string id;
  /// Where its node listens.
  std::string host;
  uint16_t port = 0;
  /// The full names of the services it runs, sorted.
  std::vector<std::string> services;
  member_state state = member_state::joining;

  /// "host:port".
  std::string address() const;
};

/// Returns e.g. "vm:42:ab12 (127.0.0.1:4711, up, 1 service)".
std::string to_string(const member& x);

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, member& x) {
  return f(caf::meta::type_name("troupe.member"), x.id, x.host, x.port, x.services, x.state);
}

} // namespace troupe::cluster
