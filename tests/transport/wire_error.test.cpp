// Typed errors survive the wire: category + code + text.

#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include <troupe/actors/flow_errc.hpp>
#include <troupe/messages/message_errc.hpp>
#include <troupe/transport/system_config.hpp>
#include <troupe/transport/transport_errc.hpp>
#include <troupe/transport/wire_error.hpp>

#include "troupe/error.pb.h"

using namespace troupe::transport;

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

TEST_CASE("an error that crossed the wire describes itself once",
          "[transport][errors]") {
  auto plain = caf::make_error(transport_errc::node_stopped);
  CHECK(describe(round_trip(plain)) == "trp_net:node_stopped");
  auto with_context = caf::make_error(transport_errc::frame_too_large, "2147483648");
  CHECK(describe(round_trip(with_context)) == describe(with_context));
  // A context of other text is still shown after the code.
  troupe::Error wire;
  wire.set_category("trp_net");
  wire.set_code(static_cast<uint32_t>(transport_errc::peer_lost));
  wire.set_message("socket reset");
  CHECK(describe(from_wire_error(wire)) == "trp_net:peer_lost (\"socket reset\")");
}
