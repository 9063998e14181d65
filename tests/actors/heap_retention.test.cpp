// The freed heap a Troupe process keeps for reuse instead of giving it back
// to the kernel at once (heap_retention.hpp).

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <catch2/catch.hpp>

#include <caf/settings.hpp>

#include <troupe/actors/heap_retention.hpp>
#include <troupe/actors/system_config.hpp>

using troupe::actors::heap_retention;
using troupe::actors::retain_freed_heap;

namespace {

constexpr uint64_t mib = uint64_t{1} << 20;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool sanitizer_allocator = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool sanitizer_allocator = true;
#else
constexpr bool sanitizer_allocator = false;
#endif
#else
constexpr bool sanitizer_allocator = false;
#endif

} // namespace

TEST_CASE("troupe.memory.trim-threshold is a config key with its default",
          "[actors][heap_retention]") {
  troupe::actors::system_config cfg;
  CHECK(caf::get_or(cfg, "troupe.memory.trim-threshold", uint64_t{0})
        == troupe::actors::default_trim_threshold);
  char prog[] = "test";
  char arg[] = "--troupe.memory.trim-threshold=1048576";
  char* argv[] = {prog, arg};
  REQUIRE_FALSE(cfg.parse(2, argv));
  CHECK(caf::get_or(cfg, "troupe.memory.trim-threshold", uint64_t{0}) == mib);
}

TEST_CASE("a freed block below the threshold stays in the heap for reuse",
          "[actors][heap_retention]") {
  if constexpr (sanitizer_allocator) {
    // A sanitizer's allocator is not glibc's: nothing to set.
    CHECK(retain_freed_heap(64 * mib) == heap_retention::unsupported);
  } else {
    REQUIRE(std::getenv("MALLOC_TRIM_THRESHOLD_") == nullptr);
    REQUIRE(retain_freed_heap(64 * mib) == heap_retention::applied);
#if defined(__GLIBC__)
    // 24 MiB: far above glibc's own thresholds (128 KiB, and only what a
    // freed mmap raised them to), so by default the block is mapped and
    // unmapped; kept, it is the heap's free top after `free`.
    constexpr size_t block = 24 * mib;
    auto* p = static_cast<char*>(std::malloc(block));
    REQUIRE(p != nullptr);
    std::memset(p, 1, block);
    std::free(p);
    CHECK(mallinfo2().keepcost >= block);
#endif
    // A smaller request later (a second actor system) keeps the larger one.
    CHECK(retain_freed_heap(16 * mib) == heap_retention::applied);
  }
}

TEST_CASE("0 leaves glibc's policy; the environment's setting wins",
          "[actors][heap_retention]") {
  if constexpr (sanitizer_allocator) {
    CHECK(retain_freed_heap(0) == heap_retention::unsupported);
  } else {
    CHECK(retain_freed_heap(0) == heap_retention::disabled);
    ::setenv("MALLOC_TRIM_THRESHOLD_", "131072", 1);
    CHECK(retain_freed_heap(64 * mib) == heap_retention::left_to_environment);
    ::unsetenv("MALLOC_TRIM_THRESHOLD_");
    ::setenv("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=131072", 1);
    CHECK(retain_freed_heap(64 * mib) == heap_retention::left_to_environment);
    ::unsetenv("GLIBC_TUNABLES");
  }
}
