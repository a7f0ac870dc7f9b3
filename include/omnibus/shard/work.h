#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "omnibus/resp/reply_builder.h"
#include "omnibus/shard/router.h"
#include "omnibus/store/keyspace.h"

namespace omnibus {

struct ParkGroup;

// What a handler sees while it runs on a shard: the arguments, the reply being built, and
// the keyspace. Handlers reach keys only through DbFor(key), which is the local DB normally
// and the key's own shard's DB when the command runs parked over several shards (§6).
struct ExecContext {
  Keyspace* local;
  Keyspace* const* all = nullptr;  // every shard's keyspace, only while parked
  int num_shards = 1;
  int shard_index = 0;
  int db_index = 0;
  std::span<const std::string_view> args;
  ReplyBuilder* reply;

  Db& DbFor(std::string_view key) const {
    if (all == nullptr) return local->db(db_index);
    return all[ShardForKey(key, num_shards)]->db(db_index);
  }
  // The same key in another DB (MOVE, COPY ... DB n).
  Db& DbFor(std::string_view key, int db) const {
    if (all == nullptr) return local->db(db);
    return all[ShardForKey(key, num_shards)]->db(db);
  }
  Db& LocalDb() const { return local->db(db_index); }
  const ContainerLimits& limits() const { return local->limits(); }
  int64_t now_ms() const { return local->now_ms(); }
};

using ShardHandler = void (*)(ExecContext& ctx);

// One unit of work sent from the reactor to a shard, and back with its reply. The reactor
// owns it; a shard only touches it between popping it and pushing its completion.
struct Work {
  ShardHandler handler = nullptr;
  uint16_t command_id = 0;
  uint8_t db = 0;
  uint8_t resp = 2;
  // Views into the connection's input buffer, which the reactor keeps unchanged while the
  // command is in flight (invariant 3).
  std::vector<std::string_view> args;
  std::string reply;
  // A fan-out part's reply, typed for its merge (capture mode, §10.4): parts never write RESP.
  ReplyValue result;
  std::string inline_storage;  // arguments of an inline command (parsed, not in the buffer)
  ParkGroup* park = nullptr;
  // Reactor bookkeeping, opaque to shards.
  void* owner = nullptr;
  bool is_part = false;  // a fan-out part (owner is the fan-out) rather than a client's slot
  int64_t exec_ns = 0;
};

// Several shards stopped at the same fence so one thread can run a command over all their
// keys (MSETNX across shards; RENAME etc. later). Every involved shard gets one Work pointing
// here; the last to arrive runs `work`, then releases the others.
struct ParkGroup {
  Work* work = nullptr;  // the command to run (its reply receives the result)
  Keyspace* const* all = nullptr;
  int num_shards = 0;
  std::atomic<int> waiting{0};
  std::atomic<uint32_t> released{0};
};

}  // namespace omnibus
