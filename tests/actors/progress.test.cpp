// Progress lines: what they say, and the last line on a terminal and off.

#include <catch2/catch.hpp>

#include <cstdio>
#include <string>

#include <troupe/actors/progress.hpp>

using namespace std::chrono_literals;
using troupe::actors::progress;

namespace {

/// Everything written to `f` so far.
std::string contents(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string result;
  char buf[256];
  while (auto n = std::fread(buf, 1, sizeof(buf), f))
    result.append(buf, n);
  return result;
}

} // namespace

TEST_CASE("a progress line shows done, total, rate and time left", "[actors][progress]") {
  CHECK(progress::line("chaos", 412'300, 1'000'000, 2s)
        == "chaos 412 k/1 M (41.2 %), 206 k/s, 2.85 s left");
  CHECK(progress::line("crawl", 37, 0, 1s) == "crawl 37, 37/s"); // total unknown
  CHECK(progress::line("files", 10, 10, 1s) == "files 10/10 (100.0 %), 10/s");
}

TEST_CASE("finish writes the last line, plain or redrawn in place", "[actors][progress]") {
  for (bool terminal : {false, true}) {
    std::FILE* f = std::tmpfile();
    REQUIRE(f != nullptr);
    {
      progress shown{{"demo", 10, [] { return uint64_t{7}; }, f, terminal, 1h}};
      shown.finish();
      shown.finish(); // idempotent
    }                 // the destructor does not write it again
    auto text = contents(f);
    std::fclose(f);
    CAPTURE(text);
    CHECK(text.find("demo 7 in ") != std::string::npos);
    CHECK((text.rfind("\r\033[K", 0) == 0) == terminal);
    CHECK(text.find("demo 7 in ") == text.rfind("demo 7 in ")); // once
  }
}
