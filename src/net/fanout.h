#pragma once

#include <memory>
#include <vector>

#include "omnibus/net/reactor.h"

namespace omnibus {

// Work::command_id of a slot whose stats are already counted (or never will be).
inline constexpr uint16_t kNoStats = 0xFFFF;

// A command whose keys span shards: one part per involved shard, sent in the same loop batch
// (DESIGN §6), merged into the client's slot when the last part arrives.
struct Reactor::FanOut {
  Connection* conn = nullptr;
  Work* slot = nullptr;
  const CommandSpec* spec = nullptr;
  std::vector<std::unique_ptr<Work>> parts;
  std::vector<std::vector<uint32_t>> positions;
  size_t used = 0;  // parts in use (the vectors are reused)
  size_t remaining = 0;
  std::unique_ptr<ParkGroup> park;
  std::vector<Keyspace*> keyspaces;
  size_t live_index = 0;  // position in Reactor::live_fanouts_
};

}  // namespace omnibus
