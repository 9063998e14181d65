// system_config: supervision errors render by name, nested causes included.

#include <catch2/catch.hpp>

#include <caf/actor_system.hpp>

#include "probe.hpp"

using namespace troupe::supervisors;
using probe::fixture;

TEST_CASE_METHOD(fixture, "supervision errors and stop reasons render by name",
                 "[supervisors][system_config]") {
  auto text = sys.render(
    caf::make_error(supervisor_errc::intensity_exceeded, "root/db", "3 restarts in 10s"));
  CHECK(text == "trp_sup:intensity_exceeded (root/db, 3 restarts in 10s)");
  CHECK(sys.render(make_shutdown("root")) == "trp_stop:shutdown (root)");
  auto nested = make_cancelled(
    "t3", caf::make_error(supervisor_errc::exception_thrown, std::string{"boom"}));
  CHECK(sys.render(nested) == "trp_stop:cancelled (t3, trp_sup:exception_thrown (boom))");
  CHECK(sys.render(caf::make_error(static_cast<stop_reason>(130))) == "trp_stop:user(130)");
}

TEST_CASE("every enumerator has a name", "[supervisors][system_config]") {
  for (int i = 0; i <= static_cast<int>(supervisor_errc::scope_failed); ++i)
    CHECK(to_string(static_cast<supervisor_errc>(i)).find('(') == std::string::npos);
  CHECK(to_string(stop_reason::cancelled) == "cancelled");
  CHECK(to_string(event_kind::intensity_exceeded) == "intensity_exceeded");
  CHECK(to_string(restart_strategy::dynamic) == "dynamic");
  CHECK(to_string(scope_mode::isolate) == "isolate");
  CHECK(to_string(task_status::cancelled) == "cancelled");
}

TEST_CASE("stop reasons are normal stops, failures are not", "[supervisors][system_config]") {
  CHECK(is_normal_stop(caf::error{}));
  CHECK(is_normal_stop(caf::exit_reason::user_shutdown));
  CHECK(is_normal_stop(make_shutdown("x")));
  CHECK(is_normal_stop(make_cancelled("x")));
  CHECK_FALSE(is_normal_stop(caf::exit_reason::kill));
  CHECK_FALSE(is_normal_stop(caf::sec::runtime_error));
  CHECK_FALSE(is_normal_stop(caf::make_error(supervisor_errc::intensity_exceeded)));
  CHECK(is(make_cancelled("x"), stop_reason::cancelled));
  CHECK_FALSE(is(make_cancelled("x"), stop_reason::shutdown));
  CHECK_FALSE(is(caf::error{}, supervisor_errc::none));
}
