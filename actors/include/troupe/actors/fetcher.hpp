#pragma once

/// A fetcher: a stage that turns requests into `fetch_result`s by running an
/// asynchronous operation (e.g. `troupe::http::http_get`) with bounded
/// concurrency.
///
/// It is `Semaphore(max_in_flight)` around `session.get`, as an actor:
/// - requests arrive under credit (at most `capacity` held: queued, running,
///   waiting to retry, or finished and waiting for downstream credit);
/// - at most `max_in_flight` attempts run at once;
/// - each attempt gets `attempt_timeout` (on the actor clock), then is
///   cancelled and fails with `attempt_timeout`;
/// - failed attempts are retried per `retry` (backoff with jitter, on the
///   actor clock); a request that runs out of attempts gets
///   `retries_exhausted` carrying the last error;
/// - a circuit breaker fails requests fast with `circuit_open` while the
///   operation keeps failing;
/// - results go downstream under the downstream's credit, in completion
///   order.
///
/// Per key (per host): with `max_in_flight_per_key` or `breaker_per_key`
/// set, requests are grouped by `fetch_key(request)`, found by
/// argument-dependent lookup (troupe::http defines it for `http_request`:
/// the URL's scheme, host and port). At most `max_in_flight_per_key`
/// attempts of one key run at once, while requests of other keys go ahead
/// (no head-of-line blocking among the requests the fetcher holds: one slow
/// host can still fill its `capacity`), and each key gets its own circuit
/// breaker, so one dead host does not fail fast the requests to the others.
/// The fetcher keeps an entry per key only while the key has attempts
/// running or a breaker that is not closed and clean. A keyed config for a
/// request type without `fetch_key` is refused (`invalid_config`).
///
/// Usage (an HTTP fetcher; the `http_*` types are troupe::http's,
/// `<troupe/http/http_get.hpp>`):
///   auto f = spawn_fetcher<http_request, http_response>(
///     sys, requests, fetcher_config{}, std::make_unique<http_get>());
///   spawn_consumer<fetch_result<http_request, http_response>>(sys, *f, ...);

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/send.hpp>
#include <caf/span.hpp>

#include "troupe/actors/async_operation.hpp"
#include "troupe/actors/circuit_breaker.hpp"
#include "troupe/actors/credit.hpp"
#include "troupe/actors/fetch_errc.hpp"
#include "troupe/actors/fetch_result.hpp"
#include "troupe/actors/flow/flow_stage.hpp"
#include "troupe/actors/flow_errc.hpp"
#include "troupe/actors/retry_policy.hpp"

namespace troupe::actors {

struct fetcher_config {
  /// Most requests held at once (see above). Default 64.
  uint32_t capacity = 64;
  /// Most attempts running at once. Default 8.
  uint32_t max_in_flight = 8;
  /// Limit for one attempt. Default 10 s.
  caf::timespan attempt_timeout = std::chrono::seconds{10};
  /// Attempts and delays. Default: 3 attempts, exponential backoff from
  /// 100 ms to 5 s with full jitter, every error retried.
  retry_policy retry = retry_policy::up_to(
    3,
    backoff::exponential(std::chrono::milliseconds{100}, std::chrono::seconds{5})
      .with_jitter(jitter::full));
  /// Circuit breaker settings (threshold 5, open 30 s, 1 probe).
  circuit_breaker::config breaker;
  /// Most attempts of one key (see above) running at once; 0: no limit
  /// other than `max_in_flight`. Default 0.
  uint32_t max_in_flight_per_key = 0;
  /// One circuit breaker per key instead of one for all. Default false.
  bool breaker_per_key = false;
  /// Most results per batch sent downstream. Default 16.
  uint32_t batch_size = 16;
  /// Seed of the jitter; fixed seeds make delays reproducible in tests.
  uint64_t seed = std::random_device{}();

  /// Returns an `invalid_config` error naming the bad field, or none.
  caf::error validate() const;
};

/// Counters of a fetcher. Ask it with `(fetch_stats_atom)` (the
/// observability endpoint does, for a supervisor's child whose CAF `name()`
/// is "troupe.fetcher"; it answers `flow_stats_atom` too).
struct fetch_stats {
  uint64_t attempts = 0;               ///< operations started
  uint64_t succeeded = 0;              ///< requests answered
  uint64_t failed = 0;                 ///< requests that ended with an error
  uint64_t retries = 0;                ///< attempts that were retries
  uint64_t timeouts = 0;               ///< attempts cut off by attempt_timeout
  uint64_t short_circuited = 0;        ///< requests refused by an open breaker
  uint64_t breaker_opened = 0;         ///< times the breaker went open
  uint64_t max_in_flight_seen = 0;     ///< never exceeds max_in_flight
  uint64_t max_key_in_flight_seen = 0; ///< never exceeds max_in_flight_per_key (if set)
  // Now (taken when asked; not counters):
  uint64_t in_flight = 0; ///< attempts running
  uint64_t waiting = 0;   ///< requests queued or waiting out a retry's backoff
  std::string breaker;    ///< "closed", "open" or "half_open"
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, fetch_stats& x) {
  return f(caf::meta::type_name("troupe.fetch_stats"), x.attempts, x.succeeded, x.failed,
           x.retries, x.timeouts, x.short_circuited, x.breaker_opened, x.max_in_flight_seen,
           x.max_key_in_flight_seen, x.in_flight, x.waiting, x.breaker);
}

using fetch_stats_atom = caf::atom_constant<caf::atom("trp_fxstat")>;
using fetch_done_atom = caf::atom_constant<caf::atom("trp_fxdone")>;
using fetch_timeout_atom = caf::atom_constant<caf::atom("trp_fxto")>;
using fetch_retry_atom = caf::atom_constant<caf::atom("trp_fxretr")>;

namespace detail {

template <class Request, class = void>
struct has_fetch_key : std::false_type {};

template <class Request>
struct has_fetch_key<Request, std::void_t<decltype(fetch_key(std::declval<const Request&>()))>>
  : std::true_type {};

/// The key of `req`: `fetch_key(req)` if there is one, else "".
template <class Request>
std::string key_of(const Request& req) {
  if constexpr (has_fetch_key<Request>::value)
    return std::string{fetch_key(req)};
  else
    return {};
}

template <class Request, class Response>
class fetcher_actor final : public flow_stage<Request, fetch_result<Request, Response>> {
public:
  using result_type = fetch_result<Request, Response>;
  using super = flow_stage<Request, result_type>;
  using operation_ptr = std::unique_ptr<async_operation<Request, Response>>;

  fetcher_actor(caf::actor_config& cfg, caf::actor upstream, fetcher_config fcfg,
                operation_ptr op)
    : super(cfg, std::move(upstream), fcfg.capacity, {fcfg.batch_size, caf::timespan{0}}),
      cfg_(std::move(fcfg)),
      op_(std::move(op)),
      breaker_(cfg_.breaker),
      keyed_(cfg_.max_in_flight_per_key > 0 || cfg_.breaker_per_key),
      rng_(cfg_.seed) {
    // nop
  }

  /// A flow actor that also answers `fetch_stats_atom`: monitoring asks
  /// both.
  const char* name() const override {
    return "troupe.fetcher";
  }

  void on_exit() override {
    // Stop what is running before the operation goes away; its destructor
    // waits for its own threads, so no callback outlives it.
    for (auto& kvp : running_)
      op_->cancel(kvp.first);
    running_.clear();
    op_.reset();
    super::on_exit();
  }

private:
  /// One request on its way through attempts.
  struct job {
    Request request;
    seq_t seq;
    uint64_t ordinal; // input batch, for the credit protocol
    uint32_t attempts = 0;
    caf::timespan last_delay{0};
    caf::error last_error;
    std::string key; // empty unless keyed
  };

  /// What the fetcher knows of one key.
  struct key_state {
    uint32_t running = 0;
    circuit_breaker breaker;
  };

  using super::input;
  using super::output;

  caf::message_handler handlers() override {
    return {
      [this](fetch_done_atom, uint64_t id, Response& res) { on_done(id, std::move(res)); },
      [this](fetch_done_atom, uint64_t id, caf::error& err) { on_failed(id, std::move(err)); },
      [this](fetch_timeout_atom, uint64_t id) {
        if (running_.count(id) == 0)
          return; // finished in time
        op_->cancel(id);
        ++stats_.timeouts;
        on_failed(id, caf::make_error(fetch_errc::attempt_timeout));
      },
      [this](fetch_retry_atom, uint64_t key) {
        auto i = waiting_.find(key);
        if (i == waiting_.end())
          return;
        ready_.push_front(std::move(i->second)); // retries go first
        waiting_.erase(i);
        start_ready();
      },
      [this](fetch_stats_atom) {
        auto result = stats_;
        result.in_flight = running_.size();
        result.waiting = ready_.size() + waiting_.size();
        result.breaker = to_string(breaker_.current(this->clock().now()));
        if (cfg_.breaker_per_key) {
          // The worst state of any key: "open" if any host is cut off.
          auto now = this->clock().now();
          auto worst = circuit_breaker::state::closed;
          for (auto& kvp : keys_) {
            auto st = kvp.second.breaker.current(now);
            if (st == circuit_breaker::state::open
                || (st == circuit_breaker::state::half_open
                    && worst == circuit_breaker::state::closed))
              worst = st;
          }
          result.breaker = to_string(worst);
        }
        return result;
      },
    };
  }

  void on_input(caf::span<const Request> reqs, seq_t first, uint64_t ordinal) override {
    for (size_t i = 0; i < reqs.size(); ++i) {
      ready_.push_back(
        job{reqs[i], first + i, ordinal, 0, caf::timespan{0}, caf::error{}, {}});
      if (keyed_)
        ready_.back().key = key_of(reqs[i]);
    }
    start_ready();
  }

  /// The state of `key`, made on first use.
  key_state& state_of(const std::string& key) {
    auto i = keys_.find(key);
    if (i == keys_.end())
      i = keys_.emplace(key, key_state{0, circuit_breaker{cfg_.breaker}}).first;
    return i->second;
  }

  circuit_breaker& breaker_for(const job& j) {
    return cfg_.breaker_per_key ? state_of(j.key).breaker : breaker_;
  }

  /// The first ready job whose key has room (the front one if not keyed).
  typename std::deque<job>::iterator next_startable() {
    if (cfg_.max_in_flight_per_key == 0)
      return ready_.begin();
    return std::find_if(ready_.begin(), ready_.end(), [this](const job& j) {
      return state_of(j.key).running < cfg_.max_in_flight_per_key;
    });
  }

  void start_ready() {
    while (running_.size() < cfg_.max_in_flight && !ready_.empty()) {
      auto next = next_startable();
      if (next == ready_.end())
        return; // every waiting request's key is at its limit
      auto j = std::move(*next);
      ready_.erase(next);
      auto now = this->clock().now();
      auto& breaker = breaker_for(j);
      if (!breaker.allow(now)) {
        ++stats_.short_circuited;
        auto wait = breaker.retry_after(now);
        finish(std::move(j), caf::make_error(fetch_errc::circuit_open, wait));
        continue;
      }
      auto id = next_attempt_++;
      if (++j.attempts > 1)
        ++stats_.retries;
      ++stats_.attempts;
      auto me = caf::actor_cast<caf::actor>(this);
      auto& running = running_.emplace(id, std::move(j)).first->second;
      stats_.max_in_flight_seen =
        std::max<uint64_t>(stats_.max_in_flight_seen, running_.size());
      if (keyed_) {
        auto& key = state_of(running.key);
        ++key.running;
        stats_.max_key_in_flight_seen =
          std::max<uint64_t>(stats_.max_key_in_flight_seen, key.running);
      }
      this->delayed_send(this, cfg_.attempt_timeout, fetch_timeout_atom::value, id);
      op_->start(id, running.request, [me, id](caf::expected<Response> x) {
        // Any thread: back into the actor by message only.
        if (x)
          caf::anon_send(me, fetch_done_atom::value, id, std::move(*x));
        else
          caf::anon_send(me, fetch_done_atom::value, id, std::move(x.error()));
      });
    }
  }

  void on_done(uint64_t id, Response res) {
    auto i = running_.find(id);
    if (i == running_.end())
      return; // too late: it timed out
    auto j = std::move(i->second);
    running_.erase(i);
    stopped(j);
    breaker_for(j).on_success();
    if (keyed_)
      forget_if_idle(j.key);
    finish(std::move(j), std::move(res));
    start_ready();
  }

  void on_failed(uint64_t id, caf::error err) {
    auto i = running_.find(id);
    if (i == running_.end())
      return;
    auto j = std::move(i->second);
    running_.erase(i);
    stopped(j);
    auto& breaker = breaker_for(j);
    auto was_open = breaker.current(this->clock().now()) == circuit_breaker::state::open;
    breaker.on_failure(this->clock().now());
    if (!was_open && breaker.current(this->clock().now()) == circuit_breaker::state::open)
      ++stats_.breaker_opened;
    if (cfg_.retry.should_retry(j.attempts, err)) {
      j.last_error = std::move(err);
      auto delay = cfg_.retry.delays().draw(j.attempts, j.last_delay, rng_);
      j.last_delay = delay;
      auto key = next_attempt_++;
      waiting_.emplace(key, std::move(j));
      this->delayed_send(this, delay, fetch_retry_atom::value, key);
    } else {
      auto attempts = j.attempts;
      finish(std::move(j), cfg_.retry.final_error(attempts, std::move(err)));
    }
    start_ready();
  }

  /// An attempt of `j` ended (done, failed or timed out).
  void stopped(const job& j) {
    if (keyed_)
      --state_of(j.key).running;
  }

  /// Forgets `key` if nothing about it needs remembering: an open web of
  /// hosts must not grow the table without bound.
  void forget_if_idle(const std::string& key) {
    auto i = keys_.find(key);
    if (i == keys_.end() || i->second.running > 0)
      return;
    auto& b = i->second.breaker;
    if (b.failures() == 0 && b.current(this->clock().now()) == circuit_breaker::state::closed)
      keys_.erase(i);
  }

  void finish(job j, Response res) {
    ++stats_.succeeded;
    done_.push_back({std::move(j.request), j.seq, std::move(res), caf::error{}, j.attempts});
    done_ordinals_.push_back(j.ordinal);
    output().resume();
  }

  void finish(job j, caf::error err) {
    ++stats_.failed;
    done_.push_back({std::move(j.request), j.seq, Response{}, std::move(err), j.attempts});
    done_ordinals_.push_back(j.ordinal);
    output().resume();
  }

  // -- output ---------------------------------------------------------------

  caf::expected<pull_status> pull(size_t n, std::vector<result_type>& items) override {
    while (items.size() < n && !done_.empty()) {
      items.push_back(std::move(done_.front()));
      done_.pop_front();
      input().finished(done_ordinals_.front());
      done_ordinals_.pop_front();
    }
    bool idle = done_.empty() && ready_.empty() && running_.empty() && waiting_.empty();
    if (idle && input().upstream_ended())
      return pull_status::done;
    return items.empty() ? pull_status::wait : pull_status::more;
  }

  fetcher_config cfg_;
  operation_ptr op_;
  circuit_breaker breaker_;
  /// Whether requests are grouped by key (then `keys_` is used).
  bool keyed_;
  std::unordered_map<std::string, key_state> keys_;
  std::mt19937_64 rng_;
  std::deque<job> ready_;
  std::unordered_map<uint64_t, job> running_; // by attempt id
  std::unordered_map<uint64_t, job> waiting_; // for a retry, by key
  std::deque<result_type> done_;
  std::deque<uint64_t> done_ordinals_;
  uint64_t next_attempt_ = 1;
  fetch_stats stats_;
};

} // namespace detail

/// Spawns a fetcher of `upstream`'s requests, running `op`, through `where`.
template <class Request, class Response, class Spawner>
caf::expected<caf::actor>
spawn_fetcher(Spawner& where, caf::actor upstream, fetcher_config cfg,
              std::unique_ptr<async_operation<Request, Response>> op) {
  if (auto err = cfg.validate())
    return err;
  if (!upstream)
    return caf::make_error(flow_errc::invalid_config, "fetcher: upstream is invalid");
  if (!op)
    return caf::make_error(flow_errc::invalid_config, "fetcher: operation is empty");
  if ((cfg.max_in_flight_per_key > 0 || cfg.breaker_per_key)
      && !detail::has_fetch_key<Request>::value)
    return caf::make_error(flow_errc::invalid_config,
                           "fetcher: per-key settings need a fetch_key(const Request&)");
  return where.template spawn<detail::fetcher_actor<Request, Response>>(
    std::move(upstream), std::move(cfg), std::move(op));
}

} // namespace troupe::actors
