#include "troupe/transport/node.hpp"

#include <unistd.h>

#include <caf/all.hpp>

#include <troupe/actors/log.hpp>

#include <troupe/supervisors/atoms.hpp>

#include "node_actor_impl.hpp"
#include "troupe/transport/atoms.hpp"
#include "troupe/transport/transport_errc.hpp"
#include "troupe/transport/wire_error.hpp"

namespace troupe::transport {

namespace {

std::string generate_node_id() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0)
    host[0] = '\0';
  auto nonce = internal::random_nonce(4);
  static constexpr char hex[] = "0123456789abcdef";
  std::string suffix;
  for (auto c : nonce) {
    suffix += hex[(static_cast<unsigned char>(c) >> 4) & 0xF];
    suffix += hex[static_cast<unsigned char>(c) & 0xF];
  }
  return std::string{host[0] != '\0' ? host : "node"} + ":" + std::to_string(getpid()) + ":"
    + suffix;
}

} // namespace

struct node::impl {
  caf::actor_system* sys = nullptr;
  internal::config_ptr cfg;
  std::string id;
  uint16_t port = 0;
  internal::io_runtime_ptr rt;
  caf::actor handle;
  caf::actor supervisor;

  /// Bound on a blocking call that may have to connect first.
  caf::timespan call_bound() const {
    return cfg->connect_timeout + cfg->handshake_timeout + std::chrono::seconds{1};
  }
};

/// One blocking request to the node actor, bounded by `bound`: the shape of
/// every blocking member function below.
template <class Reply, class... Ts>
caf::expected<Reply> node::ask(caf::timespan bound, Ts&&... xs) {
  if (!impl_ || !impl_->handle)
    return caf::make_error(transport_errc::node_stopped);
  caf::scoped_actor self{*impl_->sys};
  caf::expected<Reply> result{caf::make_error(transport_errc::node_stopped)};
  self->request(impl_->handle, bound, std::forward<Ts>(xs)...)
    .receive([&](Reply& x) { result = std::move(x); },
             [&](caf::error& err) { result = std::move(err); });
  return result;
}

caf::expected<node> node::start(caf::actor_system& sys) {
  return start(sys, node_config::from(sys.config()));
}

caf::expected<node> node::start(caf::actor_system& sys, node_config cfg) {
  if (auto err = cfg.validate())
    return err;
  auto ptr = std::make_unique<impl>();
  ptr->sys = &sys;
  ptr->id = cfg.node_id.empty() ? generate_node_id() : cfg.node_id;
  internal::tls_context_ptr tls;
  if (cfg.tls.enabled) {
    auto ctx = internal::make_tls_context(cfg.tls);
    if (!ctx)
      return std::move(ctx.error());
    tls = std::move(*ctx);
  }
  ptr->rt = internal::make_io_runtime(cfg.io_threads);
  internal::listener_io_ptr listener;
  if (cfg.listen) {
    auto lio = internal::make_tcp_listener(ptr->rt, cfg.host, cfg.port,
                                           cfg.max_handshake_frame_size, tls);
    if (!lio) {
      ptr->rt->shutdown(std::chrono::seconds{1});
      return std::move(lio.error());
    }
    listener = std::move(*lio);
    ptr->port = listener->port();
  }
  ptr->cfg = std::make_shared<const node_config>(std::move(cfg));
  auto handles =
    internal::spawn_node_actor(sys, ptr->cfg, ptr->id, ptr->rt, std::move(tls), listener);
  if (!handles) {
    ptr->rt->shutdown(std::chrono::seconds{1});
    return std::move(handles.error());
  }
  ptr->handle = caf::actor_cast<caf::actor>(handles->node);
  ptr->supervisor = std::move(handles->supervisor);
  // Started means serving: wait (bounded) until the tree started the
  // connections' supervisor and the listener, so a peer that connects right
  // after `start` returns finds a listener actor to accept it.
  caf::error not_ready;
  {
    caf::scoped_actor self{sys};
    // Local work only (spawning two actors); generous for slow machines and
    // sanitizer builds.
    self->request(ptr->supervisor, std::chrono::seconds{10}, supervisors::ready_atom::value)
      .receive([](caf::ok_atom) {}, [&](caf::error& err) { not_ready = std::move(err); });
  }
  if (not_ready) {
    node failed{std::move(ptr)}; // its destructor stops what started
    return caf::make_error(transport_errc::listen_failed, "node supervisor did not start",
                           caf::to_string(not_ready));
  }
  auto log = actors::logger("troupe.transport");
  if (ptr->cfg->listen)
    log->info("node {} listening on {}:{}", ptr->id, ptr->cfg->host, ptr->port);
  else
    log->info("node {} started (not listening)", ptr->id);
  return node{std::move(ptr)};
}

node::node(std::unique_ptr<impl> ptr) : impl_(std::move(ptr)) {
  // nop
}

node::node(node&&) noexcept = default;

node& node::operator=(node&& other) noexcept {
  if (this != &other) {
    stop();
    impl_ = std::move(other.impl_);
  }
  return *this;
}

node::~node() {
  stop();
}

uint16_t node::port() const noexcept {
  return impl_->port;
}

const std::string& node::id() const noexcept {
  return impl_->id;
}

node_actor node::handle() const noexcept {
  return caf::actor_cast<node_actor>(impl_->handle);
}

caf::actor node::supervisor() const noexcept {
  return impl_->supervisor;
}

caf::error node::publish(const caf::actor& actor, const std::string& name, delivery how) {
  auto r = ask<caf::ok_atom>(std::chrono::seconds{5}, publish_atom::value, actor, name, how);
  return r ? caf::none : std::move(r.error());
}

caf::error node::unpublish(const std::string& name) {
  auto r = ask<caf::ok_atom>(std::chrono::seconds{5}, unpublish_atom::value, name);
  return r ? caf::none : std::move(r.error());
}

caf::expected<std::string> node::connect(const std::string& host, uint16_t port) {
  return ask<std::string>(impl_ ? impl_->call_bound() : caf::timespan{0}, connect_atom::value,
                          host, port);
}

caf::expected<caf::actor> node::remote_actor(const std::string& name, const std::string& host,
                                             uint16_t port) {
  return ask<caf::actor>(impl_ ? impl_->call_bound() : caf::timespan{0}, remote_atom::value,
                         name, host, port);
}

caf::expected<caf::actor> node::watch(const std::string& name, const std::string& host,
                                      uint16_t port) {
  return ask<caf::actor>(impl_ ? impl_->call_bound() : caf::timespan{0}, watch_atom::value,
                         name, host, port);
}

caf::expected<caf::actor> node::remote_actor(const std::string& address) {
  std::string name;
  std::string host;
  uint16_t port = 0;
  if (auto err = parse_address(address, name, host, port))
    return err;
  return remote_actor(name, host, port);
}

void node::subscribe(const caf::actor& observer) {
  if (impl_ && impl_->handle)
    caf::anon_send(impl_->handle, subscribe_atom::value, observer);
}

void node::unsubscribe(const caf::actor& observer) {
  if (impl_ && impl_->handle)
    caf::anon_send(impl_->handle, unsubscribe_atom::value, observer);
}

void node::stop() {
  if (!impl_ || !impl_->handle)
    return;
  {
    caf::scoped_actor self{*impl_->sys};
    self->monitor(impl_->handle);
    self->send(impl_->handle, internal::stop_atom::value);
    // The node ends after its supervisor's shutdown (1.5 x stop_timeout at
    // most) or its own last-resort deadline half a second later.
    auto bound =
      impl_->cfg->stop_timeout + impl_->cfg->stop_timeout / 2 + std::chrono::seconds{1};
    bool down = false;
    self->receive([&](caf::down_msg&) { down = true; }, caf::after(bound) >> [] {});
    if (!down) {
      self->send_exit(impl_->handle, caf::exit_reason::kill);
      self->receive([](caf::down_msg&) {}, caf::after(std::chrono::seconds{1}) >> [] {});
    }
  }
  impl_->handle = nullptr;
  impl_->supervisor = nullptr;
  // Every socket is closed now; let the I/O threads finish their handlers.
  impl_->rt->shutdown(std::chrono::seconds{2});
  actors::logger("troupe.transport")->info("node {} stopped", impl_->id);
}

caf::error parse_address(const std::string& address, std::string& name, std::string& host,
                         uint16_t& port) {
  auto bad = [&] { return caf::make_error(transport_errc::invalid_address, address); };
  auto at = address.find('@');
  auto colon = address.rfind(':');
  if (at == std::string::npos || at == 0 || colon == std::string::npos || colon < at + 2
      || colon + 1 >= address.size())
    return bad();
  auto digits = address.substr(colon + 1);
  if (digits.size() > 5 || digits.find_first_not_of("0123456789") != std::string::npos)
    return bad();
  auto value = std::stoul(digits);
  if (value == 0 || value > 65535)
    return bad();
  name = address.substr(0, at);
  host = address.substr(at + 1, colon - at - 1);
  port = static_cast<uint16_t>(value);
  return caf::none;
}

} // namespace troupe::transport
