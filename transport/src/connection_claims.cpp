#include "connection_claims.hpp"

namespace troupe::transport::internal {

std::string connection_claims::dialing(const caf::actor_addr& conn, std::string dialed,
                                       std::string remote) {
  std::lock_guard<std::mutex> guard{mtx_};
  for (const auto& [other, c] : claims_)
    if (c.established
        && ((!c.remote.empty() && (c.remote == dialed || c.remote == remote))
            || (!c.dialed.empty() && c.dialed == dialed)))
      return c.peer_id;
  auto& c = claims_[conn];
  c.dialed = std::move(dialed);
  c.remote = std::move(remote);
  return {};
}

bool connection_claims::dialing_peer(const caf::actor_addr& conn, const std::string& peer_id) {
  std::lock_guard<std::mutex> guard{mtx_};
  for (const auto& [other, c] : claims_)
    if (c.established && c.peer_id == peer_id)
      return false;
  auto i = claims_.find(conn);
  if (i != claims_.end())
    i->second.peer_id = peer_id;
  return true;
}

bool connection_claims::welcome(const caf::actor_addr& conn, const std::string& peer_id,
                                const std::string& listen) {
  std::lock_guard<std::mutex> guard{mtx_};
  for (const auto& [other, c] : claims_) {
    if (other == conn || !matches(c, peer_id, listen))
      continue;
    // Established: the peer has its connection. Dialing: the smaller id's
    // dial wins, at both ends.
    if (c.established || self_id_ < peer_id)
      return false;
  }
  record_established(conn, peer_id, listen);
  return true;
}

void connection_claims::established(const caf::actor_addr& conn, const std::string& peer_id,
                                    const std::string& listen) {
  std::lock_guard<std::mutex> guard{mtx_};
  record_established(conn, peer_id, listen);
}

void connection_claims::record_established(const caf::actor_addr& conn,
                                           const std::string& peer_id,
                                           const std::string& listen) {
  auto& c = claims_[conn];
  c.established = true;
  c.peer_id = peer_id;
  c.remote = listen;
}

void connection_claims::ended(const caf::actor_addr& conn) {
  std::lock_guard<std::mutex> guard{mtx_};
  claims_.erase(conn);
}

bool connection_claims::matches(const claim& c, const std::string& peer_id,
                                const std::string& listen) const {
  if (!c.peer_id.empty())
    return c.peer_id == peer_id;
  return !listen.empty() && (c.dialed == listen || c.remote == listen);
}

bool connection_claims::established_at(const std::string& address) const {
  std::lock_guard<std::mutex> guard{mtx_};
  for (const auto& [conn, c] : claims_)
    if (c.established && !address.empty() && (c.remote == address || c.dialed == address))
      return true;
  return false;
}

} // namespace troupe::transport::internal
