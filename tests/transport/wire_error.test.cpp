// Typed errors survive the wire: category + code + text.

#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include <troupe/actors/fetch_errc.hpp>
#include <troupe/actors/flow_errc.hpp>
#include <troupe/messages/message_errc.hpp>
#include <troupe/supervisors/stop_reason.hpp>
#include <troupe/supervisors/supervisor_errc.hpp>
#include <troupe/transport/system_config.hpp>
#include <troupe/transport/transport_errc.hpp>
#include <troupe/transport/wire_error.hpp>

#include "troupe/error.pb.h"

using namespace troupe::transport;
using troupe::messages::describe;

namespace {

caf::error round_trip(const caf::error& err) {
  troupe::Error wire;
  to_wire_error(err, describe(err), wire);
  return from_wire_error(wire);
}

} // namespace

TEST_CASE("errors of every Troupe category round-trip by category and code",
          "[transport][errors]") {
  CHECK(round_trip(caf::make_error(transport_errc::unknown_actor, "x"))
        == transport_errc::unknown_actor);
  CHECK(round_trip(caf::make_error(troupe::messages::message_errc::unknown_message_type))
        == troupe::messages::message_errc::unknown_message_type);
  CHECK(round_trip(caf::make_error(troupe::actors::flow_errc::deadline_exceeded))
        == troupe::actors::flow_errc::deadline_exceeded);
  CHECK(round_trip(caf::make_error(caf::sec::unexpected_message))
        == caf::sec::unexpected_message);
}

TEST_CASE("a category that is no CAF atom becomes remote_error", "[transport][errors]") {
  troupe::Error wire;
  wire.set_category("a-very-long-category");
  wire.set_code(3);
  wire.set_message("boom");
  CHECK(from_wire_error(wire) == transport_errc::remote_error);
}

TEST_CASE("transport errors render by name", "[transport][errors]") {
  system_config cfg;
  caf::actor_system sys{cfg};
  auto text = sys.render(caf::make_error(transport_errc::frame_too_large, "2147483648"));
  CHECK(text.find("frame_too_large") != std::string::npos);
  CHECK(describe(caf::make_error(transport_errc::peer_timeout)) == "trp_net:peer_timeout");
}

TEST_CASE("an error that crossed the wire describes itself once", "[transport][errors]") {
  auto plain = caf::make_error(transport_errc::node_stopped);
  CHECK(describe(round_trip(plain)) == "trp_net:node_stopped");
  auto with_context = caf::make_error(transport_errc::frame_too_large, "2147483648");
  CHECK(describe(round_trip(with_context)) == describe(with_context));
  // A context of other text is still shown after the code.
  troupe::Error wire;
  wire.set_category("trp_net");
  wire.set_code(static_cast<uint32_t>(transport_errc::peer_lost));
  wire.set_message("socket reset");
  CHECK(describe(from_wire_error(wire)) == "trp_net:peer_lost (socket reset)");
}

TEST_CASE("an error of any Troupe category renders the same in logs, through the "
          "actor system and on the wire",
          "[transport][errors]") {
  system_config cfg;
  caf::actor_system sys{cfg};
  using troupe::messages::is;
  std::vector<caf::error> errors{
    caf::make_error(troupe::messages::message_errc::malformed_payload, "a.B"),
    caf::make_error(troupe::actors::flow_errc::mailbox_full, 16),
    caf::make_error(troupe::actors::fetch_errc::circuit_open, "db"),
    caf::make_error(troupe::supervisors::supervisor_errc::intensity_exceeded, "root/db"),
    troupe::supervisors::make_shutdown("root"),
    caf::make_error(transport_errc::unknown_actor, "pricing"),
  };
  for (auto& err : errors) {
    auto text = describe(err);
    CAPTURE(text);
    CHECK(sys.render(err) == text);
    troupe::Error wire;
    to_wire_error(err, text, wire);
    CHECK(wire.message() == text);
    auto back = from_wire_error(wire);
    CHECK(back == err); // category and code
    CHECK(describe(back) == text);
  }
  CHECK(describe(errors[1]) == "trp_flow:mailbox_full (16)");
  CHECK(is(errors[0], troupe::messages::message_errc::malformed_payload));
  CHECK(is(errors[1], troupe::actors::flow_errc::mailbox_full));
  CHECK(is(errors[2], troupe::actors::fetch_errc::circuit_open));
  CHECK(is(errors[3], troupe::supervisors::supervisor_errc::intensity_exceeded));
  CHECK(is(errors[4], troupe::supervisors::stop_reason::shutdown));
  CHECK(is(errors[5], transport_errc::unknown_actor));
  CHECK_FALSE(is(errors[5], transport_errc::peer_lost));
}

TEST_CASE("every transport error code has a name", "[transport][errors]") {
  for (int i = 0; i <= static_cast<int>(transport_errc::too_many_connections); ++i)
    CHECK(to_string(static_cast<transport_errc>(i)).find('(') == std::string::npos);
}
