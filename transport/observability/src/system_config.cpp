#include "troupe/observability/system_config.hpp"

#include <cstring>

#include <caf/config_option_adder.hpp>
#include <caf/settings.hpp>

#include "troupe/observability/endpoint.hpp"

namespace troupe::observability {

namespace {

caf::string_view view(const char* literal) {
  return {literal, std::strlen(literal)};
}

} // namespace

system_config::system_config() {
  opt_group{custom_options_, view("troupe.http")}
    .add<std::string>(view("host"), view("address of the observability endpoint"))
    .add<uint16_t>(view("port"),
                   view("port of the observability endpoint; 0 = ephemeral; unset = off"));
  // The host's default shows in --dump-config; the port has none: unset
  // means the endpoint is off.
  caf::put(content, "troupe.http.host", endpoint_config{}.host);
}

} // namespace troupe::observability
