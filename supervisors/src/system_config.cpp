#include "troupe/supervisors/system_config.hpp"

#include <optional>

#include <caf/message.hpp>

#include <troupe/actors/fetch_errc.hpp>
#include <troupe/actors/flow_errc.hpp>

#include "internal/describe.hpp"
#include "troupe/supervisors/stop_reason.hpp"
#include "troupe/supervisors/supervisor_errc.hpp"

namespace troupe::supervisors {

namespace internal {

namespace {

template <class Enum>
std::string render(const char* prefix, uint8_t code, const caf::message& ctx) {
  std::string result = prefix;
  result += '(';
  result += to_string(static_cast<Enum>(code));
  if (!ctx.empty()) {
    result += ": ";
    result += describe_context(ctx);
  }
  result += ')';
  return result;
}

} // namespace

namespace {

/// The text of an error of this layer's (or a lower layer's) categories;
/// nothing for other categories.
std::optional<std::string> describe_known(const caf::error& err) {
  if (!err)
    return "none";
  auto cat = err.category();
  if (cat == supervisor_errc_category)
    return render<supervisor_errc>("supervisor_error", err.code(), err.context());
  if (cat == stop_reason_category)
    return render<stop_reason>("stop", err.code(), err.context());
  if (cat == actors::flow_errc_category)
    return render<actors::flow_errc>("flow_error", err.code(), err.context());
  if (cat == actors::fetch_errc_category)
    return render<actors::fetch_errc>("fetch_error", err.code(), err.context());
  return std::nullopt;
}

} // namespace

std::string describe(const caf::error& err) {
  auto known = describe_known(err);
  return known ? *known : caf::to_string(err);
}

std::string describe(const caf::actor_system& sys, const caf::error& err) {
  auto known = describe_known(err);
  return known ? *known : sys.render(err);
}

std::string describe_context(const caf::message& ctx) {
  std::string result;
  for (size_t i = 0; i < ctx.size(); ++i) {
    if (i > 0)
      result += ", ";
    if (ctx.match_element<std::string>(i))
      result += ctx.get_as<std::string>(i);
    else if (ctx.match_element<caf::error>(i))
      result += describe(ctx.get_as<caf::error>(i));
    else
      result += ctx.stringify(i);
  }
  return result;
}

} // namespace internal

void add_error_categories(caf::actor_system_config& cfg) {
  cfg.add_error_category(supervisor_errc_category,
                         [](uint8_t code, caf::atom_value, const caf::message& ctx) {
                           return internal::render<supervisor_errc>("supervisor_error",
                                                                    code, ctx);
                         });
  cfg.add_error_category(stop_reason_category,
                         [](uint8_t code, caf::atom_value, const caf::message& ctx) {
                           return internal::render<stop_reason>("stop", code, ctx);
                         });
}

system_config::system_config() {
  supervisors::add_error_categories(*this);
}

} // namespace troupe::supervisors
