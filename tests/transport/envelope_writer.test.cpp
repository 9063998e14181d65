// The envelope writer: envelope frames encoded in place must be exactly what
// protobuf's own serializer writes for the same fields. No sockets.

#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include "transport/src/envelope_writer.hpp"
#include "transport/src/framing.hpp"
#include <troupe/transport/transport_errc.hpp>

#include "support/services.hpp"
#include "troupe/wire.pb.h"

using troupe::transport::transport_errc;
using troupe::transport::internal::append_address_fields;
using troupe::transport::internal::append_envelope_frame;
using troupe::transport::internal::append_frame;
using troupe::transport::internal::append_trace_fields;
using troupe::transport::internal::envelope_kind;
using troupe::transport::internal::envelope_view;

namespace {

/// The same envelope built with protobuf and written with append_frame.
std::string with_protobuf(envelope_kind kind, const troupe::testing::Call* payload,
                          uint64_t corr, int64_t deadline, const std::string& trace_id,
                          const std::string& request_id, uint32_t attempt,
                          const std::string& span_id = "", const std::string& method = "") {
  troupe::wire::Frame frame;
  auto* env =
    kind == envelope_kind::request ? frame.mutable_envelope() : frame.mutable_reply();
  env->mutable_sender()->set_node("node-a:1:ab");
  env->mutable_receiver()->set_node("node-b:2:cd");
  env->mutable_receiver()->set_name("echo");
  if (payload != nullptr) {
    env->set_type("transport_test.v1.Call");
    env->set_payload(payload->SerializeAsString());
  }
  env->set_correlation_id(corr);
  env->set_deadline_remaining_us(deadline);
  env->mutable_trace()->set_trace_id(trace_id);
  env->mutable_trace()->set_request_id(request_id);
  env->mutable_trace()->set_span_id(span_id);
  env->set_attempt(attempt);
  env->set_method(method);
  std::string out;
  REQUIRE(!append_frame(frame, 1u << 20, out));
  return out;
}

std::string with_writer(envelope_kind kind, const troupe::testing::Call* payload,
                        bool as_bytes, uint64_t corr, int64_t deadline,
                        const std::string& trace_id, const std::string& request_id,
                        uint32_t attempt, const std::string& span_id = "",
                        const std::string& method = "") {
  std::string addresses;
  append_address_fields("node-a:1:ab", "", "node-b:2:cd", "echo", addresses);
  std::string trace;
  if (span_id.empty() && method.empty())
    append_trace_fields(trace_id, request_id, attempt, trace);
  else
    append_trace_fields(troupe::transport::internal::trace_fields{trace_id, request_id,
                                                                  span_id, attempt, method},
                        trace);
  std::string bytes = payload != nullptr ? payload->SerializeAsString() : "";
  envelope_view env;
  env.addresses = addresses;
  if (payload != nullptr) {
    env.type = "transport_test.v1.Call";
    if (as_bytes)
      env.payload_bytes = bytes;
    else
      env.payload = payload;
  }
  env.correlation_id = corr;
  env.deadline_remaining_us = deadline;
  env.trace = trace;
  std::string out = "prefix";
  REQUIRE(!append_envelope_frame(kind, env, 1u << 20, out));
  REQUIRE(out.substr(0, 6) == "prefix");
  return out.substr(6);
}

} // namespace

TEST_CASE("an envelope written in place is byte for byte protobuf's encoding",
          "[transport][framing][envelope]") {
  auto call = troupe::testing::full_call("in place");
  for (auto kind : {envelope_kind::request, envelope_kind::reply}) {
    SECTION("every field set, payload serialized in place") {
      CHECK(with_writer(kind, &call, false, 1ull << 41 | 7, 2'000'000, "trace-1", "req-1", 3)
            == with_protobuf(kind, &call, 1ull << 41 | 7, 2'000'000, "trace-1", "req-1", 3));
    }
    SECTION("a service call: span id and method") {
      CHECK(with_writer(kind, &call, false, 11, 3'000, "4bf92f3577b34da6a3ce929d0e0e4736", "r",
                        1, "00f067aa0ba902b7", "/a.v1.Pricing/Quote")
            == with_protobuf(kind, &call, 11, 3'000, "4bf92f3577b34da6a3ce929d0e0e4736", "r",
                             1, "00f067aa0ba902b7", "/a.v1.Pricing/Quote"));
    }
    SECTION("payload given as bytes") {
      CHECK(with_writer(kind, &call, true, 42, 1, "t", "r", 1)
            == with_protobuf(kind, &call, 42, 1, "t", "r", 1));
    }
    SECTION("defaults are omitted as protobuf omits them") {
      CHECK(with_writer(kind, nullptr, false, 0, 0, "", "", 0)
            == with_protobuf(kind, nullptr, 0, 0, "", "", 0));
    }
    SECTION("a large payload needs a multi-byte length prefix") {
      auto big = call;
      big.set_text(std::string(70'000, 'x'));
      CHECK(with_writer(kind, &big, false, 9, 5, "t", "r", 2)
            == with_protobuf(kind, &big, 9, 5, "t", "r", 2));
    }
  }
}

TEST_CASE("an envelope above the maximum frame size is refused",
          "[transport][framing][envelope]") {
  auto call = troupe::testing::full_call(std::string(2000, 'x'));
  envelope_view env;
  env.type = "transport_test.v1.Call";
  env.payload = &call;
  std::string out = "keep";
  CHECK(append_envelope_frame(envelope_kind::request, env, 1000, out)
        == transport_errc::frame_too_large);
  CHECK(out == "keep");
}
