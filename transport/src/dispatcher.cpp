#include "dispatcher.hpp"

#include <caf/actor_cast.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>
#include <caf/send.hpp>

#include <troupe/actors/call_context.hpp>
#include <troupe/actors/flow_errc.hpp>
#include <troupe/actors/log.hpp>
#include <troupe/flow.pb.h>
#include <troupe/messages/error_category.hpp>

#include "framing.hpp"
#include "payload.hpp"
#include "proxy.hpp"
#include "responder.hpp"
#include "troupe/transport/transport_errc.hpp"
#include "troupe/transport/wire_error.hpp"

namespace troupe::transport::internal {

namespace {

/// Size of the arena block frames that need protobuf's parser go to.
constexpr size_t arena_block_size = 16 * 1024;

google::protobuf::ArenaOptions arena_options(char* block) {
  google::protobuf::ArenaOptions opts;
  opts.initial_block = block;
  opts.initial_block_size = arena_block_size;
  return opts;
}

/// Views the fields of a parsed envelope.
envelope_fields fields_of(const troupe::Envelope& env) {
  envelope_fields result;
  result.sender_node = env.sender().node();
  result.sender_name = env.sender().name();
  result.receiver_node = env.receiver().node();
  result.receiver_name = env.receiver().name();
  result.type = env.type();
  result.payload = env.payload();
  result.correlation_id = env.correlation_id();
  result.deadline_remaining_us = env.deadline_remaining_us();
  result.trace_id = env.trace().trace_id();
  result.request_id = env.trace().request_id();
  result.span_id = env.trace().span_id();
  result.attempt = env.attempt();
  result.method = env.method();
  return result;
}

/// Builds the envelope a `delivery::with_envelope` actor receives (without
/// payload).
troupe::Envelope envelope_of(const envelope_fields& x) {
  troupe::Envelope result;
  result.mutable_sender()->set_node(std::string{x.sender_node});
  result.mutable_sender()->set_name(std::string{x.sender_name});
  result.mutable_receiver()->set_node(std::string{x.receiver_node});
  result.mutable_receiver()->set_name(std::string{x.receiver_name});
  result.set_type(std::string{x.type});
  result.set_correlation_id(x.correlation_id);
  result.set_deadline_remaining_us(x.deadline_remaining_us);
  result.mutable_trace()->set_trace_id(std::string{x.trace_id});
  result.mutable_trace()->set_request_id(std::string{x.request_id});
  result.mutable_trace()->set_span_id(std::string{x.span_id});
  result.set_attempt(x.attempt);
  result.set_method(std::string{x.method});
  return result;
}

/// The context a service handler gets for a method call: the deadline is
/// what remained when it was sent, less the transit estimate, from `now`
/// on this node's actor clock (remaining time travels, not timestamps).
actors::call_context context_of(const envelope_fields& x, caf::actor_clock::time_point now,
                                int64_t one_way_ns) {
  actors::call_context result;
  result.method.assign(x.method);
  result.trace_id.assign(x.trace_id);
  result.span_id.assign(x.span_id);
  result.request_id.assign(x.request_id);
  result.attempt = x.attempt != 0 ? x.attempt : 1;
  if (x.deadline_remaining_us != 0)
    result.set_deadline(now + std::chrono::microseconds{x.deadline_remaining_us}
                        - std::chrono::nanoseconds{one_way_ns});
  return result;
}

} // namespace

dispatcher::dispatcher(config_ptr cfg, connection_io_ptr io, caf::actor owner,
                       caf::actor responder, route_registry_ptr routes)
  : cfg_(std::move(cfg)),
    io_(std::move(io)),
    owner_(std::move(owner)),
    responder_(std::move(responder)),
    responder_ptr_(caf::actor_cast<caf::strong_actor_ptr>(responder_)),
    registry_(std::move(routes)),
    log_(actors::logger("troupe.transport")),
    clock_(&owner_->home_system().clock()),
    arena_block_(new char[arena_block_size]),
    arena_(arena_options(arena_block_.get())) {
  // nop
}

dispatcher::~dispatcher() = default;

void dispatcher::established(std::string label) {
  label_ = std::move(label);
  established_ = true;
}

void dispatcher::one_way(caf::timespan x) {
  one_way_ns_ = x.count();
}

void dispatcher::add_proxy(uint32_t index, caf::actor proxy) {
  std::lock_guard<adaptive_mutex> guard{proxies_mtx_};
  proxies_[index] = std::move(proxy);
}

void dispatcher::remove_proxy(uint32_t index) {
  std::lock_guard<adaptive_mutex> guard{proxies_mtx_};
  proxies_.erase(index);
}

void dispatcher::on_connected() {
  caf::anon_send(owner_, connected_atom::value);
}

void dispatcher::on_closed(caf::error reason) {
  on_batch_end();
  caf::anon_send(owner_, io_closed_atom::value, std::move(reason));
  std::lock_guard<adaptive_mutex> guard{proxies_mtx_};
  proxies_.clear();
}

dispatcher::verdict dispatcher::on_frame(std::string_view bytes, caf::error& err) {
  if (established_) {
    envelope_kind kind;
    envelope_fields env;
    if (read_envelope_frame(bytes, kind, env)) {
      if (kind == envelope_kind::request)
        deliver(env);
      else
        complete_reply(env);
      return verdict::next;
    }
  }
  auto* frame = google::protobuf::Arena::CreateMessage<wire::Frame>(&arena_);
  if (!frame->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    err = caf::make_error(transport_errc::malformed_frame,
                          "a " + std::to_string(bytes.size())
                            + "-byte frame is not a troupe.wire.Frame");
    return verdict::next;
  }
  return on_parsed(*frame);
}

dispatcher::verdict dispatcher::on_parsed(wire::Frame& frame) {
  if (!established_) {
    // Handshake: the connection actor sees each frame before the next one.
    to_owner(frame);
    return verdict::pause;
  }
  switch (frame.kind_case()) {
    case wire::Frame::kEnvelope:
      deliver(fields_of(frame.envelope()));
      return verdict::next;
    case wire::Frame::kReply:
      complete_reply(fields_of(frame.reply()));
      return verdict::next;
    case wire::Frame::kError: {
      auto corr = frame.error().correlation_id();
      if (corr != 0) {
        if (auto proxy = proxy_for(corr))
          proxy_of(proxy).complete(corr,
                                   caf::make_message(from_wire_error(frame.error().error())));
        else
          log_->debug("{}: dropping a late error reply", label_);
        return verdict::next;
      }
      break; // the peer reports a protocol error: the connection actor logs it
    }
    case wire::Frame::kHeartbeat:
    case wire::Frame::kWatch:
    case wire::Frame::kWatchDown:
    case wire::Frame::kUnwatch:
    case wire::Frame::kWatching:
      break; // control frames: the connection actor handles them in order
    default:
      // Goodbye, a frame of unknown kind, a handshake frame: the connection
      // ends; nothing after it may be dispatched.
      to_owner(frame);
      return verdict::pause;
  }
  to_owner(frame);
  return verdict::next;
}

void dispatcher::on_batch_end() {
  batch_routes_.reset();
  arena_.Reset();
  if (control_.empty())
    return;
  caf::anon_send(owner_, frame_atom::value, std::move(control_));
  control_ = std::vector<wire::Frame>{};
}

void dispatcher::to_owner(wire::Frame& frame) {
  // The frame lives on the arena: copy it to the heap.
  control_.emplace_back(frame);
}

const route_table& dispatcher::routes() {
  if (!batch_routes_)
    batch_routes_ = registry_->get();
  return *batch_routes_;
}

caf::actor dispatcher::proxy_for(uint64_t corr) {
  std::lock_guard<adaptive_mutex> guard{proxies_mtx_};
  auto i = proxies_.find(static_cast<uint32_t>(corr >> proxy_shift));
  return i != proxies_.end() ? i->second : caf::actor{};
}

void dispatcher::complete_reply(const envelope_fields& env) {
  auto proxy = proxy_for(env.correlation_id);
  if (!proxy) {
    log_->debug("{}: dropping a late reply", label_);
    return;
  }
  caf::message msg;
  if (!env.type.empty()) {
    if (auto err = decode_payload(env.type, env.payload, msg)) {
      log_->warn("{}: undecodable reply to request {}: {}", label_, env.request_id,
                 messages::describe(err));
      msg = caf::make_message(std::move(err));
    }
  }
  proxy_of(proxy).complete(env.correlation_id, std::move(msg));
}

void dispatcher::send_error(const caf::error& err, uint64_t corr,
                            const troupe::TraceContext* trace) {
  (void)io_->write([&](std::string& buf) {
    append_error_frame(err, corr, trace, error_scope::message, cfg_->max_frame_size, buf);
    return caf::error{};
  });
}

void dispatcher::send_error(const caf::error& err, const envelope_fields& env) {
  troupe::TraceContext trace;
  trace.set_trace_id(std::string{env.trace_id});
  trace.set_request_id(std::string{env.request_id});
  trace.set_span_id(std::string{env.span_id});
  send_error(err, env.correlation_id, &trace);
}

void dispatcher::deliver(const envelope_fields& env) {
  auto corr = env.correlation_id;
  auto& table = routes();
  auto i = table.find(std::string{env.receiver_name});
  if (i == table.end()) {
    auto err = caf::make_error(transport_errc::unknown_actor, std::string{env.receiver_name});
    // A credit Pull in flight when its stream ended finds the stream's hub
    // gone: normal, and the importer ignores the answer after the end
    // (docs/transport.md). Anything else names an actor this node lacks.
    if (env.type == troupe::flow::Pull::descriptor()->full_name())
      log_->info("{}: Pull for '{}', not (or no longer) published here: a stream's end "
                 "raced it, or its importer names no stream of this node",
                 label_, env.receiver_name);
    else
      log_->warn("{}: envelope for unknown actor '{}' (type {})", label_, env.receiver_name,
                 env.type);
    return send_error(err, env);
  }
  caf::message msg;
  if (auto err = decode_payload(env.type, env.payload, msg)) {
    log_->warn("{}: envelope for '{}' rejected: {}", label_, env.receiver_name,
               messages::describe(err));
    return send_error(err, env);
  }
  // Deadline: remaining time at send, minus the estimated transit time. A
  // negative remaining time passed before the request was sent: the work
  // is not started either (0 alone means "no deadline").
  if (env.deadline_remaining_us != 0) {
    auto remaining = caf::timespan{std::chrono::microseconds{env.deadline_remaining_us}}
      - caf::timespan{one_way_ns_.load()};
    if (remaining <= caf::timespan{0}) {
      log_->info("{}: not starting '{}' for '{}' (request {}): deadline passed in transit",
                 label_, env.type, env.receiver_name, env.request_id);
      return send_error(
        caf::make_error(actors::flow_errc::deadline_exceeded, std::string{env.type}), env);
    }
  }
  const auto& target = i->second;
  if (!env.method.empty()) {
    // A service method call: the handler gets the call's context, its
    // deadline moved onto this node's clock (docs/wire-protocol.md §7).
    msg = caf::message::concat(
      caf::make_message(context_of(env, clock_->now(), one_way_ns_.load())), msg);
  } else if (target.how == delivery::with_envelope) {
    msg = caf::message::concat(caf::make_message(envelope_of(env)), msg);
  }
  if (corr == 0) {
    target.actor->enqueue(nullptr, caf::make_message_id(), std::move(msg), nullptr);
    return;
  }
  // No CAF request timeout here: the deadline was checked before starting
  // the work, and the requesting proxy enforces it on its side.
  auto& responder = responder_of(responder_);
  // Only this thread adds requests; answers only take them away: the count
  // cannot grow between the check and `expect`.
  if (responder.in_flight() >= cfg_->max_requests_per_peer) {
    if (!refusing_) {
      refusing_ = true;
      log_->warn("{}: {} requests in flight (max_requests_per_peer): refusing more with "
                 "too_many_requests",
                 label_, cfg_->max_requests_per_peer);
    }
    return send_error(
      caf::make_error(transport_errc::too_many_requests,
                      "max_requests_per_peer " + std::to_string(cfg_->max_requests_per_peer)),
      env);
  }
  if (refusing_) {
    refusing_ = false;
    log_->info("{}: requests in flight below max_requests_per_peer again", label_);
  }
  auto mid = responder.expect(env);
  target.actor->enqueue(responder_ptr_, mid, std::move(msg), nullptr);
}

} // namespace troupe::transport::internal
