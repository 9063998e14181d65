// supervisor_config: bad input is a typed error at construction, never a
// crash, and nothing is spawned.

#include <catch2/catch.hpp>

#include "probe.hpp"

using namespace std::chrono_literals;
using namespace troupe::supervisors;
using probe::fixture;
using troupe::actors::backoff;

namespace {

supervisor_config valid(caf::actor test) {
  supervisor_config cfg;
  cfg.name = "sup";
  cfg.children = {{"a", probe::start(test)}, {"b", probe::start(test)}};
  return cfg;
}

std::string field_of(const caf::error& err) {
  if (err && err.context().size() > 0 && err.context().match_element<std::string>(0))
    return err.context().get_as<std::string>(0);
  return {};
}

} // namespace

TEST_CASE_METHOD(fixture, "invalid supervisor configs are refused with a typed error",
                 "[supervisors][supervisor_config][bad_input]") {
  auto cfg = valid(tester());
  REQUIRE(!cfg.validate());
  caf::error err;
  std::string field;
  SECTION("duplicate child ids") {
    cfg.children[1].id = "a";
    err = spawn_supervisor(sys, cfg).error();
    CHECK(is(err, supervisor_errc::duplicate_child_id));
    field = "a";
  }
  SECTION("a zero intensity window") {
    cfg.intensity.window = 0s;
    err = spawn_supervisor(sys, cfg).error();
    CHECK(is(err, supervisor_errc::invalid_config));
    field = "intensity.window";
  }
  SECTION("a negative shutdown timeout") {
    cfg.children[1].shutdown = shutdown_policy::timeout(-5s);
    err = spawn_supervisor(sys, cfg).error();
    CHECK(is(err, supervisor_errc::invalid_config));
    field = "children[1].shutdown timeout";
  }
  SECTION("a missing start function") {
    cfg.children[0].start = nullptr;
    err = spawn_supervisor(sys, cfg).error();
    CHECK(is(err, supervisor_errc::invalid_config));
    field = "children[0].start";
  }
  SECTION("a negative stable period") {
    cfg.stable_period = -1ms;
    err = spawn_supervisor(sys, cfg).error();
    CHECK(is(err, supervisor_errc::invalid_config));
    field = "stable_period";
  }
  SECTION("a backoff whose cap is below its base") {
    cfg.restart_backoff = backoff::exponential(1s, 10ms);
    err = spawn_supervisor(sys, cfg).error();
    CHECK(is(err, supervisor_errc::invalid_config));
    field = "restart_backoff";
  }
  SECTION("a name with a slash") {
    cfg.name = "a/b";
    err = spawn_supervisor(sys, cfg).error();
    CHECK(is(err, supervisor_errc::invalid_config));
    field = "name";
  }
  SECTION("a dynamic supervisor without exactly one template") {
    cfg.strategy = restart_strategy::dynamic;
    err = spawn_supervisor(sys, cfg).error();
    CHECK(is(err, supervisor_errc::invalid_config));
    field = "children";
  }
  SECTION("an invalid observer") {
    cfg.observers.push_back(caf::actor{});
    err = spawn_supervisor(sys, cfg).error();
    CHECK(is(err, supervisor_errc::invalid_config));
    field = "observers[0]";
  }
  CAPTURE(sys.render(err));
  CHECK(field_of(err).find(field) == 0);
  run();
  CHECK(alive() == 0); // nothing was spawned
}

TEST_CASE("the shutdown bound sums the children's timeouts",
          "[supervisors][supervisor_config]") {
  supervisor_config cfg;
  auto start = [](const start_context&) -> caf::expected<caf::actor> { return caf::actor{}; };
  cfg.children = {{"a", start}, {"b", start}, {"c", start}};
  cfg.children[0].shutdown = shutdown_policy::timeout(1s);
  cfg.children[1].shutdown = shutdown_policy::brutal_kill();
  cfg.children[2].shutdown = shutdown_policy::timeout(250ms);
  CHECK(cfg.shutdown_bound() == 1250ms);
  cfg.strategy = restart_strategy::dynamic;
  cfg.children.resize(1);
  CHECK(cfg.shutdown_bound() == 1s); // dynamic children stop in parallel
  auto nested = supervisor_child("n", cfg);
  CHECK(nested.kind == child_kind::supervisor);
  CHECK(nested.shutdown == shutdown_policy::timeout(1s));
}
