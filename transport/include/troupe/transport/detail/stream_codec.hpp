#pragma once

/// The per-type part of a remote stream. Not an API: use `export_stream` and
/// `import_stream` (`remote_stream.hpp`).
///
/// The remote-stream actors (export hub and sessions, importer) live in
/// transport/src and are not templates: items cross the wire as protobuf
/// bytes anyway. `export_stream<T>` and `import_stream<T>` give them a
/// `typed_stream_codec<T>`, which knows the one thing they cannot: how the
/// local batch messages of `T` (`troupe/actors/flow/batch.hpp`) turn into
/// length-delimited bytes and back.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/message.hpp>
#include <caf/message_handler.hpp>
#include <google/protobuf/message_lite.h>

#include <troupe/actors/flow/batch.hpp>
#include <troupe/actors/flow/upstream_ref.hpp>
#include <troupe/messages/message_errc.hpp>

#include "troupe/transport/fwd.hpp"

namespace troupe::transport {

struct stream_export_config;
struct stream_import_config;

} // namespace troupe::transport

namespace troupe::transport::detail {

/// Appends `item` length-delimited (varint size, then its bytes) to `out`.
void append_delimited(std::string& out, const google::protobuf::MessageLite& item);

/// The bytes `append_delimited` writes for an item of `size` bytes (its
/// size prefix included); throws `std::length_error` above 2 GiB.
size_t delimited_size(size_t size);

/// Writes `item` length-delimited at `out` using its cached size (call
/// `ByteSizeLong` first); returns the end of what it wrote.
uint8_t* write_delimited(const google::protobuf::MessageLite& item, uint8_t* out);

/// Reads the next length-delimited item of [pos, end): sets `item` and
/// `size` and advances `pos`; false when the bytes are truncated.
bool next_delimited(const char*& pos, const char* end, const char*& item, int& size);

/// Received items, as one local batch message.
struct stream_chunk {
  caf::message batch;
  uint32_t count;
};

class stream_codec {
public:
  virtual ~stream_codec() = default;

  /// The items' full protobuf name (`Batch.item_type`).
  virtual const std::string& item_type() const = 0;

  /// Handlers for local batches of the items; each calls `on_items(count)`.
  virtual caf::message_handler
  input_handlers(std::function<void(size_t count)> on_items) const = 0;

  /// Appends items [offset, offset + n) of a local batch, length-delimited.
  virtual void encode(const caf::message& batch, size_t offset, size_t n,
                      std::string& out) const = 0;

  /// Parses the `count` length-delimited items of `bytes` into local batches
  /// of at most `batch_size` items, numbered from `first_seq`, appended to
  /// `out`; `malformed_payload` if the bytes do not hold exactly that.
  virtual caf::error decode(const std::string& bytes, uint32_t count, actors::seq_t first_seq,
                            uint32_t batch_size, std::deque<stream_chunk>& out) const = 0;

  /// `actors::take_batch<T>`.
  virtual caf::message take(caf::message& batch, size_t offset, size_t n) const = 0;

  /// `actors::slice_batch<T>`.
  virtual caf::message slice(const caf::message& batch, size_t offset, size_t n) const = 0;
};

using stream_codec_ptr = std::shared_ptr<const stream_codec>;

template <class T>
class typed_stream_codec final : public stream_codec {
public:
  const std::string& item_type() const override {
    return T::descriptor()->full_name();
  }

  caf::message_handler
  input_handlers(std::function<void(size_t count)> on_items) const override {
    return actors::batch_handlers<T>(
      [f = std::move(on_items)](caf::span<const T> items, actors::seq_t) { f(items.size()); });
  }

  void encode(const caf::message& batch, size_t offset, size_t n,
              std::string& out) const override {
    // Sizes first, then one resize of `out`: growing it item by item cost
    // as much as encoding the small items themselves.
    auto items = actors::items_of<T>(batch);
    size_t total = 0;
    for (auto i = offset; i < offset + n; ++i)
      total += delimited_size(items[i].ByteSizeLong());
    auto start = out.size();
    out.resize(start + total);
    auto* pos = reinterpret_cast<uint8_t*>(out.data() + start);
    for (auto i = offset; i < offset + n; ++i)
      pos = write_delimited(items[i], pos);
  }

  caf::error decode(const std::string& bytes, uint32_t count, actors::seq_t first_seq,
                    uint32_t batch_size, std::deque<stream_chunk>& out) const override {
    const char* pos = bytes.data();
    const char* end = pos + bytes.size();
    for (uint32_t done = 0; done < count;) {
      auto n = std::min(batch_size, count - done);
      std::vector<T> items(n);
      for (auto& x : items) {
        const char* item = nullptr;
        int size = 0;
        if (!next_delimited(pos, end, item, size) || !x.ParseFromArray(item, size))
          return caf::make_error(messages::message_errc::malformed_payload, item_type());
      }
      out.push_back(stream_chunk{actors::make_batch(first_seq + done, std::move(items)), n});
      done += n;
    }
    if (pos != end)
      return caf::make_error(messages::message_errc::malformed_payload,
                             "trailing bytes after the stream items");
    return caf::none;
  }

  caf::message take(caf::message& batch, size_t offset, size_t n) const override {
    return actors::take_batch<T>(batch, offset, n);
  }

  caf::message slice(const caf::message& batch, size_t offset, size_t n) const override {
    return actors::slice_batch<T>(batch, offset, n);
  }
};

/// `export_stream` without the template: validates, spawns and publishes the
/// hub. A null `cfg` reads `stream_export_config::from` the system's config.
caf::expected<caf::actor> export_stream(node& n, actors::upstream_ref producer,
                                        const std::string& name,
                                        const stream_export_config* cfg,
                                        stream_codec_ptr codec);

/// `import_stream` without the template: validates and spawns the importer.
/// The hub of `export_stream`, not yet published.
caf::expected<caf::actor> spawn_export_hub(caf::actor_system& sys,
                                           actors::upstream_ref producer,
                                           const stream_export_config* cfg,
                                           stream_codec_ptr codec);

/// The importer of `import_stream`, pulling from `remote` (a proxy).
caf::expected<caf::actor> spawn_importer(caf::actor_system& sys, caf::actor remote,
                                         const stream_import_config& cfg,
                                         stream_codec_ptr codec);

caf::expected<caf::actor> import_stream(caf::actor_system& sys, node& n,
                                        const std::string& address,
                                        const stream_import_config& cfg,
                                        stream_codec_ptr codec);

} // namespace troupe::transport::detail
