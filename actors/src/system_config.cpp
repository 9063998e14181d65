#include "troupe/actors/system_config.hpp"

#include <caf/actor_system.hpp>
#include <caf/config_option_adder.hpp>
#include <caf/settings.hpp>
#include <caf/thread_hook.hpp>

#include <troupe/messages/error_category.hpp>
#include <troupe/messages/type_registry.hpp>

#include "troupe/actors/heap_retention.hpp"
#include "troupe/actors/log.hpp"

namespace troupe::actors {

namespace {

/// An array, not a pointer: CAF 0.17's string_view takes only arrays when
/// built by clang.
constexpr char trim_threshold_key[] = "troupe.memory.trim-threshold";

/// Applies `troupe.memory.trim-threshold` when the actor system starts,
/// after the command line and config file were read (`heap_retention.hpp`).
class heap_retention_hook final : public caf::thread_hook {
public:
  void init(caf::actor_system& sys) override {
    auto threshold = caf::get_or(sys.config(), trim_threshold_key, default_trim_threshold);
    if (retain_freed_heap(threshold) == heap_retention::left_to_environment)
      logger()->debug("{}: the environment sets malloc's trim threshold; it stays",
                      trim_threshold_key);
  }

  void thread_started() override {
    // nop
  }

  void thread_terminates() override {
    // nop
  }
};

} // namespace

system_config::system_config() {
  troupe::messages::register_message_types(*this);
  // Every error category linked into the program registered itself
  // (TROUPE_ERROR_CODE_ENUM): render them all with `describe`.
  troupe::messages::add_error_renderers(*this);
  opt_group{custom_options_, "troupe.memory"}.add<uint64_t>(
    "trim-threshold", "bytes of freed heap kept for reuse (0: glibc's default)");
  caf::put(content, trim_threshold_key, default_trim_threshold);
  add_thread_hook<heap_retention_hook>();
}

} // namespace troupe::actors
