// The file pipeline's records: totals, malformed input, checkpoints, and
// chunks cut at record boundaries.

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include <google/protobuf/util/message_differencer.h>

#include <file_chunks.hpp>
#include <records.hpp>

#include <troupe/services/rpc_errc.hpp>

using namespace files;
using google::protobuf::util::MessageDifferencer;
using troupe::services::rpc_errc;

namespace {

/// A file in a fresh directory of its own, removed at the end.
struct temp_dir {
  std::string path;
  temp_dir() {
    char tmpl[] = "/tmp/troupe-files-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~temp_dir() {
    std::system(("rm -rf '" + path + "'").c_str());
  }
};

} // namespace

TEST_CASE("records are totalled by key, any key", "[examples][files]") {
  totals_table t;
  REQUIRE(!add_records("k0001,5\nk0001,7\nk9999,1\nother,3\n", 0, t));
  CHECK(t.records == 4);
  auto a = t.to_aggregate(30, false);
  CHECK(a.totals().at("k0001").count() == 2);
  CHECK(a.totals().at("k0001").sum() == 12);
  CHECK(a.totals().at("k9999").sum() == 1);
  CHECK(a.totals().at("other").sum() == 3);
  totals_table back;
  back.merge(a);
  CHECK(MessageDifferencer::Equals(back.to_aggregate(30, false), a));
}

TEST_CASE("a malformed record is a typed error naming its offset", "[examples][files]") {
  totals_table t;
  auto err = add_records("k0001,5\nk0002x7\n", 100, t);
  CHECK(err == caf::make_error(rpc_errc::invalid_argument));
  CHECK(to_string(err).find("108") != std::string::npos);
  CHECK(add_records("k1,12a\n", 0, t) == caf::make_error(rpc_errc::invalid_argument));
  CHECK(add_records("k1,99999999999999999999\n", 0, t)
        == caf::make_error(rpc_errc::invalid_argument));
  CHECK(add_records("k1,5", 0, t)
        == caf::make_error(rpc_errc::invalid_argument)); // no newline
  CHECK(add_records("k0001,\n", 0, t) == caf::make_error(rpc_errc::invalid_argument));
  // A comma on the next line does not make a key of two lines.
  auto split = add_records("k0001,5\nsplit\nk2,3\n", 0, t);
  CHECK(split == caf::make_error(rpc_errc::invalid_argument));
  CHECK(to_string(split).find("offset 8") != std::string::npos);
}

TEST_CASE("a record's errors name what is wrong where", "[examples][files]") {
  totals_table t;
  auto describe = [](const caf::error& err) { return to_string(err); };
  auto x = add_records("k0001,5x\n", 10, t);
  CHECK(x == caf::make_error(rpc_errc::invalid_argument));
  CHECK(describe(x).find("malformed value at offset 17") != std::string::npos);
  CHECK(describe(add_records("k1,x\n", 0, t)).find("malformed value at offset 3")
        != std::string::npos);
  // 18 digits are a value; 19 are too many.
  REQUIRE(!add_records("k0001,999999999999999999\n", 0, t));
  CHECK(t.fixed[1][1] == 999999999999999999ULL);
  CHECK(describe(add_records("k0001,1000000000000000000\n", 0, t))
          .find("value too large at offset 6")
        != std::string::npos);
  // A chunk that ends inside a record, in the key or in the value.
  CHECK(add_records("k000", 0, t) == caf::make_error(rpc_errc::invalid_argument));
  CHECK(add_records("k0001,5", 0, t) == caf::make_error(rpc_errc::invalid_argument));
  // A blank line is no record.
  CHECK(
    describe(add_records("k0001,5\n\nk0002,6\n", 0, t)).find("malformed record at offset 8")
    != std::string::npos);
}

TEST_CASE("keys that only look like generator keys take the general path",
          "[examples][files]") {
  totals_table t;
  REQUIRE(!add_records("k00a1,5\nk12345,6\nk0001,7\nK0001,8\n", 0, t));
  auto a = t.to_aggregate(0, false);
  CHECK(a.totals().at("k00a1").sum() == 5);
  CHECK(a.totals().at("k12345").sum() == 6);
  CHECK(a.totals().at("k0001").sum() == 7);
  CHECK(a.totals().at("K0001").sum() == 8);
  CHECK(t.records == 4);
}

TEST_CASE("a checkpoint is saved whole and read back; none is an empty aggregate",
          "[examples][files]") {
  temp_dir dir;
  auto path = dir.path + "/checkpoint";
  auto none = load(path);
  REQUIRE(none);
  CHECK(none->offset() == 0);
  totals_table t;
  REQUIRE(!add_records("k0042,9\n", 0, t));
  REQUIRE(!save(t.to_aggregate(8, true), path));
  auto back = load(path);
  REQUIRE(back);
  CHECK(back->offset() == 8);
  CHECK(back->complete());
  std::ofstream{path} << "not a protobuf \xff\xff\xff";
  CHECK(load(path).error() == caf::make_error(rpc_errc::data_loss));
}

TEST_CASE("chunks cut at fixed points meet at record boundaries; offsets inside a record "
          "are told apart",
          "[examples][files]") {
  temp_dir dir;
  auto path = dir.path + "/input";
  std::ofstream{path} << "k0001,1\nk0002,22\nk0003,333\n"; // [0,8) [8,17) [17,27)
  auto file = open_file::open(path);
  REQUIRE(file);
  CHECK((*file)->size() == 27);
  // Cut at 12: the chunk takes the record that spans 12 whole, ...
  auto first = (*file)->total_chunk(0, true, 12, 1024);
  REQUIRE(first);
  CHECK(first->offset() == 0);
  CHECK(first->end() == 17);
  CHECK(first->records() == 2);
  // ... and the chunk cut from 12 starts after it, whoever totals it.
  auto second = (*file)->total_chunk(12, false, 24, 1024);
  REQUIRE(second);
  CHECK(second->offset() == 17);
  CHECK(second->end() == 27);
  CHECK(second->records() == 1);
  REQUIRE(second->counts_size() == 10'000);
  CHECK(second->counts(3) == 1);
  CHECK(second->sums(3) == 333);
  // A chunk from a committed offset.
  auto resumed = (*file)->total_chunk(8, true, 12, 1024);
  REQUIRE(resumed);
  CHECK(resumed->offset() == 8);
  CHECK(resumed->end() == 17);
  CHECK(resumed->records() == 1);
  // No record starts in [10, 15): an empty chunk, where the next one starts.
  auto empty = (*file)->total_chunk(10, false, 15, 1024);
  REQUIRE(empty);
  CHECK(empty->offset() == 17);
  CHECK(empty->end() == 17);
  CHECK(empty->records() == 0);
  CHECK(empty->counts_size() == 0);
  // A record longer than the reader accepts.
  CHECK((*file)->total_chunk(17, true, 20, 5).error()
        == caf::make_error(rpc_errc::failed_precondition));
  CHECK(*(*file)->at_record_start(8));
  CHECK(!*(*file)->at_record_start(9));
  CHECK(*(*file)->at_record_start(27));
  CHECK(open_file::open(dir.path + "/missing").error()
        == caf::make_error(rpc_errc::not_found));
}

TEST_CASE("a chunk's totals carry any key, and merge back into the same totals",
          "[examples][files]") {
  totals_table t;
  REQUIRE(!add_records("k0042,5\nsku-7,3\nk0042,1\n", 0, t));
  auto part = t.to_chunk_totals(100, 124);
  CHECK(part.offset() == 100);
  CHECK(part.end() == 124);
  totals_table merged;
  merged.merge(part);
  merged.merge(part);
  CHECK(merged.records == 6);
  CHECK(merged.fixed[42][0] == 4);
  CHECK(merged.fixed[42][1] == 12);
  CHECK(merged.others.at("sku-7")[0] == 2);
  CHECK(merged.others.at("sku-7")[1] == 6);
}

TEST_CASE("the generated input's expected totals match its chunks' totals, from the start "
          "and resumed from a chunk's end",
          "[examples][files]") {
  temp_dir dir;
  auto path = dir.path + "/input";
  REQUIRE(!generate_input(path, 1 << 20));
  auto expected = load(path + ".expected");
  REQUIRE(expected);
  auto file = open_file::open(path);
  REQUIRE(file);
  constexpr uint64_t cut = 64 * 1024;
  auto size = (*file)->size();
  CHECK(expected->offset() == size);
  // Totals [from, size) cut as a stream is: the first chunk exact.
  auto total_from = [&](uint64_t from, totals_table& t) {
    bool exact = true;
    uint64_t next = from;
    for (uint64_t at = from; at < size;) {
      auto to = std::min(size, (at / cut + 1) * cut);
      auto part = (*file)->total_chunk(at, exact, to, 1024);
      REQUIRE(part);
      CHECK(part->offset() == next); // chunks meet exactly
      next = part->end();
      t.merge(*part);
      exact = false;
      at = to;
    }
    CHECK(next == size);
  };
  totals_table whole;
  total_from(0, whole);
  CHECK(MessageDifferencer::Equals(whole.to_aggregate(size, true), *expected));
  // Resumed from where the chunk cut at 5 * cut ended: the first part of
  // the file, then the rest, add up to the same.
  auto fifth = (*file)->total_chunk(4 * cut, false, 5 * cut, 1024);
  REQUIRE(fifth);
  totals_table before;
  for (uint64_t at = 0; at < 5 * cut;) {
    auto to = std::min(size, (at / cut + 1) * cut);
    auto part = (*file)->total_chunk(at, at == 0, to, 1024);
    REQUIRE(part);
    before.merge(*part);
    at = to;
  }
  totals_table after;
  total_from(fifth->end(), after);
  before.merge(after.to_chunk_totals(fifth->end(), size));
  CHECK(MessageDifferencer::Equals(before.to_aggregate(size, true), *expected));
}

TEST_CASE("values the 4-byte fast path cannot take go the careful way, errors and all",
          "[examples][files]") {
  // Each has 4 or more bytes after the comma, so the fast path looks first.
  totals_table t;
  auto describe = [](const caf::error& err) { return to_string(err); };
  CHECK(describe(add_records("k0001,5x\nk0002,1\n", 0, t)).find("malformed value at offset 7")
        != std::string::npos);
  CHECK(describe(add_records("k0001,\nk0002,1\n", 0, t)).find("malformed record at offset 0")
        != std::string::npos);
  CHECK(describe(add_records("k0001,5 \nk0002,1\n", 0, t)).find("malformed value at offset 7")
        != std::string::npos);
  CHECK(
    describe(add_records("k0001,5\x80\nk0002,1\n", 0, t)).find("malformed value at offset 7")
    != std::string::npos);
  CHECK(describe(add_records("k0001,/9\nk0002,1\n", 0, t)).find("malformed value at offset 6")
        != std::string::npos);
  CHECK(t.records == 0);
  // 1, 2, 3 and 4 digits, and values at the end of the data.
  REQUIRE(!add_records("k0007,0\nk0007,12\nk0007,345\nk0007,6789\nk0007,9\n", 0, t));
  CHECK(t.records == 5);
  CHECK(t.fixed[7][0] == 5);
  CHECK(t.fixed[7][1] == 0 + 12 + 345 + 6789 + 9);
}

TEST_CASE("chunks cut every n bytes meet and total every record once, for every n",
          "[examples][files]") {
  // Records of 8 to 30 bytes, so cuts land everywhere: right after a
  // newline, inside a key, inside a value, and inside records that span
  // several cuts (empty chunks).
  temp_dir dir;
  auto path = dir.path + "/input";
  std::string text = "k0001,1\nk0002,22\nk0003,333\nsome-much-longer-key-000,4444\n"
                     "k0004,5\nanother-long-key,66\nk0005,777\n";
  std::ofstream{path} << text;
  totals_table direct;
  REQUIRE(!add_records(text, 0, direct));
  auto file = open_file::open(path);
  REQUIRE(file);
  auto size = (*file)->size();
  for (uint64_t cut = 1; cut <= size + 1; ++cut) {
    CAPTURE(cut);
    totals_table chunks;
    uint64_t next = 0;
    for (uint64_t at = 0; at < size; at = std::min(size, (at / cut + 1) * cut)) {
      auto part = (*file)->total_chunk(at, at == 0, std::min(size, (at / cut + 1) * cut), 64);
      REQUIRE(part);
      CHECK(part->offset() == next);
      CHECK(part->end() >= part->offset());
      next = part->end();
      chunks.merge(*part);
    }
    CHECK(next == size);
    CHECK(chunks.records == direct.records);
    CHECK(chunks.fixed == direct.fixed);
    CHECK(chunks.others == direct.others);
  }
}
