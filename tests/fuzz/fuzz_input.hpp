#pragma once

// Splits a fuzzer's input the way a network would: a few bytes decide how
// the rest arrives (chunk sizes), so one input also explores reads that end
// anywhere inside a frame.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace troupe::fuzz {

/// Reads the input front to back; every getter is total (an exhausted input
/// yields zeros and empty views), so a target never reads out of bounds.
class fuzz_input {
public:
  fuzz_input(const uint8_t* data, size_t size)
    : data_(reinterpret_cast<const char*>(data)), size_(size) {}

  uint8_t byte() {
    return pos_ < size_ ? static_cast<uint8_t>(data_[pos_++]) : 0;
  }

  uint32_t u32() {
    uint32_t x = 0;
    for (int i = 0; i < 4; ++i)
      x = (x << 8) | byte();
    return x;
  }

  /// The next `n` bytes (fewer at the end).
  std::string_view take(size_t n) {
    n = std::min(n, size_ - pos_);
    std::string_view result{data_ + pos_, n};
    pos_ += n;
    return result;
  }

  /// Everything not read yet.
  std::string_view rest() {
    return take(size_ - pos_);
  }

  bool empty() const {
    return pos_ >= size_;
  }

private:
  const char* data_;
  size_t size_;
  size_t pos_ = 0;
};

} // namespace troupe::fuzz
