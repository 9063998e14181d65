#pragma once

// Reading a file of records and totalling it a chunk of whole records at
// a time. Blocking I/O: pool threads only.

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

  /// The totals of the records that start in [b(from), b(to)), where b(p)
  /// is the first record boundary at or after p (`from` itself if
  /// `exact`: a committed offset). The chunk ends where its last record
  /// does, past `to` if it must, and the next chunk, cut at `to`, starts
  /// right there: chunks cut at the same points meet exactly, whichever
  /// thread totals which, so they can be totalled in parallel. A record
  /// longer than `max_record` bytes is `failed_precondition`; a malformed
  /// one `invalid_argument`; a read error or a file that shrank
  /// `internal`.
  caf::expected<v1::ChunkTotals> total_chunk(uint64_t from, bool exact, uint64_t to,
                                             uint32_t max_record) const;

private:
  open_file(int fd, uint64_t size) : fd_(fd), size_(size) {}

  /// Reads [offset, offset + n) into `out`.
  caf::error read_exactly(uint64_t offset, size_t n, char* out) const;

  int fd_;
  uint64_t size_;
};

using open_file_ptr = std::shared_ptr<open_file>;

} // namespace files
