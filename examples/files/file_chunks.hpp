#pragma once

// Reading a file of records a chunk of whole records at a time. Blocking
// I/O: pool threads only.

#include <cstdint>
#include <memory>
#include <string>

#include <caf/expected.hpp>

#include "files.pb.h"

namespace files {

/// An open file, closed when the last reader of it goes.
class open_file {
public:
  /// Opens `path`: `not_found` if it does not exist, `internal` if it cannot
  /// be read.
  static caf::expected<std::shared_ptr<open_file>> open(const std::string& path);

  ~open_file();
  open_file(const open_file&) = delete;
  open_file& operator=(const open_file&) = delete;

  uint64_t size() const noexcept {
    return size_;
  }

  /// Whether `offset` starts a record: 0, the end, or right after a newline.
  caf::expected<bool> at_record_start(uint64_t offset) const;

  /// Whole records from `offset`: up to `max` bytes, cut after the last
  /// newline (all of the rest at the end of the file). A record longer than
  /// `max` is `failed_precondition`; a read error or a file that shrank is
  /// `internal`.
  caf::expected<v1::Chunk> read_chunk(uint64_t offset, uint32_t max) const;

private:
  open_file(int fd, uint64_t size) : fd_(fd), size_(size) {}

  /// Reads [offset, offset + n) into `out`.
  caf::error read_exactly(uint64_t offset, size_t n, char* out) const;

  int fd_;
  uint64_t size_;
};

using open_file_ptr = std::shared_ptr<open_file>;

} // namespace files
