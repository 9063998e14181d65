#include "troupe/actors/stage.hpp"

namespace troupe::actors {

caf::error stage_config::validate() const {
  auto fail = [](std::string why) {
    return caf::make_error(flow_errc::invalid_config, "stage_config: " + std::move(why));
  };
  if (capacity == 0)
    return fail("capacity must be >= 1 (got 0)");
  if (batch_size == 0)
    return fail("batch_size must be >= 1 (got 0)");
  if (no_consumer_grace.count() < 0)
    return fail("no_consumer_grace must be >= 0");
  return caf::none;
}

} // namespace troupe::actors
