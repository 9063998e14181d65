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

uint8_t* write_delimited(const google::protobuf::MessageLite& item, uint8_t* out) {
  // Straight into the buffer: CodedOutputStream per item costs more than
  // the item itself for small messages.
  using google::protobuf::io::CodedOutputStream;
  out =
    CodedOutputStream::WriteVarint32ToArray(static_cast<uint32_t>(item.GetCachedSize()), out);
  return item.SerializeWithCachedSizesToArray(out);
}

void append_delimited(std::string& out, const google::protobuf::MessageLite& item) {
  auto offset = out.size();
  out.resize(offset + delimited_size(item.ByteSizeLong()));
  write_delimited(item, reinterpret_cast<uint8_t*>(&out[offset]));
}

bool next_delimited(const char*& pos, const char* end, const char*& item, int& size) {
  // A varint32 of at most 5 bytes, then that many bytes.
  uint64_t length = 0;
  for (int shift = 0;; shift += 7) {
    if (pos == end || shift > 28)
      return false;
    auto byte = static_cast<uint8_t>(*pos++);
    length |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0)
      break;
  }
  if (length > static_cast<uint64_t>(end - pos))
    return false;
  item = pos;
  size = static_cast<int>(length);
  pos += length;
  return true;
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
