#pragma once

// The Frontier service: each fetcher process opens one Work stream (a
// producer spawned for the call, pulling the shared crawl_frontier under
// that stream's lease) and reports every page it finished.

#include <memory>

#include <troupe/actors/producer.hpp>
#include <troupe/messages/error_category.hpp>
#include <troupe/services/reply.hpp>
#include <troupe/services/rpc_errc.hpp>
#include <troupe/services/stream_reply.hpp>

#include "crawl_frontier.hpp"
#include "crawler.pb.h"

namespace crawler {

class frontier_service final : public v1::Frontier::Service {
public:
  explicit frontier_service(crawl_frontier_ptr frontier) : frontier_(std::move(frontier)) {
    // nop
  }

  troupe::services::stream_reply<v1::Url> work(troupe::services::server_call&,
                                               const v1::WorkRequest& req) override {
    // The lease lives as long as the producer's source: when the stream
    // ends for any reason (done, its fetcher gone, the service stopping),
    // the producer goes and its unreported URLs go back to the frontier.
    // The lease closes through this service's mailbox, after the reports
    // already in it. When a fetcher dies, its node reads every frame the
    // connection still holds (and hands each report to this service) before
    // it sees the connection closed, which is what ends the stream: those
    // pages count as done instead of going to another fetcher (and being
    // fetched twice). A report that arrives after the close (a connection
    // the node closed itself, a fetcher that lived on) is covered by the
    // frontier's grace.
    auto lease = std::shared_ptr<uint64_t>(
      new uint64_t{frontier_->open_lease(req.fetcher())},
      [frontier = frontier_, mailbox = mailbox()](uint64_t* id) {
        mailbox.post([frontier, id = *id] { frontier->close_lease(id); });
        delete id;
      });
    auto producer = troupe::actors::spawn_producer<v1::Url>(
      *self(), troupe::actors::producer_config{},
      [frontier = frontier_, lease](size_t demand, std::vector<v1::Url>& out) {
        return frontier->take(*lease, demand, out);
      });
    if (!producer)
      return caf::make_error(troupe::services::rpc_errc::internal,
                             "cannot start a work stream: "
                               + troupe::messages::describe(producer.error()));
    frontier_->attach(*lease, *producer);
    return troupe::services::stream_reply<v1::Url>::owned(std::move(*producer));
  }

  troupe::services::reply<v1::ReportAck> report(troupe::services::server_call&,
                                                const v1::PageReport& page) override {
    auto result = frontier_->report(page);
    if (!result)
      return result.error();
    v1::ReportAck ack;
    ack.set_new_urls(result->new_urls);
    ack.set_deferred(result->deferred);
    return ack;
  }

private:
  crawl_frontier_ptr frontier_;
};

} // namespace crawler
