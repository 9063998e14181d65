#pragma once

// The actor that totals a Totals stream's file ahead of its caller: told to
// (`read_atom`), it starts the feed's next chunks on the blocking pool, as
// many as the feed has room for, pushes each one's totals into the feed
// when it is done and starts more. It holds the feed weakly: the stream's
// producer owns it, and when the stream ends the feed stops this actor.

#include <cstdint>
#include <memory>

#include <caf/atom.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "file_chunks.hpp"

namespace files {

class chunk_feed;

using read_atom = caf::atom_constant<caf::atom("fl_read")>;

using read_ahead_actor = caf::typed_actor<caf::reacts_to<read_atom>>;

class read_ahead final : public read_ahead_actor::base {
public:
  read_ahead(caf::actor_config& cfg, std::weak_ptr<chunk_feed> feed, open_file_ptr file,
             caf::actor pool);

  const char* name() const override {
    return "files.read_ahead";
  }

  behavior_type make_behavior() override;

private:
  /// Starts every job the feed has room for.
  void start_jobs();

  std::weak_ptr<chunk_feed> feed_;
  open_file_ptr file_;
  caf::actor pool_;
};

} // namespace files
