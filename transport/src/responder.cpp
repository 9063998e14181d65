#include "responder.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/make_actor.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>
#include <caf/type_erased_tuple.hpp>

#include <google/protobuf/message.h>

#include <troupe/actors/log.hpp>
#include <troupe/messages/error_category.hpp>
#include <troupe/messages/message_errc.hpp>
#include <troupe/messages/type_registry.hpp>

#include "envelope_writer.hpp"
#include "framing.hpp"
#include "payload.hpp"
#include "troupe/envelope.pb.h"
#include "troupe/transport/transport_errc.hpp"
#include "troupe/transport/wire_error.hpp"

namespace troupe::transport::internal {

namespace {

/// At most this many finished request nodes are kept for reuse (each keeps
/// its string's capacity, so a reused one costs no allocation).
constexpr size_t max_spare = 128;

/// Decodes the trace context out of the encoded trace field (Envelope field
/// 7: one tag byte, a varint length, the TraceContext).
troupe::TraceContext trace_of(const std::string& echo, size_t split) {
  troupe::TraceContext result;
  size_t pos = split + 1;
  uint64_t len = 0;
  for (int shift = 0; pos < echo.size() && shift < 64; shift += 7) {
    auto byte = static_cast<uint8_t>(echo[pos++]);
    len |= static_cast<uint64_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0)
      break;
  }
  if (pos + len <= echo.size())
    result.ParseFromArray(echo.data() + pos, static_cast<int>(len));
  return result;
}

} // namespace

responder::responder(caf::actor_config& cfg, connection_io_ptr io, config_ptr config)
  : caf::monitorable_actor(cfg),
    io_(std::move(io)),
    cfg_(std::move(config)),
    log_(actors::logger("troupe.transport")) {
  pending_.reserve(64);
}

responder::~responder() = default;

const char* responder::name() const {
  return "troupe.transport.responder";
}

void responder::label(std::string x) {
  std::lock_guard<adaptive_mutex> guard{mtx_};
  label_ = std::move(x);
}

std::string responder::label() const {
  std::lock_guard<adaptive_mutex> guard{mtx_};
  return label_;
}

size_t responder::in_flight() const {
  std::lock_guard<adaptive_mutex> guard{mtx_};
  return pending_.size();
}

caf::message_id responder::expect(const envelope_fields& env) {
  std::lock_guard<adaptive_mutex> guard{mtx_};
  next_id_ = (next_id_ + 1) & caf::message_id::request_id_mask;
  if (next_id_ == 0)
    next_id_ = 1;
  inbound_map::node_type node;
  if (!spare_.empty()) {
    node = std::move(spare_.back());
    spare_.pop_back();
  } else {
    node = pending_.extract(pending_.emplace(0, inbound{}).first);
  }
  node.key() = next_id_;
  auto& req = node.mapped();
  req.correlation_id = env.correlation_id;
  req.echo.clear();
  append_address_fields(env.receiver_node, env.receiver_name, env.sender_node, env.sender_name,
                        req.echo);
  req.split = req.echo.size();
  // The reply copies the call's trace context and attempt, not its method.
  append_trace_fields(trace_fields{env.trace_id, env.request_id, env.span_id, env.attempt, {}},
                      req.echo);
  if (!closed_)
    pending_.insert(std::move(node));
  return caf::make_message_id(next_id_);
}

void responder::enqueue(caf::mailbox_element_ptr what, caf::execution_unit* host) {
  if (!what->mid.is_response()) {
    // Nobody should talk to a responder; answer requests, drop the rest.
    if (what->mid.is_request())
      bounce(what, caf::sec::unexpected_message);
    return;
  }
  inbound_map::node_type node;
  {
    std::lock_guard<adaptive_mutex> guard{mtx_};
    auto i = pending_.find(what->mid.request_id().integer_value());
    if (i == pending_.end())
      return; // the connection ended meanwhile
    node = pending_.extract(i);
  }
  reply(node.mapped(), what->content(), host);
  std::lock_guard<adaptive_mutex> guard{mtx_};
  if (!closed_ && spare_.size() < max_spare)
    spare_.push_back(std::move(node));
}

void responder::reply(inbound& req, caf::type_erased_tuple& content,
                      caf::execution_unit* host) {
  if (content.size() == 1 && content.match_element<caf::error>(0)) {
    send_error(content.get_as<caf::error>(0), req, host);
    return;
  }
  envelope_view env;
  env.addresses = std::string_view{req.echo}.substr(0, req.split);
  env.trace = std::string_view{req.echo}.substr(req.split);
  env.correlation_id = req.correlation_id;
  if (content.size() > 0) {
    payload_ref payload;
    auto err = content.size() == 1
      ? view_payload(content, 0, payload)
      : caf::make_error(messages::message_errc::not_a_protobuf_message, content.stringify());
    if (err) {
      auto trace = trace_of(req.echo, req.split);
      log_->warn("{}: reply to request {} is not a protobuf message: {}", label(),
                 trace.request_id(), messages::describe(err));
      send_error(err, req, host);
      return;
    }
    env.type = payload.type->full_name;
    env.payload = payload.message;
  }
  auto err = io_->write(
    [&](std::string& buf) {
      return append_envelope_frame(envelope_kind::reply, env, cfg_->max_frame_size, buf);
    },
    host);
  if (err && err != transport_errc::node_stopped)
    send_error(err, req, host);
}

void responder::send_error(const caf::error& err, const inbound& req,
                           caf::execution_unit* host) {
  auto trace = trace_of(req.echo, req.split);
  (void)io_->write(
    [&](std::string& buf) {
      append_error_frame(err, req.correlation_id, &trace, error_scope::message,
                         cfg_->max_frame_size, buf);
      return caf::error{};
    },
    host);
}

void responder::close(caf::error reason) {
  cleanup(std::move(reason), nullptr);
}

void responder::on_cleanup(const caf::error&) {
  std::lock_guard<adaptive_mutex> guard{mtx_};
  closed_ = true;
  pending_.clear();
  spare_.clear();
}

caf::actor make_responder(caf::actor_system& sys, connection_io_ptr io, config_ptr cfg) {
  caf::actor_config actor_cfg;
  return caf::make_actor<responder, caf::actor>(sys.next_actor_id(), sys.node(), &sys,
                                                actor_cfg, std::move(io), std::move(cfg));
}

responder& responder_of(const caf::actor& handle) {
  return static_cast<responder&>(*caf::actor_cast<caf::abstract_actor*>(handle));
}

} // namespace troupe::transport::internal
