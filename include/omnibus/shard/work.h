#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "omnibus/resp/reply_builder.h"
#include "omnibus/shard/flight_word.h"
#include "omnibus/shard/router.h"
#include "omnibus/shard/script_activity.h"
#include "omnibus/store/keyspace.h"

namespace omnibus {

struct ParkGroup;
class CommandTable;
class LuaEngine;
class FunctionEngine;

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
  // Blocking pops (§10.5): may this command wait for data (false inside MULTI/EXEC)? A
  // handler that would wait sets would_block instead of replying.
  bool may_block = false;
  bool would_block = false;
  // With would_block: ask again after this many ms even if no key becomes ready (LEASE.GET:
  // when the lease it waits on runs out); 0: only when a key becomes ready.
  int64_t wait_hint_ms = 0;
  // Scripting (EVAL): the interpreter scripts use and the table redis.call resolves
  // commands in.
  LuaEngine* script = nullptr;
  // FUNCTION/FCALL: the function libraries (their own interpreter, not the EVAL one).
  FunctionEngine* functions = nullptr;
  const CommandTable* commands = nullptr;
  ScriptActivity* activity = nullptr;  // the running shard's (busy scripts, SCRIPT KILL)
  // Out, scripts run on one shard (§6): the script reached a key of another shard and was
  // stopped with nothing changed (escalate: run it again parked over every shard), or after
  // a change it could not undo (reached_out: it failed there; run it parked next time).
  bool escalate = false;
  bool reached_out = false;
  // Client tracking: the caller tracks the keys it reads; a script notes what its
  // redis.call reads (Db::NoteRead) so the reactor remembers them for the caller.
  bool track_reads = false;
  // A script runs while out of memory (maxmemory): its deny-oom calls fail with -OOM.
  bool script_oom = false;

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
  // keymiss notifications: while on, a lookup that finds no key announces it (Redis's
  // lookupKeyRead). On for read-only commands; write commands turn it on around the lookups
  // of keys they only read (the sources of *STORE, SORT, COPY).
  // The executing thread's state (a parked runner reaches other shards' Dbs, whose own
  // threads wait), so nothing is written to shards that are not part of the run.
  void SetReadLookups(bool on) const { Db::SetReadLookups(on); }
  const ContainerLimits& limits() const { return local->limits(); }
  int64_t now_ms() const { return local->now_ms(); }
};

using ShardHandler = void (*)(ExecContext& ctx);

// Copies `from` into `storage` and points `args` at the copy: what a command that outlives
// its input buffer does (§10.3).
inline void CopyArgs(std::span<const std::string_view> from, std::string* storage,
                     std::vector<std::string_view>* args) {
  size_t total = 0;
  for (auto a : from) total += a.size();
  storage->clear();
  storage->reserve(total);
  for (auto a : from) storage->append(a);
  args->clear();
  size_t pos = 0;
  for (auto a : from) {
    args->emplace_back(storage->data() + pos, a.size());
    pos += a.size();
  }
}

// One command of a transaction (EXEC), resolved by the reactor: what to run, where, and the
// reply it produced.
struct TxStep {
  enum class Mode : uint8_t {
    kOnKeys,     // a keyed command: runs once, reaching each key through DbFor
    kOnShard,    // runs on one given shard (SCAN's cursor names it)
    kEachShard,  // runs on every shard; its replies are captured for the reactor's merge
    kReactor,    // answered on the reactor when EXEC's reply is assembled
    kAnswered,   // `reply` was decided when the transaction was built (a routing error)
  };
  Mode mode = Mode::kOnKeys;
  ShardHandler handler = nullptr;
  uint16_t command_id = 0;
  uint8_t db = 0;
  int shard = 0;                       // kOnShard
  std::string storage;                 // the queued command's arguments (§10.3)
  std::vector<std::string_view> args;  // views into `storage`
  std::string reply;                   // kOnKeys, kOnShard
  std::vector<ReplyValue> parts;       // kEachShard, one per shard
  int64_t exec_ns = 0;
  uint32_t order = 0;         // its place in the transaction (a split EXEC orders ready keys by it)
  bool read_lookups = false;  // a read-only command (keymiss notifications)
};

// A key WATCHed by a connection: EXEC runs only if its version is still this one.
struct WatchedKey {
  int db = 0;
  std::string key;
  uint64_t version = 0;
};

// EXEC's work: check the watched keys, unwatch them, and (unless one changed) run every step
// in order, in one shard step or parked over every shard involved (§6).
struct Transaction {
  std::vector<TxStep> steps;
  std::vector<WatchedKey> watches;
  uint8_t resp = 2;
  bool aborted = false;  // out: a watched key changed; nothing ran
  bool split = false;    // one shard's share of a transaction split by shard
};

// One unit of work sent from the reactor to a shard, and back with its reply. The reactor
// owns it; a shard only touches it between popping it and pushing its completion (and reads
// `cancelled`, which the reactor may set meanwhile).
struct Work {
  ShardHandler handler = nullptr;
  uint16_t command_id = 0;
  uint8_t db = 0;
  uint8_t resp = 2;
  // The arguments: views into the connection's input buffer for a client's own slot (the
  // reactor keeps it unchanged while the command is in flight, invariant 3), or into
  // `storage` for work that owns its arguments (§10.3: inline commands, fan-out parts,
  // queued and blocked commands).
  std::vector<std::string_view> args;
  std::string reply;
  // A part whose reply is wanted typed (capture mode, §10.4) rather than as RESP bytes.
  bool capture = false;
  ReplyValue result;
  std::string storage;
  ParkGroup* park = nullptr;
  std::unique_ptr<Transaction> tx;  // EXEC: run this transaction instead of `handler`
  bool may_block = false;           // see ExecContext
  bool would_block = false;         // out: the handler found nothing and may wait (§10.5)
  int64_t wait_hint_ms = 0;         // out: see ExecContext
  bool escalate = false;            // out: see ExecContext
  bool reached_out = false;         // out: see ExecContext
  bool track_reads = false;         // see ExecContext
  bool read_lookups = false;        // a read-only command: a missing key is a "keymiss"
  // A read part that has not started when its select closes is skipped (§6).
  std::atomic<bool> cancelled{false};
  // Out: keys of this shard that gained elements while clients block on them, as
  // (db, key), reported in the completion batch that follows the change (§10.5).
  std::vector<ReadyKey> ready;
  // Out: key notices (keyspace notifications, client tracking) of this execution on this
  // shard, in the order they happened (store/key_notice.h); handled like `ready`.
  std::vector<KeyNotice> notices;
  // Reactor bookkeeping, opaque to shards: a Connection (a client's slot), a Select (a
  // part), or null (a part whose select has closed).
  void* owner = nullptr;
  bool is_part = false;
  uint64_t dispatch_seq = 0;  // the sequencer's order (a parked group's parts share one)
  uint64_t origin = 0;        // the client whose command this is (its key notices' origin)
  // A scattered part: the place in the whole command of each of its keys (key notices are
  // put back in argument order).
  std::vector<uint32_t> notice_order;
  bool returned = false;  // a part back from its shard
  bool keep = false;      // a part that completes even if its select closes (writes, fences)
  bool silent = false;    // a client's slot whose reply is not sent (CLIENT REPLY OFF/SKIP)
  int64_t exec_ns = 0;
  // Queue wait (§4): when the reactor queued it for its shard (MonotonicNs, the reactor's
  // loop clock), and out, how long it waited before its shard started it (or shed it).
  int64_t enqueue_ns = 0;
  int64_t wait_ns = 0;
  // Overload control (§4), set by the reactor for its shard's queue (ShardQueue): a command
  // dispatched after its group's barrier, which must not pass the group's earlier commands
  // still queued; a client that opted out of shedding (CLIENT NO-SHED); a part that jumps the
  // queue (INFO); the client's deadline (CLIENT DEADLINE), 0 for none.
  bool follows_own = false;
  bool no_shed = false;
  bool priority = false;
  int64_t deadline_ns = 0;
  // Singleflight (§5). A slot leading a flight: its state word (the shard starts it) and, on
  // the reactor, the slots that joined it. A slot whose reply is a chunk shared with others
  // (a big reply of a flight with waiters) has it in `chunk` instead of `reply`.
  FlightWord flight;
  uint64_t flight_hash = 0;  // its key in the reactor's flight table, kept for landing
  std::vector<Work*> joined;
  std::shared_ptr<const std::string> chunk;
  // Bounded bursts (§10.8): a client's slot in a group whose replies share one budget (the
  // connection's, pipeline-pause-output-bytes). Its shard does not run it once the budget is
  // spent (replies already produced by the group passed it) and sends it back `deferred`:
  // the reactor sends the replies before it and dispatches it again as the rest of the group
  // once the client has read them. A shard serves a connection's commands in order, so what
  // it defers is always the tail of what it got. Null: always runs (the group's first).
  std::atomic<int64_t>* reply_budget = nullptr;
  bool deferred = false;     // out: not run, see reply_budget
  bool staged = false;       // reactor: staged on shard `shard_of` as a plain keyed command
  int16_t shard_of = -1;     // reactor: see staged
  size_t charged_bytes = 0;  // reactor: what the client-buffer count holds for this slot

  // Makes `args` views into `storage`, a copy of `from`.
  void OwnArgs(std::span<const std::string_view> from) { CopyArgs(from, &storage, &args); }
};

// Several shards stopped at the same fence so one thread can run a command over all their
// keys (MSETNX across shards, RENAME, EXEC, ...). Every involved shard gets one Work pointing
// here; the last to arrive runs `work`, then releases the others.
struct ParkGroup {
  Work* work = nullptr;  // the command to run (its reply receives the result)
  Keyspace* const* all = nullptr;
  int num_shards = 0;
  std::atomic<int> waiting{0};
  // kParked while the shards gather; kRunning once the last one claimed the run; kDone when
  // it is done; kAbandoned if the server stopped before anyone claimed it (shutdown releases
  // parked shards even when a sibling part never arrives, but never while a runner touches
  // their keyspaces).
  enum : uint32_t { kParked = 0, kDone = 1, kAbandoned = 2, kRunning = 3 };
  std::atomic<uint32_t> released{0};
  int parts_out = 0;          // reactor bookkeeping: parts not back yet
  uint64_t dispatch_seq = 0;  // reactor bookkeeping: when its first part was dispatched
};

}  // namespace omnibus
