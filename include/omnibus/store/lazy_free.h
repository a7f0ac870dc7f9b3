#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "omnibus/store/record.h"

namespace omnibus {

class Table;

// Lazy free (Redis's lazyfree.c): UNLINK, FLUSHDB/FLUSHALL ASYNC and, under the lazyfree-lazy-*
// settings, DEL, FLUSH*, overwrites, expiry and eviction hand big values to one background
// thread (the process's, started on first use) instead of freeing them on the shard, so a
// 1M-element set costs the shard one pointer hand-off.
//
// The memory stays counted (DESIGN §10.8) by the shard that allocated it until the background
// thread has freed it; then the bytes are handed back to that shard's count
// (StoreFreeOnBehalf), so used_memory is right at every moment and returns to its baseline once
// lazyfree_pending_objects is 0.

// Redis's LAZYFREE_THRESHOLD: values whose free effort is at most this are freed at once
// (handing them off would cost more than freeing them).
inline constexpr size_t kLazyFreeThreshold = 64;

// The lazyfree-lazy-* settings (Redis 7.0 names, default no), written by CONFIG SET on the
// reactor and read by shards while they execute.
struct LazyFreeOptions {
  std::atomic<bool> lazy_user_del{false};    // DEL behaves as UNLINK
  std::atomic<bool> lazy_user_flush{false};  // FLUSHDB/FLUSHALL without SYNC|ASYNC are ASYNC
  std::atomic<bool> lazy_server_del{false};  // values replaced by SET, RENAME, *STORE, ...
  std::atomic<bool> lazy_expire{false};      // expired keys
  std::atomic<bool> lazy_eviction{false};    // evicted keys (maxmemory)

  static bool Get(const std::atomic<bool>& b) { return b.load(std::memory_order_relaxed); }
};
LazyFreeOptions& LazyFreeSettings();
// lazyfree-lazy-server-del: for deletes a command does on the side (RENAME's and COPY
// REPLACE's old destination, an overwrite, a *STORE that empties its destination).
inline bool LazyServerDel() { return LazyFreeOptions::Get(LazyFreeSettings().lazy_server_del); }

// Redis's lazyfreeGetFreeEffort: how many allocations freeing the value takes (quicklist
// nodes, hash table entries, skiplist nodes); 1 for a string or a one-block encoding.
size_t FreeEffort(const Record* r);

// Frees `r` (and its container) now, or, when `lazy` and its free effort is above the
// threshold, on the background thread. Returns true if it was handed off.
bool FreeRecordMaybeLazy(Record* r, bool lazy);
// FLUSHDB/FLUSHALL ASYNC: moves every record of `t` to the background thread; `t` is left
// empty (no bucket array). The caller did the key-event bookkeeping.
void FreeTableLazily(Table* t);

// INFO: objects handed off and not yet freed (lazyfree_pending_objects), and objects the
// background thread freed since start or CONFIG RESETSTAT (lazyfreed_objects). A flushed
// table counts as many objects as it held keys, as in Redis.
int64_t LazyFreePendingObjects();
int64_t LazyFreedObjects();
void ResetLazyFreedObjects();

}  // namespace omnibus
