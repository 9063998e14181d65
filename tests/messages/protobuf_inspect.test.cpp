// The protobuf ⇄ CAF bridge: protobuf messages as CAF message elements.

#include <catch2/catch.hpp>

#include "everything_sample.hpp"

#include <caf/all.hpp>
#include <google/protobuf/util/message_differencer.h>

#include <troupe/messages/message_errc.hpp>
#include <troupe/messages/serialization.hpp>
#include <troupe/testing/deterministic_system.hpp>

using google::protobuf::util::MessageDifferencer;
using troupe::messages::message_errc;
using deterministic_system = troupe::testing::deterministic_system<>;
using troupe::testing::everything_sample;

namespace {

// Echoes an Everything with i32 incremented, proving the handler saw the
// fields the sender set.
caf::behavior incrementer(caf::event_based_actor*) {
  return {
    [](test::v1::Everything x) {
      x.set_i32(x.i32() + 1);
      return x;
    },
  };
}

std::vector<char> serialize(caf::actor_system& sys, const caf::message& msg) {
  std::vector<char> buf;
  REQUIRE(!troupe::messages::serialize(sys, msg, buf));
  return buf;
}

} // namespace

TEST_CASE_METHOD(deterministic_system,
                 "a protobuf message travels by value between local actors",
                 "[messages][bridge]") {
  auto sample = everything_sample();
  auto actor = sys.spawn(incrementer);
  self->send(actor, sample);
  run();
  auto reply = received<test::v1::Everything>();
  REQUIRE(reply);
  auto expected = sample;
  expected.set_i32(sample.i32() + 1);
  CHECK(MessageDifferencer::Equals(std::get<0>(*reply), expected));
}

TEST_CASE("a protobuf message prints as its one-line text format", "[messages][bridge]") {
  test::v1::Ping ping;
  ping.set_seq(7);
  CHECK(caf::to_string(caf::make_message(ping)) == R"__((test.v1.Ping("seq: 7")))__");
}

TEST_CASE_METHOD(deterministic_system,
                 "a protobuf message round-trips through CAF serialization "
                 "with every field intact",
                 "[messages][bridge]") {
  auto sample = everything_sample();
  auto buf = serialize(sys, caf::make_message(caf::ok_atom::value, sample, int32_t{5}));
  caf::message copy;
  REQUIRE(!troupe::messages::deserialize(sys, buf, copy));
  REQUIRE(copy.match_elements<caf::ok_atom, test::v1::Everything, int32_t>());
  CHECK(MessageDifferencer::Equals(copy.get_as<test::v1::Everything>(1), sample));
  CHECK(copy.get_as<test::v1::Everything>(1).has_maybe()); // presence survives
  CHECK(copy.get_as<int32_t>(2) == 5);
}

TEST_CASE_METHOD(deterministic_system,
                 "the serialized message is tagged with the protobuf full name",
                 "[messages][bridge]") {
  auto buf = serialize(sys, caf::make_message(everything_sample()));
  std::string bytes(buf.begin(), buf.end());
  CHECK(bytes.find("test.v1.Everything") != std::string::npos);
}

TEST_CASE_METHOD(deterministic_system,
                 "corrupt protobuf bytes fail with malformed_payload, never "
                 "a default-constructed message",
                 "[messages][bridge]") {
  test::v1::Ping ping;
  ping.set_seq(300); // encodes as 08 AC 02
  auto buf = serialize(sys, caf::make_message(ping));
  // The protobuf payload is the last three bytes. Set the continuation bit
  // of the varint's last byte: the value now runs past the end.
  REQUIRE(buf.size() > 3);
  REQUIRE(static_cast<uint8_t>(buf.back()) == 0x02);
  buf.back() = static_cast<char>(0x82);
  caf::message copy = caf::make_message(caf::ok_atom::value); // sentinel
  auto err = troupe::messages::deserialize(sys, buf, copy);
  REQUIRE(err);
  CHECK(err == caf::make_error(message_errc::malformed_payload));
  CHECK(sys.render(err).find("test.v1.Ping") != std::string::npos);
  CHECK(copy.match_elements<caf::ok_atom>()); // nothing half-decoded escaped
}
