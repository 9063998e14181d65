#pragma once

/// Process-wide diagnostics of the transport, for leak checks in tests and
/// health endpoints.

#include <cstddef>

namespace troupe::transport {

/// Number of node I/O runtimes (an Asio io_context and its threads) alive in
/// this process. Each node owns one; it is destroyed once the node stopped
/// and the last socket of it is gone. After every node stopped, this drops
/// to 0 within moments: anything else is a leak.
size_t live_io_runtimes() noexcept;

} // namespace troupe::transport
