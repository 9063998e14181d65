#include "troupe/services/rpc_errc.hpp"

#include <caf/sec.hpp>

#include <troupe/actors/flow_errc.hpp>
#include <troupe/messages/message_errc.hpp>
#include <troupe/transport/transport_errc.hpp>

namespace troupe::services {

rpc_errc status_of(const caf::error& err) {
  using actors::flow_errc;
  using messages::message_errc;
  using transport::transport_errc;
  if (!err)
    return rpc_errc::none;
  if (err.category() == rpc_errc_category)
    return static_cast<rpc_errc>(err.code());
  if (messages::is(err, flow_errc::deadline_exceeded)
      || messages::is(err, transport_errc::request_timeout)
      || messages::is(err, caf::sec::request_timeout))
    return rpc_errc::deadline_exceeded;
  if (messages::is(err, flow_errc::cancelled))
    return rpc_errc::cancelled;
  if (messages::is(err, transport_errc::unknown_actor)
      || messages::is(err, transport_errc::peer_lost)
      || messages::is(err, transport_errc::duplicate_connection)
      || messages::is(err, transport_errc::peer_timeout)
      || messages::is(err, transport_errc::node_stopped)
      || messages::is(err, transport_errc::connect_failed)
      || messages::is(err, transport_errc::tls_mismatch)
      || messages::is(err, transport_errc::tls_failed)
      || messages::is(err, caf::sec::request_receiver_down)
      || messages::is(err, flow_errc::upstream_unavailable))
    return rpc_errc::unavailable;
  if (messages::is(err, caf::sec::unexpected_message))
    return rpc_errc::unimplemented;
  if (messages::is(err, flow_errc::mailbox_full)
      || messages::is(err, transport_errc::too_many_connections)
      || messages::is(err, transport_errc::too_many_requests)
      || messages::is(err, transport_errc::too_many_sessions)
      || messages::is(err, transport_errc::slow_peer)
      || messages::is(err, transport_errc::frame_too_large))
    return rpc_errc::resource_exhausted;
  if (err.category() == messages::category_of<message_errc>())
    return rpc_errc::internal;
  return rpc_errc::unknown;
}

caf::error to_status(caf::error err) {
  if (!err || err.category() == rpc_errc_category)
    return err;
  auto code = status_of(err);
  return caf::make_error(code, messages::describe(err));
}

} // namespace troupe::services
