#pragma once

/// Framing: protobuf's standard length-delimited encoding of
/// `troupe.wire.Frame` (a varint byte length, then the frame), as Java's
/// `writeDelimitedTo`, Python's `_VarintBytes(len) + bytes` or Go's
/// `protodelim` write it.
///
/// Why a hard maximum: a length prefix is attacker-controlled. The decoder
/// checks it against `max_frame_size` as soon as the varint is complete (or
/// already exceeds the limit while incomplete) and fails with
/// `frame_too_large` before buffering or allocating anything of that size.
///
/// Thread safety: a `frame_decoder` belongs to one connection and is used by
/// one thread at a time.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <caf/error.hpp>

namespace troupe {
class TraceContext;
} // namespace troupe

namespace troupe::wire {
class Frame;
} // namespace troupe::wire

namespace troupe::transport::internal {

/// The name of `frame`'s kind ("hello", "envelope", ...) for logs and errors.
const char* frame_kind_name(const wire::Frame& frame);

/// Appends `frame` to `out` as varint length + frame bytes. Returns
/// `frame_too_large` (and leaves `out` as it was) if the frame exceeds
/// `max_frame_size` bytes.
caf::error append_frame(const wire::Frame& frame, uint32_t max_frame_size, std::string& out);

/// What an error frame is about (`ErrorFrame.closing`).
enum class error_scope : uint8_t {
  /// One request or one-way message failed; the connection goes on.
  message,
  /// A protocol violation: the sender closes the connection after it.
  connection,
};

/// Builds an error frame (`ErrorFrame{correlation_id, error, trace,
/// closing}`) and appends it, encoded, to `out`; without the error's text if
/// the text makes it too large.
void append_error_frame(const caf::error& err, uint64_t correlation_id,
                        const troupe::TraceContext* trace, error_scope scope,
                        uint32_t max_frame_size, std::string& out);

/// Splits a byte stream into frames.
///
/// Usage:
///   frame_decoder dec{cfg.max_frame_size};
///   dec.feed(data, n);
///   wire::Frame f;
///   while (dec.next(f) == frame_decoder::status::frame) handle(f);
///   if (dec.failed()) close_with(dec.error());
class frame_decoder {
public:
  /// The outcome of `next`.
  enum class status : uint8_t {
    /// `next` filled its argument with a frame.
    frame,
    /// The buffered bytes end inside a frame (or are empty).
    need_more,
    /// The stream is broken; `error()` says why. Sticky.
    failed,
  };

  explicit frame_decoder(uint32_t max_frame_size);

  /// Changes the limit for the frames not yet taken out.
  void set_max_frame_size(uint32_t max_frame_size) noexcept {
    max_ = max_frame_size;
  }

  /// Appends `size` received bytes.
  void feed(const char* data, size_t size);

  /// Takes the next complete frame out of the buffer.
  status next(wire::Frame& out);

  /// Takes the bytes of the next complete frame (without its length prefix)
  /// out of the buffer, unparsed. The view stays valid until the next call
  /// to `feed`.
  status next(std::string_view& out);

  /// Returns the error after `status::failed`, else none.
  const caf::error& error() const noexcept {
    return err_;
  }

  /// Whether decoding failed.
  bool failed() const noexcept {
    return static_cast<bool>(err_);
  }

  /// Number of buffered bytes that do not form a complete frame yet.
  size_t buffered() const noexcept {
    return buf_.size() - pos_;
  }

  /// Returns `truncated_frame` if the stream ended (EOF) inside a frame.
  caf::error finish() const;

private:
  uint32_t max_;
  std::string buf_;
  size_t pos_ = 0;
  caf::error err_;
};

} // namespace troupe::transport::internal
