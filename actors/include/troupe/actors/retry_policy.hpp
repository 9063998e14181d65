#pragma once

/// When to try again: how many attempts, how long to wait between them, and
/// which errors are worth retrying.
///
/// Usage:
///   auto p = retry_policy::up_to(5, backoff::exponential(50ms, 2s)
///                                     .with_jitter(jitter::full))
///              .retry_on({fetch_errc::attempt_timeout, fetch_errc::http_status});

#include <cstdint>
#include <initializer_list>
#include <vector>

#include <caf/error.hpp>

#include "troupe/actors/backoff.hpp"

namespace troupe::actors {

class retry_policy {
public:
  /// A single attempt, no retries.
  static retry_policy never();

  /// At most `max_attempts` attempts in all (the first one included).
  static retry_policy up_to(uint32_t max_attempts, backoff delays);

  /// Returns a copy that retries only the listed errors (compared by code
  /// and category; context ignored). Without a list, every error retries.
  retry_policy retry_on(std::initializer_list<caf::error> errors) const;

  // -- properties -----------------------------------------------------------

  uint32_t max_attempts() const noexcept {
    return max_attempts_;
  }
  const backoff& delays() const noexcept {
    return delays_;
  }
  const std::vector<caf::error>& retryable() const noexcept {
    return retryable_;
  }

  /// Returns an `invalid_config` error naming the bad field, or none.
  caf::error validate() const;

  /// True if `err` is worth another attempt after `attempts_made` attempts.
  bool should_retry(uint32_t attempts_made, const caf::error& err) const;

  /// The error to report when an operation stops after `attempts_made`
  /// attempts, the last one failing with `err` and not retried:
  /// `fetch_errc::retries_exhausted` (context: `err` described) if `err` was
  /// worth a retry and more than one attempt was made, else `err` itself.
  caf::error final_error(uint32_t attempts_made, caf::error err) const;

  friend bool operator==(const retry_policy& x, const retry_policy& y) noexcept {
    return x.max_attempts_ == y.max_attempts_ && x.delays_ == y.delays_
      && x.retryable_ == y.retryable_;
  }

private:
  retry_policy(uint32_t max_attempts, backoff delays)
    : max_attempts_(max_attempts), delays_(delays) {}

  uint32_t max_attempts_;
  backoff delays_;
  std::vector<caf::error> retryable_;
};

} // namespace troupe::actors
