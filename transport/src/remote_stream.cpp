// The non-template parts of remote streams that both sides share: config
// validation and the length-delimited item helpers. The exporting side is
// stream_export.cpp, the importing side stream_import.cpp.

#include "troupe/transport/remote_stream.hpp"

#include <limits>
#include <stdexcept>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/settings.hpp>
#include <google/protobuf/io/coded_stream.h>
// The parse context generated code uses: one for all items of a batch.
#include <google/protobuf/parse_context.h>

#include "config_keys.hpp"
#include "troupe/transport/transport_errc.hpp"

namespace troupe::transport {

caf::error stream_export_config::validate() const {
  auto fail = [](std::string why) {
    return caf::make_error(transport_errc::invalid_config,
                           "stream_export_config: " + std::move(why));
  };
  if (poll_interval.count() <= 0)
    return fail("poll_interval must be > 0");
  if (idle_timeout <= poll_interval)
    return fail("idle_timeout must exceed poll_interval");
  if (max_batch == 0)
    return fail("max_batch must be >= 1 (got 0)");
  if (max_sessions_per_peer == 0)
    return fail("max_sessions_per_peer must be >= 1 (got 0)");
  return caf::none;
}

caf::error stream_import_config::validate() const {
  auto fail = [](std::string why) {
    return caf::make_error(transport_errc::invalid_config,
                           "stream_import_config: " + std::move(why));
  };
  if (capacity == 0)
    return fail("capacity must be >= 1 (got 0)");
  if (batch_size == 0)
    return fail("batch_size must be >= 1 (got 0)");
  if (pull_timeout.count() <= 0)
    return fail("pull_timeout must be > 0");
  return caf::none;
}

namespace detail {

size_t delimited_size(size_t size) {
  if (size > static_cast<size_t>(std::numeric_limits<int>::max()))
    throw std::length_error("remote stream item too large");
  using google::protobuf::io::CodedOutputStream;
  return CodedOutputStream::VarintSize32(static_cast<uint32_t>(size)) + size;
}

struct delimited_writer::state {
  state(uint8_t* begin, size_t size)
    : pos(begin),
      end(begin + size),
      stream(begin, static_cast<int>(size),
             google::protobuf::io::CodedOutputStream::IsDefaultSerializationDeterministic()) {
    // nop
  }

  uint8_t* pos;
  uint8_t* end;
  /// Over exactly the reserved bytes: it never needs more.
  google::protobuf::io::EpsCopyOutputStream stream;
};

delimited_writer::delimited_writer(std::string& out, size_t total) {
  if (total > static_cast<size_t>(std::numeric_limits<int>::max()))
    throw std::length_error("remote stream batch too large");
  auto start = out.size();
  out.resize(start + total);
  state_ = std::make_unique<state>(reinterpret_cast<uint8_t*>(out.data() + start), total);
}

delimited_writer::~delimited_writer() = default;

void delimited_writer::write(const google::protobuf::MessageLite& item) {
  using google::protobuf::io::CodedOutputStream;
  auto& st = *state_;
  auto size = static_cast<uint32_t>(item.GetCachedSize());
  if (static_cast<size_t>(st.end - st.pos) < CodedOutputStream::VarintSize32(size) + size)
    throw std::length_error("delimited_writer: items exceed the bytes reserved for them");
  st.pos = CodedOutputStream::WriteVarint32ToArray(size, st.pos);
  st.pos = item._InternalSerialize(st.pos, &st.stream);
}

void append_delimited(std::string& out, const google::protobuf::MessageLite& item) {
  delimited_writer writer{out, delimited_size(item.ByteSizeLong())};
  writer.write(item);
}

struct delimited_reader::state {
  explicit state(std::string_view bytes)
    : ctx(google::protobuf::io::CodedInputStream::GetDefaultRecursionLimit(), false, &pos,
          google::protobuf::StringPiece{bytes.data(), bytes.size()}) {
    // nop
  }

  const char* pos = nullptr;
  google::protobuf::internal::ParseContext ctx;
};

delimited_reader::delimited_reader(std::string_view bytes)
  : state_(std::make_unique<state>(bytes)) {
  // nop
}

delimited_reader::~delimited_reader() = default;

bool delimited_reader::next(google::protobuf::MessageLite& item) {
  // What generated code does for a nested message: the size, a limit
  // pushed for it, the item's own parser, the limit popped (failing if the
  // item did not end exactly there).
  auto& st = *state_;
  if (st.pos == nullptr || st.ctx.Done(&st.pos))
    return false;
  st.pos = st.ctx.ParseMessage(&item, st.pos);
  // As ParseFromArray: a proto2 item missing a required field is malformed
  // (and, like any failure, ends the reader).
  if (st.pos != nullptr && !item.IsInitialized())
    st.pos = nullptr;
  return st.pos != nullptr;
}

bool delimited_reader::at_end() {
  auto& st = *state_;
  return st.pos != nullptr && st.ctx.Done(&st.pos) && st.ctx.EndedAtLimit();
}

} // namespace detail

stream_export_config stream_export_config::from(const caf::actor_system_config& cfg) {
  stream_export_config x;
  internal::visit_stream_export_keys(x, [&cfg](const char* name, auto& field, const char*) {
    field = caf::get_or(cfg, internal::config_key(internal::stream_group, name), field);
  });
  return x;
}

stream_import_config stream_import_config::from(const caf::actor_system_config& cfg) {
  stream_import_config x;
  internal::visit_stream_import_keys(x, [&cfg](const char* name, auto& field, const char*) {
    field = caf::get_or(cfg, internal::config_key(internal::stream_group, name), field);
  });
  return x;
}

} // namespace troupe::transport
