#pragma once

/// The request and response of an HTTP GET, as plain values that can travel
/// in CAF messages.
///
/// Local messaging needs nothing more than the `inspect` overloads below. To
/// serialize them (remote actors, a serializing hop), register them with the
/// system config: `cfg.add_message_type<http_request>("troupe.http_request")`
/// and likewise for `http_response`.

#include <string>
#include <utility>
#include <vector>

#include <caf/meta/type_name.hpp>

namespace troupe::http {

/// Header fields in order of appearance; names keep the case they were sent
/// with, and a name may appear more than once.
using http_headers = std::vector<std::pair<std::string, std::string>>;

/// What to GET: the URL and extra request headers.
struct http_request {
  /// Absolute URL (`http://` or `https://`).
  std::string url;
  /// Sent in addition to the operation's own (user agent, accept-encoding).
  http_headers headers;
};

/// A completed HTTP exchange (status < 400; errors travel as `caf::error`).
struct http_response {
  /// Status of the final response, after redirects were followed.
  long status = 0;
  /// Body, already decoded if the server compressed it.
  std::string body;
  /// Header fields of the final response (those of redirects are dropped).
  http_headers headers;
  /// Where the final response came from: the request's URL, or the one the
  /// last redirect followed led to (the base for the page's relative links).
  std::string url;
};

/// @relates http_request
inline bool operator==(const http_request& x, const http_request& y) {
  return x.url == y.url && x.headers == y.headers;
}

/// @relates http_request
inline bool operator!=(const http_request& x, const http_request& y) {
  return !(x == y);
}

/// @relates http_response
inline bool operator==(const http_response& x, const http_response& y) {
  return x.status == y.status && x.body == y.body && x.headers == y.headers && x.url == y.url;
}

/// @relates http_response
inline bool operator!=(const http_response& x, const http_response& y) {
  return !(x == y);
}

/// The fetcher's key of `req` (see `fetcher_config::max_in_flight_per_key`):
/// its origin, `scheme://host:port` with the port spelled out and the host
/// in lower case (parsed by curl's URL API), so a per-host limit counts
/// `http://a/` and `http://A:80/x` as one host. A URL curl cannot parse is
/// its own key (its attempt fails in `http_get` anyway).
/// @relates http_request
std::string fetch_key(const http_request& req);

/// @relates http_request
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, http_request& x) {
  return f(caf::meta::type_name("troupe.http_request"), x.url, x.headers);
}

/// @relates http_response
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, http_response& x) {
  return f(caf::meta::type_name("troupe.http_response"), x.status, x.body, x.headers, x.url);
}

} // namespace troupe::http
