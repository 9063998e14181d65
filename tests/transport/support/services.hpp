#pragma once

// The test services published by test nodes (in-process and the
// troupe-transport-test-node program): "echo" answers a Call with an Answer,
// "recorder" does the same with the envelope (delivery::with_envelope) and
// counts.

#include <atomic>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

#include <caf/all.hpp>

#include "transport_test/v1/calls.pb.h"
#include "troupe/envelope.pb.h"

namespace troupe::testing {

using transport_test::v1::Answer;
using transport_test::v1::Call;
using transport_test::v1::Count;
using transport_test::v1::Note;
using transport_test::v1::Tally;

/// Shared counters, so tests can look at them from outside the actors.
struct service_stats {
  std::atomic<uint64_t> handled{0};
  std::atomic<uint64_t> notes{0};
};

using service_stats_ptr = std::shared_ptr<service_stats>;

inline caf::error service_failure(const Call& call) {
  return caf::make_error(caf::sec::invalid_argument, "asked to fail: " + call.text());
}

/// Answers a Call (after `sleep_ms`, or with an error if `fail`).
inline caf::behavior echo_service(caf::event_based_actor* self, std::string node_id,
                                  service_stats_ptr stats) {
  using promise = caf::typed_response_promise<Answer>;
  auto sleeping = std::make_shared<std::unordered_map<uint64_t, std::pair<promise, Answer>>>();
  return {
    [=](const Call& call) -> caf::result<Answer> {
      auto n = ++stats->handled;
      if (call.fail())
        return service_failure(call);
      Answer answer;
      *answer.mutable_echo() = call;
      answer.set_handled_by(node_id);
      answer.set_handled(n);
      if (call.sleep_ms() == 0)
        return answer;
      auto rp = self->make_response_promise<Answer>();
      sleeping->emplace(n, std::make_pair(rp, answer));
      self->delayed_send(self, std::chrono::milliseconds{call.sleep_ms()}, caf::ok_atom::value,
                         n);
      return rp;
    },
    [=](caf::ok_atom, uint64_t id) {
      auto i = sleeping->find(id);
      if (i != sleeping->end()) {
        i->second.first.deliver(i->second.second);
        sleeping->erase(i);
      }
    },
    [=](const Count&) {
      Tally t;
      t.set_handled(stats->handled.load());
      return t;
    },
    [=](const Note&) { ++stats->notes; },
  };
}

/// Like echo, published with delivery::with_envelope: reports what the
/// envelope said.
inline caf::behavior recorder_service(caf::event_based_actor*, std::string node_id,
                                      service_stats_ptr stats) {
  return {
    [=](const troupe::Envelope& env, const Call& call) -> caf::result<Answer> {
      auto n = ++stats->handled;
      if (call.fail())
        return service_failure(call);
      Answer answer;
      *answer.mutable_echo() = call;
      answer.set_handled_by(node_id);
      answer.set_handled(n);
      answer.set_trace_id(env.trace().trace_id());
      answer.set_request_id(env.trace().request_id());
      answer.set_deadline_remaining_us(env.deadline_remaining_us());
      answer.set_attempt(env.attempt());
      return answer;
    },
    [=](const troupe::Envelope&, const Count&) {
      Tally t;
      t.set_handled(stats->handled.load());
      return t;
    },
    [=](const troupe::Envelope&, const Note&) { ++stats->notes; },
  };
}

/// A Call with every field set.
inline Call full_call(const std::string& text = "hello") {
  Call call;
  call.set_text(text);
  call.set_number(-1234567890123LL);
  call.set_big(18446744073709551615ULL);
  call.set_small(-42);
  call.set_real(3.25);
  call.set_flag(true);
  call.set_blob(std::string{"\x00\x01\xff\x7f", 4});
  call.mutable_part()->set_label("part");
  call.mutable_part()->add_values(1);
  call.mutable_part()->add_values(-2);
  auto* p = call.add_parts();
  p->set_label("p1");
  p->add_values(7);
  call.add_parts()->set_label("p2");
  (*call.mutable_counts())["a"] = 1;
  (*call.mutable_counts())["b"] = -2;
  call.set_code(99);
  call.set_maybe(0);
  return call;
}

} // namespace troupe::testing
