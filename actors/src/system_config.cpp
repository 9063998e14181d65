#include "troupe/actors/system_config.hpp"

#include <troupe/messages/error_category.hpp>
#include <troupe/messages/type_registry.hpp>

namespace troupe::actors {

system_config::system_config() {
  troupe::messages::register_message_types(*this);
  // Every error category linked into the program registered itself
  // (TROUPE_ERROR_CODE_ENUM): render them all with `describe`.
  troupe::messages::add_error_renderers(*this);
}

} // namespace troupe::actors
