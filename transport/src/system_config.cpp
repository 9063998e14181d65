#include "troupe/transport/system_config.hpp"

#include <caf/message.hpp>

#include "troupe/transport/transport_errc.hpp"

namespace troupe::transport {

void add_error_categories(caf::actor_system_config& cfg) {
  cfg.add_error_category(transport_errc_category,
                         [](uint8_t code, caf::atom_value, const caf::message& ctx) {
                           std::string result = "transport_error(";
                           result += to_string(static_cast<transport_errc>(code));
                           if (!ctx.empty()) {
                             result += ", ";
                             result += caf::to_string(ctx);
                           }
                           result += ')';
                           return result;
                         });
}

system_config::system_config() {
  troupe::transport::add_error_categories(*this);
}

} // namespace troupe::transport
