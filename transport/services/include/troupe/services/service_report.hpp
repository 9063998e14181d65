#pragma once

/// What a service actor says about itself when asked `(service_report_atom)`
/// (the observability endpoint asks at every scrape): its counters and, per
/// method, how long calls took and how they ended.
///
/// Counted by the service actor itself, in plain fields (one call at a time:
/// no atomics, no lock); asked for by message. Per incarnation: a restarted
/// service starts from zero.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

#include "troupe/services/rpc_errc.hpp"

namespace troupe::services {

/// Asks a service actor for its `service_report`.
using service_report_atom = caf::atom_constant<caf::atom("trp_svcrep")>;

/// Counters of one service incarnation.
struct service_stats {
  /// Calls received (all methods).
  uint64_t calls = 0;
  /// Calls refused because their deadline had passed before they started.
  uint64_t expired_before_start = 0;
  /// Calls for a method the service does not have.
  uint64_t unknown_method = 0;
  /// Methods that threw.
  uint64_t exceptions = 0;
  /// Streams opened (server-streaming calls answered with a stream).
  uint64_t streams_opened = 0;
  /// Streams nobody subscribed to in time, stopped.
  uint64_t streams_unclaimed = 0;
  /// Deferred replies the service answered itself: `deadline_exceeded` when
  /// the deadline passed, `unavailable` when the service stopped.
  uint64_t deferred_expired = 0;
};

/// @relates service_stats
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, service_stats& x) {
  return f(caf::meta::type_name("troupe.service_stats"), x.calls, x.expired_before_start,
           x.unknown_method, x.exceptions, x.streams_opened, x.streams_unclaimed,
           x.deferred_expired);
}

/// Calls of one method: a latency histogram and the answers by status.
struct method_stats {
  /// Upper bounds of the latency buckets, in seconds (Prometheus's default
  /// buckets, extended down to 100 µs for local calls). A last bucket
  /// holds everything slower.
  static constexpr std::array<double, 16> bucket_bounds{
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};

  /// Status codes counted, `rpc_errc` values (0 = ok).
  static constexpr size_t status_count = static_cast<size_t>(rpc_errc::unauthenticated) + 1;

  /// The method's full name, "/pkg.Service/Method".
  std::string method;
  /// Calls answered, by bucket (not cumulative): `buckets[i]` counts the
  /// calls that took at most `bucket_bounds[i]` and more than the bound
  /// before; the last one the calls slower than every bound.
  std::array<uint64_t, bucket_bounds.size() + 1> buckets{};
  /// Sum of the latencies of the calls answered.
  caf::timespan latency_sum{0};
  /// Calls answered by status (`rpc_errc` as index; 0 = ok). A call's
  /// latency runs from its start to its answer (a deferred reply's
  /// `deliver`/`fail`, or the service answering it at its deadline).
  std::array<uint64_t, status_count> by_status{};

  /// Counts one answer.
  void record(caf::timespan took, rpc_errc status) noexcept;

  /// Counts one answer: ok for no error, else its status (`to_status`).
  void record(caf::timespan took, const caf::error& answer);

  /// Calls answered.
  uint64_t answered() const noexcept;

  /// The name of status index `code`: "ok" for 0, else the `rpc_errc`
  /// name ("not_found", ...).
  static std::string status_name(size_t code);
};

/// @relates method_stats
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, method_stats& x) {
  return f(caf::meta::type_name("troupe.method_stats"), x.method, x.buckets, x.latency_sum,
           x.by_status);
}

struct service_report {
  /// The service's full protobuf name, e.g. "shop.v1.Pricing".
  std::string service;
  service_stats stats;
  /// The methods called so far (a method nobody called is not listed; a
  /// method name the service does not have never is).
  std::vector<method_stats> methods;
};

/// @relates service_report
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, service_report& x) {
  return f(caf::meta::type_name("troupe.service_report"), x.service, x.stats, x.methods);
}

} // namespace troupe::services
