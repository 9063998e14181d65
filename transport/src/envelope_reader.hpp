#pragma once

/// Reads an envelope frame (`Frame.envelope` / `Frame.reply`) in place: the
/// fields are views into the frame's bytes, nothing is allocated or copied.
///
/// # Why not `Frame::ParseFromArray`?
///
/// Parsing into protobuf objects copies every string of the envelope (node
/// ids, names, trace ids, the payload) into freshly allocated strings, only
/// to hand them on and free them again; for a small request that is most of
/// the receiving side's work. This reader accepts the canonical form every
/// protobuf serializer writes for an envelope and nothing else: each field at
/// most once, no unknown fields, ASCII strings. For anything else it returns
/// false, and the caller parses the frame with protobuf, which applies the
/// full rules (merging repeated sub-messages, skipping unknown fields,
/// validating UTF-8). So it never accepts a frame protobuf would reject, and
/// where both accept, both read the same values (the framing tests compare
/// them on every field, and on random input).
///
/// Thread safety: a free function without shared state.

#include <cstdint>
#include <string_view>

#include "envelope_writer.hpp"

namespace troupe::transport::internal {

/// The fields of one `troupe.Envelope`, as views into a frame's bytes (valid
/// as long as those bytes are).
struct envelope_fields {
  std::string_view sender_node;
  std::string_view sender_name;
  std::string_view receiver_node;
  std::string_view receiver_name;
  std::string_view type;
  std::string_view payload;
  uint64_t correlation_id = 0;
  int64_t deadline_remaining_us = 0;
  std::string_view trace_id;
  std::string_view request_id;
  std::string_view span_id;
  uint32_t attempt = 0;
  std::string_view method;
};

/// Reads `frame` (the bytes of one `troupe.wire.Frame`, without the length
/// prefix) if it is an envelope or reply frame in canonical form; fills
/// `kind` and `out` and returns true. Returns false for every other frame,
/// valid or not: parse those with protobuf.
bool read_envelope_frame(std::string_view frame, envelope_kind& kind, envelope_fields& out);

} // namespace troupe::transport::internal
