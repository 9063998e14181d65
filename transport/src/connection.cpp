// The connection actor: one per peer connection. Runs the handshake, sends
// and checks heartbeats, dispatches inbound envelopes and credit frames to
// published actors, answers requests with reply or error frames, and owns
// the proxies for the peer's actors.

#include <limits>
#include <unordered_map>

#include <caf/all.hpp>

#include <troupe/actors/flow_errc.hpp>
#include <troupe/actors/log.hpp>
#include <troupe/messages/protobuf_payload.hpp>

#include "actors.hpp"
#include "troupe/transport/framing.hpp"
#include "troupe/transport/transport_errc.hpp"
#include "troupe/transport/wire_error.hpp"

namespace troupe::transport::detail {

namespace {

enum class phase : uint8_t { connecting, handshaking, established, closed };

struct conn_state {
  conn_state(connection_args a, caf::actor p)
    : args(std::move(a)),
      parent(std::move(p)),
      hs(args.role,
         handshake::params{args.node_id, args.cfg->secret, args.listen_host,
                           args.listen_port, protocol_version},
         random_nonce()),
      log(actors::logger("troupe.transport")) {
    // nop
  }

  connection_args args;
  caf::actor parent;
  handshake hs;
  phase state = phase::connecting;
  std::shared_ptr<spdlog::logger> log;
  std::unordered_map<std::string, caf::actor> proxies;
  std::unordered_map<caf::actor_addr, std::pair<std::string, uint32_t>> proxy_names;
  uint32_t next_proxy = 1;
  caf::actor_clock::time_point last_seen{};
  caf::actor_clock::time_point hs_sent{};
  bool hs_pending = false;
  caf::timespan min_rtt = caf::timespan::max();

  const node_config& cfg() const {
    return *args.cfg;
  }

  /// "peer 127.0.0.1:4711 [node-id]" for log lines.
  std::string label() const {
    auto result = "peer " + args.io->remote_address();
    if (!hs.peer_id().empty())
      result += " [" + hs.peer_id() + "]";
    return result;
  }

  /// Estimated one-way latency: half the smallest round trip seen.
  caf::timespan one_way() const {
    return min_rtt == caf::timespan::max() ? caf::timespan{0} : min_rtt / 2;
  }

  void send(const wire::Frame& frame) {
    std::string bytes;
    if (auto err = append_frame(frame, cfg().max_frame_size, bytes)) {
      log->error("{}: cannot send a frame: {}", label(), describe(err));
      return;
    }
    args.io->send(std::move(bytes));
  }

  void send_error(const caf::error& err, uint64_t corr, const troupe::TraceContext* trace) {
    std::string bytes;
    append_error_frame(err, corr, trace, cfg().max_frame_size, bytes);
    args.io->send(std::move(bytes));
  }
};

bool is_protocol_error(const caf::error& err) {
  if (err.category() != transport_errc_category)
    return false;
  switch (static_cast<transport_errc>(err.code())) {
    case transport_errc::frame_too_large:
    case transport_errc::malformed_frame:
    case transport_errc::truncated_frame:
    case transport_errc::unexpected_frame:
    case transport_errc::handshake_timeout:
      return true;
    default:
      return false;
  }
}

const char* kind_name(wire::Frame::KindCase k) {
  switch (k) {
    case wire::Frame::kHello:
      return "hello";
    case wire::Frame::kChallenge:
      return "challenge";
    case wire::Frame::kAuth:
      return "auth";
    case wire::Frame::kWelcome:
      return "welcome";
    case wire::Frame::kRefusal:
      return "refusal";
    default:
      return "unknown";
  }
}

} // namespace

std::string render(const caf::error& err) {
  return describe(err);
}

void append_error_frame(const caf::error& err, uint64_t correlation_id,
                        const troupe::TraceContext* trace, uint32_t max_frame_size,
                        std::string& out) {
  wire::Frame frame;
  auto* ef = frame.mutable_error();
  ef->set_correlation_id(correlation_id);
  to_wire_error(err, describe(err), *ef->mutable_error());
  if (trace != nullptr)
    *ef->mutable_trace() = *trace;
  if (append_frame(frame, max_frame_size, out)) {
    // The text made it too large: send the code without it.
    ef->mutable_error()->clear_message();
    (void) append_frame(frame, max_frame_size, out);
  }
}

caf::behavior connection_actor(caf::event_based_actor* self, connection_args args,
                               caf::actor parent) {
  auto st = std::make_shared<conn_state>(std::move(args), std::move(parent));
  auto me = caf::actor_cast<caf::actor>(self);

  // Ends the connection with `reason`: a protocol error is reported to the
  // peer in an error frame, a deliberate close with a goodbye; both are
  // written before the socket closes. Linked proxies then fail their pending
  // requests with `reason`.
  auto fail = [self, st](caf::error reason, bool goodbye) {
    if (st->state == phase::closed)
      return;
    auto was = st->state;
    st->state = phase::closed;
    if (is_protocol_error(reason)) {
      st->log->warn("{}: closing: {}", st->label(), describe(reason));
      std::string bytes;
      append_error_frame(reason, 0, nullptr, st->cfg().max_frame_size, bytes);
      st->args.io->send_and_close(std::move(bytes));
    } else if (goodbye) {
      st->log->info("{}: closing: {}", st->label(), describe(reason));
      wire::Frame frame;
      to_wire_error(reason, describe(reason), *frame.mutable_goodbye()->mutable_reason());
      std::string bytes;
      (void) append_frame(frame, st->cfg().max_frame_size, bytes);
      st->args.io->send_and_close(std::move(bytes));
    } else {
      if (was == phase::established)
        st->log->warn("{}: connection lost: {}", st->label(), describe(reason));
      else
        st->log->info("{}: connection failed: {}", st->label(), describe(reason));
      st->args.io->close();
    }
    self->quit(std::move(reason));
  };

  auto established = [self, st] {
    st->state = phase::established;
    st->last_seen = self->clock().now();
    st->log->info("{}: connected ({})", st->label(),
                  st->hs.role() == handshake_role::initiator ? "dialed" : "accepted");
    auto initiator = st->hs.role() == handshake_role::initiator ? st->args.node_id
                                                                 : st->hs.peer_id();
    self->send(st->parent, established_atom::value, st->hs.peer_id(),
               st->hs.peer_listen_address(), initiator);
    self->send(self, tick_atom::value);
  };

  // Delivers an inbound envelope to the published actor it names.
  auto dispatch = [self, st](troupe::Envelope& env) {
    auto corr = env.correlation_id();
    const auto& name = env.receiver().name();
    auto& table = *st->args.routes;
    auto i = table.find(name);
    if (i == table.end()) {
      auto err = caf::make_error(transport_errc::unknown_actor, name);
      st->log->warn("{}: envelope for unknown actor '{}' (type {})", st->label(), name,
                    env.type());
      return st->send_error(err, corr, &env.trace());
    }
    caf::message msg;
    if (auto err = messages::decode_payload({env.type(), env.payload()}, msg)) {
      st->log->warn("{}: envelope for '{}' rejected: {}", st->label(), name,
                    describe(err));
      return st->send_error(err, corr, &env.trace());
    }
    // Deadline: remaining time at send, minus the estimated transit time.
    caf::timespan remaining{0};
    bool has_deadline = env.deadline_remaining_us() > 0;
    if (has_deadline) {
      remaining = std::chrono::microseconds{env.deadline_remaining_us()} - st->one_way();
      if (remaining <= caf::timespan{0}) {
        st->log->info("{}: not starting '{}' for '{}' (request {}): deadline passed in "
                      "transit",
                      st->label(), env.type(), name, env.trace().request_id());
        return st->send_error(caf::make_error(actors::flow_errc::deadline_exceeded,
                                              env.type()),
                              corr, &env.trace());
      }
    }
    const auto& target = i->second;
    if (target.pass_envelope) {
      env.clear_payload();
      msg = caf::message::concat(caf::make_message(env), msg);
    }
    if (corr == 0) {
      caf::anon_send(target.actor, std::move(msg));
      return;
    }
    troupe::ActorAddress from = env.receiver();
    troupe::ActorAddress to = env.sender();
    troupe::TraceContext trace = env.trace();
    auto attempt = env.attempt();
    // CAF 0.17 has no catch-all response handler: a response that matches
    // no handler arrives as `sec::unexpected_response` with the response
    // itself as the error's context. Handling only `caf::error` therefore
    // sees every response, whatever its type.
    auto on_response = [st, corr, from, to, trace, attempt](caf::error& err) mutable {
        if (st->state == phase::closed)
          return;
        if (err != caf::sec::unexpected_response) {
          st->send_error(err, corr, &trace);
          return;
        }
        wire::Frame frame;
        auto* reply = frame.mutable_reply();
        const auto& content = err.context();
        if (!content.empty()) {
          messages::protobuf_payload payload;
          if (auto enc = messages::encode_payload(content, payload)) {
            st->log->warn("{}: reply to request {} is not a protobuf message: {}",
                          st->label(), trace.request_id(), describe(enc));
            st->send_error(enc, corr, &trace);
            return;
          }
          reply->set_type(std::move(payload.type));
          reply->set_payload(std::move(payload.bytes));
        }
        *reply->mutable_sender() = std::move(from);
        *reply->mutable_receiver() = std::move(to);
        reply->set_correlation_id(corr);
        *reply->mutable_trace() = std::move(trace);
        reply->set_attempt(attempt);
        std::string bytes;
        if (auto enc = append_frame(frame, st->cfg().max_frame_size, bytes)) {
          st->send_error(enc, corr, &reply->trace());
          return;
        }
        st->args.io->send(std::move(bytes));
      };
    // No CAF request timeout here: the deadline was checked before starting
    // the work, and the requesting proxy enforces it on its side. (Each CAF
    // request timeout costs a lock and a wake-up of CAF's clock thread.)
    self->request(target.actor, caf::infinite, std::move(msg)).then(std::move(on_response));
  };

  // Credit frames (demand / done / cancel) are routed like envelopes: by the
  // frame's receiver name to a published actor, which gets the flow message
  // itself (preceded by an envelope carrying sender and receiver if it was
  // published with pass_envelope).
  //
  // REMOTE CREDIT PLUGS IN HERE (issue 5, item 6): the remote credit layer
  // decides what a local producer / consumer does with these messages; the
  // proxy sends local `troupe::flow::*` messages as credit frames (proxy.cpp).
  auto route_credit = [st](wire::Frame& frame, caf::message msg) {
    const auto& name = frame.receiver().name();
    auto& table = *st->args.routes;
    auto i = table.find(name);
    if (i == table.end()) {
      st->log->warn("{}: credit frame for unknown actor '{}'", st->label(), name);
      return st->send_error(caf::make_error(transport_errc::unknown_actor, name), 0,
                            nullptr);
    }
    if (i->second.pass_envelope) {
      troupe::Envelope env;
      *env.mutable_sender() = frame.sender();
      *env.mutable_receiver() = frame.receiver();
      msg = caf::message::concat(caf::make_message(std::move(env)), msg);
    }
    caf::anon_send<caf::message_priority::high>(i->second.actor, std::move(msg));
  };

  auto on_established_frame = [self, st, fail, dispatch, route_credit](wire::Frame& frame) {
    switch (frame.kind_case()) {
      case wire::Frame::kEnvelope:
        return dispatch(*frame.mutable_envelope());
      case wire::Frame::kHeartbeat: {
        st->last_seen = self->clock().now();
        const auto& hb = frame.heartbeat();
        auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                        self->clock().now().time_since_epoch())
                        .count();
        if (hb.reply()) {
          auto rtt = std::chrono::microseconds{now_us - hb.timestamp_us()};
          if (rtt >= caf::timespan{0} && rtt < st->min_rtt)
            st->min_rtt = rtt;
        } else {
          wire::Frame pong;
          pong.mutable_heartbeat()->set_timestamp_us(hb.timestamp_us());
          pong.mutable_heartbeat()->set_reply(true);
          st->send(pong);
        }
        return;
      }
      case wire::Frame::kGoodbye: {
        auto why = from_wire_error(frame.goodbye().reason());
        return fail(caf::make_error(transport_errc::peer_lost,
                                    "peer said goodbye: " + describe(why)),
                    false);
      }
      case wire::Frame::kReply:
      case wire::Frame::kError: {
        // Replies for live proxies never get here (the I/O side routes them).
        if (frame.kind_case() == wire::Frame::kError
            && frame.error().correlation_id() == 0) {
          st->log->warn("{}: peer reports: {}", st->label(),
                        describe(from_wire_error(frame.error().error())));
        } else {
          st->log->debug("{}: dropping a late reply", st->label());
        }
        return;
      }
      case wire::Frame::kDemand:
        return route_credit(frame, caf::make_message(frame.demand()));
      case wire::Frame::kDone:
        return route_credit(frame, caf::make_message(frame.done()));
      case wire::Frame::kCancel:
        return route_credit(frame, caf::make_message(frame.cancel()));
      case wire::Frame::KIND_NOT_SET:
        return fail(caf::make_error(transport_errc::unexpected_frame,
                                    "a frame of unknown kind"),
                    false);
      default:
        return fail(caf::make_error(transport_errc::unexpected_frame,
                                    std::string{"a "} + kind_name(frame.kind_case())
                                      + " frame after the handshake"),
                    false);
    }
  };

  // Exits: the parent (node) stopping, or a proxy going away.
  self->set_exit_handler([self, st, fail](caf::exit_msg& msg) {
    auto i = st->proxy_names.find(msg.source);
    if (i != st->proxy_names.end()) {
      st->proxies.erase(i->second.first);
      st->args.io->remove_proxy(i->second.second);
      st->proxy_names.erase(i);
      return;
    }
    fail(caf::make_error(transport_errc::node_stopped), true);
  });

  // However the actor ends (even killed), its socket closes; a graceful
  // close already under way (error frame, goodbye) still finishes.
  self->attach_functor([io = st->args.io](const caf::error&) { io->close(); });

  if (st->args.role == handshake_role::initiator) {
    st->args.io->connect(me, st->args.host, st->args.port);
    self->delayed_send(self, st->cfg().connect_timeout, hs_timeout_atom::value,
                       int32_t{0});
  } else {
    st->state = phase::handshaking;
    st->args.io->start(me);
    self->delayed_send(self, st->cfg().handshake_timeout, hs_timeout_atom::value,
                       int32_t{1});
  }

  return {
    [self, st](connected_atom) {
      if (st->state != phase::connecting)
        return;
      st->state = phase::handshaking;
      wire::Frame hello;
      if (st->hs.start(hello)) {
        st->send(hello);
        st->hs_sent = self->clock().now();
        st->hs_pending = true;
      }
      self->delayed_send(self, st->cfg().handshake_timeout, hs_timeout_atom::value,
                         int32_t{1});
    },
    [self, st, fail, established, on_established_frame](frame_atom,
                                                         std::vector<wire::Frame>& frames) {
      for (auto& frame : frames) {
        if (st->state == phase::closed)
          return;
        if (st->state == phase::established) {
          on_established_frame(frame);
          continue;
        }
        if (st->state != phase::handshaking)
          return;
      auto now = self->clock().now();
      if (st->hs_pending) {
        st->hs_pending = false;
        st->min_rtt = std::min(st->min_rtt, caf::timespan{now - st->hs_sent});
      }
      wire::Frame reply;
      caf::error err;
      auto has_reply = st->hs.handle(frame, reply, err);
      if (err) {
        st->state = phase::closed;
        st->log->warn("{}: handshake failed: {}", st->label(), describe(err));
        if (has_reply) {
          std::string bytes;
          (void) append_frame(reply, st->cfg().max_frame_size, bytes);
          st->args.io->send_and_close(std::move(bytes));
        } else {
          st->args.io->close();
        }
        self->quit(std::move(err));
        return;
      }
      if (has_reply) {
        st->send(reply);
        st->hs_sent = now;
        st->hs_pending = !st->hs.done();
      }
      if (st->hs.done())
        established();
      }
    },
    [fail](io_closed_atom, caf::error& err) { fail(std::move(err), false); },
    [st, fail](hs_timeout_atom, int32_t which) {
      if (which == 0 && st->state == phase::connecting)
        fail(caf::make_error(transport_errc::connect_failed, st->args.io->remote_address(),
                             "timed out"),
             false);
      else if (which == 1 && st->state == phase::handshaking)
        fail(caf::make_error(transport_errc::handshake_timeout,
                             "no handshake within the handshake timeout"),
             false);
    },
    [self, st, fail](tick_atom) {
      if (st->state != phase::established)
        return;
      auto now = self->clock().now();
      if (now - st->last_seen > st->cfg().peer_timeout) {
        fail(caf::make_error(transport_errc::peer_timeout,
                             "no heartbeat within the peer timeout"),
             false);
        return;
      }
      wire::Frame ping;
      ping.mutable_heartbeat()->set_timestamp_us(
        std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch())
          .count());
      st->send(ping);
      self->delayed_send(self, st->cfg().heartbeat_interval, tick_atom::value);
    },
    [st](routes_atom, routes_ptr& routes) { st->args.routes = std::move(routes); },
    [self, st](proxy_atom, const std::string& name) -> caf::result<caf::actor> {
      if (st->state != phase::established)
        return caf::make_error(transport_errc::peer_lost, "connection not established");
      auto i = st->proxies.find(name);
      if (i != st->proxies.end())
        return i->second;
      auto index = st->next_proxy++;
      auto proxy = self->spawn<caf::linked>(
        proxy_actor, proxy_args{st->args.cfg, st->args.io, index, st->args.node_id,
                                st->hs.peer_id(), name});
      st->args.io->add_proxy(index, proxy);
      st->proxies.emplace(name, proxy);
      st->proxy_names.emplace(proxy.address(), std::make_pair(name, index));
      return proxy;
    },
    [fail](close_atom, caf::error& reason) { fail(std::move(reason), true); },
  };
}

} // namespace troupe::transport::detail
