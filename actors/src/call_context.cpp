#include "troupe/actors/call_context.hpp"

#include <algorithm>
#include <cassert>
#include <random>

namespace troupe::actors {

namespace {

thread_local const call_context* current = nullptr;
thread_local const caf::actor_clock* current_clock = nullptr;

/// A fast per-thread generator for ids (not secrets): splitmix64, seeded
/// from the OS. W3C trace ids ask for randomness, not for a CSPRNG, and
/// every ingress call draws three words.
uint64_t random_word() {
  thread_local uint64_t state =
    (uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// `digits` (a multiple of 16) random lowercase hex digits, not all zero
/// (W3C forbids that).
std::string random_hex(size_t digits) {
  assert(digits % 16 == 0);
  static constexpr char hex[] = "0123456789abcdef";
  std::string result(digits, '0');
  uint64_t any = 0;
  do {
    for (size_t i = 0; i < digits; i += 16) {
      auto word = random_word();
      any |= word;
      for (size_t j = 0; j < 16; ++j, word >>= 4)
        result[i + j] = hex[word & 0xF];
    }
  } while (any == 0);
  return result;
}

bool is_lower_hex(std::string_view x) {
  return std::all_of(x.begin(), x.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

} // namespace

call_context call_context::ingress(std::string method, time_point now, caf::timespan timeout) {
  call_context result;
  result.method = std::move(method);
  result.trace_id = new_trace_id();
  result.span_id = new_span_id();
  // The trace id names the request too until a caller names it.
  result.request_id = result.trace_id.substr(0, 16);
  if (timeout > caf::timespan{0})
    result.set_deadline(now + timeout);
  return result;
}

call_context call_context::child(std::string method, time_point now,
                                 caf::timespan timeout) const {
  call_context result;
  result.method = std::move(method);
  result.trace_id = trace_id.empty() ? new_trace_id() : trace_id;
  result.span_id = new_span_id();
  result.request_id = request_id;
  result.deadline_ns = deadline_ns;
  if (timeout > caf::timespan{0} && now + timeout < result.deadline())
    result.set_deadline(now + timeout);
  return result;
}

call_context::time_point call_context::deadline() const noexcept {
  if (!has_deadline())
    return time_point::max();
  return time_point{
    std::chrono::duration_cast<time_point::duration>(std::chrono::nanoseconds{deadline_ns})};
}

void call_context::set_deadline(time_point t) noexcept {
  if (t == time_point::max()) {
    deadline_ns = 0;
    return;
  }
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  deadline_ns = ns != 0 ? ns : 1; // 0 means "none"
}

caf::timespan call_context::remaining(time_point now) const noexcept {
  if (!has_deadline())
    return caf::timespan::max();
  return std::chrono::duration_cast<caf::timespan>(deadline() - now);
}

std::string call_context::traceparent() const {
  return "00-" + trace_id + "-" + span_id + "-01";
}

std::string new_trace_id() {
  return random_hex(32);
}

std::string new_span_id() {
  return random_hex(16);
}

bool parse_traceparent(std::string_view text, std::string& trace_id, std::string& span_id) {
  // version "-" trace-id "-" parent-id "-" flags: 2 + 1 + 32 + 1 + 16 + 1 + 2
  if (text.size() != 55 || text[2] != '-' || text[35] != '-' || text[52] != '-')
    return false;
  auto version = text.substr(0, 2);
  auto trace = text.substr(3, 32);
  auto span = text.substr(36, 16);
  auto flags = text.substr(53, 2);
  if (!is_lower_hex(version) || version == "ff" || !is_lower_hex(trace) || !is_lower_hex(span)
      || !is_lower_hex(flags))
    return false;
  if (trace.find_first_not_of('0') == std::string_view::npos
      || span.find_first_not_of('0') == std::string_view::npos)
    return false;
  trace_id.assign(trace);
  span_id.assign(span);
  return true;
}

const call_context* current_call_context() noexcept {
  return current;
}

const caf::actor_clock* current_call_clock() noexcept {
  return current_clock;
}

call_context_scope::call_context_scope(const call_context& ctx,
                                       const caf::actor_clock* clock) noexcept
  : previous_(current), previous_clock_(current_clock) {
  current = &ctx;
  current_clock = clock;
}

call_context_scope::~call_context_scope() {
  current = previous_;
  current_clock = previous_clock_;
}

} // namespace troupe::actors
