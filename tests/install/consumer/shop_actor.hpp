#pragma once

#include <caf/fwd.hpp>

/// The shop: answers a shop::Order with a shop::Receipt (250 cents apiece).
/// The supervisor runs it, messages and transport send it orders.
caf::behavior shop_actor();
