// The connection actor: one per peer connection, the control plane. Runs the
// handshake, sends and checks heartbeats, owns the proxies for the peer's
// actors, and ends the connection with a typed reason. The data plane does
// not pass through it: inbound envelopes and replies are
// dispatched on the I/O thread (dispatcher.hpp), responses are encoded by
// the responder, requests by the proxies.

#include <unordered_map>

#include <caf/all.hpp>

#include <troupe/actors/log.hpp>

#include <troupe/messages/error_category.hpp>

#include "actors.hpp"
#include "dispatcher.hpp"
#include "proxy.hpp"
#include "responder.hpp"
#include "framing.hpp"
#include "troupe/transport/transport_errc.hpp"
#include "troupe/transport/wire_error.hpp"

namespace troupe::transport::internal {

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
  caf::actor responder;
  dispatcher_ptr dsp;
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
    auto err = args.io->write([&](std::string& buf) {
      return append_frame(frame, cfg().max_frame_size, buf);
    });
    if (err && err != transport_errc::node_stopped)
      log->error("{}: cannot send a frame: {}", label(), messages::describe(err));
  }

  /// Tells the data plane about a new round-trip measurement.
  void update_rtt(caf::timespan rtt) {
    if (rtt < min_rtt) {
      min_rtt = rtt;
      dsp->one_way(one_way());
    }
  }

  /// Ends the data plane: proxies fail their pending requests with
  /// `reason` and terminate with it; late responses are dropped.
  void shut_down_children(const caf::error& reason) {
    auto why = reason ? reason : caf::make_error(transport_errc::node_stopped);
    for (auto& kvp : proxies)
      proxy_of(kvp.second).kill(why);
    proxies.clear();
    proxy_names.clear();
    if (responder)
      responder_of(responder).close(why);
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

} // namespace

void append_error_frame(const caf::error& err, uint64_t correlation_id,
                        const troupe::TraceContext* trace, uint32_t max_frame_size,
                        std::string& out) {
  wire::Frame frame;
  auto* ef = frame.mutable_error();
  ef->set_correlation_id(correlation_id);
  to_wire_error(err, messages::describe(err), *ef->mutable_error());
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
  // written before the socket closes. The proxies then fail their pending
  // requests with `reason` (see the attached functor below).
  auto fail = [self, st](caf::error reason, bool goodbye, bool peer_left = false) {
    if (st->state == phase::closed)
      return;
    auto was = st->state;
    st->state = phase::closed;
    if (is_protocol_error(reason)) {
      st->log->warn("{}: closing: {}", st->label(), messages::describe(reason));
      std::string bytes;
      append_error_frame(reason, 0, nullptr, st->cfg().max_frame_size, bytes);
      st->args.io->send_and_close(std::move(bytes));
    } else if (goodbye) {
      st->log->info("{}: closing: {}", st->label(), messages::describe(reason));
      wire::Frame frame;
      to_wire_error(reason, messages::describe(reason), *frame.mutable_goodbye()->mutable_reason());
      std::string bytes;
      (void) append_frame(frame, st->cfg().max_frame_size, bytes);
      st->args.io->send_and_close(std::move(bytes));
    } else {
      if (peer_left) // an orderly close by the peer: not a failure here
        st->log->info("{}: closed: {}", st->label(), messages::describe(reason));
      else if (was == phase::established)
        st->log->warn("{}: connection lost: {}", st->label(), messages::describe(reason));
      else
        st->log->info("{}: connection failed: {}", st->label(), messages::describe(reason));
      st->args.io->close();
    }
    self->quit(std::move(reason));
  };

  auto established = [self, st] {
    st->state = phase::established;
    st->last_seen = self->clock().now();
    st->dsp->established(st->label());
    responder_of(st->responder).label(st->label());
    st->log->info("{}: connected ({})", st->label(),
                  st->hs.role() == handshake_role::initiator ? "dialed" : "accepted");
    auto initiator = st->hs.role() == handshake_role::initiator ? st->args.node_id
                                                                 : st->hs.peer_id();
    self->send(st->parent, established_atom::value, st->hs.peer_id(),
               st->hs.peer_listen_address(), initiator);
    self->send(self, tick_atom::value);
  };

  // Frames the dispatcher leaves to the control plane.
  auto on_established_frame = [self, st, fail](wire::Frame& frame) {
    switch (frame.kind_case()) {
      case wire::Frame::kHeartbeat: {
        st->last_seen = self->clock().now();
        const auto& hb = frame.heartbeat();
        auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                        self->clock().now().time_since_epoch())
                        .count();
        if (hb.reply()) {
          auto rtt = std::chrono::microseconds{now_us - hb.timestamp_us()};
          if (rtt >= caf::timespan{0})
            st->update_rtt(rtt);
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
                                    "peer said goodbye: " + messages::describe(why)),
                    false, true);
      }
      case wire::Frame::kReply:
      case wire::Frame::kError: {
        // Replies for live proxies never get here (the dispatcher routes them).
        if (frame.kind_case() == wire::Frame::kError
            && frame.error().correlation_id() == 0) {
          st->log->warn("{}: peer reports: {}", st->label(),
                        messages::describe(from_wire_error(frame.error().error())));
        } else {
          st->log->debug("{}: dropping a late reply", st->label());
        }
        return;
      }
      case wire::Frame::KIND_NOT_SET:
        return fail(caf::make_error(transport_errc::unexpected_frame,
                                    "a frame of unknown kind"),
                    false);
      default:
        return fail(caf::make_error(transport_errc::unexpected_frame,
                                    std::string{"a "} + frame_kind_name(frame)
                                      + " frame after the handshake"),
                    false);
    }
  };

  // Exits: the parent (node) stopping.
  self->set_exit_handler([fail](caf::exit_msg&) {
    fail(caf::make_error(transport_errc::node_stopped), true);
  });

  // A proxy went away on its own (someone sent it an exit): forget it.
  self->set_down_handler([st](caf::down_msg& msg) {
    auto i = st->proxy_names.find(msg.source);
    if (i == st->proxy_names.end())
      return;
    st->proxies.erase(i->second.first);
    st->dsp->remove_proxy(i->second.second);
    st->proxy_names.erase(i);
  });

  // The data plane: requests in go out through the responder; frames in are
  // dispatched on the I/O thread.
  st->responder = make_responder(self->system(), st->args.io, st->args.cfg);
  st->dsp = std::make_shared<dispatcher>(st->args.cfg, st->args.io, me, st->responder,
                                         st->args.routes);

  // However the actor ends (even killed), its socket closes (a graceful
  // close already under way, e.g. an error frame or goodbye, still
  // finishes), and its proxies fail pending requests with its reason.
  self->attach_functor([st](const caf::error& reason) {
    st->args.io->close();
    st->shut_down_children(reason);
  });

  if (st->args.role == handshake_role::initiator) {
    st->args.io->connect(st->dsp, st->args.host, st->args.port);
    self->delayed_send(self, st->cfg().connect_timeout, hs_timeout_atom::value,
                       int32_t{0});
  } else {
    st->state = phase::handshaking;
    st->args.io->start(st->dsp);
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
        st->update_rtt(caf::timespan{now - st->hs_sent});
      }
      wire::Frame reply;
      caf::error err;
      auto has_reply = st->hs.handle(frame, reply, err);
      if (err) {
        st->state = phase::closed;
        st->log->warn("{}: handshake failed: {}", st->label(), messages::describe(err));
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
      // The dispatcher paused after this frame; the next may be read.
      st->args.io->resume();
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
    [self, st](proxy_atom, const std::string& name) -> caf::result<caf::actor> {
      if (st->state != phase::established)
        return caf::make_error(transport_errc::peer_lost, "connection not established");
      auto i = st->proxies.find(name);
      if (i != st->proxies.end())
        return i->second;
      auto index = st->next_proxy++;
      auto proxy = make_proxy(self->system(),
                              proxy_args{st->args.cfg, st->args.io, index, st->args.node_id,
                                         st->hs.peer_id(), name});
      self->monitor(proxy);
      st->dsp->add_proxy(index, proxy);
      st->proxies.emplace(name, proxy);
      st->proxy_names.emplace(proxy.address(), std::make_pair(name, index));
      return proxy;
    },
    [fail](close_atom, caf::error& reason) { fail(std::move(reason), true); },
  };
}

} // namespace troupe::transport::internal
