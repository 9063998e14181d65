#include "troupe/actors/system_config.hpp"

#include <caf/message.hpp>

#include <troupe/messages/type_registry.hpp>

#include "troupe/actors/fetch_errc.hpp"
#include "troupe/actors/flow_errc.hpp"

namespace troupe::actors {

namespace {

template <class Enum>
std::string render(const char* prefix, uint8_t code, const caf::message& ctx) {
  std::string result = prefix;
  result += '(';
  result += to_string(static_cast<Enum>(code));
  if (!ctx.empty()) {
    result += ", ";
    result += caf::to_string(ctx);
  }
  result += ')';
  return result;
}

} // namespace

void add_error_categories(caf::actor_system_config& cfg) {
  cfg.add_error_category(flow_errc_category,
                         [](uint8_t code, caf::atom_value, const caf::message& ctx) {
                           return render<flow_errc>("flow_error", code, ctx);
                         });
  cfg.add_error_category(fetch_errc_category,
                         [](uint8_t code, caf::atom_value, const caf::message& ctx) {
                           return render<fetch_errc>("fetch_error", code, ctx);
                         });
}

system_config::system_config() {
  troupe::messages::register_message_types(*this);
  add_error_categories(*this);
}

} // namespace troupe::actors
