#pragma once

// A fetcher process's pipeline: the frontier's Work stream (remote, bounded
// by `capacity`) → a stage that makes HTTP requests → Troupe's fetcher
// (http_get; `max_in_flight`, a per-host limit, per-attempt timeout, retries
// with jitter, a circuit breaker per host) → a consumer that hands each
// result to a page_reporter, which parses the page with gumbo on the
// blocking pool and reports it to the frontier. An item is finished only
// once the frontier acknowledged its report; the frontier leases every URL
// until then, so a fetcher that dies loses nothing.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/error.hpp>

#include <troupe/transport/node.hpp>

namespace crawler {

struct fetcher_settings {
  /// Names this fetcher in reports and log lines.
  std::string id = "fetcher";
  /// URLs held by this process at most (the Work stream's capacity).
  uint32_t capacity = 64;
  /// HTTP attempts running at once.
  uint32_t max_in_flight = 32;
  /// HTTP attempts to one host (origin) running at once.
  uint32_t per_host = 8;
  std::chrono::milliseconds attempt_timeout{300};
  /// Attempts per URL (the first included), with exponential backoff and
  /// full jitter between them.
  uint32_t attempts = 3;
  /// Threads that parse pages.
  uint32_t parsers = 1;
  /// Longest the fetcher runs, whatever happens.
  std::chrono::seconds lifetime{600};
  /// Polled a few times a second: true stops the fetcher (the frontier
  /// gives what it held to the others).
  std::function<bool()> stop_requested;
};

struct fetcher_outcome {
  uint64_t ok = 0;
  uint64_t failed = 0;
  /// Pages not tried (an open circuit) that the frontier put off for later.
  uint64_t deferred = 0;
  /// Most HTTP attempts that ran at once (the fetcher's high-water mark).
  uint64_t max_in_flight_seen = 0;
  /// Set if the stream ended with an error (the frontier is gone).
  caf::error error;
};

/// Runs one fetcher until the frontier at `host:port` ends its Work stream
/// (the crawl is over) or the stream fails. Blocks the calling thread.
fetcher_outcome run_fetcher(caf::actor_system& sys, const troupe::transport::node& node,
                            const std::string& host, uint16_t port,
                            const fetcher_settings& settings);

} // namespace crawler
