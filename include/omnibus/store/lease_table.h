#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "omnibus/store/memory.h"

namespace omnibus {

// A string in counted memory (store/memory.h).
using CountedString = std::basic_string<char, std::char_traits<char>, StoreAllocator<char>>;

// Leases against miss stampedes (LEASE.*, docs/leases.md), after memcached's meta-protocol
// leases: for a key that is missing, who recomputes it (a lease: a token and a deadline) and
// the value it held before LEASE.INVALIDATE (stale, with its own deadline), which missers may
// serve meanwhile. An entry exists only while its key is missing: the Db forgets it on any
// event of the key (a write gives it a value, a DEL revokes the lease) and on a flush.
//
// Expired leases and stale values are dropped lazily when their key is asked about, and by
// Sweep from the shard's periodic cycle. A client waiting for a key is never left waiting by
// an expired lease: it re-asks when the lease's time is up (the reactor's timer), so expiry
// needs no wake-up from here. What does need one is the lease ending early or the key being
// written; the entry remembers that someone waits (AddWaiter) and the call that ends it says
// so, once.
// Runs on: the owning shard thread.
class LeaseTable {
 public:
  // Tokens are `seed`, `seed + 1`, ... (never 0, a positive integer below 2^53, exact as a double),
  // so a token from before a restart or a flush is unlikely to match a new lease.
  explicit LeaseTable(uint64_t seed);
  LeaseTable(const LeaseTable&) = delete;
  LeaseTable& operator=(const LeaseTable&) = delete;

  struct Acquired {
    bool won = false;
    uint64_t token = 0;  // won: the new lease's
    // won: the lease's length; lost: how long the holder's lease still runs.
    int64_t remaining_ms = 0;
    // The stale value, if the key was invalidated and it is still within its stale time.
    // Valid until the next call on the table.
    std::optional<std::string_view> stale;
  };
  // A client missed `key` (it is missing) and asks for a lease of `lease_ms`: it wins if no
  // live lease is held, else it learns how long the holder still has.
  Acquired Acquire(std::string_view key, int64_t lease_ms, int64_t now_ms);
  // A client waits for `key` (its lease is held by another): whatever ends that lease early,
  // or writes the key, reports the key as one to wake.
  void AddWaiter(std::string_view key);
  // Is `token` the key's live lease (LEASE.SET's check)?
  bool IsLive(std::string_view key, uint64_t token, int64_t now_ms);
  // LEASE.RELEASE: ends the lease if `token` is live; the stale value stays. *wake: clients
  // wait for the key.
  bool Release(std::string_view key, uint64_t token, int64_t now_ms, bool* wake);
  // LEASE.INVALIDATE: revokes any lease of the key; `value` (the value the key just lost), if
  // given and stale_ms > 0, is kept as stale until now + stale_ms. Returns whether clients
  // wait for the key.
  bool Invalidate(std::string_view key, std::optional<std::string_view> value, int64_t stale_ms,
                  int64_t now_ms);
  // The key was written or deleted: forgets its lease and stale value. Returns whether clients
  // waited for it.
  bool Forget(std::string_view key);
  // FLUSHDB/FLUSHALL/SWAPDB: forgets everything; calls `wake` for each key clients wait for.
  void Clear(const std::function<void(std::string_view key)>& wake);
  // Drops up to `max` entries whose lease and stale value have both expired. Returns how many
  // it dropped.
  size_t Sweep(int64_t now_ms, size_t max);

  size_t size() const { return entries_.size(); }
  // Live leases (for tests and INFO-like counters).
  size_t live_leases(int64_t now_ms) const;

 private:
  struct Entry {
    uint64_t token = 0;  // 0: no lease
    int64_t lease_until_ms = 0;
    bool has_stale = false;
    bool waiters = false;
    int64_t stale_until_ms = 0;
    CountedString stale;
    bool LeaseLive(int64_t now_ms) const { return token != 0 && lease_until_ms > now_ms; }
    bool StaleLive(int64_t now_ms) const { return has_stale && stale_until_ms > now_ms; }
    int64_t DeadAt() const {
      return std::max(token != 0 ? lease_until_ms : 0, has_stale ? stale_until_ms : 0);
    }
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return absl::Hash<std::string_view>()(s); }
    size_t operator()(const CountedString& s) const { return (*this)(std::string_view(s)); }
  };
  struct Eq {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const { return a == b; }
  };
  using Map = absl::flat_hash_map<CountedString, Entry, Hash, Eq,
                                  StoreAllocator<std::pair<const CountedString, Entry>>>;
  // When an entry may be dropped, oldest first; stale items (the entry changed since) are
  // skipped when they come up.
  using Due = std::pair<int64_t, CountedString>;
  using DueQueue = std::priority_queue<Due, std::vector<Due, StoreAllocator<Due>>, std::greater<>>;

  // Drops what expired in `e`; false when nothing is left (the caller erases it).
  static bool Trim(Entry& e, int64_t now_ms);
  void Schedule(std::string_view key, const Entry& e);

  Map entries_;
  DueQueue due_;
  uint64_t next_token_;
};

}  // namespace omnibus
