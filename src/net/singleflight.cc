// The singleflight front (DESIGN §5).
#include "omnibus/net/singleflight.h"

#include <utility>

#include "absl/hash/hash.h"

namespace omnibus {

uint64_t FlightTable::HashOf(const Work* w) {
  // args[0] is the command's name as the client spelled it; command_id names it.
  size_t h = absl::HashOf(w->resp, w->db, w->command_id, w->args.size());
  for (size_t i = 1; i < w->args.size(); ++i) {
    h = absl::HashOf(h, absl::string_view(w->args[i].data(), w->args[i].size()));
  }
  return h;
}

bool FlightTable::SameRequest(const Work* a, const Work* b) {
  if (a->resp != b->resp || a->db != b->db || a->command_id != b->command_id ||
      a->args.size() != b->args.size()) {
    return false;
  }
  for (size_t i = 1; i < a->args.size(); ++i) {
    if (a->args[i] != b->args[i]) return false;
  }
  return true;
}

bool FlightTable::JoinOrLead(Work* w, NoJoin no_join) {
  uint64_t h = HashOf(w);
  auto [it, inserted] = flights_.try_emplace(h, w);
  if (!inserted) {
    Work* leader = it->second;
    if (SameRequest(leader, w)) {
      if (no_join != NoJoin::kNone) {
        if (no_join == NoJoin::kOwnWrites) ++stats_.refused_own_writes;
      } else if (leader->flight.TryJoin()) {
        leader->joined.push_back(w);
        // Answered by the leader's execution: it takes that place in the sequencer's order
        // (client tracking remembers the read as of then, §10.1).
        w->dispatch_seq = leader->dispatch_seq;
        ++stats_.joins;
        return true;
      } else {
        ++stats_.refused_started;
      }
    }
    it->second = w;  // the old flight keeps running; new identical requests join this one
  }
  w->flight.Open();
  w->flight_hash = h;
  ++stats_.flights;
  return false;
}

std::vector<Work*> FlightTable::Land(Work* leader) {
  leader->flight.Close();
  if (auto it = flights_.find(leader->flight_hash); it != flights_.end() && it->second == leader) {
    flights_.erase(it);
  }
  std::vector<Work*> waiters = std::move(leader->joined);
  leader->joined.clear();
  if (waiters.empty()) return waiters;
  if (leader->reply.size() >= kShareThreshold) {
    // One serialization, one buffer: the leader's reply becomes the chunk every waiter
    // queues (no copy, not even for the leader).
    auto chunk = std::make_shared<const std::string>(std::move(leader->reply));
    leader->reply.clear();
    stats_.bytes_not_copied += chunk->size() * waiters.size();
    for (Work* w : waiters) w->chunk = chunk;
    leader->chunk = std::move(chunk);
  } else {
    for (Work* w : waiters) w->reply.assign(leader->reply);
  }
  for (Work* w : waiters) {
    w->exec_ns = 0;                // the leader's slot counts the execution
    w->wait_ns = leader->wait_ns;  // at most what the leader waited (they joined later)
  }
  return waiters;
}

}  // namespace omnibus
