#include "troupe/transport/system_config.hpp"

namespace troupe::transport {

system_config::system_config() = default;

} // namespace troupe::transport
