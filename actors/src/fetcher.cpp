#include "troupe/actors/fetcher.hpp"

namespace troupe::actors {

caf::error fetcher_config::validate() const {
  auto fail = [](std::string why) {
    return caf::make_error(flow_errc::invalid_config, "fetcher_config: " + std::move(why));
  };
  if (capacity == 0)
    return fail("capacity must be >= 1 (got 0)");
  if (max_in_flight == 0)
    return fail("max_in_flight must be >= 1 (got 0)");
  if (max_in_flight > capacity)
    return fail("max_in_flight must be <= capacity (got " + std::to_string(max_in_flight)
                + " > " + std::to_string(capacity) + ")");
  if (attempt_timeout.count() <= 0)
    return fail("attempt_timeout must be > 0");
  if (batch_size == 0)
    return fail("batch_size must be >= 1 (got 0)");
  if (auto err = retry.validate())
    return err;
  return breaker.validate();
}

} // namespace troupe::actors
