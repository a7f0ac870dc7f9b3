#pragma once

#include <atomic>
#include <cstdint>

namespace omnibus {

// The longest value a record holds: its length field is 32 bits (store/record.h).
inline constexpr int64_t kMaxValueLen = UINT32_MAX;

// Where small containers switch to their large encoding, under Redis's config names
// (hash-max-listpack-entries, ... and the older *-ziplist-* aliases). Values are Redis 7.0's
// defaults. The server owns one instance and stores CONFIG SET changes into it from the
// reactor; shards read it while executing, hence the relaxed atomics (a command sees either
// the old or the new limit, as in Redis where CONFIG SET lands between commands).
struct ContainerLimits {
  std::atomic<int64_t> hash_max_listpack_entries{512};
  std::atomic<int64_t> hash_max_listpack_value{64};
  // Positive: entries per list node; -1..-5: node size 4, 8, 16, 32, 64 KiB (Redis's meaning).
  std::atomic<int64_t> list_max_listpack_size{-2};
  std::atomic<int64_t> set_max_intset_entries{512};
  std::atomic<int64_t> set_max_listpack_entries{128};
  std::atomic<int64_t> set_max_listpack_value{64};
  std::atomic<int64_t> zset_max_listpack_entries{128};
  std::atomic<int64_t> zset_max_listpack_value{64};
  // proto-max-bulk-len: the longest string APPEND and SETRANGE may make (Redis's
  // checkStringLength), at most what a record's value length holds (kMaxValueLen).
  std::atomic<int64_t> proto_max_bulk_len{512LL * 1024 * 1024};

  static int64_t Get(const std::atomic<int64_t>& v) { return v.load(std::memory_order_relaxed); }
};

}  // namespace omnibus
