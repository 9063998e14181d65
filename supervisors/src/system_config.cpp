#include "troupe/supervisors/system_config.hpp"

namespace troupe::supervisors {

system_config::system_config() = default;

} // namespace troupe::supervisors
