#include "troupe/actors/producer.hpp"

namespace troupe::actors {

caf::error producer_config::validate() const {
  if (batch_size == 0)
    return caf::make_error(flow_errc::invalid_config,
                           "producer_config: batch_size must be >= 1 (got 0)");
  if (no_consumer_grace.count() < 0)
    return caf::make_error(flow_errc::invalid_config,
                           "producer_config: no_consumer_grace must be >= 0");
  if (first_seq == 0)
    return caf::make_error(flow_errc::invalid_config,
                           "producer_config: first_seq must be >= 1 (got 0)");
  if (drain_timeout.count() < 0)
    return caf::make_error(flow_errc::invalid_config,
                           "producer_config: drain_timeout must be >= 0");
  return caf::none;
}

} // namespace troupe::actors
