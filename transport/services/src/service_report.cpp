#include "troupe/services/service_report.hpp"

#include <chrono>

namespace troupe::services {

void method_stats::record(caf::timespan took, rpc_errc status) noexcept {
  auto seconds = std::chrono::duration<double>(took).count();
  size_t i = 0;
  while (i < bucket_bounds.size() && seconds > bucket_bounds[i])
    ++i;
  ++buckets[i];
  latency_sum += took;
  auto code = static_cast<size_t>(status);
  ++by_status[code < status_count ? code : static_cast<size_t>(rpc_errc::unknown)];
}

void method_stats::record(caf::timespan took, const caf::error& answer) {
  record(took, answer ? static_cast<rpc_errc>(to_status(answer).code()) : rpc_errc::none);
}

uint64_t method_stats::answered() const noexcept {
  uint64_t n = 0;
  for (auto x : buckets)
    n += x;
  return n;
}

std::string method_stats::status_name(size_t code) {
  return code == 0 ? std::string{"ok"} : to_string(static_cast<rpc_errc>(code));
}

} // namespace troupe::services
