#pragma once

/// Fan-out helpers: one request to many actors, combined three ways (as in
/// asyncio):
/// - `gather`: every result and every error side by side, in target order
///   (`gather(..., return_exceptions=True)`);
/// - `as_completed`: each result as it arrives;
/// - `first_success`: the first successful result; the others are ignored.
///
/// Every request carries `timeout`, so each helper completes in bounded time
/// (a target that never answers contributes `request_timeout`). CAF 0.17
/// cannot withdraw a request once sent: `first_success` ignores the later
/// answers, but the other targets still do their work. Callbacks run in the
/// calling actor, like any response handler.
///
/// Usage (inside an event-based actor):
///   gather<int32_t>(self, replicas, 200ms, caf::make_message(get_atom::value),
///                   [=](std::vector<caf::expected<int32_t>> results) { ... });

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/expected.hpp>
#include <caf/message.hpp>
#include <caf/timespan.hpp>

#include "troupe/actors/flow_errc.hpp"

namespace troupe::actors {

/// Calls `on_each(index, result)` for each target as its answer arrives,
/// then `on_all()` once every target answered or failed.
template <class Result>
void as_completed(caf::event_based_actor* self, const std::vector<caf::actor>& targets,
                  caf::timespan timeout, const caf::message& request,
                  std::function<void(size_t, caf::expected<Result>)> on_each,
                  std::function<void()> on_all = {}) {
  auto remaining = std::make_shared<size_t>(targets.size());
  auto each = std::make_shared<decltype(on_each)>(std::move(on_each));
  auto all = std::make_shared<decltype(on_all)>(std::move(on_all));
  auto finished_one = [remaining, all] {
    if (--*remaining == 0 && *all)
      (*all)();
  };
  if (targets.empty()) {
    if (*all)
      (*all)();
    return;
  }
  for (size_t i = 0; i < targets.size(); ++i) {
    self->request(targets[i], timeout, request)
      .then(
        [each, finished_one, i](Result& x) {
          (*each)(i, std::move(x));
          finished_one();
        },
        [each, finished_one, i](caf::error& err) {
          (*each)(i, std::move(err));
          finished_one();
        });
  }
}

/// Calls `done` once with every target's result or error, in target order.
template <class Result>
void gather(caf::event_based_actor* self, const std::vector<caf::actor>& targets,
            caf::timespan timeout, const caf::message& request,
            std::function<void(std::vector<caf::expected<Result>>)> done) {
  auto results = std::make_shared<std::vector<caf::expected<Result>>>(
    targets.size(), caf::expected<Result>{caf::error{}});
  as_completed<Result>(
    self, targets, timeout, request,
    [results](size_t i, caf::expected<Result> x) { (*results)[i] = std::move(x); },
    [results, done = std::move(done)] { done(std::move(*results)); });
}

/// `gather` with at most `max_concurrent` requests in flight at once
/// (asyncio's `gather` under a `Semaphore`): the others start, in target
/// order, as earlier ones answer or fail. 0: no bound. Each request still
/// has `timeout` from its own start.
template <class Result>
void gather(caf::event_based_actor* self, const std::vector<caf::actor>& targets,
            caf::timespan timeout, const caf::message& request, size_t max_concurrent,
            std::function<void(std::vector<caf::expected<Result>>)> done) {
  if (max_concurrent == 0 || max_concurrent >= targets.size()) {
    gather<Result>(self, targets, timeout, request, std::move(done));
    return;
  }
  struct state {
    std::vector<caf::actor> targets;
    std::vector<caf::expected<Result>> results;
    size_t next = 0;
    size_t answered = 0;
    std::function<void(std::vector<caf::expected<Result>>)> done;
    std::function<void()> launch;
  };
  auto st = std::make_shared<state>();
  st->targets = targets;
  st->results.assign(targets.size(), caf::expected<Result>{caf::error{}});
  st->done = std::move(done);
  std::weak_ptr<state> weak = st; // `launch` must not own the state it lives in
  st->launch = [self, timeout, request, weak] {
    auto s = weak.lock();
    if (!s)
      return;
    auto i = s->next++;
    auto finished = [s, i](caf::expected<Result> x) {
      s->results[i] = std::move(x);
      if (++s->answered == s->targets.size()) {
        auto done = std::move(s->done);
        s->launch = nullptr;
        done(std::move(s->results));
      } else if (s->next < s->targets.size()) {
        s->launch();
      }
    };
    self->request(s->targets[i], timeout, request)
      .then([finished](Result& x) { finished(std::move(x)); },
            [finished](caf::error& err) { finished(std::move(err)); });
  };
  for (size_t i = 0; i < max_concurrent; ++i)
    st->launch();
}

/// Calls `done` once: with the first successful result, or, if every target
/// failed, with `all_failed` carrying their errors in target order.
template <class Result>
void first_success(caf::event_based_actor* self, const std::vector<caf::actor>& targets,
                   caf::timespan timeout, const caf::message& request,
                   std::function<void(caf::expected<Result>)> done) {
  struct state {
    bool decided = false;
    std::vector<caf::error> errors;
    std::function<void(caf::expected<Result>)> done;
  };
  auto st = std::make_shared<state>();
  st->errors.resize(targets.size());
  st->done = std::move(done);
  if (targets.empty()) {
    st->done(caf::make_error(flow_errc::all_failed, "no targets"));
    return;
  }
  as_completed<Result>(
    self, targets, timeout, request,
    [st](size_t i, caf::expected<Result> x) {
      if (st->decided)
        return; // a later answer: ignored
      if (x) {
        st->decided = true;
        st->done(std::move(*x));
      } else {
        st->errors[i] = std::move(x.error());
      }
    },
    [st, self] {
      if (st->decided)
        return;
      std::string all;
      for (auto& err : st->errors) {
        if (!all.empty())
          all += "; ";
        all += self->system().render(err);
      }
      st->done(caf::make_error(flow_errc::all_failed, std::move(all)));
    });
}

} // namespace troupe::actors
