#pragma once

/// What a caller says about one service call (`call_options`) and about all
/// calls of a stub (`stub_config`). See `stub.hpp` and docs/services.md.
///
/// Not `transport::call_options`: that one is the envelope options of a raw
/// request to a proxy (`(call_options, payload)`); this one is what a
/// generated stub's method takes.

#include <chrono>
#include <string>

#include <caf/timespan.hpp>

namespace troupe::services {

/// Options of one call.
struct call_options {
  /// The call's deadline, from now; 0: the inherited deadline, or the
  /// stub's `default_timeout` at the ingress.
  caf::timespan timeout{0};
  /// The request id, at the ingress only (calls inside a handler keep the
  /// handler's); empty: generated.
  std::string request_id;
  /// Wait for a service that is not running (see above). Default true.
  bool wait_for_ready = true;

  call_options() = default;

  template <class Rep, class Period>
  call_options(std::chrono::duration<Rep, Period> t) // NOLINT: implicit on purpose
    : timeout(std::chrono::duration_cast<caf::timespan>(t)) {
    // nop
  }
};

/// Settings of a stub.
struct stub_config {
  /// Deadline of an ingress call without a timeout. Default 5 s.
  caf::timespan default_timeout = std::chrono::seconds{5};
  /// First pause before retrying a remote service that is not there
  /// (doubling up to `max_retry_delay`). Local retries wait in the service
  /// directory instead. Default 10 ms.
  caf::timespan retry_delay = std::chrono::milliseconds{10};
  /// Default 250 ms.
  caf::timespan max_retry_delay = std::chrono::milliseconds{250};
};

} // namespace troupe::services
