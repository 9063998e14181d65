#pragma once

// The Inventory service every member of the demo runs: answers `Check`
// with a stock level and its own member id (so the caller sees which
// member answered), and streams `Changes` at the caller's pace.

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <troupe/services/reply.hpp>
#include <troupe/services/stream_reply.hpp>

#include "inventory.pb.h"

class inventory_service final : public inventory::v1::Inventory::Service {
public:
  explicit inventory_service(std::string member_id) : member_id_(std::move(member_id)) {
    // nop
  }

  troupe::services::reply<inventory::v1::Stock>
  check(troupe::services::server_call&, const inventory::v1::StockQuery& q) override {
    if (q.sku().empty())
      return caf::make_error(troupe::services::rpc_errc::invalid_argument, "empty sku");
    inventory::v1::Stock result;
    result.set_sku(q.sku());
    result.set_quantity(static_cast<int64_t>(std::hash<std::string>{}(q.sku()) % 1000));
    result.set_served_by(member_id_);
    return result;
  }

  troupe::services::stream_reply<inventory::v1::StockChange>
  changes(troupe::services::server_call&, const inventory::v1::ChangesQuery& q) override {
    auto sku = q.sku();
    auto n = q.count();
    auto next = std::make_shared<uint64_t>(0);
    return [sku, n, next](size_t demand, std::vector<inventory::v1::StockChange>& out) {
      while (out.size() < demand && *next < n) {
        inventory::v1::StockChange change;
        change.set_sku(sku);
        change.set_seq(++*next);
        change.set_quantity(static_cast<int64_t>(*next % 97));
        out.push_back(std::move(change));
      }
      return *next < n ? troupe::actors::pull_status::more : troupe::actors::pull_status::done;
    };
  }

private:
  std::string member_id_;
};
