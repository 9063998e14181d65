#pragma once

/// `async_stream`: a server-streaming call made from inside an actor,
/// started by `then`; its callback gets a producer handle of the items
/// (the service's own producer, or an importer of the remote stream
/// pulling with the caller's capacity). See `stub.hpp`.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/error.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/expected.hpp>

#include <troupe/actors/actor_path.hpp>
#include <troupe/actors/call_context.hpp>
#include <troupe/transport/remote_stream.hpp>

#include "troupe/service.pb.h"
#include "troupe/services/async_reply.hpp"
#include "troupe/services/stub_core.hpp"

namespace troupe::services {

namespace detail {

template <class Item>
caf::expected<caf::actor> make_importer(caf::actor_system& sys, caf::actor remote,
                                        uint32_t capacity) {
  transport::stream_import_config cfg = transport::stream_import_config::from(sys.config());
  cfg.capacity = capacity;
  // Batches to the local consumer grow with the capacity (a thirty-second
  // of it, at least the configured size, at most 1024): a large capacity
  // is asked for to move many items, and per-batch costs dominate there.
  cfg.batch_size =
    std::min({capacity, uint32_t{1024}, std::max(cfg.batch_size, capacity / 32)});
  return transport::spawn_importer<Item>(sys, std::move(remote), cfg);
}

} // namespace detail

/// A server-streaming call made from inside an actor, started by `then`:
/// `on_stream(caf::actor stream)` gets a producer of the items to subscribe
/// a consumer to (capacity at most the call's), or `on_error(caf::error&)`
/// the status. Both run once, in the actor.
template <class Request, class Item>
class [[nodiscard]] async_stream {
public:
  async_stream(async_reply<Request, troupe::StreamOpened> open, stub_core_ptr core,
               caf::event_based_actor* self, uint32_t capacity)
    : open_(std::move(open)), core_(std::move(core)), self_(self), capacity_(capacity) {
    // nop
  }

  template <class OnStream, class OnError>
  void then(OnStream on_stream, OnError on_error) {
    auto fail = std::make_shared<OnError>(std::move(on_error));
    auto ok = std::make_shared<OnStream>(std::move(on_stream));
    // Finding the stream is part of the call: it gets what is left of the
    // deadline, and the callbacks run in the caller's context.
    auto deadline = core_->deadline_for(open_.options(), self_->clock().now());
    std::optional<actors::call_context> outer;
    if (const auto* current = actors::current_call_context())
      outer = *current;
    const auto* path = actors::current_actor_path();
    std::move(open_).then_from(
      [core = core_, self = self_, capacity = capacity_, ok, fail, deadline, outer,
       path](troupe::StreamOpened& opened, const caf::actor& from) {
        auto left = std::max(deadline - self->clock().now(),
                             caf::timespan{std::chrono::milliseconds{1}});
        core->claim(self, opened, from, capacity, left, &detail::make_importer<Item>,
                    [ok, fail, outer, self, path](caf::expected<caf::actor> stream) {
                      std::optional<actors::call_context_scope> scope;
                      if (outer)
                        scope.emplace(*outer, &self->clock());
                      std::optional<actors::actor_path_scope> at;
                      if (path != nullptr)
                        at.emplace(*path);
                      if (stream) {
                        (*ok)(*stream);
                      } else {
                        auto err = to_status(std::move(stream.error()));
                        (*fail)(err);
                      }
                    });
      },
      [fail](caf::error& err) { (*fail)(err); });
  }

private:
  async_reply<Request, troupe::StreamOpened> open_;
  stub_core_ptr core_;
  caf::event_based_actor* self_;
  uint32_t capacity_;
};

} // namespace troupe::services
