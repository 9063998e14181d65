#pragma once

/// What a fetcher emits for each request: the request, and its response or
/// the typed error of its last attempt, side by side (like asyncio's
/// `gather(return_exceptions=True)`): a failed fetch is an item, not the end
/// of the stream.

#include <cstdint>

#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>

#include "troupe/actors/credit.hpp"

namespace troupe::actors {

template <class Request, class Response>
struct fetch_result {
  Request request;
  /// The request's sequence number in its upstream stream.
  seq_t seq = 0;
  /// Valid when `error` is empty.
  Response response;
  caf::error error;
  /// Attempts made, the first one included; 0 if the circuit breaker
  /// refused it without trying.
  uint32_t attempts = 0;

  bool ok() const noexcept {
    return !error;
  }
};

template <class Inspector, class Request, class Response>
typename Inspector::result_type inspect(Inspector& f, fetch_result<Request, Response>& x) {
  return f(caf::meta::type_name("troupe.fetch_result"), x.request, x.seq, x.response, x.error,
           x.attempts);
}

} // namespace troupe::actors
