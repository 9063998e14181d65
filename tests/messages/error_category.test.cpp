// One error model: describe() renders every registered category alike, with
// or without an actor system, and is() classifies errors of any category.

#include <catch2/catch.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>

#include <troupe/messages/error_category.hpp>
#include <troupe/messages/message_errc.hpp>

using troupe::messages::describe;
using troupe::messages::is;
using troupe::messages::message_errc;

TEST_CASE("an error renders as category:name with its context in parentheses",
          "[messages][errors]") {
  CHECK(describe(caf::error{}) == "none");
  CHECK(describe(caf::make_error(message_errc::malformed_payload))
        == "trp_msg:malformed_payload");
  CHECK(describe(caf::make_error(message_errc::unknown_message_type, "a.B", 42))
        == "trp_msg:unknown_message_type (a.B, 42)");
  // Nested errors are described the same way.
  auto outer = caf::make_error(message_errc::malformed_message, "inner",
                               caf::make_error(message_errc::unregistered_type, "T"));
  CHECK(describe(outer) == "trp_msg:malformed_message (inner, trp_msg:unregistered_type (T))");
  // CAF's own categories are known too.
  CHECK(describe(caf::make_error(caf::sec::unexpected_message))
        == "system:unexpected_message");
  CHECK(describe(caf::make_error(caf::exit_reason::user_shutdown)) == "exit:user_shutdown");
}

TEST_CASE("an unregistered category renders by its code, an unknown code by its number",
          "[messages][errors]") {
  CHECK(describe(caf::error{3, caf::atom("nobody")}) == "nobody:3");
  CHECK(describe(caf::error{200, caf::atom("trp_msg")}) == "trp_msg:message_errc(200)");
}

TEST_CASE("an error that crossed the wire is described once", "[messages][errors]") {
  auto original = caf::make_error(message_errc::malformed_payload, "a.B");
  // What a receiving node rebuilds: the same code, the sender's text as context.
  caf::error rebuilt{original.code(), original.category(),
                     caf::make_message(describe(original))};
  CHECK(describe(rebuilt) == describe(original));
}

TEST_CASE("actor_system::render uses describe for Troupe categories", "[messages][errors]") {
  caf::actor_system_config cfg;
  troupe::messages::add_error_renderers(cfg);
  caf::actor_system sys{cfg};
  auto err = caf::make_error(message_errc::unknown_message_type, "a.B");
  CHECK(sys.render(err) == describe(err));
}

TEST_CASE("is() matches code and category, never context", "[messages][errors]") {
  auto err = caf::make_error(message_errc::malformed_payload, "x");
  CHECK(is(err, message_errc::malformed_payload));
  CHECK_FALSE(is(err, message_errc::malformed_message));
  CHECK_FALSE(is(caf::error{}, message_errc::malformed_payload));
  // Same code, other category.
  CHECK_FALSE(is(caf::error{err.code(), caf::atom("other")}, message_errc::malformed_payload));
  CHECK(is(caf::make_error(caf::sec::request_timeout), caf::sec::request_timeout));
  CHECK_FALSE(is(caf::make_error(caf::sec::request_timeout), caf::sec::unexpected_message));
}

TEST_CASE("actor_system::render describes CAF's own errors the same way, once",
          "[messages][errors]") {
  caf::actor_system_config cfg;
  troupe::messages::add_error_renderers(cfg);
  caf::actor_system sys{cfg};
  auto err = caf::make_error(caf::sec::runtime_error);
  CHECK(sys.render(err) == "system:runtime_error");
  // As a receiving node rebuilds it: the sender's text is shown once.
  caf::error rebuilt{err.code(), err.category(), caf::make_message(describe(err))};
  CHECK(sys.render(rebuilt) == "system:runtime_error");
}
