#pragma once

// Internal: blocking calls to etcd's JSON gateway with libcurl, one easy
// handle per client (one client per thread). Every call is bounded by the
// configured request timeout; `watch` runs until its stream ends, fails or
// `stop` turns true (checked at least once a second).

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <caf/timespan.hpp>

#include "etcd_gateway.pb.h"

namespace troupe::cluster::internal {

class etcd_client {
public:
  etcd_client(std::vector<std::string> endpoints, caf::timespan request_timeout);
  ~etcd_client();
  etcd_client(const etcd_client&) = delete;
  etcd_client& operator=(const etcd_client&) = delete;

  /// A new lease of `ttl`; its id.
  caf::expected<int64_t> grant(caf::timespan ttl);

  /// Renews `lease`; its remaining TTL in seconds, 0 if it is gone.
  caf::expected<int64_t> keep_alive(int64_t lease);

  caf::error revoke(int64_t lease);

  /// Writes `key` = `value` under `lease` unless `key` exists; false if it
  /// did.
  caf::expected<bool> create(const std::string& key, const std::string& value, int64_t lease);

  caf::error put(const std::string& key, const std::string& value, int64_t lease);

  /// Every key with `prefix`, and the store's revision.
  caf::expected<etcd::RangeResponse> range(const std::string& prefix);

  /// Streams the changes under `prefix` from `start_revision` to
  /// `on_response` until the stream ends or fails (the error), `stop`
  /// turns true or `on_response` returns false (no error then).
  caf::error watch(const std::string& prefix, int64_t start_revision,
                   const std::atomic<bool>& stop,
                   const std::function<bool(const etcd::WatchResponse&)>& on_response);

  /// The endpoint used last ("http://127.0.0.1:2379").
  const std::string& endpoint() const noexcept;

private:
  caf::expected<std::string> post(const std::string& path, const std::string& body);

  std::vector<std::string> endpoints_;
  size_t current_ = 0;
  caf::timespan timeout_;
  void* curl_;
};

/// The end of the key range that holds every key starting with `prefix`.
std::string prefix_end(const std::string& prefix);

} // namespace troupe::cluster::internal
