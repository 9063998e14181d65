#include "troupe/services/service_directory.hpp"

#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "troupe/services/rpc_errc.hpp"

namespace troupe::services {

namespace {

/// The running directory of each actor system. An entry exists exactly
/// while its directory runs: it erases itself (under the lock) to retire.
std::mutex directories_mtx;
std::map<caf::actor_system*, service_directory_actor> directories;

class service_directory_impl : public service_directory_actor::base {
public:
  explicit service_directory_impl(caf::actor_config& cfg)
    : service_directory_actor::base(cfg) {
    set_down_handler([this](caf::down_msg& msg) {
      on_down(msg);
      retire_if_idle();
    });
  }

  const char* name() const override {
    return "troupe.service_directory";
  }

  behavior_type make_behavior() override {
    // However it ends (retired, killed, its system shutting down), it
    // leaves the table, so no one sends to a directory that is gone.
    attach_functor([sys = &home_system(), me = address()] {
      std::lock_guard<std::mutex> guard{directories_mtx};
      auto i = directories.find(sys);
      if (i != directories.end() && i->second.address() == me)
        directories.erase(i);
    });
    return {
      [this](register_service_atom, std::string& name, caf::actor& actor) -> caf::ok_atom {
        add(std::move(name), std::move(actor));
        retire_if_idle();
        return caf::ok_atom::value;
      },
      [this](unregister_service_atom, const std::string& name,
             const caf::actor_addr& addr) -> caf::ok_atom {
        if (auto i = entries_.find(name);
            i != entries_.end() && i->second.actor && i->second.actor.address() == addr)
          i->second.actor = nullptr;
        retire_if_idle();
        return caf::ok_atom::value;
      },
      [this](find_service_atom, const std::string& name, const caf::actor_addr& stale,
             caf::timespan wait) -> caf::result<caf::actor> {
        auto result = lookup(name, stale, wait);
        retire_if_idle();
        return result;
      },
      [this](expire_atom, uint64_t id) {
        expire(id);
        retire_if_idle();
      },
    };
  }

private:
  struct waiter {
    uint64_t id;
    caf::actor_addr stale;
    caf::typed_response_promise<caf::actor> promise;
  };

  struct entry {
    caf::actor actor;
    std::vector<waiter> waiting;
  };

  void add(std::string name, caf::actor actor) {
    if (!actor)
      return;
    monitor(actor);
    auto& e = entries_[std::move(name)];
    e.actor = std::move(actor);
    std::vector<waiter> still;
    for (auto& w : e.waiting) {
      if (e.actor.address() != w.stale) {
        w.promise.deliver(e.actor);
        waiters_.erase(w.id);
      } else {
        still.push_back(std::move(w));
      }
    }
    e.waiting = std::move(still);
  }

  caf::result<caf::actor> lookup(const std::string& name, const caf::actor_addr& stale,
                                 caf::timespan wait) {
    auto i = entries_.find(name);
    if (i != entries_.end() && i->second.actor && i->second.actor.address() != stale)
      return i->second.actor;
    if (wait <= caf::timespan{0})
      return caf::make_error(rpc_errc::unavailable, "no running service " + name);
    auto& e = entries_[name];
    if (e.waiting.size() >= max_waiting_lookups)
      return caf::make_error(rpc_errc::resource_exhausted,
                             "too many callers wait for service " + name);
    auto id = ++last_id_;
    auto promise = make_response_promise<caf::actor>();
    e.waiting.push_back(waiter{id, stale, promise});
    waiters_.emplace(id, name);
    delayed_send(this, wait, expire_atom::value, id);
    return promise;
  }

  void expire(uint64_t id) {
    auto w = waiters_.find(id);
    if (w == waiters_.end())
      return; // served meanwhile
    auto i = entries_.find(w->second);
    if (i != entries_.end()) {
      auto& waiting = i->second.waiting;
      for (auto j = waiting.begin(); j != waiting.end(); ++j) {
        if (j->id == id) {
          j->promise.deliver(
            caf::make_error(rpc_errc::deadline_exceeded,
                            "no running service " + w->second + " appeared in time"));
          waiting.erase(j);
          break;
        }
      }
      drop_if_empty(i);
    }
    waiters_.erase(w);
  }

  /// Names come and go (every stream has one): an entry with neither an
  /// actor nor a waiting lookup is dropped.
  void drop_if_empty(std::map<std::string, entry>::iterator i) {
    if (!i->second.actor && i->second.waiting.empty())
      entries_.erase(i);
  }

  void on_down(const caf::down_msg& msg) {
    for (auto i = entries_.begin(); i != entries_.end();) {
      auto next = std::next(i);
      if (i->second.actor && i->second.actor.address() == msg.source) {
        i->second.actor = nullptr;
        drop_if_empty(i);
      }
      i = next;
    }
  }

  /// Retires when nothing is registered or waiting, and nothing is
  /// in the mailbox (checked under the lock every sender holds).
  void retire_if_idle() {
    if (!waiters_.empty())
      return;
    for (auto& [name, e] : entries_)
      if (e.actor)
        return;
    std::lock_guard<std::mutex> guard{directories_mtx};
    if (!mailbox().empty())
      return; // that message will look again
    auto i = directories.find(&home_system());
    if (i != directories.end() && i->second.address() == address())
      directories.erase(i);
    quit(); // takes effect when this handler returns
  }

  std::map<std::string, entry> entries_;
  /// Waiting lookups by id: the name they wait for.
  std::map<uint64_t, std::string> waiters_;
  uint64_t last_id_ = 0;
};

} // namespace

void with_service_directory(caf::actor_system& sys,
                            const std::function<void(const service_directory_actor&)>& send) {
  std::lock_guard<std::mutex> guard{directories_mtx};
  auto& dir = directories[&sys];
  if (!dir)
    dir = sys.spawn<service_directory_impl>();
  send(dir);
}

void register_service(caf::actor_system& sys, std::string name, caf::actor actor) {
  with_service_directory(sys, [&](const service_directory_actor& dir) {
    caf::anon_send(dir, register_service_atom::value, std::move(name), std::move(actor));
  });
}

} // namespace troupe::services
