#include "connection_actor.hpp"

#include <algorithm>

#include <caf/all.hpp>

#include <troupe/actors/log.hpp>
#include <troupe/messages/error_category.hpp>

#include "framing.hpp"
#include "proxy.hpp"
#include "responder.hpp"
#include "troupe/transport/transport_errc.hpp"
#include "troupe/transport/wire_error.hpp"

namespace troupe::transport::internal {

namespace {

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

int64_t micros_since_epoch(caf::actor_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

constexpr const char* goodbye_text = "peer said goodbye";

} // namespace

caf::error peer_said_goodbye(const caf::error& why) {
  // A peer that drops this connection because it keeps another one to
  // this node says so: the node must not take it for the peer leaving.
  auto code = messages::is(why, transport_errc::duplicate_connection)
    ? transport_errc::duplicate_connection
    : transport_errc::peer_lost;
  return caf::make_error(code, std::string{goodbye_text}, why);
}

bool is_goodbye(const caf::error& reason) {
  const auto& ctx = reason.context();
  return reason.category() == transport_errc_category
    && ctx.match_elements<std::string, caf::error>()
    && ctx.get_as<std::string>(0) == goodbye_text;
}

connection_actor::connection_actor(caf::actor_config& cfg, connection_args args,
                                   caf::actor parent)
  : caf::event_based_actor(cfg),
    args_(std::move(args)),
    parent_(std::move(parent)),
    hs_(args_.role,
        handshake::params{args_.node_id, args_.cfg->secret, args_.listen_host,
                          args_.listen_port, protocol_version, args_.cfg->tls.enabled},
        random_nonce()),
    log_(actors::logger("troupe.transport")) {
  // nop
}

connection_actor::~connection_actor() = default;

const char* connection_actor::name() const {
  return "troupe.connection";
}

caf::behavior connection_actor::make_behavior() {
  // The node stopping: say goodbye.
  set_exit_handler([this](caf::exit_msg&) {
    close(caf::make_error(transport_errc::node_stopped), close_mode::goodbye);
  });
  set_down_handler([this](caf::down_msg& msg) { on_down(msg); });
  // However the actor ends (even killed), its socket closes (a graceful
  // close already under way, e.g. an error frame or goodbye, still
  // finishes), and its proxies fail pending requests with its reason. Then
  // it lets go of the node and the data plane (the dispatcher holds this
  // actor): a terminated actor that holds an actor that holds it would
  // never be freed.
  attach_functor([this](const caf::error& reason) {
    args_.io->close();
    shut_down_children(reason);
    parent_ = nullptr;
    dsp_ = nullptr;
    responder_ = nullptr;
    args_.routes = nullptr;
    args_.io = nullptr;
    release_claim();
  });
  start_io();
  return {
    [this](connected_atom) { on_connected(); },
    [this](frame_atom, std::vector<wire::Frame>& frames) { on_frames(frames); },
    [this](io_closed_atom, caf::error& err) { on_io_closed(std::move(err)); },
    [this](timer_atom, connection_timer which) { on_timer(which); },
    [this](proxy_atom, const std::string& name) { return make_proxy_for(name); },
    [this](watch_atom, const std::string& name) { return make_watch_for(name); },
    [this](close_atom, caf::error& reason) { close(std::move(reason), close_mode::goodbye); },
  };
}

// -- starting -----------------------------------------------------------------

void connection_actor::start_io() {
  // The data plane: requests in go out through the responder; frames in are
  // dispatched on the I/O thread.
  responder_ = make_responder(system(), args_.io, args_.cfg);
  args_.io->set_write_limit(settings().max_write_buffer);
  dsp_ = std::make_shared<dispatcher>(args_.cfg, args_.io, caf::actor_cast<caf::actor>(this),
                                      responder_, args_.routes);
  if (args_.role == handshake_role::initiator) {
    args_.io->connect(dsp_, args_.host, args_.port);
    arm(connection_timer::connect, settings().connect_timeout);
  } else {
    state_ = phase::handshaking;
    args_.io->start(dsp_);
    arm(connection_timer::handshake, settings().handshake_timeout);
  }
}

void connection_actor::arm(connection_timer which, caf::timespan delay) {
  delayed_send(this, delay, timer_atom::value, which);
}

// -- handshake ----------------------------------------------------------------

void connection_actor::on_connected() {
  if (state_ != phase::connecting)
    return;
  state_ = phase::handshaking;
  if (args_.claims) {
    auto dialed = args_.host + ":" + std::to_string(args_.port);
    auto peer = args_.claims->dialing(address(), dialed, args_.io->remote_address());
    if (!peer.empty())
      return end_as_duplicate(peer);
  }
  wire::Frame hello;
  if (hs_.start(hello)) {
    send_frame(hello);
    hs_sent_ = clock().now();
    hs_pending_ = true;
  }
  arm(connection_timer::handshake, settings().handshake_timeout);
}

void connection_actor::on_handshake_frame(const wire::Frame& frame) {
  auto now = clock().now();
  if (hs_pending_) {
    hs_pending_ = false;
    update_rtt(caf::timespan{now - hs_sent_});
  }
  wire::Frame reply;
  caf::error err;
  if (args_.io->encrypted())
    hs_.set_encrypted(true, args_.io->channel_binding());
  auto has_reply = hs_.handle(frame, reply, err);
  if (err) {
    if (err == transport_errc::duplicate_connection) // the peer's id, for the node
      err = caf::make_error(transport_errc::duplicate_connection, hs_.peer_id());
    return fail_handshake(std::move(err), has_reply ? &reply : nullptr);
  }
  if (args_.claims && !hs_.peer_id().empty()) {
    if (hs_.role() == handshake_role::initiator && !hs_.done()) {
      if (!args_.claims->dialing_peer(address(), hs_.peer_id()))
        return end_as_duplicate(hs_.peer_id());
    } else if (hs_.role() == handshake_role::acceptor && hs_.done()) {
      if (!args_.claims->welcome(address(), hs_.peer_id(), hs_.peer_listen_address()))
        return end_as_duplicate(hs_.peer_id());
    }
  }
  if (has_reply) {
    send_frame(reply);
    hs_sent_ = now;
    hs_pending_ = !hs_.done();
  }
  if (hs_.done())
    on_established();
  // The dispatcher paused after this frame; the next may be read.
  args_.io->resume();
}

void connection_actor::end_as_duplicate(const std::string& peer_id) {
  auto why = caf::make_error(transport_errc::duplicate_connection, peer_id);
  wire::Frame refusal;
  to_wire_error(why, messages::describe(why), *refusal.mutable_refusal()->mutable_error());
  fail_handshake(std::move(why), &refusal);
}

void connection_actor::fail_handshake(caf::error err, const wire::Frame* refusal) {
  state_ = phase::closed;
  release_claim();
  // Two nodes dialing each other end one dial this way: nothing failed.
  if (err == transport_errc::duplicate_connection)
    log_->info("{}: not connecting: {}", label(), messages::describe(err));
  else
    log_->warn("{}: handshake failed: {}", label(), messages::describe(err));
  if (refusal != nullptr) {
    std::string bytes;
    (void)append_frame(*refusal, settings().max_frame_size, bytes);
    args_.io->send_and_close(std::move(bytes));
  } else {
    args_.io->close();
  }
  quit(std::move(err));
}

void connection_actor::on_established() {
  state_ = phase::established;
  // Authenticated now: full-size frames may follow (before this, a frame
  // beyond the small handshake limit closed the connection).
  args_.io->raise_frame_limit(settings().max_frame_size);
  last_seen_ = clock().now();
  dsp_->established(label());
  responder_of(responder_).label(label());
  auto dialed = hs_.role() == handshake_role::initiator;
  log_->info("{}: connected ({})", label(), dialed ? "dialed" : "accepted");
  auto initiator = dialed ? args_.node_id : hs_.peer_id();
  if (dialed && args_.claims) // an acceptor recorded itself in `welcome`
    args_.claims->established(address(), hs_.peer_id(), hs_.peer_listen_address());
  send(parent_, established_atom::value, hs_.peer_id(), hs_.peer_listen_address(), initiator);
  on_heartbeat_due();
}

// -- established --------------------------------------------------------------

void connection_actor::on_frames(std::vector<wire::Frame>& frames) {
  for (auto& frame : frames) {
    switch (state_) {
      case phase::established:
        on_established_frame(frame);
        break;
      case phase::handshaking:
        on_handshake_frame(frame);
        break;
      default:
        return; // closed (or not yet connected): nothing more to handle
    }
  }
}

void connection_actor::on_established_frame(const wire::Frame& frame) {
  switch (frame.kind_case()) {
    case wire::Frame::kHeartbeat:
      return on_heartbeat(frame.heartbeat());
    case wire::Frame::kWatch:
      return on_watch(frame.watch());
    case wire::Frame::kWatchDown:
      return on_watch_down(frame.watch_down());
    case wire::Frame::kUnwatch:
      return on_unwatch(frame.unwatch());
    case wire::Frame::kWatching:
      return on_watching(frame.watching());
    case wire::Frame::kGoodbye: {
      return close(peer_said_goodbye(from_wire_error(frame.goodbye().reason())),
                   close_mode::peer_left);
    }
    case wire::Frame::kReply:
      // Replies for live proxies never get here (the dispatcher routes them).
      log_->debug("{}: dropping a late reply", label());
      return;
    case wire::Frame::kError:
      if (frame.error().correlation_id() != 0)
        log_->debug("{}: dropping a late reply", label());
      else if (frame.error().closing())
        log_->warn("{}: peer closes on a protocol violation: {}", label(),
                   messages::describe(from_wire_error(frame.error().error())));
      else
        log_->warn("{}: peer rejected a one-way message: {}", label(),
                   messages::describe(from_wire_error(frame.error().error())));
      return;
    case wire::Frame::KIND_NOT_SET:
      return close(
        caf::make_error(transport_errc::unexpected_frame, "a frame of unknown kind"),
        close_mode::protocol_error);
    default:
      return close(caf::make_error(transport_errc::unexpected_frame,
                                   std::string{"a "} + frame_kind_name(frame)
                                     + " frame after the handshake"),
                   close_mode::protocol_error);
  }
}

void connection_actor::on_heartbeat(const wire::Heartbeat& hb) {
  last_seen_ = clock().now();
  if (hb.reply()) {
    auto rtt = std::chrono::microseconds{micros_since_epoch(last_seen_) - hb.timestamp_us()};
    if (rtt >= caf::timespan{0})
      update_rtt(rtt);
    return;
  }
  wire::Frame pong;
  pong.mutable_heartbeat()->set_timestamp_us(hb.timestamp_us());
  pong.mutable_heartbeat()->set_reply(true);
  send_frame(pong);
}

void connection_actor::on_io_closed(caf::error reason) {
  // The reader stops on bytes that break the protocol (a bad length prefix,
  // a frame that does not parse): the peer is told, like any violation.
  auto mode = is_protocol_error(reason) ? close_mode::protocol_error : close_mode::lost;
  close(std::move(reason), mode);
}

void connection_actor::on_timer(connection_timer which) {
  switch (which) {
    case connection_timer::connect:
      if (state_ == phase::connecting)
        close(caf::make_error(transport_errc::connect_failed, args_.io->remote_address(),
                              "timed out"),
              close_mode::lost);
      return;
    case connection_timer::handshake:
      if (state_ == phase::handshaking)
        close(caf::make_error(transport_errc::handshake_timeout,
                              "no handshake within the handshake timeout"),
              close_mode::protocol_error);
      return;
    case connection_timer::heartbeat:
      if (state_ == phase::established)
        on_heartbeat_due();
      return;
  }
}

void connection_actor::on_heartbeat_due() {
  auto now = clock().now();
  if (now - last_seen_ > settings().peer_timeout) {
    // A goodbye: if the peer still reads, it learns why (a peer that went
    // silent may only have a stalled writer).
    close(
      caf::make_error(transport_errc::peer_timeout, "no heartbeat within the peer timeout"),
      close_mode::goodbye);
    return;
  }
  wire::Frame ping;
  ping.mutable_heartbeat()->set_timestamp_us(micros_since_epoch(now));
  send_frame(ping);
  arm(connection_timer::heartbeat, settings().heartbeat_interval);
}

caf::result<caf::actor> connection_actor::make_proxy_for(const std::string& name) {
  if (state_ != phase::established)
    return caf::make_error(transport_errc::peer_lost, "connection not established");
  if (auto i = proxies_.find(name); i != proxies_.end())
    return i->second;
  auto index = next_proxy_++;
  auto proxy = make_proxy(
    system(), proxy_args{args_.cfg, args_.io, index, args_.node_id, hs_.peer_id(), name});
  monitor(proxy);
  dsp_->add_proxy(index, proxy);
  proxies_.emplace(name, proxy);
  proxy_names_.emplace(proxy.address(), std::make_pair(name, index));
  return proxy;
}

// -- remote monitors ------------------------------------------------------------

namespace {

/// Makes a sentinel exit with `reason` (an exit message: CAF's
/// `anon_send_exit` takes only an `exit_reason`).
void end_watch(const caf::actor& sentinel, caf::error reason) {
  caf::anon_send(sentinel, caf::exit_msg{caf::actor_addr{}, std::move(reason)});
}

} // namespace

caf::result<caf::actor> connection_actor::make_watch_for(const std::string& name) {
  if (state_ != phase::established)
    return caf::make_error(transport_errc::peer_lost, "the connection is closing");
  // The sentinel does nothing but exit with the reason it is sent, even a
  // normal one (it traps exits).
  auto sentinel = system().spawn([](caf::event_based_actor* self) -> caf::behavior {
    self->set_exit_handler([self](caf::exit_msg& msg) {
      self->quit(msg.reason ? msg.reason : caf::make_error(caf::exit_reason::normal));
    });
    return {[](caf::ok_atom) {}};
  });
  auto id = next_watch_++;
  watching_.emplace(id, sentinel.address());
  watch_of_sentinel_.emplace(sentinel.address(), id);
  monitor(sentinel);
  wire::Frame frame;
  auto* w = frame.mutable_watch();
  w->set_watch_id(id);
  w->set_name(name);
  send_frame(frame);
  // Answered once the peer monitors the actor: an exit after `watch`
  // returned is then always reported with its own reason.
  auto rp = make_response_promise();
  unconfirmed_.emplace(id, std::make_pair(sentinel, rp));
  return caf::delegated<caf::actor>{};
}

void connection_actor::on_watching(const wire::Watching& w) {
  auto i = unconfirmed_.find(w.watch_id());
  if (i == unconfirmed_.end())
    return;
  i->second.second.deliver(i->second.first);
  unconfirmed_.erase(i);
}

void connection_actor::on_watch(const wire::Watch& w) {
  auto refuse = [&](caf::error reason) {
    wire::Frame frame;
    auto* down = frame.mutable_watch_down();
    down->set_watch_id(w.watch_id());
    to_wire_error(reason, messages::describe(reason), *down->mutable_reason());
    send_frame(frame);
  };
  // A peer's watches cost this node a monitor each: bounded per connection.
  if (served_ids_.size() >= max_watches_per_connection)
    return refuse(caf::make_error(transport_errc::too_many_requests,
                                  "more than " + std::to_string(max_watches_per_connection)
                                    + " watches on one connection"));
  auto routes = args_.routes->get();
  auto i = routes->find(w.name());
  if (i == routes->end() || !i->second.actor)
    return refuse(caf::make_error(transport_errc::unknown_actor, w.name()));
  auto addr = i->second.actor.address();
  auto& ids = served_[addr];
  if (ids.empty())
    monitor(i->second.actor);
  ids.push_back(w.watch_id());
  served_ids_[w.watch_id()] = addr;
  wire::Frame frame;
  frame.mutable_watching()->set_watch_id(w.watch_id());
  send_frame(frame);
}

void connection_actor::on_unwatch(const wire::Unwatch& w) {
  auto i = served_ids_.find(w.watch_id());
  if (i == served_ids_.end())
    return;
  auto j = served_.find(i->second);
  if (j != served_.end()) {
    auto& ids = j->second;
    ids.erase(std::remove(ids.begin(), ids.end(), w.watch_id()), ids.end());
    if (ids.empty()) {
      demonitor(j->first);
      served_.erase(j);
    }
  }
  served_ids_.erase(i);
}

void connection_actor::on_watch_down(const wire::WatchDown& w) {
  if (auto u = unconfirmed_.find(w.watch_id()); u != unconfirmed_.end()) {
    // Ended at once (nobody publishes the name): the caller still gets its
    // sentinel, which dies right away with the reason.
    u->second.second.deliver(u->second.first);
    unconfirmed_.erase(u);
  }
  auto i = watching_.find(w.watch_id());
  if (i == watching_.end())
    return; // its sentinel is gone already (Unwatch crossed this frame)
  auto sentinel = caf::actor_cast<caf::actor>(i->second);
  watch_of_sentinel_.erase(i->second);
  watching_.erase(i);
  if (!sentinel)
    return;
  demonitor(sentinel);
  auto reason = from_wire_error(w.reason());
  end_watch(sentinel, reason ? reason : caf::make_error(caf::exit_reason::normal));
}

void connection_actor::report_watched_down(const caf::actor_addr& addr,
                                           const caf::error& reason) {
  auto j = served_.find(addr);
  if (j == served_.end())
    return;
  auto why = reason ? reason : caf::make_error(caf::exit_reason::normal);
  for (auto id : j->second) {
    wire::Frame frame;
    auto* down = frame.mutable_watch_down();
    down->set_watch_id(id);
    to_wire_error(why, messages::describe(why), *down->mutable_reason());
    send_frame(frame);
    served_ids_.erase(id);
  }
  served_.erase(j);
}

void connection_actor::on_down(const caf::down_msg& msg) {
  if (served_.count(msg.source) > 0) {
    if (state_ == phase::established)
      report_watched_down(msg.source, msg.reason);
    return;
  }
  if (auto i = watch_of_sentinel_.find(msg.source); i != watch_of_sentinel_.end()) {
    // Nobody needs this watch any more (its sentinel was dropped or
    // stopped): the peer can forget it.
    auto id = i->second;
    watching_.erase(id);
    watch_of_sentinel_.erase(i);
    if (state_ == phase::established) {
      wire::Frame frame;
      frame.mutable_unwatch()->set_watch_id(id);
      send_frame(frame);
    }
    return;
  }
  on_proxy_down(msg);
}

void connection_actor::on_proxy_down(const caf::down_msg& msg) {
  // A proxy went away on its own (someone sent it an exit): forget it.
  auto i = proxy_names_.find(msg.source);
  if (i == proxy_names_.end())
    return;
  proxies_.erase(i->second.first);
  dsp_->remove_proxy(i->second.second);
  proxy_names_.erase(i);
}

// -- ending -------------------------------------------------------------------

void connection_actor::close(caf::error reason, close_mode mode) {
  if (state_ == phase::closed)
    return;
  auto was = state_;
  state_ = phase::closed;
  release_claim();
  if (mode == close_mode::protocol_error) {
    log_->warn("{}: closing: {}", label(), messages::describe(reason));
    std::string bytes;
    append_error_frame(reason, 0, nullptr, error_scope::connection, settings().max_frame_size,
                       bytes);
    args_.io->send_and_close(std::move(bytes));
  } else if (mode == close_mode::goodbye && was == phase::established) {
    if (reason == transport_errc::peer_timeout)
      log_->warn("{}: closing: {}", label(), messages::describe(reason));
    else
      log_->info("{}: closing: {}", label(), messages::describe(reason));
    wire::Frame frame;
    to_wire_error(reason, messages::describe(reason),
                  *frame.mutable_goodbye()->mutable_reason());
    std::string bytes;
    (void)append_frame(frame, settings().max_frame_size, bytes);
    args_.io->send_and_close(std::move(bytes));
  } else {
    if (mode == close_mode::peer_left) // an orderly close: not a failure here
      log_->info("{}: closed: {}", label(), messages::describe(reason));
    else if (was == phase::established)
      log_->warn("{}: connection lost: {}", label(), messages::describe(reason));
    else
      log_->info("{}: connection failed: {}", label(), messages::describe(reason));
    args_.io->close();
  }
  quit(std::move(reason));
}

void connection_actor::shut_down_children(const caf::error& reason) {
  auto why = reason ? reason : caf::make_error(transport_errc::node_stopped);
  for (auto& kvp : proxies_)
    proxy_of(kvp.second).kill(why);
  proxies_.clear();
  proxy_names_.clear();
  // Remote monitors end with the connection's reason: the node is lost or
  // left, so nothing more can be known about its actors.
  for (auto& [id, addr] : watching_)
    if (auto sentinel = caf::actor_cast<caf::actor>(addr))
      end_watch(sentinel, why);
  watching_.clear();
  watch_of_sentinel_.clear();
  for (auto& [id, pending] : unconfirmed_)
    pending.second.deliver(why);
  unconfirmed_.clear();
  served_.clear();
  served_ids_.clear();
  if (responder_)
    responder_of(responder_).close(why);
}

// -- helpers ------------------------------------------------------------------

void connection_actor::release_claim() {
  // Before the actor quits: the node's monitor fires before this actor's
  // own attachables, and the node must not find a claim of a connection it
  // already saw go down.
  if (args_.claims)
    args_.claims->ended(address());
  args_.claims = nullptr;
}

void connection_actor::send_frame(const wire::Frame& frame) {
  auto err = args_.io->write(
    [&](std::string& buf) { return append_frame(frame, settings().max_frame_size, buf); });
  if (err && err != transport_errc::node_stopped)
    log_->error("{}: cannot send a frame: {}", label(), messages::describe(err));
}

std::string connection_actor::label() const {
  auto result = "peer " + args_.io->remote_address();
  if (!hs_.peer_id().empty())
    result += " [" + hs_.peer_id() + "]";
  return result;
}

void connection_actor::update_rtt(caf::timespan rtt) {
  if (rtt < min_rtt_) {
    min_rtt_ = rtt;
    dsp_->one_way(min_rtt_ / 2);
  }
}

} // namespace troupe::transport::internal
