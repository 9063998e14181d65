#include "troupe/supervisors/scope_report.hpp"

namespace troupe::supervisors {

bool scope_report::ok() const noexcept {
  return !cancelled_by && count(task_status::succeeded) == outcomes.size();
}

size_t scope_report::count(task_status status) const noexcept {
  size_t result = 0;
  for (auto& x : outcomes)
    if (x.status == status)
      ++result;
  return result;
}

std::vector<task_outcome> scope_report::failures() const {
  std::vector<task_outcome> result;
  for (auto& x : outcomes)
    if (x.status == task_status::failed)
      result.push_back(x);
  return result;
}

const task_outcome* scope_report::find(const std::string& id) const noexcept {
  for (auto& x : outcomes)
    if (x.id == id)
      return &x;
  return nullptr;
}

} // namespace troupe::supervisors
