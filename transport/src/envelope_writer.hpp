#pragma once

/// Writes envelope frames (`Frame.envelope` / `Frame.reply`) straight into a
/// byte buffer, length prefix included, without building protobuf objects.
///
/// # Why not `append_frame` with a `wire::Frame`?
///
/// Building a `Frame` for every remote request costs a dozen allocations
/// (the envelope, two addresses, the trace context, their strings, a copy of
/// the payload bytes) and a second copy when it is serialized. Here the
/// constant parts of an envelope (sender and receiver of a proxy; addresses
/// and trace of a request being answered) are encoded once, and the payload
/// message serializes itself in place. The bytes are exactly what protobuf's
/// own serializer writes for the same fields (fields in number order,
/// default values omitted, `sender`, `receiver` and `trace` present), so any
/// protobuf peer reads them; the framing tests compare both byte for byte.
///
/// Usage:
///   std::string head;   // once per proxy
///   append_address_fields(my_node, "", peer_node, "echo", head);
///   std::string tail;   // per request
///   append_trace_fields(trace_id, request_id, 1, tail);
///   envelope_view env;
///   env.addresses = head; env.type = "demo.v1.Order"; env.payload = &order;
///   env.correlation_id = 7; env.deadline_remaining_us = 500000; env.trace = tail;
///   if (auto err = append_envelope_frame(envelope_kind::request, env, max, buf)) ...
///
/// Thread safety: free functions without shared state.

#include <cstdint>
#include <string>
#include <string_view>

#include <caf/error.hpp>

namespace google::protobuf {
class MessageLite;
} // namespace google::protobuf

namespace troupe::transport::internal {

/// Which field of `troupe.wire.Frame` carries the envelope.
enum class envelope_kind : uint8_t {
  /// `Frame.envelope`: a one-way message or a request.
  request,
  /// `Frame.reply`: the answer to a request.
  reply,
};

/// The parts of one `troupe.Envelope`. Views only: nothing is copied before
/// `append_envelope_frame` writes it.
struct envelope_view {
  /// Fields 1 and 2 (`sender`, `receiver`), pre-encoded with
  /// `append_address_fields`; written as they are.
  std::string_view addresses;
  /// Field 3: full protobuf name of the payload; empty for an empty reply.
  std::string_view type;
  /// Field 4, serialized in place from this message. If null,
  /// `payload_bytes` is written instead.
  const google::protobuf::MessageLite* payload = nullptr;
  /// Field 4 as bytes (used when `payload` is null).
  std::string_view payload_bytes;
  /// Field 5.
  uint64_t correlation_id = 0;
  /// Field 6.
  int64_t deadline_remaining_us = 0;
  /// Fields 7 to 9 (`trace`, `attempt`, `method`), pre-encoded with
  /// `append_trace_fields`; written as they are.
  std::string_view trace;
};

/// Appends `sender {node, name}` and `receiver {node, name}` (Envelope fields
/// 1 and 2, both present even when empty) to `out`.
void append_address_fields(std::string_view sender_node, std::string_view sender_name,
                           std::string_view receiver_node, std::string_view receiver_name,
                           std::string& out);

/// What `append_trace_fields` writes: Envelope fields 7 to 9.
struct trace_fields {
  std::string_view trace_id;
  std::string_view request_id;
  std::string_view span_id;
  uint32_t attempt = 0;
  /// A service method's full name, "/pkg.Service/Method"; empty otherwise.
  std::string_view method;
};

/// Appends `trace {trace_id, request_id, span_id}` (present even when
/// empty), `attempt` (omitted when 0) and `method` (omitted when empty) —
/// Envelope fields 7 to 9 — to `out`.
void append_trace_fields(const trace_fields& x, std::string& out);

/// Same, without a span id or method.
void append_trace_fields(std::string_view trace_id, std::string_view request_id,
                         uint32_t attempt, std::string& out);

/// Appends the length-delimited frame carrying `env` to `out`. Returns
/// `frame_too_large` (and leaves `out` as it was) if the frame exceeds
/// `max_frame_size` bytes, `malformed_frame` if the payload does not
/// serialize.
caf::error append_envelope_frame(envelope_kind kind, const envelope_view& env,
                                 uint32_t max_frame_size, std::string& out);

} // namespace troupe::transport::internal
