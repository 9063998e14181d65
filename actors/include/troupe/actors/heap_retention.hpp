#pragma once

/// `heap_retention`: how much freed heap a Troupe process keeps for reuse
/// instead of handing it back to the kernel at once.
///
/// # Why a framework sets this
///
/// glibc's `free` gives the free top of a heap back to the kernel as soon
/// as it exceeds 128 KiB (`M_TRIM_THRESHOLD`); the next allocation there
/// takes it back, one page fault per 4 KiB. A stream holds up to its
/// capacity of items in flight — a remote stream a MiB and more, in
/// batches of tens of KiB — allocated and freed many times a second, so the
/// heap's top rises and falls by more than 128 KiB all the time. In
/// `bench/transport`'s remote pipeline that was 59 000 page faults for
/// 10 M items and 10-15 % of its throughput (the heap's top given
/// back and faulted in again, over and over). Erlang's allocators keep
/// their carriers for the same reason.
///
/// `troupe.memory.trim-threshold` (bytes; default 16 MiB, `0` = leave
/// glibc's own policy) is set when an actor system made from a Troupe
/// `system_config` starts: free memory at the top of a heap is kept up to
/// that size, and blocks up to half of it come from the heap rather than
/// from `mmap` — the state glibc's own adaptive rule reaches after a
/// program freed a block of that half size. The price is that much of
/// freed memory kept per malloc arena (glibc makes up to 8 per core), and
/// only memory a process has used at its peak: flat memory stays flat.
///
/// Process-wide: `mallopt` has no other scope. The environment's word wins:
/// if `MALLOC_TRIM_THRESHOLD_` or a `GLIBC_TUNABLES` `glibc.malloc.trim_threshold`
/// is set, Troupe leaves the allocator alone. Several actor systems in one
/// process: the largest threshold asked for stays.
///
/// Thread safety: `retain_freed_heap` may be called from any thread.

#include <cstddef>
#include <cstdint>

namespace troupe::actors {

/// What `retain_freed_heap` did.
enum class heap_retention : uint8_t {
  /// The threshold is set (or a larger one already was).
  applied,
  /// Asked for 0: glibc's defaults stay.
  disabled,
  /// The environment sets the trim threshold: it stays.
  left_to_environment,
  /// Not glibc's allocator (another libc, or a sanitizer's): nothing to do.
  unsupported,
};

/// Default of `troupe.memory.trim-threshold`: 16 MiB.
inline constexpr uint64_t default_trim_threshold = uint64_t{16} << 20;

/// Keeps up to `trim_threshold` bytes of free memory at the top of each
/// heap (see above).
heap_retention retain_freed_heap(uint64_t trim_threshold);

} // namespace troupe::actors
