#pragma once

/// `static_provider`: a membership that never changes — the given members
/// (seeds), reported once. For fixed deployments and tests without a store.
/// A seed without an id is named by its address ("host:port"); the cluster
/// learns its node's real id when it connects. Such a member goes down and
/// up with its transport connection, and is never removed.

#include <memory>
#include <vector>

#include "troupe/cluster/member.hpp"
#include "troupe/cluster/membership_provider.hpp"

namespace troupe::cluster {

std::unique_ptr<membership_provider> static_provider(std::vector<member> seeds);

} // namespace troupe::cluster
