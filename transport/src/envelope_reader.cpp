#include "envelope_reader.hpp"

#include <cstring>

namespace troupe::transport::internal {

namespace {

constexpr uint32_t varint_type = 0;
constexpr uint32_t length_type = 2;

/// A cursor over protobuf wire bytes that gives up (returns false) on
/// anything outside the canonical subset.
class wire_cursor {
public:
  explicit wire_cursor(std::string_view bytes)
    : pos_(reinterpret_cast<const uint8_t*>(bytes.data())), end_(pos_ + bytes.size()) {
    // nop
  }

  bool done() const noexcept {
    return pos_ == end_;
  }

  /// Bytes of the shortest varint encoding of `x`.
  static int encoded_size(uint64_t x) {
    int n = 1;
    while (x >= 0x80) {
      x >>= 7;
      ++n;
    }
    return n;
  }

  bool varint(uint64_t& out) {
    // Tags, lengths and most numbers here fit in one byte.
    if (pos_ != end_ && *pos_ < 0x80) {
      out = *pos_++;
      return true;
    }
    uint64_t result = 0;
    for (int i = 0; i < 10; ++i) {
      if (pos_ == end_)
        return false;
      auto byte = *pos_++;
      result |= static_cast<uint64_t>(byte & 0x7F) << (7 * i);
      if ((byte & 0x80) == 0) {
        // Only the shortest encoding is canonical. An over-long one (a last
        // byte of 0, or bits shifted out of 64) goes to protobuf, which
        // refuses e.g. a length in more than 5 bytes; this reader once took
        // such lengths as 0 (found by the envelope fuzzer).
        if (i + 1 != encoded_size(result))
          return false;
        out = result;
        return true;
      }
    }
    return false;
  }

  /// Reads a tag; field numbers above 31 are never canonical here.
  bool tag(uint32_t& field, uint32_t& wire_type) {
    uint64_t x = 0;
    if (!varint(x) || x > 0xFFFF'FFFFu)
      return false;
    field = static_cast<uint32_t>(x >> 3);
    wire_type = static_cast<uint32_t>(x & 7);
    return field != 0;
  }

  bool bytes(std::string_view& out) {
    uint64_t n = 0;
    if (!varint(n) || n > static_cast<uint64_t>(end_ - pos_))
      return false;
    out = std::string_view{reinterpret_cast<const char*>(pos_), static_cast<size_t>(n)};
    pos_ += n;
    return true;
  }

private:
  const uint8_t* pos_;
  const uint8_t* end_;
};

/// Strings are read only if plain ASCII; other text goes to protobuf, which
/// validates UTF-8.
bool ascii(std::string_view x) {
  // Eight bytes at a time: any high bit set means not ASCII.
  constexpr uint64_t high_bits = 0x8080'8080'8080'8080ull;
  auto* p = x.data();
  auto n = x.size();
  uint64_t acc = 0;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    acc |= word;
  }
  for (; n > 0; ++p, --n)
    acc |= static_cast<unsigned char>(*p);
  return (acc & high_bits) == 0;
}

/// Reads a message of string fields 1..N (ActorAddress: 2, TraceContext: 3).
template <size_t N>
bool read_strings(std::string_view bytes, std::string_view* const (&fields)[N]) {
  wire_cursor in{bytes};
  unsigned seen = 0;
  while (!in.done()) {
    uint32_t field = 0;
    uint32_t wt = 0;
    if (!in.tag(field, wt) || wt != length_type || field > N || (seen & (1u << field)))
      return false;
    seen |= 1u << field;
    auto& dst = *fields[field - 1];
    if (!in.bytes(dst) || !ascii(dst))
      return false;
  }
  return true;
}

bool read_envelope(std::string_view bytes, envelope_fields& out) {
  wire_cursor in{bytes};
  unsigned seen = 0;
  while (!in.done()) {
    uint32_t field = 0;
    uint32_t wt = 0;
    if (!in.tag(field, wt) || field > 9 || (seen & (1u << field)))
      return false;
    seen |= 1u << field;
    switch (field) {
      case 1:
      case 2:
      case 7: {
        std::string_view sub;
        if (wt != length_type || !in.bytes(sub))
          return false;
        bool ok = false;
        if (field == 1) {
          std::string_view* const parts[] = {&out.sender_node, &out.sender_name};
          ok = read_strings(sub, parts);
        } else if (field == 2) {
          std::string_view* const parts[] = {&out.receiver_node, &out.receiver_name};
          ok = read_strings(sub, parts);
        } else {
          std::string_view* const parts[] = {&out.trace_id, &out.request_id, &out.span_id};
          ok = read_strings(sub, parts);
        }
        if (!ok)
          return false;
        break;
      }
      case 9:
        if (wt != length_type || !in.bytes(out.method) || !ascii(out.method))
          return false;
        break;
      case 3:
        if (wt != length_type || !in.bytes(out.type) || !ascii(out.type))
          return false;
        break;
      case 4:
        if (wt != length_type || !in.bytes(out.payload))
          return false;
        break;
      case 5:
      case 6:
      case 8: {
        uint64_t x = 0;
        if (wt != varint_type || !in.varint(x))
          return false;
        if (field == 5)
          out.correlation_id = x;
        else if (field == 6)
          out.deadline_remaining_us = static_cast<int64_t>(x);
        else
          out.attempt = static_cast<uint32_t>(x);
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

} // namespace

bool read_envelope_frame(std::string_view frame, envelope_kind& kind, envelope_fields& out) {
  wire_cursor in{frame};
  uint32_t field = 0;
  uint32_t wt = 0;
  std::string_view body;
  // Exactly one field: Frame.envelope (6) or Frame.reply (7).
  if (!in.tag(field, wt) || wt != length_type || (field != 6 && field != 7) || !in.bytes(body)
      || !in.done())
    return false;
  envelope_fields result;
  if (!read_envelope(body, result))
    return false;
  kind = field == 6 ? envelope_kind::request : envelope_kind::reply;
  out = result;
  return true;
}

} // namespace troupe::transport::internal
