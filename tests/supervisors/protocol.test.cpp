// protocol: the supervisor and scope protocols are types. What a supervisor
// or scope accepts, and what it replies, is checked by the compiler with the
// same test CAF's send and request make (static_asserts below); the ctest
// entries "supervisors: a wrong message to a supervisor does not compile"
// compile protocol_misuse.cpp and expect CAF's static_assert. At run time a
// supervisor answers every message of its interface through the typed handle.

#include <catch2/catch.hpp>

#include <string>
#include <type_traits>
#include <vector>

#include <caf/response_type.hpp>

#include <troupe/actors/observers.hpp>

#include "probe.hpp"

using namespace troupe::supervisors;
using probe::fixture;
using troupe::actors::subscribe_atom;
using troupe::actors::unsubscribe_atom;
using strings = std::vector<std::string>;

namespace {

/// True if a `Handle` accepts the message `(Ts...)`.
template <class Handle, class... Ts>
constexpr bool accepts = caf::response_type<caf::signatures_of_t<Handle>, Ts...>::valid;

/// The reply types to `(Ts...)` through a `Handle`.
template <class Handle, class... Ts>
using reply_of = caf::response_type_t<caf::signatures_of_t<Handle>, Ts...>;

template <class... Ts>
using reply = caf::detail::type_list<Ts...>;

/// What a parent supervisor asks of a child of kind `supervisor`.
using ready_only = caf::typed_actor<caf::replies_to<ready_atom>::with<caf::ok_atom>>;

/// True if `Handle` offers every message of `Interface`. (Not
/// std::is_convertible: typed_actor's converting constructor is not
/// constrained in CAF 0.17, it fails in its body.)
template <class Handle, class Interface>
constexpr bool offers = caf::detail::tl_subset_of<typename Interface::signatures,
                                                  typename Handle::signatures>::value;

// -- the supervisor -----------------------------------------------------------

static_assert(
  std::is_same_v<reply_of<supervisor_actor, start_child_atom, child_spec>, reply<caf::actor>>);
static_assert(std::is_same_v<reply_of<supervisor_actor, start_child_atom, caf::message>,
                             reply<caf::actor>>);
static_assert(std::is_same_v<reply_of<supervisor_actor, stop_child_atom, std::string>,
                             reply<caf::ok_atom>>);
static_assert(std::is_same_v<reply_of<supervisor_actor, stop_child_atom, caf::actor>,
                             reply<caf::ok_atom>>);
static_assert(std::is_same_v<reply_of<supervisor_actor, which_children_atom>,
                             reply<std::vector<child_info>>>);
static_assert(
  std::is_same_v<reply_of<supervisor_actor, subscribe_atom, caf::actor>, reply<caf::ok_atom>>);
static_assert(std::is_same_v<reply_of<supervisor_actor, unsubscribe_atom, caf::actor>,
                             reply<caf::ok_atom>>);
static_assert(std::is_same_v<reply_of<supervisor_actor, ready_atom>, reply<caf::ok_atom>>);
static_assert(offers<supervisor_actor, ready_only>,
              "a supervisor can be a supervisor-kind child");

// Wrong messages: each would fail `send`/`request` with "receiver does not
// accept given message".
static_assert(!accepts<supervisor_actor, stop_child_atom, int>, "a child id is a string");
static_assert(!accepts<supervisor_actor, start_child_atom, task_spec>, "a scope's message");
static_assert(!accepts<supervisor_actor, await_atom>, "a scope's message");
static_assert(!accepts<supervisor_actor, subscribe_atom>, "subscribe names its observer");
static_assert(!accepts<supervisor_actor, which_children_atom, std::string>);

// -- the scope ----------------------------------------------------------------

static_assert(
  std::is_same_v<reply_of<scope_actor, start_child_atom, task_spec>, reply<caf::actor>>);
static_assert(std::is_same_v<reply_of<scope_actor, await_atom>, reply<scope_report>>);
static_assert(std::is_same_v<reply_of<scope_actor, ready_atom>, reply<caf::ok_atom>>);
static_assert(offers<scope_actor, ready_only>, "a scope can be a supervisor-kind child");

static_assert(!accepts<scope_actor, start_child_atom, child_spec>, "a supervisor's message");
static_assert(!accepts<scope_actor, which_children_atom>, "a supervisor's message");
static_assert(!accepts<scope_actor, subscribe_atom, caf::actor>, "a scope reports no events");

// -- what spawning returns ----------------------------------------------------

static_assert(std::is_same_v<decltype(spawn_supervisor(std::declval<caf::actor_system&>(),
                                                       supervisor_config{})),
                             caf::expected<supervisor_actor>>);
static_assert(
  std::is_same_v<decltype(spawn_scope(std::declval<caf::actor_system&>(), scope_config{})),
                 caf::expected<scope_actor>>);

} // namespace

TEST_CASE_METHOD(fixture, "a supervisor answers every message of its interface",
                 "[supervisors][protocol]") {
  using namespace std::chrono_literals;
  supervisor_config cfg;
  cfg.name = "typed";
  cfg.children = {{"a", probe::start(tester())}};
  auto sup = spawn_supervisor(sys, cfg);
  REQUIRE(sup);
  REQUIRE(take_log() == strings{"start:a"});
  CHECK(ask<caf::ok_atom>(*sup, ready_atom::value));
  CHECK(ask<caf::ok_atom>(*sup, subscribe_atom::value, tester()));
  auto b =
    ask<caf::actor>(*sup, start_child_atom::value, child_spec{"b", probe::start(tester())});
  REQUIRE(b);
  CHECK(take_log() == strings{"start:b"});
  CHECK(take_events() == strings{"b:started"});
  auto children = ask<std::vector<child_info>>(*sup, which_children_atom::value);
  REQUIRE(children);
  REQUIRE(children->size() == 2);
  CHECK((*children)[1].handle == *b);
  CHECK(ask<caf::ok_atom>(*sup, stop_child_atom::value, *b)); // by handle
  CHECK(take_log() == strings{"stop:b"});
  CHECK(take_events() == strings{"b:stopped"});
  CHECK(ask<caf::ok_atom>(*sup, stop_child_atom::value, std::string{"a"})); // by id
  CHECK(take_log() == strings{"stop:a"});
  CHECK(ask<caf::ok_atom>(*sup, unsubscribe_atom::value, tester()));
  CHECK(take_events() == strings{"a:stopped"});
  auto unknown = ask<caf::ok_atom>(*sup, stop_child_atom::value, *b);
  CHECK(is(unknown.error(), supervisor_errc::unknown_child));
  request_shutdown(*sup);
  run();
  CHECK(take_events().empty()); // unsubscribed
  CHECK(alive() == 0);
}
