// The envelope reader: reads canonical envelope frames in place, agrees with
// protobuf on every field, and leaves everything else to protobuf. No
// sockets.

#include <catch2/catch.hpp>

#include <random>

#include <caf/all.hpp>

#include "transport/src/envelope_reader.hpp"
#include "transport/src/framing.hpp"

#include "support/services.hpp"
#include "troupe/wire.pb.h"

using troupe::transport::internal::append_frame;
using troupe::transport::internal::envelope_fields;
using troupe::transport::internal::envelope_kind;
using troupe::transport::internal::read_envelope_frame;

namespace {

troupe::wire::Frame sample(bool reply = false) {
  troupe::wire::Frame frame;
  auto* env = reply ? frame.mutable_reply() : frame.mutable_envelope();
  env->mutable_sender()->set_node("node-a:1:ab");
  env->mutable_sender()->set_name("client");
  env->mutable_receiver()->set_node("node-b:2:cd");
  env->mutable_receiver()->set_name("echo");
  env->set_type("transport_test.v1.Call");
  env->set_payload(troupe::testing::full_call().SerializeAsString());
  env->set_correlation_id(1ull << 41 | 99);
  env->set_deadline_remaining_us(1'500'000);
  env->mutable_trace()->set_trace_id("trace-7");
  env->mutable_trace()->set_request_id("req-7");
  env->mutable_trace()->set_span_id("00f067aa0ba902b7");
  env->set_attempt(2);
  env->set_method("/transport_test.v1.Echo/Call");
  return frame;
}

/// The frame's bytes without the length prefix.
std::string body_of(const troupe::wire::Frame& frame) {
  return frame.SerializeAsString();
}

/// True if `fields` holds exactly what protobuf parsed into `env`.
bool same(const envelope_fields& fields, const troupe::Envelope& env) {
  return fields.sender_node == env.sender().node() && fields.sender_name == env.sender().name()
    && fields.receiver_node == env.receiver().node()
    && fields.receiver_name == env.receiver().name() && fields.type == env.type()
    && fields.payload == env.payload() && fields.correlation_id == env.correlation_id()
    && fields.deadline_remaining_us == env.deadline_remaining_us()
    && fields.trace_id == env.trace().trace_id()
    && fields.request_id == env.trace().request_id() && fields.span_id == env.trace().span_id()
    && fields.attempt == env.attempt() && fields.method == env.method();
}

} // namespace

TEST_CASE("a canonical envelope frame is read in place with every field",
          "[transport][framing][envelope]") {
  for (bool reply : {false, true}) {
    auto frame = sample(reply);
    auto bytes = body_of(frame);
    envelope_kind kind;
    envelope_fields fields;
    REQUIRE(read_envelope_frame(bytes, kind, fields));
    CHECK(kind == (reply ? envelope_kind::reply : envelope_kind::request));
    CHECK(same(fields, reply ? frame.reply() : frame.envelope()));
    CHECK(fields.method == "/transport_test.v1.Echo/Call");
    CHECK(fields.span_id == "00f067aa0ba902b7");
    // Views into the frame's bytes: nothing was copied.
    CHECK(fields.payload.data() >= bytes.data());
    CHECK(fields.payload.data() < bytes.data() + bytes.size());
  }
}

TEST_CASE("frames outside the canonical form are left to protobuf",
          "[transport][framing][envelope]") {
  envelope_kind kind;
  envelope_fields fields;
  SECTION("other frame kinds") {
    troupe::wire::Frame hb;
    hb.mutable_heartbeat()->set_timestamp_us(5);
    CHECK(!read_envelope_frame(body_of(hb), kind, fields));
    troupe::wire::Frame err;
    err.mutable_error()->set_correlation_id(3);
    CHECK(!read_envelope_frame(body_of(err), kind, fields));
    CHECK(!read_envelope_frame("", kind, fields));
  }
  SECTION("a field twice (protobuf merges or takes the last)") {
    auto bytes = body_of(sample());
    CHECK(!read_envelope_frame(bytes + bytes, kind, fields));
  }
  SECTION("an unknown field") {
    auto frame = sample();
    // Envelope field 100 (a varint 1) appended inside the envelope.
    auto env = frame.envelope().SerializeAsString() + std::string{"\xa0\x06\x01", 3};
    std::string bytes = "\x32"; // Frame.envelope, length-delimited
    for (auto n = env.size();; n >>= 7) {
      bytes += static_cast<char>((n & 0x7F) | (n >= 0x80 ? 0x80 : 0));
      if (n < 0x80)
        break;
    }
    bytes += env;
    troupe::wire::Frame reparsed;
    REQUIRE(reparsed.ParseFromString(bytes));
    CHECK(reparsed.envelope().correlation_id() == frame.envelope().correlation_id());
    CHECK(!read_envelope_frame(bytes, kind, fields));
  }
  SECTION("text that is not ASCII") {
    auto frame = sample();
    frame.mutable_envelope()->mutable_receiver()->set_name("\xc3\xa9"
                                                           "cho"); // "écho"
    CHECK(!read_envelope_frame(body_of(frame), kind, fields));
  }
  SECTION("a truncated frame") {
    auto bytes = body_of(sample());
    for (size_t n = 0; n < bytes.size(); ++n)
      CHECK(!read_envelope_frame(std::string_view{bytes}.substr(0, n), kind, fields));
  }
  SECTION("an over-long varint (found by the envelope fuzzer)") {
    // Frame.envelope with its length 0 written in 7 bytes: protobuf refuses
    // a length in more than 5 bytes; the reader used to take it as an empty
    // envelope.
    std::string bytes{"\x32\x80\x80\x80\x80\x80\x80\x00", 8};
    troupe::wire::Frame reparsed;
    CHECK_FALSE(reparsed.ParseFromString(bytes));
    CHECK(!read_envelope_frame(bytes, kind, fields));
    // Over-long but otherwise fine: a 2-byte length 0 is left to protobuf too.
    CHECK(!read_envelope_frame(std::string{"\x32\x80\x00", 3}, kind, fields));
    // Ten bytes whose value bits are shifted out of 64 (read as 0 before).
    std::string shifted{"\x32\x80\x80\x80\x80\x80\x80\x80\x80\x80\x28", 11};
    CHECK_FALSE(reparsed.ParseFromString(shifted));
    CHECK(!read_envelope_frame(shifted, kind, fields));
  }
}

TEST_CASE("whatever the reader accepts, protobuf parses to the same values",
          "[transport][framing][envelope]") {
  std::mt19937 rng{7};
  auto original = body_of(sample());
  size_t accepted = 0;
  for (int round = 0; round < 20'000; ++round) {
    auto bytes = original;
    // Flip, drop or insert a few bytes.
    auto edits = 1 + rng() % 3;
    for (unsigned e = 0; e < edits && !bytes.empty(); ++e) {
      auto pos = rng() % bytes.size();
      switch (rng() % 3) {
        case 0:
          bytes[pos] = static_cast<char>(rng());
          break;
        case 1:
          bytes.erase(pos, 1);
          break;
        default:
          bytes.insert(pos, 1, static_cast<char>(rng()));
      }
    }
    envelope_kind kind;
    envelope_fields fields;
    if (!read_envelope_frame(bytes, kind, fields))
      continue;
    ++accepted;
    troupe::wire::Frame parsed;
    REQUIRE(parsed.ParseFromString(bytes));
    const auto& env = kind == envelope_kind::request ? parsed.envelope() : parsed.reply();
    REQUIRE((kind == envelope_kind::request ? parsed.has_envelope() : parsed.has_reply()));
    CHECK(same(fields, env));
  }
  // Edits inside the payload, the ids or the numbers keep the frame
  // canonical, so a good share is accepted and compared.
  CHECK(accepted > 1000);
}
