#include "troupe/actors/fetch_errc.hpp"

namespace troupe::actors {

std::string to_string(fetch_errc x) {
  switch (x) {
    case fetch_errc::none:
      return "none";
    case fetch_errc::attempt_timeout:
      return "attempt_timeout";
    case fetch_errc::retries_exhausted:
      return "retries_exhausted";
    case fetch_errc::circuit_open:
      return "circuit_open";
    case fetch_errc::http_status:
      return "http_status";
    case fetch_errc::connect_failed:
      return "connect_failed";
    case fetch_errc::transfer_failed:
      return "transfer_failed";
  }
  return "fetch_errc(" + std::to_string(static_cast<int>(x)) + ")";
}

} // namespace troupe::actors
