#pragma once

// Client tracking (client-side caching) on the reactor: which clients may hold which keys,
// and the BCAST prefixes. Keys are remembered when a tracked client's read-only command is
// dispatched (so a read answered without its own execution is tracked too), and forgotten
// when a key notice (store/key_notice.h) says the key changed.

#include <cstdint>
#include <map>
#include <string>

#include "absl/container/flat_hash_map.h"

namespace omnibus {

struct Connection;

struct TrackingState {
  // What one client read of one key: the dispatch order of the oldest read not yet
  // invalidated and of the newest. A change dispatched after `oldest` makes the client's copy
  // stale (it is told); if it also read the key after the change (`newest`), it stays
  // tracked for that newer read.
  struct Reads {
    uint64_t oldest = 0;
    uint64_t newest = 0;
  };
  // Key -> client id -> reads. Keys are global, not per DB, as in Redis.
  absl::flat_hash_map<std::string, absl::flat_hash_map<uint64_t, Reads>> keys;
  size_t items = 0;  // (key, client) pairs: INFO's tracking_total_items
  // BCAST: prefix -> its clients and the keys changed since the last broadcast (each with
  // the client that changed it last, for NOLOOP). Ordered maps: Redis walks radix trees, so
  // keys go out in byte order.
  struct Prefix {
    std::map<uint64_t, Connection*> clients;
    std::map<std::string, uint64_t> changed;
  };
  std::map<std::string, Prefix> prefixes;
  bool broadcast_pending = false;
  // Tracking clients and the clients some tracking client redirects to, by id.
  absl::flat_hash_map<uint64_t, Connection*> clients;
  absl::flat_hash_map<uint64_t, Connection*> redirect_targets;
};

}  // namespace omnibus
