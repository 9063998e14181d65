#include "envelope_writer.hpp"

#include <google/protobuf/message_lite.h>

#include <caf/message.hpp>

#include "troupe/transport/transport_errc.hpp"

namespace troupe::transport::internal {

namespace {

// Wire types of the protobuf encoding.
constexpr uint32_t varint_type = 0;
constexpr uint32_t length_type = 2;

// Field numbers (messages/proto/troupe/{wire,envelope}.proto).
constexpr uint32_t frame_envelope = 6;
constexpr uint32_t frame_reply = 7;
constexpr uint32_t env_sender = 1;
constexpr uint32_t env_receiver = 2;
constexpr uint32_t env_type = 3;
constexpr uint32_t env_payload = 4;
constexpr uint32_t env_correlation_id = 5;
constexpr uint32_t env_deadline = 6;
constexpr uint32_t env_trace = 7;
constexpr uint32_t env_attempt = 8;
constexpr uint32_t env_method = 9;
constexpr uint32_t addr_node = 1;
constexpr uint32_t addr_name = 2;
constexpr uint32_t trace_trace_id = 1;
constexpr uint32_t trace_request_id = 2;
constexpr uint32_t trace_span_id = 3;

size_t varint_size(uint64_t x) {
  size_t n = 1;
  while (x >= 0x80) {
    x >>= 7;
    ++n;
  }
  return n;
}

char* put_varint(char* p, uint64_t x) {
  while (x >= 0x80) {
    *p++ = static_cast<char>((x & 0x7F) | 0x80);
    x >>= 7;
  }
  *p++ = static_cast<char>(x);
  return p;
}

constexpr uint32_t tag(uint32_t field, uint32_t wire_type) {
  return (field << 3) | wire_type;
}

/// Size of a length-delimited field with `n` bytes of content.
size_t field_size(uint32_t field, size_t n) {
  return varint_size(tag(field, length_type)) + varint_size(n) + n;
}

/// Size of a string field; 0 when empty (proto3 omits it).
size_t string_field_size(uint32_t field, std::string_view x) {
  return x.empty() ? 0 : field_size(field, x.size());
}

/// Size of a varint field; 0 when 0 (proto3 omits it).
size_t varint_field_size(uint32_t field, uint64_t x) {
  return x == 0 ? 0 : varint_size(tag(field, varint_type)) + varint_size(x);
}

char* put_header(char* p, uint32_t field, size_t n) {
  p = put_varint(p, tag(field, length_type));
  return put_varint(p, n);
}

char* put_string_field(char* p, uint32_t field, std::string_view x) {
  if (x.empty())
    return p;
  p = put_header(p, field, x.size());
  x.copy(p, x.size());
  return p + x.size();
}

char* put_varint_field(char* p, uint32_t field, uint64_t x) {
  if (x == 0)
    return p;
  p = put_varint(p, tag(field, varint_type));
  return put_varint(p, x);
}

/// Appends a present sub-message with two string fields.
void append_pair(uint32_t field, std::string_view first, std::string_view second,
                 std::string& out) {
  auto body = string_field_size(1, first) + string_field_size(2, second);
  auto old = out.size();
  out.resize(old + field_size(field, body));
  auto* p = put_header(out.data() + old, field, body);
  p = put_string_field(p, 1, first);
  put_string_field(p, 2, second);
}

} // namespace

void append_address_fields(std::string_view sender_node, std::string_view sender_name,
                           std::string_view receiver_node, std::string_view receiver_name,
                           std::string& out) {
  static_assert(addr_node == 1 && addr_name == 2);
  append_pair(env_sender, sender_node, sender_name, out);
  append_pair(env_receiver, receiver_node, receiver_name, out);
}

void append_trace_fields(std::string_view trace_id, std::string_view request_id,
                         uint32_t attempt, std::string& out) {
  append_trace_fields(trace_fields{trace_id, request_id, {}, attempt, {}}, out);
}

void append_trace_fields(const trace_fields& x, std::string& out) {
  static_assert(trace_trace_id == 1 && trace_request_id == 2 && trace_span_id == 3);
  auto body = string_field_size(trace_trace_id, x.trace_id)
    + string_field_size(trace_request_id, x.request_id)
    + string_field_size(trace_span_id, x.span_id);
  auto old = out.size();
  out.resize(old + field_size(env_trace, body) + varint_field_size(env_attempt, x.attempt)
             + string_field_size(env_method, x.method));
  auto* p = put_header(out.data() + old, env_trace, body);
  p = put_string_field(p, trace_trace_id, x.trace_id);
  p = put_string_field(p, trace_request_id, x.request_id);
  p = put_string_field(p, trace_span_id, x.span_id);
  p = put_varint_field(p, env_attempt, x.attempt);
  put_string_field(p, env_method, x.method);
}

caf::error append_envelope_frame(envelope_kind kind, const envelope_view& env,
                                 uint32_t max_frame_size, std::string& out) {
  size_t payload_size =
    env.payload != nullptr ? env.payload->ByteSizeLong() : env.payload_bytes.size();
  size_t body = env.addresses.size() + string_field_size(env_type, env.type)
    + (payload_size == 0 ? 0 : field_size(env_payload, payload_size))
    + varint_field_size(env_correlation_id, env.correlation_id)
    + varint_field_size(env_deadline, static_cast<uint64_t>(env.deadline_remaining_us))
    + env.trace.size();
  auto field = kind == envelope_kind::request ? frame_envelope : frame_reply;
  auto frame_size = field_size(field, body);
  if (frame_size > max_frame_size)
    return caf::make_error(transport_errc::frame_too_large,
                           "outgoing frame of " + std::to_string(frame_size)
                             + " bytes exceeds max_frame_size "
                             + std::to_string(max_frame_size));
  auto old = out.size();
  out.resize(old + varint_size(frame_size) + frame_size);
  auto* p = put_varint(out.data() + old, frame_size);
  p = put_header(p, field, body);
  env.addresses.copy(p, env.addresses.size());
  p += env.addresses.size();
  p = put_string_field(p, env_type, env.type);
  if (payload_size > 0) {
    p = put_header(p, env_payload, payload_size);
    if (env.payload != nullptr) {
      auto* first = reinterpret_cast<uint8_t*>(p);
      auto* last = env.payload->SerializeWithCachedSizesToArray(first);
      if (static_cast<size_t>(last - first) != payload_size) {
        out.resize(old);
        return caf::make_error(transport_errc::malformed_frame,
                               "payload changed size while serializing");
      }
    } else {
      env.payload_bytes.copy(p, payload_size);
    }
    p += payload_size;
  }
  p = put_varint_field(p, env_correlation_id, env.correlation_id);
  p = put_varint_field(p, env_deadline, static_cast<uint64_t>(env.deadline_remaining_us));
  env.trace.copy(p, env.trace.size());
  return caf::none;
}

} // namespace troupe::transport::internal
