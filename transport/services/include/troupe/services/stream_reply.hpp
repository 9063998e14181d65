#pragma once

/// What a server-streaming method returns.
///
/// For `rpc Orders(OrderQuery) returns (stream Order)` the generated
/// `Service` has
///
///   virtual stream_reply<Order> orders(server_call& call, const OrderQuery& req);
///
/// and a method returns one of:
///  - a pull source, as for `actors::spawn_producer` (optionally with a
///    `producer_config`): the service spawns a producer for this call;
///    the source is pulled only while the caller has credit, so a slow
///    caller slows the source (the caller's capacity is the bound);
///  - a running producer of `T` (`caf::actor`), e.g. one shared feed: the
///    service never stops it (not when nobody subscribes, not when the
///    service stops);
///  - `stream_reply<T>::owned(producer)`: a producer the method spawned for
///    this call (to keep its handle), owned like a pull source's;
///  - a status (`caf::error` or an `rpc_errc`): the call fails with it.
///
/// The caller gets the stream as a producer handle (local: the producer
/// itself; remote: an importer pulling with the caller's capacity) and
/// subscribes consumers to it. A stream spawned for the call that nobody
/// subscribes to by the call's deadline (or `stream_open_timeout` without
/// one) is stopped with `deadline_exceeded`. Once open, it runs until its source is done, its
/// consumer stops, or its service stops (a service's streams stop with it).

#include <type_traits>
#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/error.hpp>
#include <caf/message.hpp>

#include <troupe/actors/producer.hpp>
#include <troupe/transport/remote_stream.hpp>

#include "troupe/services/service.hpp"

namespace troupe::services {

template <class T>
class stream_reply {
public:
  /// A producer spawned for this call, pulling `source`.
  template <class F,
            class = std::enable_if_t<
              std::is_invocable_r_v<actors::pull_status, F&, size_t, std::vector<T>&>>>
  stream_reply(F source, actors::producer_config cfg = {}) // NOLINT: implicit on purpose
    : source_(std::move(source)), cfg_(std::move(cfg)) {
    // nop
  }

  /// A running producer of `T`.
  stream_reply(caf::actor producer) : producer_(std::move(producer)) { // NOLINT
    // nop
  }

  /// A producer of `T` the method spawned for this call itself (it needs
  /// the handle, e.g. to resume a source that waits for events with
  /// `flow_resume_atom`): the service owns it as it owns a pull source's
  /// producer (stopped when nobody subscribes in time, and when the
  /// service stops).
  static stream_reply owned(caf::actor producer) {
    stream_reply result{std::move(producer)};
    result.owned_ = true;
    return result;
  }

  stream_reply(caf::error err) : err_(std::move(err)) { // NOLINT
    // nop
  }

  template <class E,
            class = std::enable_if_t<caf::has_make_error<E>::value
                                     || caf::detail::error_factory<E>::specialized>>
  stream_reply(E code) : err_(caf::make_error(code)) { // NOLINT
    // nop
  }

  /// Opens the stream for `call` (generated code).
  caf::message open(service_base& service, server_call& call) && {
    if (err_)
      return caf::make_message(std::move(err_));
    auto producer = std::move(producer_);
    bool owned = owned_ || static_cast<bool>(source_);
    if (source_) {
      auto spawned =
        actors::spawn_producer<T>(*call.self(), std::move(cfg_), std::move(source_));
      if (!spawned)
        return caf::make_message(caf::make_error(rpc_errc::internal,
                                                 "cannot start the stream's producer: "
                                                   + messages::describe(spawned.error())));
      producer = std::move(*spawned);
    }
    if (!producer)
      return caf::make_message(
        caf::make_error(rpc_errc::internal, "the stream has no producer"));
    return service.open_stream(call, std::move(producer), owned, T::descriptor()->full_name(),
                               [](caf::actor_system& sys, caf::actor p) {
                                 return transport::spawn_export_hub<T>(
                                   sys, std::move(p),
                                   transport::stream_export_config::from(sys.config()));
                               });
  }

private:
  actors::source_fn<T> source_;
  actors::producer_config cfg_;
  caf::actor producer_;
  bool owned_ = false;
  caf::error err_;
};

} // namespace troupe::services
