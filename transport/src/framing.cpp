#include "framing.hpp"

#include <caf/message.hpp>

#include <troupe/messages/error_category.hpp>

#include "troupe/transport/transport_errc.hpp"
#include "troupe/transport/wire_error.hpp"
#include "troupe/wire.pb.h"

namespace troupe::transport::internal {

namespace {

/// Appends `x` as a protobuf varint.
void append_varint(uint64_t x, std::string& out) {
  while (x >= 0x80) {
    out.push_back(static_cast<char>((x & 0x7F) | 0x80));
    x >>= 7;
  }
  out.push_back(static_cast<char>(x));
}

} // namespace

const char* frame_kind_name(const wire::Frame& f) {
  switch (f.kind_case()) {
    case wire::Frame::kHello:
      return "hello";
    case wire::Frame::kChallenge:
      return "challenge";
    case wire::Frame::kAuth:
      return "auth";
    case wire::Frame::kWelcome:
      return "welcome";
    case wire::Frame::kRefusal:
      return "refusal";
    case wire::Frame::kEnvelope:
      return "envelope";
    case wire::Frame::kReply:
      return "reply";
    case wire::Frame::kError:
      return "error";
    case wire::Frame::kHeartbeat:
      return "heartbeat";
    case wire::Frame::kWatch:
      return "watch";
    case wire::Frame::kWatchDown:
      return "watch_down";
    case wire::Frame::kUnwatch:
      return "unwatch";
    case wire::Frame::kWatching:
      return "watching";
    case wire::Frame::kGoodbye:
      return "goodbye";
    case wire::Frame::KIND_NOT_SET:
      break;
  }
  return "unknown";
}

caf::error append_frame(const wire::Frame& frame, uint32_t max_frame_size, std::string& out) {
  auto size = frame.ByteSizeLong();
  if (size > max_frame_size)
    return caf::make_error(transport_errc::frame_too_large,
                           "outgoing frame of " + std::to_string(size)
                             + " bytes exceeds max_frame_size "
                             + std::to_string(max_frame_size));
  auto old_size = out.size();
  append_varint(size, out);
  auto offset = out.size();
  out.resize(offset + size);
  if (!frame.SerializeWithCachedSizesToArray(
        reinterpret_cast<uint8_t*>(out.data() + offset))) {
    out.resize(old_size);
    return caf::make_error(transport_errc::malformed_frame, "cannot serialize frame");
  }
  return caf::none;
}

frame_decoder::frame_decoder(uint32_t max_frame_size) : max_(max_frame_size) {
  // nop
}

void frame_decoder::feed(const char* data, size_t size) {
  if (err_)
    return;
  // Compact before growing: consumed bytes at the front are dead.
  if (pos_ > 0 && (pos_ == buf_.size() || pos_ > 64 * 1024)) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(data, size);
}

frame_decoder::status frame_decoder::next(wire::Frame& out) {
  std::string_view bytes;
  auto st = next(bytes);
  if (st != status::frame)
    return st;
  out.Clear();
  if (!out.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    err_ = caf::make_error(transport_errc::malformed_frame,
                           "a " + std::to_string(bytes.size())
                             + "-byte frame is not a troupe.wire.Frame");
    return status::failed;
  }
  return status::frame;
}

frame_decoder::status frame_decoder::next(std::string_view& out) {
  if (err_)
    return status::failed;
  auto* first = reinterpret_cast<const uint8_t*>(buf_.data() + pos_);
  auto available = buf_.size() - pos_;
  // Varint length prefix: at most 10 bytes; checked against the limit while
  // it is still being read, so 2^31 fails before a single payload byte.
  uint64_t length = 0;
  size_t header = 0;
  bool complete = false;
  for (; header < available && header < 10; ++header) {
    auto byte = first[header];
    length |= static_cast<uint64_t>(byte & 0x7F) << (7 * header);
    if ((byte & 0x80) == 0) {
      complete = true;
      ++header;
      break;
    }
  }
  if (length > max_) {
    err_ = caf::make_error(transport_errc::frame_too_large,
                           "length prefix " + std::to_string(length) + (complete ? "" : "+")
                             + " exceeds max_frame_size " + std::to_string(max_));
    return status::failed;
  }
  if (!complete) {
    if (header >= 10) {
      err_ = caf::make_error(transport_errc::malformed_frame,
                             "length prefix is not a varint (more than 10 bytes)");
      return status::failed;
    }
    return status::need_more;
  }
  if (available - header < length)
    return status::need_more;
  out = std::string_view{buf_.data() + pos_ + header, static_cast<size_t>(length)};
  // Consumed bytes are dropped by the next `feed` (which keeps views valid
  // until then).
  pos_ += header + length;
  return status::frame;
}

caf::error frame_decoder::finish() const {
  if (err_)
    return err_;
  if (buffered() > 0)
    return caf::make_error(transport_errc::truncated_frame,
                           "stream ended with " + std::to_string(buffered())
                             + " bytes of an incomplete frame");
  return caf::none;
}

void append_error_frame(const caf::error& err, uint64_t correlation_id,
                        const troupe::TraceContext* trace, error_scope scope,
                        uint32_t max_frame_size, std::string& out) {
  wire::Frame frame;
  auto* ef = frame.mutable_error();
  ef->set_correlation_id(correlation_id);
  ef->set_closing(scope == error_scope::connection);
  to_wire_error(err, messages::describe(err), *ef->mutable_error());
  if (trace != nullptr)
    *ef->mutable_trace() = *trace;
  if (append_frame(frame, max_frame_size, out)) {
    // The text made it too large: send the code without it.
    ef->mutable_error()->clear_message();
    (void)append_frame(frame, max_frame_size, out);
  }
}

} // namespace troupe::transport::internal
