// exception_reason: a hand-written actor keeps its exception's text in its
// exit reason with the one line the docs show.

#include <catch2/catch.hpp>

#include <stdexcept>

#include <troupe/messages/error_category.hpp>
#include <troupe/supervisors/exception_reason.hpp>
#include <troupe/supervisors/supervisor_errc.hpp>

#include "probe.hpp"

using troupe::supervisors::supervisor_errc;

TEST_CASE_METHOD(probe::fixture, "a handler that throws exits with the exception's text",
                 "[supervisors][exception_reason]") {
  auto worker = sys.spawn([](caf::event_based_actor* self) -> caf::behavior {
    self->set_exception_handler(troupe::supervisors::exception_reason);
    return {[](int) { throw std::runtime_error("pricing table corrupted"); }};
  });
  auto plain = sys.spawn(
    []() -> caf::behavior { return {[](int) { throw std::runtime_error("lost text"); }}; });
  self->monitor(worker);
  self->monitor(plain);
  caf::anon_send(worker, 1);
  caf::anon_send(plain, 1);
  collect();
  REQUIRE(downs.count(worker.id()) == 1);
  auto reason = downs[worker.id()];
  CHECK(troupe::messages::is(reason, supervisor_errc::exception_thrown));
  CHECK(troupe::messages::describe(reason).find("pricing table corrupted")
        != std::string::npos);
  // Without it, CAF 0.17 keeps only a bare runtime_error.
  REQUIRE(downs.count(plain.id()) == 1);
  CHECK(troupe::messages::describe(downs[plain.id()]).find("lost text") == std::string::npos);
}
