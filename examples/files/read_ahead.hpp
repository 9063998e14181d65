#pragma once

// The actor that reads a Chunks stream's file ahead of its caller: told to
// read (`read_atom`), it reads the feed's next chunk on the blocking pool
// and pushes it into the feed, again while the feed has room. It holds the
// feed weakly: the stream's producer owns it, and when the stream ends the
// feed stops this actor.

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
             caf::actor pool, uint32_t chunk_bytes);

  const char* name() const override {
    return "files.read_ahead";
  }

  behavior_type make_behavior() override;

private:
  void read_next();

  std::weak_ptr<chunk_feed> feed_;
  open_file_ptr file_;
  caf::actor pool_;
  uint32_t chunk_bytes_;
};

} // namespace files
