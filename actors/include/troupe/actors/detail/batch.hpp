#pragma once

/// How items travel between flow actors: one message per batch.
///
/// A batch of one item travels as `(flow_item_atom, seq, T)`, every other
/// batch as `(flow_batch_atom, first_seq, std::vector<T>)`: the single-item
/// form saves the vector's allocation, which dominates the cost of
/// one-message-per-item flows. Receivers see both forms as a `caf::span`.

#include <cstddef>
#include <utility>
#include <vector>

#include <caf/make_message.hpp>
#include <caf/message.hpp>
#include <caf/span.hpp>

#include "troupe/actors/credit.hpp"

namespace troupe::actors::detail {

/// Builds the message for `items`, numbered from `first`.
template <class T>
caf::message make_batch(seq_t first, std::vector<T>&& items) {
  if (items.size() == 1)
    return caf::make_message(flow_item_atom::value, first, std::move(items.front()));
  return caf::make_message(flow_batch_atom::value, first, std::move(items));
}

/// Returns the items of a message built by `make_batch`.
template <class T>
caf::span<const T> items_of(const caf::message& batch) {
  if (batch.match_element<flow_item_atom>(0))
    return {&batch.get_as<T>(2), 1};
  auto& xs = batch.get_as<std::vector<T>>(2);
  return {xs.data(), xs.size()};
}

/// Returns the sequence number of the first item of a batch message.
inline seq_t first_seq_of(const caf::message& batch) {
  return batch.get_as<seq_t>(1);
}

/// Copies items [offset, offset + n) of a batch message into a new one.
template <class T>
caf::message slice_batch(const caf::message& batch, size_t offset, size_t n) {
  auto xs = items_of<T>(batch);
  std::vector<T> part(xs.begin() + static_cast<ptrdiff_t>(offset),
                      xs.begin() + static_cast<ptrdiff_t>(offset + n));
  return make_batch(first_seq_of(batch) + offset, std::move(part));
}

} // namespace troupe::actors::detail
