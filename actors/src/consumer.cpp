#include "troupe/actors/consumer.hpp"

namespace troupe::actors {

caf::error consumer_config::validate() const {
  auto fail = [](std::string why) {
    return caf::make_error(flow_errc::invalid_config, "consumer_config: " + std::move(why));
  };
  if (capacity == 0)
    return fail("capacity must be >= 1 (got 0)");
  if (concurrency == 0)
    return fail("concurrency must be >= 1 (got 0)");
  if (concurrency > capacity)
    return fail("concurrency must be <= capacity (got " + std::to_string(concurrency) + " > "
                + std::to_string(capacity) + ")");
  return caf::none;
}

} // namespace troupe::actors
