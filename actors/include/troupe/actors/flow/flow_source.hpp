#pragma once

/// `flow_source<Out>`: the base of a flow actor that produces items of
/// `Out` for consumers (a producer, a remote-stream importer), and of
/// `flow_stage`. The subclass implements `pull`; the base builds the batch
/// messages, slices them for redelivery, and finishes as `flow_actor` says.
///
///   class countdown final : public flow_source<int> {
///   public:
///     countdown(caf::actor_config& cfg, int from)
///       : flow_source<int>(cfg, flow_output::config{}), left_(from) {}
///   private:
///     caf::expected<pull_status> pull(size_t n, std::vector<int>& out) override {
///       while (out.size() < n && left_ > 0) out.push_back(left_--);
///       return left_ > 0 ? pull_status::more : pull_status::done;
///     }
///     int left_;
///   };

#include <cstddef>
#include <type_traits>
#include <utility>
#include <vector>

#include <caf/expected.hpp>

#include "troupe/actors/flow/batch.hpp"
#include "troupe/actors/flow/flow_actor.hpp"

namespace troupe::actors {

template <class Out>
class flow_source : public flow_actor {
protected:
  /// A source: output only.
  flow_source(caf::actor_config& cfg, flow_output::config out) : flow_actor(cfg, out) {
    // nop
  }

  /// Input and output (for `flow_stage`).
  flow_source(caf::actor_config& cfg, upstream_ref upstream, uint32_t capacity,
              flow_output::config out)
    : flow_actor(cfg, std::move(upstream), capacity, out) {
    // nop
  }

  /// Appends at most `n` (>= 1) items to `out` (empty on entry). Called
  /// only while a consumer has credit. `more`: call again while there is
  /// demand (`more` with nothing appended waits like `wait`); `done`: no
  /// more items after these; `wait`: nothing now, call
  /// `output().resume()` when there is. An error fails the output: every
  /// consumer gets `done(error)` and the actor quits with it.
  virtual caf::expected<pull_status> pull(size_t n, std::vector<Out>& out) = 0;

  /// During `pull`: the sequence number the first item it appends gets (the
  /// others follow in order).
  seq_t pulling_from() const noexcept {
    return pulling_from_;
  }

private:
  pulled_batch pull_batch(size_t n, seq_t first_seq) final {
    pulled_batch result;
    // One vector, reused: a pull that yields one item (sent without a
    // vector) allocates nothing.
    scratch_.clear();
    scratch_.reserve(n);
    pulling_from_ = first_seq;
    auto status = pull(n, scratch_);
    if (!status) {
      result.error = std::move(status.error());
      return result;
    }
    result.status = *status;
    result.count = scratch_.size();
    if constexpr (copy_single) {
      if (result.count == 1) {
        result.single.store(scratch_.front());
        return result;
      }
    }
    if (result.count > 0)
      result.items = make_batch(first_seq, std::move(scratch_));
    return result;
  }

  caf::message slice(const caf::message& batch, size_t offset, size_t n) final {
    return slice_batch<Out>(batch, offset, n);
  }

  /// A lone item this small is kept typed and sent as a copy (held inline
  /// by `single_item`, copied for the price of a word): one allocation per
  /// item where a shared message needs two. Larger items (protobuf
  /// messages) travel shared, never copied.
  static constexpr bool copy_single = single_item::fits<Out>;

  void send_single(const caf::actor& to, seq_t seq, const single_item& item) final {
    if constexpr (copy_single)
      this->send(to, item_seq{seq}, item.get<Out>());
  }

  caf::message single_batch(seq_t seq, const single_item& item) final {
    if constexpr (copy_single)
      return caf::make_message(item_seq{seq}, item.get<Out>());
    else
      return {};
  }

  std::vector<Out> scratch_;
  seq_t pulling_from_ = 0;
};

} // namespace troupe::actors
