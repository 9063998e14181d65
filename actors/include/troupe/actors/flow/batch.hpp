#pragma once

/// How items travel between flow actors: one message per batch
/// (docs/flow-control.md, "Writing a flow actor").
///
/// A batch of one item travels as `(item_seq, T)`, every other batch as
/// `(flow_batch_atom, first_seq, std::vector<T>)`: the single-item form
/// saves the vector's allocation and keeps the mailbox element small
/// (`item_seq`), which dominate the cost of one-message-per-item flows. Receivers see both
/// forms as a `caf::span`.
///
/// `flow_source`, `flow_sink` and `flow_stage` use these for you; a flow
/// actor that derives from `flow_actor` itself (with item types known only
/// at run time) builds and reads its batches with them.

#include <cstddef>
#include <iterator>
#include <utility>
#include <vector>

#include <caf/make_message.hpp>
#include <caf/message.hpp>
#include <caf/message_handler.hpp>
#include <caf/span.hpp>

#include "troupe/actors/credit.hpp"

namespace troupe::actors {

/// Builds the message for `items`, numbered from `first`.
template <class T>
caf::message make_batch(seq_t first, std::vector<T>&& items) {
  if (items.size() == 1)
    return caf::make_message(item_seq{first}, std::move(items.front()));
  return caf::make_message(flow_batch_atom::value, first, std::move(items));
}

/// Returns the items of a message built by `make_batch`.
template <class T>
caf::span<const T> items_of(const caf::message& batch) {
  if (batch.match_element<item_seq>(0))
    return {&batch.get_as<T>(1), 1};
  auto& xs = batch.get_as<std::vector<T>>(2);
  return {xs.data(), xs.size()};
}

/// Returns the sequence number of the first item of a batch message.
inline seq_t first_seq_of(const caf::message& batch) {
  if (batch.match_element<item_seq>(0))
    return batch.get_as<item_seq>(0).value;
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

/// Moves items [offset, offset + n) out of a batch message into a new one.
/// The items left behind are moved-from; use it on a batch nobody else
/// holds (else the message copies its items first: copy on write).
template <class T>
caf::message take_batch(caf::message& batch, size_t offset, size_t n) {
  if (batch.match_element<item_seq>(0))
    return batch; // one item: the whole batch
  auto& xs = batch.get_mutable_as<std::vector<T>>(2);
  auto first = xs.begin() + static_cast<ptrdiff_t>(offset);
  std::vector<T> part(std::make_move_iterator(first),
                      std::make_move_iterator(first + static_cast<ptrdiff_t>(n)));
  return make_batch(first_seq_of(batch) + offset, std::move(part));
}

/// Handlers for both forms of a batch of `T`: each calls
/// `f(caf::span<const T> items, seq_t first_seq)`.
template <class T, class F>
caf::message_handler batch_handlers(F f) {
  return {
    [f](item_seq seq, const T& item) {
      f(caf::span<const T>{&item, 1}, seq.value);
    },
    [f](flow_batch_atom, seq_t first, const std::vector<T>& items) {
      f(caf::span<const T>{items.data(), items.size()}, first);
    },
  };
}

} // namespace troupe::actors
