#pragma once

/// What a cluster tells its subscribers (`cluster::subscribe`): one event per
/// change of a member's state, in order.

#include <string>

#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>

#include "troupe/cluster/member.hpp"

namespace troupe::cluster {

/// A member changed state (`who.state` is the new one).
struct member_event {
  member who;
  member_state previous = member_state::joining;
  /// Why, for `down` and `removed`: `cluster_errc::member_expired`,
  /// `member_left`, or the transport's reason (`peer_timeout`, ...).
  caf::error reason;
};

/// Returns e.g. "member vm:42:ab12 (127.0.0.1:4711) up -> down:
/// trp_net:peer_timeout".
std::string to_string(const member_event& x);

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, member_event& x) {
  return f(caf::meta::type_name("troupe.member_event"), x.who, x.previous, x.reason);
}

} // namespace troupe::cluster
