#include "troupe/services/channel.hpp"

#include <caf/actor_addr.hpp>
#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>

namespace troupe::services {

struct channel::state {
  kind how = kind::fixed;
  caf::actor_system* sys = nullptr;
  transport::node_actor node;
  std::string host;
  uint16_t port = 0;
  caf::actor fixed;
  std::shared_ptr<service_locator> locator;
};

service_locator::~service_locator() = default;

channel channel::local(caf::actor_system& sys) {
  auto st = std::make_shared<state>();
  st->how = kind::local;
  st->sys = &sys;
  return channel{std::move(st)};
}

channel channel::remote(const transport::node_actor& node, std::string host, uint16_t port) {
  auto st = std::make_shared<state>();
  st->how = kind::remote;
  st->sys = &caf::actor_cast<caf::abstract_actor*>(node)->home_system();
  st->node = node;
  st->host = std::move(host);
  st->port = port;
  return channel{std::move(st)};
}

channel channel::to(caf::actor target) {
  auto st = std::make_shared<state>();
  st->how = kind::fixed;
  st->sys = &caf::actor_cast<caf::abstract_actor*>(target)->home_system();
  st->fixed = std::move(target);
  return channel{std::move(st)};
}

channel channel::located(caf::actor_system& sys, std::shared_ptr<service_locator> locator) {
  auto st = std::make_shared<state>();
  st->how = kind::located;
  st->sys = &sys;
  st->locator = std::move(locator);
  return channel{std::move(st)};
}

channel::kind channel::how() const noexcept {
  return state_->how;
}

caf::actor_system& channel::system() const {
  return *state_->sys;
}

const caf::actor& channel::fixed() const {
  return state_->fixed;
}

const transport::node_actor& channel::node() const {
  return state_->node;
}

const std::string& channel::host() const {
  return state_->host;
}

uint16_t channel::port() const {
  return state_->port;
}

service_locator& channel::locator() const {
  return *state_->locator;
}

} // namespace troupe::services
