#pragma once

// The records of the file pipeline: lines `<key>,<value>\n`, key k0000 to
// k9999, value 0 to 999; generating a file of them (with its expected
// totals), totalling a chunk of them, and keeping totals on disk.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <caf/expected.hpp>

#include "files.pb.h"

namespace files {

/// Writes `bytes` (rounded up to a whole record) of records to `path`,
/// and their totals to `path + ".expected"`. Seeded: the same size gives
/// the same file.
caf::error generate_input(const std::string& path, uint64_t bytes);

/// Copies `from` to `to` with one record made malformed (its comma
/// replaced): the first record that starts after `near`. Returns that
/// record's offset. For the demo's bad-input run (`--corrupt-at`).
caf::expected<uint64_t> write_corrupt_copy(const std::string& from, const std::string& to,
                                           uint64_t near);

/// Totals while they change: a flat table for the generator's keys
/// (k0000–k9999), a map for any other key. Converted to an `Aggregate` only
/// to be committed: a protobuf map per chunk cost more than the parsing.
struct totals_table {
  std::vector<std::array<uint64_t, 2>> fixed = std::vector<std::array<uint64_t, 2>>(10'000);
  std::unordered_map<std::string, std::array<uint64_t, 2>> others;
  uint64_t records = 0;

  /// Adds `other`'s totals.
  void merge(const totals_table& other);

  /// Adds an aggregate's totals (a checkpoint being resumed).
  void merge(const v1::Aggregate& other);

  /// Adds a chunk's totals (as the reader sent them).
  void merge(const v1::ChunkTotals& other);

  /// The totals as a chunk's, for [offset, end).
  v1::ChunkTotals to_chunk_totals(uint64_t offset, uint64_t end) const;

  /// Back to no records, the table's memory kept.
  void clear();

  /// The (count, sum) of `key`: its row of `fixed` for a generator key,
  /// else its entry in `others` (made if new).
  std::array<uint64_t, 2>& slot_of(const std::string& key);

  /// The totals as an aggregate at `offset`.
  v1::Aggregate to_aggregate(uint64_t offset, bool complete) const;
};

/// Adds the records of `data` (whole records) to `into`. A malformed line
/// is an `invalid_argument` error naming its offset (`base` + its index).
caf::error add_records(std::string_view data, uint64_t base, totals_table& into);

/// Writes `state` to `path` atomically (a temporary file, fsync, rename):
/// after a crash `path` holds either the old or the new state, whole.
caf::error save(const v1::Aggregate& state, const std::string& path);

/// Reads `path`; an empty aggregate if it does not exist.
caf::expected<v1::Aggregate> load(const std::string& path);

} // namespace files
