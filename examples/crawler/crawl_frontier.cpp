#include "crawl_frontier.hpp"

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/send.hpp>
#include <caf/timespan.hpp>

#include <algorithm>

#include <troupe/actors/fetch_errc.hpp>
#include <troupe/http/http_message.hpp>
#include <troupe/messages/error_category.hpp>
#include <troupe/services/rpc_errc.hpp>
#include <troupe/transport/wire_error.hpp>

namespace crawler {

namespace {

/// A producer woken for URLs that wait out their grace is woken this long
/// after they are due, so that they are due when it pulls.
constexpr std::chrono::milliseconds past_due{10};

} // namespace

crawl_frontier::crawl_frontier(frontier_config cfg) : cfg_(std::move(cfg)) {
  // nop
}

void crawl_frontier::seed(const std::string& url) {
  std::lock_guard<std::mutex> guard{mtx_};
  add(url);
}

uint64_t crawl_frontier::open_lease(std::string fetcher) {
  std::lock_guard<std::mutex> guard{mtx_};
  owners_.emplace(++next_lease_, std::move(fetcher));
  return next_lease_;
}

void crawl_frontier::attach(uint64_t id, const caf::actor& producer) {
  std::chrono::steady_clock::time_point last_due{};
  {
    std::lock_guard<std::mutex> guard{mtx_};
    producers_[id] = producer.address();
    if (!returning_.empty())
      last_due = returning_.back().second;
  }
  // A stream that opens while URLs wait out their grace pulls once it is
  // over, like the streams that were open when they came back.
  if (last_due != std::chrono::steady_clock::time_point{}) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      last_due - std::chrono::steady_clock::now());
    resume({producer.address()}, std::max(left, std::chrono::milliseconds{0}) + past_due);
  }
}

void crawl_frontier::close_lease(uint64_t id) {
  std::vector<caf::actor_addr> wake;
  size_t back = 0;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    producers_.erase(id);
    owners_.erase(id);
    auto now = std::chrono::steady_clock::now();
    for (auto i = leased_.begin(); i != leased_.end();) {
      if (i->second != id) {
        ++i;
        continue;
      }
      if (deliveries_[i->first] >= cfg_.max_deliveries) {
        // Its fetchers kept dying on it: a dead letter, not another victim.
        done_.insert(i->first);
        deliveries_.erase(i->first);
        deferrals_.erase(i->first);
        ++counts_.failed;
        ++counts_.dead_letters;
      } else {
        // Out again after the grace, ahead of new URLs.
        give_back(i->first, now + cfg_.requeue_grace);
        ++back;
      }
      i = leased_.erase(i);
    }
    counts_.requeued += back;
    if (back > 0 || leased_.empty())
      wake = waiting_producers();
    note_if_finished();
  }
  // The producers pull again once the grace is over (a producer that
  // waits is pulled only when told).
  if (back > 0)
    resume(wake, cfg_.requeue_grace + past_due);
  finished_cv_.notify_all();
  resume(wake);
}

troupe::actors::pull_status crawl_frontier::take(uint64_t id, size_t demand,
                                                 std::vector<v1::Url>& out) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto now = std::chrono::steady_clock::now();
  // Given-back URLs that are due go first, in the order they came due.
  size_t due = 0;
  while (due < returning_.size() && returning_[due].second <= now)
    ++due;
  for (size_t k = due; k > 0; --k)
    waiting_.push_front(std::move(returning_[k - 1].first));
  returning_.erase(returning_.begin(), returning_.begin() + static_cast<std::ptrdiff_t>(due));
  if (first_taken_ == std::chrono::steady_clock::time_point{} && !waiting_.empty())
    first_taken_ = now;
  while (out.size() < demand && !waiting_.empty()) {
    auto url = std::move(waiting_.front());
    waiting_.pop_front();
    if (done_.count(url) > 0)
      continue; // reported late, after its stream had given it back
    leased_.emplace(url, id);
    ++deliveries_[url];
    out.emplace_back().set_url(std::move(url));
  }
  if (!waiting_.empty())
    return troupe::actors::pull_status::more;
  return leased_.empty() && returning_.empty() ? troupe::actors::pull_status::done
                                               : troupe::actors::pull_status::wait;
}

caf::expected<report_result> crawl_frontier::report(const v1::PageReport& page) {
  std::vector<caf::actor_addr> wake;
  report_result result;
  std::chrono::milliseconds delay{0};
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (known_.count(page.url()) == 0)
      return caf::make_error(troupe::services::rpc_errc::failed_precondition,
                             "the crawl never handed out " + page.url());
    if (!page.ok() && (page.error().code() == 0 || page.error().category().empty()))
      return caf::make_error(troupe::services::rpc_errc::invalid_argument,
                             "a failed page needs a typed error: " + page.url());
    auto error = page.ok() ? caf::error{} : troupe::transport::from_wire_error(page.error());
    auto not_tried = troupe::messages::is(error, troupe::actors::fetch_errc::circuit_open);
    if (not_tried && (done_.count(page.url()) > 0 || !holds(page.fetcher(), page.url()))) {
      // Stale: the page is done, or no longer this fetcher's (its stream
      // ended; the page went back, or out again). It was not tried, so it
      // tells nothing (and fetched nothing twice): whoever has the page now
      // reports it.
      result.deferred = true;
      return result;
    }
    // Whoever holds it, it is done now: a second holder's report is a
    // duplicate, and its lease must not outlive it.
    leased_.erase(page.url());
    deliveries_.erase(page.url());
    // A report from a stream that ended, within the grace: it is done, it
    // does not go out again.
    returning_.erase(std::remove_if(returning_.begin(), returning_.end(),
                                    [&](const auto& r) { return r.first == page.url(); }),
                     returning_.end());
    if (not_tried && deferrals_[page.url()] < cfg_.max_deferrals) {
      // Out again once the host's breaker may let it through; jittered, so
      // that a host's put-off pages do not all come back at the instant it
      // half-opens (and trip it again together).
      ++deferrals_[page.url()];
      ++counts_.deferred;
      delay = cfg_.defer_delay + cfg_.defer_delay * jitter_() / (2 * decltype(jitter_)::max());
      give_back(page.url(), std::chrono::steady_clock::now() + delay);
      result.deferred = true;
    } else if (!done_.insert(page.url()).second) {
      ++counts_.duplicates;
    } else {
      if (page.ok()) {
        ++counts_.crawled;
      } else {
        ++counts_.failed;
        // By code only: the text varies per page.
        ++counts_.failed_by_reason[troupe::messages::describe(
          caf::error{error.code(), error.category()})];
      }
      deferrals_.erase(page.url());
      for (auto& link : page.links())
        if (add(link))
          ++result.new_urls;
    }
    // New URLs to hand out (now, or once a put-off one is due), or the
    // last lease gone (the streams end).
    if (result.new_urls > 0 || result.deferred || leased_.empty())
      wake = waiting_producers();
    note_if_finished();
  }
  finished_cv_.notify_all();
  if (result.deferred)
    resume(wake, delay + past_due);
  else
    resume(wake);
  return result;
}

crawl_progress crawl_frontier::progress() const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto result = counts_;
  result.known = known_.size();
  result.leased = leased_.size();
  result.waiting = waiting_.size() + returning_.size();
  result.finished = finished();
  return result;
}

double crawl_frontier::crawl_seconds() const {
  std::lock_guard<std::mutex> guard{mtx_};
  if (first_taken_ == std::chrono::steady_clock::time_point{})
    return 0;
  auto end = finished_at_ == std::chrono::steady_clock::time_point{}
    ? std::chrono::steady_clock::now()
    : finished_at_;
  return std::chrono::duration<double>(end - first_taken_).count();
}

bool crawl_frontier::wait_finished(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> guard{mtx_};
  return finished_cv_.wait_for(guard, timeout, [this] { return finished(); });
}

bool crawl_frontier::holds(const std::string& fetcher, const std::string& url) const {
  auto held = leased_.find(url);
  if (held == leased_.end())
    return false;
  auto owner = owners_.find(held->second);
  return owner != owners_.end() && owner->second == fetcher;
}

void crawl_frontier::give_back(std::string url, std::chrono::steady_clock::time_point due) {
  auto at = std::upper_bound(returning_.begin(), returning_.end(), due,
                             [](auto t, const auto& r) { return t < r.second; });
  returning_.emplace(at, std::move(url), due);
}

bool crawl_frontier::add(const std::string& url) {
  if (known_.count(url) > 0)
    return false;
  if (cfg_.origins.count(troupe::http::fetch_key(troupe::http::http_request{url, {}})) == 0) {
    ++counts_.out_of_scope;
    return false;
  }
  if (known_.size() >= cfg_.max_pages) {
    ++counts_.over_budget;
    return false;
  }
  known_.insert(url);
  waiting_.push_back(url);
  return true;
}

void crawl_frontier::resume(const std::vector<caf::actor_addr>& producers,
                            caf::timespan delay) {
  for (auto& addr : producers) {
    auto p = caf::actor_cast<caf::actor>(addr);
    if (!p)
      continue; // its stream ended meanwhile
    if (delay.count() > 0)
      caf::delayed_anon_send(p, delay, troupe::actors::flow_resume_atom::value);
    else
      caf::anon_send(p, troupe::actors::flow_resume_atom::value);
  }
}

void crawl_frontier::note_if_finished() {
  if (finished() && finished_at_ == std::chrono::steady_clock::time_point{})
    finished_at_ = std::chrono::steady_clock::now();
}

std::vector<caf::actor_addr> crawl_frontier::waiting_producers() {
  std::vector<caf::actor_addr> result;
  result.reserve(producers_.size());
  for (auto& kvp : producers_)
    result.push_back(kvp.second);
  return result;
}

} // namespace crawler
