#include "troupe/actors/retry_policy.hpp"

#include <algorithm>

#include <troupe/messages/error_category.hpp>

#include "troupe/actors/fetch_errc.hpp"
#include "troupe/actors/flow_errc.hpp"

namespace troupe::actors {

retry_policy retry_policy::never() {
  return retry_policy{1, backoff::none()};
}

retry_policy retry_policy::up_to(uint32_t max_attempts, backoff delays) {
  return retry_policy{max_attempts, delays};
}

retry_policy retry_policy::retry_on(std::initializer_list<caf::error> errors) const {
  auto result = *this;
  result.retryable_.assign(errors.begin(), errors.end());
  return result;
}

caf::error retry_policy::validate() const {
  if (max_attempts_ == 0)
    return caf::make_error(flow_errc::invalid_config,
                           "retry_policy: max_attempts must be >= 1 (got 0)");
  return delays_.validate();
}

bool retry_policy::should_retry(uint32_t attempts_made, const caf::error& err) const {
  if (!err || attempts_made >= max_attempts_)
    return false;
  if (retryable_.empty())
    return true;
  // caf::error's operator== compares code and category, not the context.
  return std::any_of(retryable_.begin(), retryable_.end(), [&](const caf::error& x) {
    return x.code() == err.code() && x.category() == err.category();
  });
}

caf::error retry_policy::final_error(uint32_t attempts_made, caf::error err) const {
  // Retryable in kind (ignoring the attempt count) and retried: the
  // attempts ran out. Otherwise the error speaks for itself.
  if (attempts_made > 1 && should_retry(0, err))
    return caf::make_error(fetch_errc::retries_exhausted, messages::describe(err));
  return err;
}

} // namespace troupe::actors
