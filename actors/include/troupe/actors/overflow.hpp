#pragma once

/// What a bounded mailbox does with a message that finds it full.
///
/// Usage: `overflow::reject()`, `overflow::drop_oldest()`,
/// `overflow::wait(std::chrono::milliseconds{200})`.

#include <cstdint>
#include <string>

#include <caf/timespan.hpp>

namespace troupe::actors {

class overflow {
public:
  enum class kind : uint8_t {
    /// Park the message (never a thread) until there is room, for at most
    /// `max_wait`; then the sender gets `mailbox_wait_expired`.
    wait,
    /// Drop the incoming message. A requester gets `mailbox_full`, so no
    /// request hangs; a plain send is dropped silently and counted.
    drop_newest,
    /// Drop the oldest queued message (of the same type, for a per-type
    /// policy) to make room; its requester gets `mailbox_full`.
    drop_oldest,
    /// Refuse the incoming message: the sender or requester gets
    /// `mailbox_full`.
    reject,
  };

  static overflow wait(caf::timespan max_wait) {
    return overflow{kind::wait, max_wait};
  }
  static overflow drop_newest() {
    return overflow{kind::drop_newest, {}};
  }
  static overflow drop_oldest() {
    return overflow{kind::drop_oldest, {}};
  }
  static overflow reject() {
    return overflow{kind::reject, {}};
  }

  kind what() const noexcept {
    return kind_;
  }
  caf::timespan max_wait() const noexcept {
    return max_wait_;
  }

  friend bool operator==(const overflow& x, const overflow& y) noexcept {
    return x.kind_ == y.kind_ && x.max_wait_ == y.max_wait_;
  }
  friend bool operator!=(const overflow& x, const overflow& y) noexcept {
    return !(x == y);
  }

private:
  overflow(kind k, caf::timespan max_wait) : kind_(k), max_wait_(max_wait) {}

  kind kind_;
  caf::timespan max_wait_;
};

/// Returns e.g. "reject" or "wait(200ms)".
std::string to_string(const overflow& x);

} // namespace troupe::actors
