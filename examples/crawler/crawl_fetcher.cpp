#include "crawl_fetcher.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include <troupe/actors/blocking_pool.hpp>
#include <troupe/actors/consumer.hpp>
#include <troupe/actors/fetcher.hpp>
#include <troupe/actors/stage.hpp>
#include <troupe/http/http_get.hpp>
#include <troupe/messages/error_category.hpp>
#include <troupe/services/channel.hpp>
#include <troupe/services/rpc_errc.hpp>
#include <troupe/transport/wire_error.hpp>

#include "crawler.pb.h"
#include "link_extractor.hpp"

namespace crawler {

namespace {

using namespace std::chrono_literals;
using troupe::http::http_request;
using troupe::http::http_response;
using page_result = troupe::actors::fetch_result<http_request, http_response>;

/// One fetched page on its way to the frontier; `done` finishes the item.
struct page_job {
  page_result result;
  troupe::actors::item_done done;
};

using page_job_ptr = std::shared_ptr<page_job>;

struct report_counts {
  std::atomic<uint64_t> ok{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<uint64_t> deferred{0};
};

} // namespace

} // namespace crawler

// Local only: a job holds its consumer's completion.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(crawler::page_job_ptr)

namespace crawler {

namespace {

/// Parses fetched pages on the blocking pool and reports them; the item is
/// done once the frontier acknowledged the report. A report that fails
/// (the frontier is gone or does not answer in time) fails the item: the
/// pipeline stops, and the frontier gives this fetcher's URLs to others.
///
/// Its one message is `page_job_ptr`. Untyped because a generated stub's
/// asynchronous calls need a `caf::event_based_actor` (CAF 0.17's typed
/// actors lack the same requester base).
class page_reporter final : public caf::event_based_actor {
public:
  page_reporter(caf::actor_config& cfg, v1::Frontier::Stub frontier, caf::actor parsers,
                std::string fetcher_id, std::shared_ptr<report_counts> counts)
    : caf::event_based_actor(cfg),
      frontier_(std::move(frontier)),
      parsers_(std::move(parsers)),
      fetcher_id_(std::move(fetcher_id)),
      counts_(std::move(counts)) {
    // nop
  }

  const char* name() const override {
    return "crawler.page_reporter";
  }

  caf::behavior make_behavior() override {
    return {
      [this](page_job_ptr& job) { handle(std::move(job)); },
    };
  }

private:
  void handle(page_job_ptr job) {
    if (!job->result.ok()) {
      report(job, {}, job->result.error);
      return;
    }
    // Relative links resolve against where the page came from (after a
    // redirect, not the URL asked for).
    const auto& r = job->result;
    auto base = r.response.url.empty() ? r.request.url : r.response.url;
    troupe::actors::run_blocking(
      this, parsers_, 10s,
      [job, base] { return extract_links(job->result.response.body, base); })
      .then(
        [this, job](std::vector<std::string>& links) {
          report(job, std::move(links), caf::error{});
        },
        [this, job](caf::error& err) { report(job, {}, err); });
  }

  /// Reports the page: crawled with `links`, or failed with `error`.
  void report(const page_job_ptr& job, std::vector<std::string> links,
              const caf::error& error) {
    v1::PageReport page;
    page.set_url(job->result.request.url);
    page.set_ok(!error);
    if (error)
      troupe::transport::to_wire_error(error, troupe::messages::describe(error),
                                       *page.mutable_error());
    page.set_attempts(job->result.attempts);
    page.set_fetcher(fetcher_id_);
    for (auto& link : links)
      page.add_links(std::move(link));
    auto ok = page.ok();
    frontier_.report(this, page, 10s)
      .then(
        [this, job, ok](v1::ReportAck& ack) {
          (ack.deferred() ? counts_->deferred
             : ok         ? counts_->ok
                          : counts_->failed)
            .fetch_add(1);
          job->done();
        },
        [job](caf::error& err) { job->done(err); });
  }

  v1::Frontier::Stub frontier_;
  caf::actor parsers_;
  std::string fetcher_id_;
  std::shared_ptr<report_counts> counts_;
};

} // namespace

fetcher_outcome run_fetcher(caf::actor_system& sys, const troupe::transport::node& node,
                            const std::string& host, uint16_t port,
                            const fetcher_settings& settings) {
  fetcher_outcome outcome;
  v1::Frontier::Stub frontier{troupe::services::channel::remote(node.handle(), host, port)};
  // The frontier tells its fetchers apart by this name, also from a
  // replacement started under the same id: the process id makes it unique.
  auto instance = settings.id + "#" + std::to_string(::getpid());
  v1::WorkRequest req;
  req.set_fetcher(instance);
  auto work = frontier.work(req, settings.capacity, 10s);
  if (!work) {
    outcome.error = work.error();
    return outcome;
  }
  // Every actor below ends when the stream does; `stop` ends them sooner.
  std::vector<caf::actor> started;
  auto stop = [&] {
    for (auto& a : started)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  };
  auto fail = [&](caf::error err) {
    stop(); // what started so far; the stream's end stops the rest
    caf::anon_send_exit(*work, caf::exit_reason::user_shutdown);
    outcome.error = std::move(err);
    return outcome;
  };
  auto requests = troupe::actors::spawn_stage<v1::Url, http_request>(
    sys, *work, troupe::actors::stage_config{16, 16}, [](const v1::Url& u) {
      return http_request{u.url(), {}};
    });
  if (!requests)
    return fail(requests.error());
  troupe::actors::fetcher_config fcfg;
  fcfg.capacity = settings.capacity;
  fcfg.max_in_flight = settings.max_in_flight;
  fcfg.max_in_flight_per_key = settings.per_host;
  fcfg.breaker_per_key = true;
  // A host that fails every attempt for a while is cut off briefly, not for
  // the default 30 s: the demo's hosts are all up, some pages are not.
  fcfg.breaker.failure_threshold = 20;
  fcfg.breaker.open_interval = 500ms;
  fcfg.attempt_timeout = settings.attempt_timeout;
  fcfg.retry =
    troupe::actors::retry_policy::up_to(settings.attempts,
                                        troupe::actors::backoff::exponential(10ms, 200ms)
                                          .with_jitter(troupe::actors::jitter::full));
  troupe::http::http_get::config hcfg;
  // On loopback, compression only costs the site's CPU (brotli took 60 %
  // of the machine before this line).
  hcfg.accept_encoding = "identity";
  auto get = troupe::http::http_get::make(hcfg);
  if (!get)
    return fail(get.error());
  auto fetcher = troupe::actors::spawn_fetcher<http_request, http_response>(
    sys, *requests, fcfg, std::move(*get));
  if (!fetcher)
    return fail(fetcher.error());
  auto parsers = troupe::actors::spawn_blocking_pool(sys, settings.parsers);
  if (!parsers)
    return fail(parsers.error());
  started.push_back(*parsers);
  auto counts = std::make_shared<report_counts>();
  auto reporter = sys.spawn<page_reporter>(frontier, *parsers, instance, counts);
  started.push_back(reporter);
  auto ended = std::make_shared<caf::error>();
  auto sink = troupe::actors::spawn_consumer<page_result>(
    sys, *fetcher, troupe::actors::consumer_config{settings.capacity, settings.capacity},
    [reporter](const page_result& r, troupe::actors::seq_t, troupe::actors::item_done done) {
      caf::anon_send(reporter, std::make_shared<page_job>(page_job{r, std::move(done)}));
    });
  if (!sink)
    return fail(sink.error());
  {
    // Until the sink is done: sample the fetcher's high-water mark of
    // attempts in flight (its counter is exact; sampling only misses a rise
    // after the last sample, when the crawl winds down).
    caf::scoped_actor self{sys};
    self->monitor(*sink);
    auto until = std::chrono::steady_clock::now() + settings.lifetime;
    bool running = true;
    while (running) {
      self->request(*fetcher, 1s, troupe::actors::fetch_stats_atom::value)
        .receive(
          [&](troupe::actors::fetch_stats& st) {
            outcome.max_in_flight_seen =
              std::max(outcome.max_in_flight_seen, st.max_in_flight_seen);
          },
          [](caf::error&) {
            // gone: the stream ended
          });
      self->receive(
        [&](caf::down_msg& dm) {
          if (dm.reason != caf::exit_reason::normal)
            outcome.error = std::move(dm.reason);
          running = false;
        },
        caf::after(250ms) >> [] {});
      if (running && std::chrono::steady_clock::now() >= until) {
        outcome.error =
          caf::make_error(caf::sec::request_timeout, "the fetcher's lifetime ended");
        for (auto& a : {*work, *requests, *fetcher, *sink})
          caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
        self->receive([](caf::down_msg&) {});
        running = false;
      }
    }
  }
  stop();
  outcome.ok = counts->ok.load();
  outcome.failed = counts->failed.load();
  outcome.deferred = counts->deferred.load();
  return outcome;
}

} // namespace crawler
