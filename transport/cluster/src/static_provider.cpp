#include "troupe/cluster/static_provider.hpp"

#include <utility>

#include <caf/send.hpp>

namespace troupe::cluster {

namespace {

class static_membership final : public membership_provider {
public:
  explicit static_membership(std::vector<member> seeds) : seeds_(std::move(seeds)) {
    for (auto& m : seeds_)
      if (m.id.empty())
        m.id = m.address();
  }

  std::string describe() const override {
    return "a static list of " + std::to_string(seeds_.size()) + " members";
  }

  void start(const member& self, membership_listener listener) override {
    for (auto m : seeds_) {
      if (m.id == self.id || (m.host == self.host && m.port == self.port))
        continue;
      m.state = member_state::joining;
      caf::anon_send(listener, member_seen_atom::value, std::move(m));
    }
    caf::anon_send(listener, provider_status_atom::value, caf::error{});
  }

  void update(const member&) override {
    // The list is fixed: the others learn nothing from it.
  }

  void stop() override {
    // nop
  }

private:
  std::vector<member> seeds_;
};

} // namespace

std::unique_ptr<membership_provider> static_provider(std::vector<member> seeds) {
  return std::make_unique<static_membership>(std::move(seeds));
}

} // namespace troupe::cluster
