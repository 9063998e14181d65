#include "shop_actor.hpp"

#include "shop.pb.h"

#include <caf/behavior.hpp>

caf::behavior shop_actor() {
  return {[](const shop::Order& o) {
    shop::Receipt r;
    r.set_total_cents(o.quantity() * 250);
    return r;
  }};
}
