#pragma once

// The crawl's state: which URLs are known, waiting, leased to a fetcher's
// stream, and done. Shared by the Frontier service (Report) and the
// producers of its Work streams (one per fetcher), so it is thread-safe.
//
// Bounds: a URL is known at most once (`max_pages` of them; links beyond
// are counted as `over_budget` and not crawled). Everything else (waiting,
// leased) is a subset of the known URLs, so nothing grows without bound
// however the links cycle.
//
// At-least-once without duplicates: a URL is leased to one stream until it
// is reported. A stream that ends (its fetcher died) gives its unreported
// URLs back, ahead of new ones, after `requeue_grace`; a URL already reported
// is never handed out again, and a second report of it is counted as a
// duplicate and ignored. The service closes a lease in its own mailbox,
// after the reports that reached it first (frontier_service.hpp).
//
// Poison URLs: a URL given back `max_deliveries` times (its fetchers kept
// dying on it) is not handed out again; it counts as failed (a dead
// letter), so one bad page cannot take down every fetcher in turn.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/expected.hpp>
#include <caf/timespan.hpp>

#include <troupe/actors/credit.hpp>

#include "crawler.pb.h"

namespace crawler {

struct frontier_config {
  /// URLs known at most (the crawl's budget).
  uint64_t max_pages = 1'000'000;
  /// Origins (`scheme://host:port`) the crawl stays inside.
  std::unordered_set<std::string> origins;
  /// Streams a URL may go out on before it is a dead letter.
  uint32_t max_deliveries = 3;
  /// How long a URL given back by a stream that ended waits before it goes
  /// out again. The service closes a lease after the reports already in its
  /// mailbox; the grace covers those that come later (a fetcher that lost
  /// its stream but lived on, a connection its node closed itself): a
  /// report within the grace makes the URL done, not fetched twice.
  std::chrono::milliseconds requeue_grace{1000};
  /// A page its fetcher did not try, because that host's circuit breaker
  /// was open, goes out again this much later (about the breaker's open
  /// interval; plus up to half of it, at random) instead of failing for the
  /// crawl: an open circuit says "not now", not "this page is broken". Only
  /// the fetcher holding the page may put it off; a report of an open
  /// circuit from one whose stream ended changes nothing.
  std::chrono::milliseconds defer_delay{500};
  /// Times a page may be put off that way; the next report of an open
  /// circuit counts it as failed.
  uint32_t max_deferrals = 10;
};

/// What the frontier made of a report (`crawl_frontier::report`).
struct report_result {
  /// Links it had not seen before.
  uint32_t new_urls = 0;
  /// The page was not tried (an open circuit): it goes out again later, or
  /// is already out again (a fetcher whose stream had ended).
  bool deferred = false;
};

/// Counters, read with `crawl_frontier::progress`.
struct crawl_progress {
  uint64_t known = 0;
  uint64_t crawled = 0;
  uint64_t failed = 0;
  uint64_t duplicates = 0;
  uint64_t requeued = 0;
  uint64_t over_budget = 0;
  uint64_t out_of_scope = 0;
  /// URLs given up after `max_deliveries` (counted in `failed` too).
  uint64_t dead_letters = 0;
  /// Reports of pages not tried because of an open circuit, put off for
  /// later (not counted in `failed`).
  uint64_t deferred = 0;
  /// Failed pages by their error's code, e.g. "trp_fetch:http_status".
  std::map<std::string, uint64_t> failed_by_reason;
  uint64_t leased = 0;
  uint64_t waiting = 0;
  bool finished = false;
};

class crawl_frontier {
public:
  explicit crawl_frontier(frontier_config cfg);

  /// Adds a start URL.
  void seed(const std::string& url);

  /// A new Work stream for `fetcher` (`WorkRequest.fetcher`, unique per
  /// fetcher process); its URLs are leased under the returned id.
  uint64_t open_lease(std::string fetcher = {});

  /// The producer pulling lease `id`: woken when URLs arrive.
  void attach(uint64_t id, const caf::actor& producer);

  /// The stream of lease `id` ended: its unreported URLs go back.
  void close_lease(uint64_t id);

  /// The producer's source for lease `id`: up to `demand` URLs; `wait`
  /// while none are waiting but some are leased elsewhere (their links may
  /// bring more); `done` once nothing is waiting or leased.
  troupe::actors::pull_status take(uint64_t id, size_t demand, std::vector<v1::Url>& out);

  /// Records a fetcher's report: done with its new links, or put off (see
  /// `frontier_config::defer_delay`); `failed_precondition` for a URL the
  /// crawl never handed out, `invalid_argument` for a failure without a
  /// typed error.
  caf::expected<report_result> report(const v1::PageReport& page);

  crawl_progress progress() const;

  /// Seconds from the first URL handed out to the crawl's end (or now).
  double crawl_seconds() const;

  /// Waits up to `timeout` for the crawl to finish; true if it did.
  bool wait_finished(std::chrono::milliseconds timeout);

private:
  /// Adds `url` if new, in scope and within budget. Requires the lock.
  bool add(const std::string& url);

  /// True if `url` is leased to a stream of `fetcher`. Requires the lock.
  bool holds(const std::string& fetcher, const std::string& url) const;

  /// Puts `url` among the URLs that go out again at `due`, in the order of
  /// their due times. Requires the lock.
  void give_back(std::string url, std::chrono::steady_clock::time_point due);

  /// The producers of the open streams, to wake once the lock is released
  /// (`resume`). Requires the lock.
  std::vector<caf::actor_addr> waiting_producers();

  /// Tells each of `producers` to pull again, after `delay` if not zero.
  /// Without the lock: a producer may pull (take the lock) at once.
  static void resume(const std::vector<caf::actor_addr>& producers,
                     caf::timespan delay = caf::timespan{0});

  /// Notes when the crawl finished, the first time it is. Requires the lock.
  void note_if_finished();

  /// Requires the lock.
  bool finished() const {
    return !known_.empty() && waiting_.empty() && leased_.empty() && returning_.empty();
  }

  frontier_config cfg_;
  mutable std::mutex mtx_;
  std::condition_variable finished_cv_;
  std::unordered_set<std::string> known_;
  std::unordered_set<std::string> done_;
  std::deque<std::string> waiting_;
  /// Given back (by streams that ended, or put off), each with the time it
  /// may go out again, in that order.
  std::deque<std::pair<std::string, std::chrono::steady_clock::time_point>> returning_;
  /// URL -> lease it went out under.
  std::unordered_map<std::string, uint64_t> leased_;
  /// Lease -> its producer.
  std::unordered_map<uint64_t, caf::actor_addr> producers_;
  /// Lease -> the fetcher it serves.
  std::unordered_map<uint64_t, std::string> owners_;
  /// Jitter for put-off pages.
  std::minstd_rand jitter_{std::random_device{}()};
  /// URL -> streams it went out on, while not done.
  std::unordered_map<std::string, uint32_t> deliveries_;
  /// URL -> times it was put off (an open circuit), while not done.
  std::unordered_map<std::string, uint32_t> deferrals_;
  std::chrono::steady_clock::time_point first_taken_{};
  std::chrono::steady_clock::time_point finished_at_{};
  uint64_t next_lease_ = 0;
  crawl_progress counts_;
};

using crawl_frontier_ptr = std::shared_ptr<crawl_frontier>;

} // namespace crawler
