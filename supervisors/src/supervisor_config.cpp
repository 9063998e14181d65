#include "troupe/supervisors/supervisor_config.hpp"

#include <unordered_set>

#include "spec_check.hpp"
#include "troupe/supervisors/supervisor_errc.hpp"

namespace troupe::supervisors {

caf::error supervisor_config::validate() const {
  auto fail = [](std::string why) {
    return caf::make_error(supervisor_errc::invalid_config, std::move(why));
  };
  if (auto why = internal::check_segment("name", name); !why.empty())
    return fail(std::move(why));
  if (auto err = intensity.validate())
    return err;
  if (auto err = restart_backoff.validate()) {
    // The backoff reports its own field; keep the text, use our category.
    std::string text = "restart_backoff: ";
    if (err.context().match_elements<std::string>())
      text += err.context().get_as<std::string>(0);
    return fail(std::move(text));
  }
  if (auto why = internal::check_duration("stable_period", stable_period); !why.empty())
    return fail(std::move(why));
  if (strategy == restart_strategy::dynamic && children.size() != 1)
    return fail("children: the dynamic strategy needs exactly one child spec (got "
                + std::to_string(children.size()) + ")");
  std::unordered_set<std::string> ids;
  for (size_t i = 0; i < children.size(); ++i) {
    auto& spec = children[i];
    if (auto err = spec.validate()) {
      std::string text = "children[" + std::to_string(i) + "].";
      if (err.context().match_elements<std::string>())
        text += err.context().get_as<std::string>(0);
      return fail(std::move(text));
    }
    if (!ids.insert(spec.id).second)
      return caf::make_error(supervisor_errc::duplicate_child_id, spec.id,
                             "children[" + std::to_string(i) + "]");
  }
  for (size_t i = 0; i < observers.size(); ++i)
    if (!observers[i])
      return fail("observers[" + std::to_string(i) + "]: must be a valid actor");
  return caf::none;
}

caf::timespan supervisor_config::shutdown_bound() const {
  caf::timespan result{0};
  if (strategy == restart_strategy::dynamic) {
    for (auto& spec : children)
      result = std::max(result, spec.shutdown.grace());
    return result;
  }
  for (auto& spec : children)
    result += spec.shutdown.grace();
  return result;
}

} // namespace troupe::supervisors
