#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "omnibus/shard/work.h"

namespace omnibus {

struct SingleflightStats {
  uint64_t flights = 0;             // flights opened (coalescable requests that led)
  uint64_t joins = 0;               // requests answered by another request's flight
  uint64_t refused_started = 0;     // an identical flight was open but had started
  uint64_t refused_own_writes = 0;  // could have joined, but its group wrote to that shard
  uint64_t bytes_not_copied = 0;    // reply bytes waiters share instead of copying
};

// The singleflight front (DESIGN §5): the open flights of coalescable reads, keyed by
// (protocol, db, command, arguments). A request joins an identical flight only while the
// flight has not started executing (FlightWord); the flight's reply then goes to every
// waiter, a big one as one shared chunk.
// Runs on: reactor thread.
class FlightTable {
 public:
  // Why a request may not join (it still leads a flight of its own).
  enum class NoJoin : uint8_t { kNone, kOwnWrites, kWatching };
  // Replies at least this big are shared as one chunk by a flight's waiters; smaller ones
  // are copied into each waiter's slot (cheaper than a reference and a run of its own).
  static constexpr size_t kShareThreshold = 4 * 1024;

  // `w` (resolved, its db and resp set, its handler the command's) is about to be staged.
  // Returns true if it joined an open flight: it must not be staged, Land() answers it.
  // Otherwise `w` leads a new flight (staged by the caller).
  bool JoinOrLead(Work* w, NoJoin no_join = NoJoin::kNone);
  // The leader's completion: closes its flight and gives its reply to every waiter. Returns
  // the waiters (the caller completes their slots); empty if none joined.
  std::vector<Work*> Land(Work* leader);

  size_t open_flights() const { return flights_.size(); }
  SingleflightStats& stats() { return stats_; }

 private:
  static uint64_t HashOf(const Work* w);
  static bool SameRequest(const Work* a, const Work* b);

  // The key is HashOf's result, already an absl hash: the table uses it as it is.
  struct AlreadyHashed {
    size_t operator()(uint64_t h) const { return static_cast<size_t>(h); }
  };
  // By hash; a collision between different requests is not coalesced (the newer leads).
  absl::flat_hash_map<uint64_t, Work*, AlreadyHashed> flights_;
  SingleflightStats stats_;
};

}  // namespace omnibus
