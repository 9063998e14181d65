// Protobuf payloads: full name + wire bytes, the transport's unit.

#include <catch2/catch.hpp>

#include "everything_sample.hpp"
#include "test/v1/unregistered.pb.h"

#include <caf/all.hpp>
#include <google/protobuf/util/message_differencer.h>

#include <troupe/messages/message_errc.hpp>
#include <troupe/messages/protobuf_inspect.hpp>
#include <troupe/messages/protobuf_payload.hpp>

using google::protobuf::util::MessageDifferencer;
using troupe::messages::decode_payload;
using troupe::messages::encode_payload;
using troupe::messages::message_errc;
using troupe::messages::protobuf_payload;
using troupe::testing::everything_sample;

TEST_CASE("a payload round-trips a registered message with every field intact",
          "[messages][payload]") {
  auto sample = everything_sample();
  protobuf_payload payload;
  REQUIRE(!encode_payload(caf::make_message(sample), payload));
  CHECK(payload.type == "test.v1.Everything");
  test::v1::Everything parsed; // plain protobuf reads the bytes: no CAF framing
  REQUIRE(parsed.ParseFromString(payload.bytes));
  CHECK(MessageDifferencer::Equals(parsed, sample));
  caf::message out;
  REQUIRE(!decode_payload(payload, out));
  REQUIRE(out.match_elements<test::v1::Everything>());
  CHECK(MessageDifferencer::Equals(out.get_as<test::v1::Everything>(0), sample));
}

TEST_CASE("encode_payload refuses anything but one registered protobuf message",
          "[messages][payload]") {
  protobuf_payload payload{"unchanged", "unchanged"};
  SECTION("two elements") {
    CHECK(encode_payload(caf::make_message(test::v1::Ping{}, int32_t{1}), payload)
          == caf::make_error(message_errc::not_a_protobuf_message));
  }
  SECTION("a built-in type") {
    CHECK(encode_payload(caf::make_message(std::string{"text"}), payload)
          == caf::make_error(message_errc::not_a_protobuf_message));
  }
  SECTION("an empty message") {
    CHECK(encode_payload(caf::message{}, payload)
          == caf::make_error(message_errc::not_a_protobuf_message));
  }
  SECTION("an unregistered protobuf class") {
    CHECK(encode_payload(caf::make_message(test::v1::Stranger{}), payload)
          == caf::make_error(message_errc::unregistered_type));
  }
  CHECK(payload.type == "unchanged");
}

TEST_CASE("decode_payload names what it cannot decode", "[messages][payload]") {
  auto out = caf::make_message(caf::ok_atom::value);
  SECTION("an unknown type name") {
    CHECK(decode_payload({"no.such.Type", ""}, out)
          == caf::make_error(message_errc::unknown_message_type));
  }
  SECTION("bytes that are not the named type") {
    CHECK(decode_payload({"test.v1.Ping", std::string{"\x00\x01\x02", 3}}, out)
          == caf::make_error(message_errc::malformed_payload));
  }
  SECTION("a truncated length-delimited field") {
    auto bytes = everything_sample().SerializeAsString();
    bytes.resize(bytes.size() - 1);
    CHECK(decode_payload({"test.v1.Everything", bytes}, out)
          == caf::make_error(message_errc::malformed_payload));
  }
  CHECK(out.match_elements<caf::ok_atom>()); // untouched on every error
}
