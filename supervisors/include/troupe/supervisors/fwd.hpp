#pragma once

/// Forward declarations of every public type of `troupe::supervisors`.

#include <cstdint>

namespace troupe::supervisors {

class cancellation;
class restart_intensity_window;
class shutdown_policy;
class system_config;

struct child_info;
struct child_spec;
struct graceful_shutdown_config;
struct restart_intensity;
struct scope_config;
struct scope_report;
struct start_context;
struct supervision_event;
struct supervisor_config;
struct task_outcome;
struct task_spec;

enum class child_kind : uint8_t;
enum class event_kind : uint8_t;
enum class restart_strategy : uint8_t;
enum class restart_type : uint8_t;
enum class scope_mode : uint8_t;
enum class stop_reason : uint8_t;
enum class supervisor_errc : uint8_t;
enum class task_status : uint8_t;

} // namespace troupe::supervisors
