// cancellation: explicit, typed, carried to cleanup hooks, never swallowed.

#include <catch2/catch.hpp>

#include "probe.hpp"

using namespace std::chrono_literals;
using namespace troupe::supervisors;
using probe::fixture;
using strings = std::vector<std::string>;

namespace {

using go_atom = caf::atom_constant<caf::atom("t_go")>;
using throw_atom = caf::atom_constant<caf::atom("t_throw")>;
using quit_atom = caf::atom_constant<caf::atom("t_quit")>;

/// Registers three hooks that log "hook<n>:<reason>" to the test.
caf::behavior hooked(caf::event_based_actor* self, caf::actor test) {
  auto c = cancellation::install(self);
  for (int i = 1; i <= 3; ++i)
    c->on_cleanup([test, i](const caf::error& reason) {
      auto what = !reason                               ? std::string{"none"}
        : is(reason, stop_reason::cancelled)            ? std::string{"cancelled"}
        : is(reason, stop_reason::shutdown)             ? std::string{"shutdown"}
        : is(reason, supervisor_errc::exception_thrown) ? std::string{"exception"}
        : reason == caf::exit_reason::kill              ? std::string{"kill"}
                                                        : std::string{"other"};
      caf::anon_send(test, probe::note_atom::value, "hook" + std::to_string(i) + ":" + what);
    });
  c->on_cleanup([](const caf::error&) { throw std::runtime_error("a broken hook"); });
  return {
    [=](go_atom) { c->finish(); },
    [=](throw_atom) { throw std::logic_error("handler bug"); },
    [=](quit_atom) { self->quit(); },
    [=](probe::enter_atom) { c->shield(10s); },
    [=](probe::leave_atom) { c->unshield(1); },
    [=](int) { return c->cancelled() ? 1 : 0; },
  };
}

} // namespace

TEST_CASE_METHOD(fixture, "cancellation runs the hooks last-first with the typed reason",
                 "[supervisors][cancellation]") {
  auto a = sys.spawn(hooked, tester());
  watch(a);
  run();
  request_shutdown(a, make_cancelled("t3"));
  // the throwing hook (registered last, runs first) does not stop the others
  CHECK(take_log() == strings{"hook3:cancelled", "hook2:cancelled", "hook1:cancelled"});
  auto reason = down_reason(a);
  REQUIRE(reason);
  CHECK(is(*reason, stop_reason::cancelled)); // never turned into normal
}

TEST_CASE_METHOD(fixture, "a shutdown request is carried to the hooks as shutdown",
                 "[supervisors][cancellation]") {
  auto a = sys.spawn(hooked, tester());
  watch(a);
  run();
  request_shutdown(a);
  CHECK(take_log() == strings{"hook3:shutdown", "hook2:shutdown", "hook1:shutdown"});
  auto reason = down_reason(a);
  REQUIRE(reason);
  CHECK(is(*reason, stop_reason::shutdown));
}

TEST_CASE_METHOD(fixture, "finishing runs the hooks without a reason and exits normally",
                 "[supervisors][cancellation]") {
  auto a = sys.spawn(hooked, tester());
  watch(a);
  run();
  self->send(a, go_atom::value);
  CHECK(take_log() == strings{"hook3:none", "hook2:none", "hook1:none"});
  auto reason = down_reason(a);
  REQUIRE(reason);
  CHECK(!*reason);
}

TEST_CASE_METHOD(fixture, "finishing during a pending cancellation still exits cancelled",
                 "[supervisors][cancellation]") {
  auto a = sys.spawn(hooked, tester());
  watch(a);
  run();
  self->send(a, probe::enter_atom::value);
  run();
  request_shutdown(a, make_cancelled("owner"));
  CHECK(take_log().empty());  // shielded: nothing ran yet
  CHECK(ask<int>(a, 0) == 1); // but the actor knows it is cancelled
  self->send(a, go_atom::value);
  CHECK(take_log() == strings{"hook3:cancelled", "hook2:cancelled", "hook1:cancelled"});
  auto reason = down_reason(a);
  REQUIRE(reason);
  CHECK(is(*reason, stop_reason::cancelled));
}

TEST_CASE_METHOD(fixture, "an exception in a handler becomes a typed error and runs the hooks",
                 "[supervisors][cancellation]") {
  auto a = sys.spawn(hooked, tester());
  watch(a);
  run();
  self->send(a, throw_atom::value);
  CHECK(take_log() == strings{"hook3:exception", "hook2:exception", "hook1:exception"});
  auto reason = down_reason(a);
  REQUIRE(reason);
  CHECK(is(*reason, supervisor_errc::exception_thrown));
  CHECK(sys.render(*reason).find("handler bug") != std::string::npos);
}

TEST_CASE_METHOD(fixture, "a killed actor still runs its hooks as it terminates",
                 "[supervisors][cancellation]") {
  auto a = sys.spawn(hooked, tester());
  watch(a);
  run();
  self->send(a, probe::enter_atom::value); // even a shield cannot stop a kill
  run();
  caf::anon_send_exit(a, caf::exit_reason::kill);
  CHECK(take_log() == strings{"hook3:kill", "hook2:kill", "hook1:kill"});
  auto reason = down_reason(a);
  REQUIRE(reason);
  CHECK(*reason == caf::exit_reason::kill);
}

TEST_CASE_METHOD(fixture, "hooks run exactly once even when the actor quits by itself",
                 "[supervisors][cancellation]") {
  auto a = sys.spawn(hooked, tester());
  watch(a);
  run();
  self->send(a, quit_atom::value);
  CHECK(take_log() == strings{"hook3:none", "hook2:none", "hook1:none"});
  auto reason = down_reason(a);
  REQUIRE(reason); // it did terminate, by itself and normally
  CHECK(!*reason);
  request_shutdown(a); // too late: nothing runs twice
  CHECK(take_log().empty());
}

TEST_CASE_METHOD(fixture, "a normal exit of a linked actor is not a cancellation",
                 "[supervisors][cancellation]") {
  auto a = sys.spawn(hooked, tester());
  watch(a);
  // Two actors linked to `a` that exit with the reason they are sent.
  auto linked_to_a = [a](caf::event_based_actor* s) -> caf::behavior {
    s->link_to(a);
    return {[s](caf::error& reason) { s->quit(std::move(reason)); }};
  };
  auto b = sys.spawn(linked_to_a);
  auto c = sys.spawn(linked_to_a);
  watch(b);
  watch(c);
  run();
  self->send(a, probe::enter_atom::value); // keep it busy in a section
  run();
  // b exits normally: the link delivers an exit message with no error to a
  self->send(b, caf::error{});
  run();
  auto b_reason = down_reason(b);
  REQUIRE(b_reason);
  CHECK(!*b_reason);
  CHECK(ask<int>(a, 0) == 0); // not cancelled, and still alive
  CHECK(take_log().empty());
  CHECK(!down_reason(a));
  // an exit message with reason `normal` sent directly is none either
  request_shutdown(a, caf::exit_reason::normal);
  CHECK(ask<int>(a, 0) == 0);
  CHECK(take_log().empty());
  // the same link does carry a real stop reason: c stops cancelled, so is a
  self->send(c, make_cancelled("c"));
  run();
  CHECK(ask<int>(a, 0) == 1); // pending: the section is still open
  CHECK(take_log().empty());
  self->send(a, probe::leave_atom::value);
  CHECK(take_log() == strings{"hook3:cancelled", "hook2:cancelled", "hook1:cancelled"});
  auto a_reason = down_reason(a);
  REQUIRE(a_reason);
  CHECK(is(*a_reason, stop_reason::cancelled));
  CHECK(alive() == 0);
}
