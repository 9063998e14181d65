#include "troupe/cluster/etcd_provider.hpp"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <caf/send.hpp>

#include <spdlog/spdlog.h>

#include <troupe/actors/log.hpp>
#include <troupe/messages/error_category.hpp>

#include "etcd_client.hpp"
#include "troupe/cluster.pb.h"
#include "troupe/cluster/cluster_errc.hpp"

namespace troupe::cluster {

caf::error etcd_config::validate() const {
  auto bad = [](const std::string& what) {
    return caf::make_error(cluster_errc::invalid_config, "etcd_config." + what);
  };
  if (endpoints.empty())
    return bad("endpoints is empty");
  for (const auto& e : endpoints)
    if (e.rfind("http://", 0) != 0 && e.rfind("https://", 0) != 0)
      return bad("endpoints: not an http(s) URL: " + e);
  if (prefix.empty() || prefix.back() != '/')
    return bad("prefix must end with '/'");
  if (lease_ttl < std::chrono::seconds{2})
    return bad("lease_ttl is below 2 s");
  if (request_timeout <= caf::timespan{0} || request_timeout >= lease_ttl)
    return bad("request_timeout must be positive and below lease_ttl");
  if (start_attempts == 0)
    return bad("start_attempts is 0");
  if (auto err = retry.validate())
    return bad("retry: " + messages::describe(err));
  return caf::error{};
}

namespace {

class etcd_membership final : public membership_provider {
public:
  explicit etcd_membership(etcd_config cfg)
    : cfg_(std::move(cfg)), log_(actors::logger("troupe.cluster")) {
    // nop
  }

  ~etcd_membership() override {
    stop();
  }

  std::string describe() const override {
    return "etcd " + cfg_.endpoints.front() + " " + cfg_.prefix;
  }

  void start(const member& self, membership_listener listener) override {
    std::lock_guard<std::mutex> guard{mtx_};
    if (session_.joinable())
      return;
    self_ = self;
    id_ = self.id;
    listener_ = std::move(listener);
    session_ = std::thread{[this] { run_session(); }};
    watcher_ = std::thread{[this] { run_watch(); }};
  }

  void update(const member& self) override {
    std::lock_guard<std::mutex> guard{mtx_};
    self_ = self;
    dirty_ = true;
    cv_.notify_all();
  }

  void stop() override {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (stopping_.exchange(true))
        return;
      cv_.notify_all();
    }
    if (session_.joinable())
      session_.join();
    if (watcher_.joinable())
      watcher_.join();
    // The listener owns this provider: let go of it.
    listener_ = nullptr;
  }

private:
  // -- this member's record (session thread) -----------------------------------

  void run_session() {
    internal::etcd_client client{cfg_.endpoints, cfg_.request_timeout};
    actors::backoff_state backoff{cfg_.retry};
    auto key = cfg_.prefix + id_;
    int64_t lease = 0;
    uint32_t failures = 0;
    bool registered_once = false;
    bool reported = false;
    // After a failure: report it (at start only after the configured
    // attempts, mid-run at once), wait the backoff delay, and try the failed
    // step again at once (not after another keep-alive period: a lease
    // must not expire while a keep-alive waits for its turn).
    bool retry_now = false;
    auto fail = [&](const caf::error& err) {
      ++failures;
      if (!reported && (registered_once || failures >= cfg_.start_attempts)) {
        reported = true;
        log_->warn("etcd membership {}: {} (after {} attempts; still trying)", id_,
                   messages::describe(err), failures);
        report(err);
      }
      pause(backoff.next());
      retry_now = true;
    };
    while (!stopping_) {
      if (lease == 0) {
        auto granted = client.grant(cfg_.lease_ttl);
        if (!granted) {
          fail(granted.error());
          continue;
        }
        // The record written includes every update so far; a later one
        // marks it dirty again and is written next.
        (void)take_dirty();
        auto created = client.create(key, record(), *granted);
        if (!created) {
          (void)client.revoke(*granted);
          mark_dirty();
          fail(created.error());
          continue;
        }
        if (!*created) {
          (void)client.revoke(*granted);
          auto err = caf::make_error(cluster_errc::duplicate_member,
                                     key + " is held by another live member");
          log_->error("etcd membership {}: {}", id_, messages::describe(err));
          report(err);
          wait_until_stopped();
          return;
        }
        lease = *granted;
        failures = 0;
        reported = false;
        retry_now = false;
        registered_once = true;
        backoff.reset();
        log_->info("etcd membership {}: registered {} under lease {:x}", id_, key, lease);
        report(caf::error{});
      }
      if (!retry_now)
        wait_for_change(cfg_.lease_ttl / 3);
      retry_now = false;
      if (stopping_)
        break;
      if (take_dirty()) {
        if (auto err = client.put(key, record(), lease)) {
          mark_dirty();
          fail(err);
          continue;
        }
      }
      auto ttl = client.keep_alive(lease);
      if (!ttl) {
        fail(ttl.error());
        continue;
      }
      if (*ttl <= 0) {
        auto err = caf::make_error(cluster_errc::lease_lost,
                                   id_ + ": lease " + std::to_string(lease)
                                     + " expired; registering again");
        log_->warn("etcd membership {}: {}", id_, messages::describe(err));
        report(err);
        lease = 0;
        mark_dirty();
        continue;
      }
      if (reported) {
        reported = false;
        failures = 0;
        backoff.reset();
        report(caf::error{});
      }
    }
    // Withdraws the record at once instead of letting the lease expire: the
    // others see this member removed now — after its last change (`leaving`,
    // written by `cluster::stop` just before), so they see it leave.
    if (lease != 0) {
      if (take_dirty())
        (void)client.put(key, record(), lease);
      (void)client.revoke(lease);
    }
  }

  std::string record() {
    std::lock_guard<std::mutex> guard{mtx_};
    troupe::MemberRecord rec;
    rec.set_id(id_);
    rec.set_host(self_.host);
    rec.set_port(self_.port);
    for (const auto& s : self_.services)
      rec.add_services(s);
    rec.set_leaving(self_.state == member_state::leaving);
    return rec.SerializeAsString();
  }

  bool take_dirty() {
    std::lock_guard<std::mutex> guard{mtx_};
    return std::exchange(dirty_, false);
  }

  void mark_dirty() {
    std::lock_guard<std::mutex> guard{mtx_};
    dirty_ = true;
  }

  /// Waits `d`, or less when stopped or the record changed.
  void wait_for_change(caf::timespan d) {
    std::unique_lock<std::mutex> guard{mtx_};
    cv_.wait_for(guard, d, [this] { return stopping_.load() || dirty_; });
  }

  /// Waits `d`, or less when stopped (a backoff delay: a record change
  /// does not cut it short).
  void pause(caf::timespan d) {
    std::unique_lock<std::mutex> guard{mtx_};
    cv_.wait_for(guard, d, [this] { return stopping_.load(); });
  }

  void wait_until_stopped() {
    std::unique_lock<std::mutex> guard{mtx_};
    cv_.wait(guard, [this] { return stopping_.load(); });
  }

  void report(const caf::error& err) {
    caf::anon_send(listener_, provider_status_atom::value, err);
  }

  // -- the members (watch thread) ----------------------------------------------

  void run_watch() {
    internal::etcd_client client{cfg_.endpoints, cfg_.request_timeout};
    actors::backoff_state backoff{cfg_.retry};
    // Members reported so far, and whether each announced it leaves.
    std::unordered_map<std::string, bool> known;
    int64_t next_revision = 0; // 0: read everything first
    while (!stopping_) {
      if (next_revision == 0) {
        auto all = client.range(cfg_.prefix);
        if (!all) {
          pause(backoff.next());
          continue;
        }
        std::unordered_set<std::string> present;
        for (const auto& kv : all->kvs())
          if (auto id = put_seen(kv, known))
            present.insert(*id);
        // Gone while the watch was down and its history compacted.
        for (auto i = known.begin(); i != known.end();) {
          if (present.count(i->first) > 0) {
            ++i;
            continue;
          }
          gone(i->first, i->second);
          i = known.erase(i);
        }
        next_revision = all->header().revision() + 1;
      }
      auto err = client.watch(
        cfg_.prefix, next_revision, stopping_, [&](const etcd::WatchResponse& res) {
          if (res.canceled() || res.compact_revision() > 0) {
            log_->warn("etcd membership {}: watch cancelled ({}); "
                       "reading every member again",
                       id_, res.cancel_reason());
            next_revision = 0;
            return false;
          }
          for (const auto& ev : res.events()) {
            on_event(ev, known);
            next_revision = std::max(next_revision, ev.kv().mod_revision() + 1);
          }
          backoff.reset();
          return true;
        });
      if (stopping_)
        break;
      if (err)
        log_->debug("etcd membership {}: watch lost ({}); resuming from revision {}", id_,
                    messages::describe(err), next_revision);
      pause(backoff.next());
    }
  }

  void on_event(const etcd::Event& ev, std::unordered_map<std::string, bool>& known) {
    if (ev.type() == etcd::Event::PUT) {
      (void)put_seen(ev.kv(), known);
      return;
    }
    auto id = ev.kv().key().substr(std::min(ev.kv().key().size(), cfg_.prefix.size()));
    auto i = known.find(id);
    if (i == known.end())
      return;
    gone(id, i->second);
    known.erase(i);
  }

  /// Reports the member in `kv`; its id, or none if `kv` holds no record.
  std::optional<std::string> put_seen(const etcd::KeyValue& kv,
                                      std::unordered_map<std::string, bool>& known) {
    const auto& key = kv.key();
    auto id = key.substr(std::min(key.size(), cfg_.prefix.size()));
    troupe::MemberRecord rec;
    if (!rec.ParseFromString(kv.value()) || rec.id() != id || id.empty() || rec.host().empty()
        || rec.port() == 0 || rec.port() > 65535) {
      log_->warn("etcd membership {}: skipping {}: not a member record ({}: {} bytes)", id_,
                 key, messages::describe(caf::make_error(cluster_errc::invalid_record)),
                 kv.value().size());
      return std::nullopt;
    }
    member m;
    m.id = rec.id();
    m.host = rec.host();
    m.port = static_cast<uint16_t>(rec.port());
    m.services.assign(rec.services().begin(), rec.services().end());
    m.state = rec.leaving() ? member_state::leaving : member_state::joining;
    known[id] = rec.leaving();
    caf::anon_send(listener_, member_seen_atom::value, std::move(m));
    return id;
  }

  void gone(const std::string& id, bool leaving) {
    auto reason = leaving ? caf::make_error(cluster_errc::member_left, id + " left")
                          : caf::make_error(cluster_errc::member_expired,
                                            id + ": its record vanished (lease expired)");
    caf::anon_send(listener_, member_gone_atom::value, id, std::move(reason));
  }

  etcd_config cfg_;
  std::shared_ptr<spdlog::logger> log_;
  std::mutex mtx_;
  std::condition_variable cv_;
  std::atomic<bool> stopping_{false};
  bool dirty_ = false;
  member self_;
  /// This member's id: set before the threads start, never changed.
  std::string id_;
  membership_listener listener_;
  std::thread session_;
  std::thread watcher_;
};

} // namespace

std::unique_ptr<membership_provider> etcd_provider(etcd_config cfg) {
  return std::make_unique<etcd_membership>(std::move(cfg));
}

} // namespace troupe::cluster
