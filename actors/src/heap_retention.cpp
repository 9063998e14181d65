#include "troupe/actors/heap_retention.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TROUPE_SANITIZER_ALLOCATOR 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TROUPE_SANITIZER_ALLOCATOR 1
#endif
#endif

namespace troupe::actors {

#if defined(__GLIBC__) && !defined(TROUPE_SANITIZER_ALLOCATOR)
namespace {

/// True if the operator set the trim threshold for this process.
bool set_by_environment() {
  if (std::getenv("MALLOC_TRIM_THRESHOLD_") != nullptr)
    return true;
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  return tunables != nullptr
    && std::strstr(tunables, "glibc.malloc.trim_threshold") != nullptr;
}

} // namespace
#endif

heap_retention retain_freed_heap(uint64_t trim_threshold) {
#if defined(__GLIBC__) && !defined(TROUPE_SANITIZER_ALLOCATOR)
  if (trim_threshold == 0)
    return heap_retention::disabled;
  if (set_by_environment())
    return heap_retention::left_to_environment;
  // glibc's own limits: the mmap threshold at most 32 MiB (HEAP_MAX / 2 on
  // 64-bit), and mallopt takes an int.
  constexpr uint64_t max_mmap_threshold = uint64_t{32} << 20;
  constexpr uint64_t max_trim_threshold = uint64_t{1} << 30;
  static std::mutex mtx;
  static uint64_t applied = 0;
  std::lock_guard<std::mutex> guard{mtx};
  auto trim = std::min(trim_threshold, max_trim_threshold);
  if (trim <= applied)
    return heap_retention::applied;
  // Setting either turns glibc's adaptive thresholds off: set both, as that
  // rule would (trim = 2 x mmap), never below glibc's default of 128 KiB.
  constexpr uint64_t default_mmap_threshold = uint64_t{128} << 10;
  auto mmap = std::clamp(trim / 2, default_mmap_threshold, max_mmap_threshold);
  if (mallopt(M_TRIM_THRESHOLD, static_cast<int>(trim)) != 1
      || mallopt(M_MMAP_THRESHOLD, static_cast<int>(mmap)) != 1)
    return heap_retention::unsupported;
  applied = trim;
  return heap_retention::applied;
#else
  (void)trim_threshold;
  return heap_retention::unsupported;
#endif
}

} // namespace troupe::actors
