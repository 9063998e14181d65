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
#include <string_view>
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

/// Writes items length-delimited into room reserved at the end of a string,
/// with one protobuf output stream for all of them, and refuses (throws
/// `std::length_error`) an item that would overrun that room.
///
///   size_t total = 0;
///   for (auto& x : items) total += delimited_size(x.ByteSizeLong());
///   delimited_writer w{out, total};
///   for (auto& x : items) w.write(x);   // uses the size computed above
class delimited_writer {
public:
  /// Appends `total` bytes to `out` for the items to fill. `out` must not
  /// change while the writer lives.
  delimited_writer(std::string& out, size_t total);
  ~delimited_writer();

  delimited_writer(const delimited_writer&) = delete;
  delimited_writer& operator=(const delimited_writer&) = delete;

  /// Writes `item` with its cached size (`ByteSizeLong` called since it
  /// last changed); the items together must fill `total` exactly.
  void write(const google::protobuf::MessageLite& item);

private:
  struct state;
  std::unique_ptr<state> state_;
};

/// Reads consecutive length-delimited items out of one buffer with one
/// protobuf parse context. Parsing each item on its own (`ParseFromArray`)
/// sets up a context, clears the message and checks it afterwards, per
/// item: for small items that costs more than the parse itself.
///
///   delimited_reader in{bytes};
///   while (...) if (!in.next(item)) /* malformed */;
///   if (!in.at_end()) /* trailing bytes */;
class delimited_reader {
public:
  /// Reads `bytes`, which must outlive the reader.
  explicit delimited_reader(std::string_view bytes);
  ~delimited_reader();

  delimited_reader(const delimited_reader&) = delete;
  delimited_reader& operator=(const delimited_reader&) = delete;

  /// Merges the next item into `item` (give it fresh); false if the bytes
  /// are truncated or do not parse, and so for every later call.
  bool next(google::protobuf::MessageLite& item);

  /// True if every byte was read.
  bool at_end();

private:
  struct state;
  std::unique_ptr<state> state_;
};

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
    delimited_writer writer{out, total};
    for (auto i = offset; i < offset + n; ++i)
      writer.write(items[i]);
  }

  caf::error decode(const std::string& bytes, uint32_t count, actors::seq_t first_seq,
                    uint32_t batch_size, std::deque<stream_chunk>& out) const override {
    delimited_reader in{bytes};
    for (uint32_t done = 0; done < count;) {
      auto n = std::min(batch_size, count - done);
      std::vector<T> items(n);
      for (auto& x : items)
        if (!in.next(x))
          return caf::make_error(messages::message_errc::malformed_payload, item_type());
      out.push_back(stream_chunk{actors::make_batch(first_seq + done, std::move(items)), n});
      done += n;
    }
    if (!in.at_end())
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
