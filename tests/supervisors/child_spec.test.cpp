// child_spec, shutdown_policy: values, printing, and validation that names
// the bad field.

#include <catch2/catch.hpp>

#include <caf/actor.hpp>

#include <troupe/supervisors/child_spec.hpp>
#include <troupe/supervisors/supervisor_errc.hpp>

using namespace std::chrono_literals;
using namespace troupe::supervisors;

namespace {

start_function never_called() {
  return [](const start_context&) -> caf::expected<caf::actor> { return caf::actor{}; };
}

std::string context_of(const caf::error& err) {
  if (err && err.context().match_elements<std::string>())
    return err.context().get_as<std::string>(0);
  return {};
}

} // namespace

TEST_CASE("a child spec defaults to a permanent worker with a 5 s shutdown timeout",
          "[supervisors][child_spec]") {
  child_spec spec{"db", never_called()};
  CHECK(spec.restart == restart_type::permanent);
  CHECK(spec.kind == child_kind::worker);
  CHECK(spec.shutdown == shutdown_policy::timeout(5s));
  CHECK_FALSE(spec.shutdown.is_brutal_kill());
  CHECK(!spec.validate());
}

TEST_CASE("shutdown policies compare and print", "[supervisors][child_spec]") {
  CHECK(shutdown_policy::brutal_kill().is_brutal_kill());
  CHECK(shutdown_policy::brutal_kill().grace() == 0s);
  CHECK(shutdown_policy::timeout(2s) != shutdown_policy::timeout(3s));
  CHECK(shutdown_policy::timeout(0s) != shutdown_policy::brutal_kill());
  CHECK(to_string(shutdown_policy::brutal_kill()) == "brutal_kill");
  CHECK(to_string(shutdown_policy::timeout(2s)).find("timeout(") == 0);
  CHECK(to_string(restart_type::transient) == "transient");
  CHECK(to_string(child_kind::supervisor) == "supervisor");
}

TEST_CASE("invalid child specs are refused with a typed error naming the field",
          "[supervisors][child_spec][bad_input]") {
  SECTION("empty id") {
    auto err = child_spec{"", never_called()}.validate();
    CHECK(is(err, supervisor_errc::invalid_config));
    CHECK(context_of(err).find("id") == 0);
  }
  SECTION("id with a slash") {
    auto err = child_spec{"a/b", never_called()}.validate();
    CHECK(is(err, supervisor_errc::invalid_config));
    CHECK(context_of(err).find("'/'") != std::string::npos);
  }
  SECTION("no start function") {
    auto err = child_spec{"db", nullptr}.validate();
    CHECK(is(err, supervisor_errc::invalid_config));
    CHECK(context_of(err).find("start") == 0);
  }
  SECTION("negative shutdown timeout") {
    child_spec spec{"db", never_called()};
    spec.shutdown = shutdown_policy::timeout(-1s);
    auto err = spec.validate();
    CHECK(is(err, supervisor_errc::invalid_config));
    CHECK(context_of(err).find("shutdown timeout") == 0);
    CHECK(is(spec.shutdown.validate(), supervisor_errc::invalid_config));
  }
}

TEST_CASE("a significant child must be transient or temporary", "[supervisors][child_spec]") {
  child_spec spec{"a", never_called()};
  spec.significant = true;
  auto err = spec.validate();
  CHECK(err == supervisor_errc::invalid_config);
  CHECK(context_of(err).find("significant") != std::string::npos);
  spec.restart = restart_type::transient;
  CHECK_FALSE(spec.validate());
  spec.restart = restart_type::temporary;
  CHECK_FALSE(spec.validate());
}
