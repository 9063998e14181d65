// Framing: protobuf's length-delimited encoding of troupe.wire.Frame, with a
// hard maximum frame size. No sockets.

#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include "transport/src/framing.hpp"
#include <troupe/transport/transport_errc.hpp>

#include "troupe/wire.pb.h"

using troupe::transport::transport_errc;
using troupe::transport::internal::append_frame;
using troupe::transport::internal::frame_decoder;
using status = frame_decoder::status;

namespace {

troupe::wire::Frame sample_frame(size_t payload_size = 100) {
  troupe::wire::Frame frame;
  auto* env = frame.mutable_envelope();
  env->mutable_receiver()->set_name("echo");
  env->set_type("transport_test.v1.Call");
  env->set_payload(std::string(payload_size, 'x'));
  env->set_correlation_id(42);
  return frame;
}

} // namespace

TEST_CASE("a frame is a varint length followed by the frame bytes", "[transport][framing]") {
  auto frame = sample_frame(50);
  std::string bytes;
  REQUIRE(!append_frame(frame, 1024, bytes));
  // Exactly what any protobuf library's delimited writer produces.
  auto body = frame.SerializeAsString();
  REQUIRE(body.size() < 128);
  CHECK(bytes.size() == body.size() + 1);
  CHECK(static_cast<size_t>(bytes[0]) == body.size());
  CHECK(bytes.substr(1) == body);
}

TEST_CASE("the decoder reassembles frames split at every byte", "[transport][framing]") {
  std::string stream;
  for (int i = 0; i < 3; ++i)
    REQUIRE(!append_frame(sample_frame(200 + i), 4096, stream));
  frame_decoder dec{4096};
  int frames = 0;
  troupe::wire::Frame out;
  for (auto c : stream) {
    dec.feed(&c, 1);
    while (dec.next(out) == status::frame) {
      CHECK(out.envelope().payload().size() == size_t(200 + frames));
      ++frames;
    }
  }
  CHECK(frames == 3);
  CHECK(dec.buffered() == 0);
  CHECK(!dec.finish());
}

TEST_CASE("a length prefix above the maximum fails before any payload arrives",
          "[transport][framing]") {
  frame_decoder dec{16u * 1024u * 1024u};
  // 2^31 as a varint: 80 80 80 80 08.
  const char prefix[] = {'\x80', '\x80', '\x80', '\x80', '\x08'};
  dec.feed(prefix, sizeof(prefix));
  troupe::wire::Frame out;
  CHECK(dec.next(out) == status::failed);
  CHECK(dec.error() == transport_errc::frame_too_large);
  CHECK(dec.buffered() == sizeof(prefix)); // nothing of that size was allocated
  SECTION("the failure is sticky") {
    dec.feed("more", 4);
    CHECK(dec.next(out) == status::failed);
  }
}

TEST_CASE("a partial varint that already exceeds the maximum fails early",
          "[transport][framing]") {
  frame_decoder dec{1000};
  const char prefix[] = {'\xff', '\xff'}; // >= 16383 and still growing
  dec.feed(prefix, sizeof(prefix));
  troupe::wire::Frame out;
  CHECK(dec.next(out) == status::failed);
  CHECK(dec.error() == transport_errc::frame_too_large);
}

TEST_CASE("malformed input fails with malformed_frame", "[transport][framing]") {
  troupe::wire::Frame out;
  SECTION("a varint longer than ten bytes") {
    frame_decoder dec{UINT32_MAX};
    std::string bytes(11, '\x80');
    dec.feed(bytes.data(), bytes.size());
    CHECK(dec.next(out) == status::failed);
    CHECK(dec.error() == transport_errc::malformed_frame);
  }
  SECTION("bytes that are not a Frame") {
    frame_decoder dec{1024};
    const char bytes[] = {'\x03', '\xff', '\xff', '\xff'};
    dec.feed(bytes, sizeof(bytes));
    CHECK(dec.next(out) == status::failed);
    CHECK(dec.error() == transport_errc::malformed_frame);
  }
}

TEST_CASE("a stream that ends inside a frame is truncated", "[transport][framing]") {
  std::string bytes;
  REQUIRE(!append_frame(sample_frame(), 1024, bytes));
  frame_decoder dec{1024};
  dec.feed(bytes.data(), bytes.size() - 10);
  troupe::wire::Frame out;
  CHECK(dec.next(out) == status::need_more);
  CHECK(dec.finish() == transport_errc::truncated_frame);
}

TEST_CASE("an outgoing frame above the maximum is refused", "[transport][framing]") {
  std::string bytes = "keep";
  CHECK(append_frame(sample_frame(2000), 1000, bytes) == transport_errc::frame_too_large);
  CHECK(bytes == "keep");
}

TEST_CASE("an empty frame decodes to a frame of no kind", "[transport][framing]") {
  frame_decoder dec{1024};
  dec.feed("\x00", 1);
  troupe::wire::Frame out;
  REQUIRE(dec.next(out) == status::frame);
  CHECK(out.kind_case() == troupe::wire::Frame::KIND_NOT_SET);
}
