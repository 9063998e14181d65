#include "troupe/actors/producer.hpp"

namespace troupe::actors {

caf::error producer_config::validate() const {
  if (batch_size == 0)
    return caf::make_error(flow_errc::invalid_config,
                           "producer_config: batch_size must be >= 1 (got 0)");
  if (no_consumer_grace.count() < 0)
    return caf::make_error(flow_errc::invalid_config,
                           "producer_config: no_consumer_grace must be >= 0");
  return caf::none;
}

namespace detail {

caf::error error_from_exception(std::exception_ptr ep, flow_errc code,
                                const std::string& where) {
  try {
    std::rethrow_exception(ep);
  } catch (const std::exception& e) {
    return caf::make_error(code, where + " threw: " + e.what());
  } catch (...) {
    return caf::make_error(code, where + " threw a non-standard exception");
  }
}

} // namespace detail

} // namespace troupe::actors
