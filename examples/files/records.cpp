#include "records.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include <caf/error.hpp>
#include <caf/sec.hpp>

#include <troupe/services/rpc_errc.hpp>

namespace files {

namespace {

constexpr size_t keys = 10'000;

caf::error io_error(const std::string& what, const std::string& path) {
  return caf::make_error(caf::sec::runtime_error,
                         what + " " + path + ": " + std::strerror(errno));
}

/// The index of a generator key (k0000–k9999) in the flat table; `keys`
/// for any other key.
size_t fixed_key_index(std::string_view key) {
  if (key.size() != 5 || key[0] != 'k')
    return keys;
  size_t k = 0;
  for (size_t i = 1; i < 5; ++i) {
    if (key[i] < '0' || key[i] > '9')
      return keys;
    k = k * 10 + static_cast<size_t>(key[i] - '0');
  }
  return k;
}

std::string key_name(size_t k) {
  char name[24];
  std::snprintf(name, sizeof(name), "k%04zu", k);
  return name;
}

} // namespace

caf::expected<uint64_t> write_corrupt_copy(const std::string& from, const std::string& to,
                                           uint64_t near) {
  std::error_code ec;
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing, ec);
  if (ec)
    return io_error("cannot copy to", to);
  std::fstream f{to, std::ios::binary | std::ios::in | std::ios::out};
  if (!f)
    return io_error("cannot open", to);
  char window[256] = {};
  f.seekg(static_cast<std::streamoff>(near));
  f.read(window, sizeof(window));
  auto got = static_cast<size_t>(f.gcount());
  f.clear();
  // The record after the first newline past `near`, and its own comma.
  const char* end = window + got;
  auto* nl = static_cast<const char*>(std::memchr(window, '\n', got));
  const char* record_end = nullptr;
  if (nl != nullptr)
    record_end =
      static_cast<const char*>(std::memchr(nl + 1, '\n', static_cast<size_t>(end - nl - 1)));
  const char* comma = nullptr;
  if (record_end != nullptr)
    comma = static_cast<const char*>(
      std::memchr(nl + 1, ',', static_cast<size_t>(record_end - nl - 1)));
  if (comma == nullptr)
    return caf::make_error(troupe::services::rpc_errc::invalid_argument,
                           "no record to corrupt after offset " + std::to_string(near));
  auto record = near + static_cast<uint64_t>(nl + 1 - window);
  f.seekp(static_cast<std::streamoff>(near + static_cast<uint64_t>(comma - window)));
  f.put('#');
  f.close();
  if (!f)
    return io_error("cannot write", to);
  return record;
}

caf::error generate_input(const std::string& path, uint64_t bytes) {
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  if (!out)
    return io_error("cannot write", path);
  std::vector<uint64_t> count(keys), sum(keys);
  uint64_t x = 0x9E3779B97F4A7C15ULL; // splitmix64, seeded
  std::string buf;
  buf.reserve(1 << 20);
  uint64_t written = 0;
  uint64_t records = 0;
  while (written < bytes) {
    x += 0x9E3779B97F4A7C15ULL;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    auto k = static_cast<size_t>(z % keys);
    auto v = static_cast<unsigned>((z >> 20) % 1000);
    char line[16];
    auto n = std::snprintf(line, sizeof(line), "k%04zu,%u\n", k, v);
    buf.append(line, static_cast<size_t>(n));
    written += static_cast<uint64_t>(n);
    ++records;
    ++count[k];
    sum[k] += v;
    if (buf.size() >= (1 << 20) - 16) {
      out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
      buf.clear();
    }
  }
  out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
  out.close();
  if (!out)
    return io_error("cannot write", path);
  v1::Aggregate expected;
  expected.set_offset(written);
  expected.set_records(records);
  expected.set_complete(true);
  for (size_t k = 0; k < keys; ++k)
    if (count[k] > 0) {
      auto& t = (*expected.mutable_totals())[key_name(k)];
      t.set_count(count[k]);
      t.set_sum(sum[k]);
    }
  return save(expected, path + ".expected");
}

// The fast path below reads 4 bytes as one word, first byte lowest.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "add_records assumes little endian");

caf::error add_records(std::string_view data, uint64_t base, totals_table& into) {
  // One pass over each record, no call per field: this loop is what bounds
  // the pipeline's MB/s (examples/files/README.md, "Where the time goes").
  const char* begin = data.data();
  const char* end = begin + data.size();
  auto offset = [begin, base](const char* at) {
    return std::to_string(base + static_cast<uint64_t>(at - begin));
  };
  auto malformed = [](const char* what, const std::string& at) {
    return caf::make_error(troupe::services::rpc_errc::invalid_argument,
                           std::string{what} + " at offset " + at);
  };
  auto* fixed = into.fixed.data();
  uint64_t records = 0;
  for (const char* p = begin; p < end;) {
    const char* line = p;
    // A generator key (k0000-k9999) is its own index into the flat table.
    size_t k = keys;
    const char* digits = nullptr;
    if (end - p >= 6 && p[0] == 'k' && p[5] == ',') {
      auto d1 = static_cast<unsigned>(p[1] - '0'), d2 = static_cast<unsigned>(p[2] - '0'),
           d3 = static_cast<unsigned>(p[3] - '0'), d4 = static_cast<unsigned>(p[4] - '0');
      if (d1 < 10 && d2 < 10 && d3 < 10 && d4 < 10) {
        k = ((d1 * 10 + d2) * 10 + d3) * 10 + d4;
        digits = p + 6;
      }
    }
    if (digits == nullptr) {
      // Any other key: up to the first comma of its line.
      auto* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
      auto* line_end = nl != nullptr ? nl : end;
      auto* comma =
        static_cast<const char*>(std::memchr(p, ',', static_cast<size_t>(line_end - p)));
      if (comma == nullptr || comma == line)
        return malformed("malformed record", offset(line));
      digits = comma + 1;
    }
    if (k < keys && end - digits >= 4) {
      // The generator's values have 1 to 3 digits: read the 4 bytes after
      // the comma as one word and find the value's end and the value without
      // a branch per digit (whose length is random, and so mispredicted).
      uint32_t word;
      std::memcpy(&word, digits, sizeof(word));
      uint32_t minus0 = word - 0x30303030u; // bytes of digits become 0..9
      // The high bit of each byte that is not 0..9 (bytes after the first
      // such one may be wrong: only the first counts).
      uint32_t non_digits = ((minus0 + 0x76767676u) | minus0) & 0x80808080u;
      auto len = non_digits != 0 ? static_cast<unsigned>(__builtin_ctz(non_digits)) / 8 : 4u;
      if (len >= 1 && len <= 3 && digits[len] == '\n') {
        // Right-align the digits in 3 bytes: d2 d1 d0 -> 100 d2 + 10 d1 + d0.
        uint32_t aligned = (minus0 << (8 * (3 - len))) & 0xFFFFFFu;
        auto& t = fixed[k];
        t[0] += 1;
        t[1] += (aligned & 0xFFu) * 100 + ((aligned >> 8) & 0xFFu) * 10 + (aligned >> 16);
        ++records;
        p = digits + len + 1;
        continue;
      }
    }
    uint64_t value = 0;
    const char* d = digits;
    for (; d < end; ++d) {
      auto digit = static_cast<unsigned>(*d - '0');
      if (digit >= 10)
        break;
      value = value * 10 + digit;
    }
    if (d == end)
      return malformed("malformed record", offset(line)); // no newline
    // At most 18 digits: any 18-digit value fits a uint64_t with room for
    // sums (the limit the format always had).
    if (d - digits > 18)
      return malformed("value too large", offset(digits));
    if (*d != '\n')
      return malformed("malformed value", offset(d));
    if (d == digits)
      return malformed("malformed record", offset(line)); // no value
    auto& t = k < keys
      ? fixed[k]
      : into.others[std::string(line, static_cast<size_t>(digits - 1 - line))];
    t[0] += 1;
    t[1] += value;
    ++records;
    p = d + 1;
  }
  into.records += records;
  return caf::none;
}

void totals_table::merge(const totals_table& other) {
  for (size_t k = 0; k < fixed.size(); ++k) {
    fixed[k][0] += other.fixed[k][0];
    fixed[k][1] += other.fixed[k][1];
  }
  for (auto& [key, t] : other.others) {
    auto& mine = others[key];
    mine[0] += t[0];
    mine[1] += t[1];
  }
  records += other.records;
}

std::array<uint64_t, 2>& totals_table::slot_of(const std::string& key) {
  auto k = fixed_key_index(key);
  return k < keys ? fixed[k] : others[key];
}

void totals_table::merge(const v1::Aggregate& other) {
  for (auto& [key, t] : other.totals()) {
    auto& slot = slot_of(key);
    slot[0] += t.count();
    slot[1] += t.sum();
  }
  records += other.records();
}

void totals_table::merge(const v1::ChunkTotals& other) {
  auto n = std::min<size_t>(fixed.size(), std::min(other.counts_size(), other.sums_size()));
  for (size_t k = 0; k < n; ++k) {
    fixed[k][0] += other.counts(static_cast<int>(k));
    fixed[k][1] += other.sums(static_cast<int>(k));
  }
  for (auto& [key, t] : other.others()) {
    auto& slot = slot_of(key);
    slot[0] += t.count();
    slot[1] += t.sum();
  }
  records += other.records();
}

v1::ChunkTotals totals_table::to_chunk_totals(uint64_t offset, uint64_t end) const {
  v1::ChunkTotals result;
  result.set_offset(offset);
  result.set_end(end);
  result.set_records(records);
  if (std::any_of(fixed.begin(), fixed.end(), [](const auto& t) { return t[0] > 0; })) {
    auto& counts = *result.mutable_counts();
    auto& sums = *result.mutable_sums();
    counts.Reserve(static_cast<int>(fixed.size()));
    sums.Reserve(static_cast<int>(fixed.size()));
    for (auto& t : fixed) {
      counts.AddAlreadyReserved(t[0]);
      sums.AddAlreadyReserved(t[1]);
    }
  }
  auto& rest = *result.mutable_others();
  for (auto& [key, cs] : others) {
    auto& t = rest[key];
    t.set_count(cs[0]);
    t.set_sum(cs[1]);
  }
  return result;
}

void totals_table::clear() {
  std::fill(fixed.begin(), fixed.end(), std::array<uint64_t, 2>{0, 0});
  others.clear();
  records = 0;
}

v1::Aggregate totals_table::to_aggregate(uint64_t offset, bool complete) const {
  v1::Aggregate result;
  result.set_offset(offset);
  result.set_records(records);
  result.set_complete(complete);
  auto& totals = *result.mutable_totals();
  for (size_t k = 0; k < fixed.size(); ++k)
    if (fixed[k][0] > 0) {
      auto& t = totals[key_name(k)];
      t.set_count(fixed[k][0]);
      t.set_sum(fixed[k][1]);
    }
  for (auto& [key, cs] : others) {
    auto& t = totals[key];
    t.set_count(cs[0]);
    t.set_sum(cs[1]);
  }
  return result;
}

caf::error save(const v1::Aggregate& state, const std::string& path) {
  auto tmp = path + ".tmp";
  std::string bytes;
  if (!state.SerializeToString(&bytes))
    return caf::make_error(troupe::services::rpc_errc::internal,
                           "cannot serialize the aggregate");
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return io_error("cannot create", tmp);
  size_t done = 0;
  while (done < bytes.size()) {
    auto n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      ::close(fd);
      return io_error("cannot write", tmp);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    return io_error("cannot fsync", tmp);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return io_error("cannot rename to", path);
  // The rename itself must reach the disk before the commit counts.
  auto slash = path.rfind('/');
  auto dir = slash == std::string::npos ? std::string{"."} : path.substr(0, slash + 1);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return io_error("cannot open", dir);
  auto synced = ::fsync(dfd);
  ::close(dfd);
  if (synced != 0)
    return io_error("cannot fsync", dir);
  return caf::none;
}

caf::expected<v1::Aggregate> load(const std::string& path) {
  v1::Aggregate state;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT)
      return state; // nothing committed yet
    return io_error("cannot open", path);
  }
  auto parsed = state.ParseFromFileDescriptor(fd);
  ::close(fd);
  if (!parsed)
    return caf::make_error(troupe::services::rpc_errc::data_loss,
                           "corrupt checkpoint " + path);
  return state;
}

} // namespace files
