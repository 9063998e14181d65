#include "troupe/cluster/cluster.hpp"

#include <utility>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include <troupe/messages/error_category.hpp>
#include <troupe/services/rpc_errc.hpp>
#include <troupe/transport/node.hpp>

#include "cluster_actor_impl.hpp"
#include "cluster_locator.hpp"
#include "troupe/cluster/cluster_errc.hpp"

namespace troupe::cluster {

namespace {

/// Bound on a question to the cluster actor (it answers from memory).
constexpr auto ask_bound = std::chrono::seconds{10};

} // namespace

membership_provider::~membership_provider() = default;

caf::error cluster_config::validate() const {
  if (advertise_host.empty())
    return caf::make_error(cluster_errc::invalid_config,
                           "cluster_config.advertise_host is empty");
  if (auto err = connect_backoff.validate())
    return caf::make_error(cluster_errc::invalid_config,
                           "cluster_config.connect_backoff: " + messages::describe(err));
  return caf::error{};
}

spawned_cluster spawn_cluster(caf::actor_system& sys, transport::node_actor node, member self,
                              const cluster_config& cfg,
                              std::shared_ptr<membership_provider> provider) {
  auto locator = std::make_shared<internal::cluster_locator>();
  auto actor = sys.spawn<internal::cluster_actor_impl>(std::move(node), std::move(self), cfg,
                                                       std::move(provider), locator);
  return {caf::actor_cast<cluster_actor>(actor), std::move(locator)};
}

struct cluster::impl {
  caf::actor_system* sys = nullptr;
  std::string id;
  spawned_cluster parts;
  std::shared_ptr<internal::cluster_locator> locator;
  std::shared_ptr<membership_provider> provider;
  bool stopped = false;
};

caf::expected<cluster> cluster::start(caf::actor_system& sys, transport::node& node,
                                      cluster_config cfg,
                                      std::unique_ptr<membership_provider> provider) {
  if (auto err = cfg.validate())
    return err;
  if (!provider)
    return caf::make_error(cluster_errc::invalid_config, "no membership provider");
  member self;
  self.id = node.id();
  self.host = cfg.advertise_host;
  self.port = cfg.advertise_port != 0 ? cfg.advertise_port : node.port();
  self.services = cfg.services;
  auto st = std::make_unique<impl>();
  st->sys = &sys;
  st->id = self.id;
  st->provider = std::move(provider);
  st->parts = spawn_cluster(sys, node.handle(), std::move(self), cfg, st->provider);
  st->locator = std::static_pointer_cast<internal::cluster_locator>(st->parts.locator);
  return cluster{std::move(st)};
}

cluster::cluster(std::unique_ptr<impl> ptr) : impl_(std::move(ptr)) {
  // nop
}

cluster::cluster(cluster&&) noexcept = default;

cluster& cluster::operator=(cluster&& other) noexcept {
  // The cluster this one was leaves first, as its destructor would.
  if (impl_ && impl_ != other.impl_)
    stop();
  impl_ = std::move(other.impl_);
  return *this;
}

cluster::~cluster() {
  if (impl_)
    stop();
}

const std::string& cluster::id() const noexcept {
  return impl_->id;
}

cluster_actor cluster::handle() const noexcept {
  return impl_->parts.actor;
}

caf::error cluster::wait_joined(caf::timespan timeout) {
  caf::scoped_actor self{*impl_->sys};
  caf::error result;
  self->request(impl_->parts.actor, timeout, joined_atom::value)
    .receive([](caf::ok_atom) {},
             [&](caf::error& err) {
               result = messages::is(err, caf::sec::request_timeout) ? caf::make_error(
                          cluster_errc::join_timeout, "not registered within the wait")
                                                                     : std::move(err);
             });
  return result;
}

caf::expected<std::vector<member>> cluster::members() {
  caf::scoped_actor self{*impl_->sys};
  caf::expected<std::vector<member>> result{std::vector<member>{}};
  self->request(impl_->parts.actor, ask_bound, members_atom::value)
    .receive([&](std::vector<member>& xs) { result = std::move(xs); },
             [&](caf::error& err) { result = std::move(err); });
  return result;
}

caf::error cluster::advertise(const std::string& service) {
  caf::scoped_actor self{*impl_->sys};
  caf::error result;
  self->request(impl_->parts.actor, ask_bound, advertise_atom::value, service)
    .receive([](caf::ok_atom) {}, [&](caf::error& err) { result = std::move(err); });
  return result;
}

void cluster::subscribe(const caf::actor& observer) {
  caf::anon_send(impl_->parts.actor, subscribe_atom::value, observer);
}

services::channel cluster::channel() const {
  return services::channel::located(*impl_->sys, impl_->parts.locator);
}

std::vector<std::string> cluster::instances(const std::string& service) const {
  return impl_->locator->members_running(service);
}

std::vector<std::string> cluster::await_instances(const std::string& service, uint32_t count,
                                                  caf::timespan timeout) {
  caf::scoped_actor self{*impl_->sys};
  std::vector<std::string> result;
  self
    ->request(impl_->parts.actor, timeout + std::chrono::seconds{1}, instances_atom::value,
              service, count, timeout)
    .receive([&](std::vector<std::string>& xs) { result = std::move(xs); },
             [&](caf::error&) { result = instances(service); });
  return result;
}

void cluster::stop() {
  if (impl_->stopped)
    return;
  impl_->stopped = true;
  caf::scoped_actor self{*impl_->sys};
  self->request(impl_->parts.actor, ask_bound, leave_atom::value)
    .receive([](caf::ok_atom) {}, [](caf::error&) {});
  // Withdraws the record (blocking, bounded) before the actor goes: the
  // others see this member removed, not down.
  impl_->provider->stop();
  self->send_exit(impl_->parts.actor, caf::exit_reason::user_shutdown);
  self->wait_for(impl_->parts.actor);
}

} // namespace troupe::cluster
