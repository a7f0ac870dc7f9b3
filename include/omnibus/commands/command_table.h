#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "omnibus/commands/command.h"

namespace omnibus {

// The declarative command table: every command Omnibus implements, from each family file.
// Lookups are case-insensitive. Built once at start-up; read-only after.
class CommandTable {
 public:
  CommandTable();

  const CommandSpec* Find(std::string_view name) const;
  std::span<const CommandSpec> all() const { return specs_; }
  // Subcommands of a container command ("config" -> "config|get", ...).
  std::vector<const CommandSpec*> SubcommandsOf(std::string_view parent) const;
  // rename-command: "" removes the command. Returns false if `from` is unknown.
  bool Rename(std::string_view from, std::string_view to);

 private:
  std::vector<CommandSpec> specs_;
  absl::flat_hash_map<std::string, const CommandSpec*> by_name_;
  // Changes with every table and every rename: Find's per-thread memo of its last answer is
  // valid only for the same table and generation.
  uint64_t generation_;
};

// Each family contributes its entries (one family file per group, STYLE.md).
std::vector<CommandSpec> ConnectionFamily();
std::vector<CommandSpec> StringFamily();
std::vector<CommandSpec> KeysFamily();
std::vector<CommandSpec> ServerFamily();
std::vector<CommandSpec> GenericFamily();
std::vector<CommandSpec> SortFamily();
std::vector<CommandSpec> ListFamily();
std::vector<CommandSpec> HashFamily();
std::vector<CommandSpec> SetFamily();
std::vector<CommandSpec> ZSetFamily();
std::vector<CommandSpec> TransactionFamily();
std::vector<CommandSpec> ScriptFamily();
std::vector<CommandSpec> PubSubFamily();
std::vector<CommandSpec> FunctionFamily();
std::vector<CommandSpec> LeaseFamily();     // ours: LEASE.* (docs/leases.md)
std::vector<CommandSpec> LatencyFamily();   // SLOWLOG, LATENCY
std::vector<CommandSpec> TrackingFamily();  // CLIENT TRACKING & co
std::vector<CommandSpec> MemoryFamily();    // MEMORY (commands/memory_family.cc)

// Shard handlers of WATCH (args: name key...; replies each key's version) and of the
// reactor's unwatch (args: name (db key)...), in transaction_family.cc.
void WatchKeysOnShard(ExecContext& ctx);
void UnwatchKeysOnShard(ExecContext& ctx);

// A key position meaning "any key, on any shard" (SORT's BY/GET patterns): the command parks
// every shard.
constexpr int kAllShardsKey = -1;

// The argument indexes of a command's keys (keys_fn, else the first/last/step range), in
// argument order. Used by routing, fan-out and COMMAND GETKEYS alike.
void KeyPositions(const CommandSpec& spec, std::span<const std::string_view> args,
                  std::vector<int>* out);
// keys_fn helpers for the common "numkeys key [key ...]" shapes: the count at `numkeys_at`,
// then the keys; optionally one more key at index 1 (a destination, as in ZUNIONSTORE).
void KeysAfterCount(std::span<const std::string_view> args, int numkeys_at, bool dest_first,
                    std::vector<int>* out);

// A table entry for a command answered on the reactor.
CommandSpec ReactorCommand(std::string_view name, int arity, uint32_t flags,
                           std::string_view acl_categories, ReactorHandler handler, CommandDoc doc);

// A blocking pop (Route::kTask, ReactorTask::kBlockingPop): `handler` pops like the
// non-blocking command or sets ExecContext::would_block; `timeout_arg` is the timeout's
// argument index (negative counts from the end).
CommandSpec BlockingCommand(std::string_view name, int arity, uint32_t flags,
                            std::string_view acl_categories, int first_key, int last_key,
                            ShardHandler handler, int timeout_arg, CommandDoc doc,
                            KeysHandler keys_fn = nullptr);

// Blocking pops' shard side (DESIGN §10.5), shared by the list and zset families.
// Nothing to pop: registers the keys and says "would block" (true); inside MULTI/EXEC or a
// script (may_block false) it does nothing and the caller replies null (false).
bool BlockOnKeys(ExecContext& ctx, std::span<const std::string_view> keys);
// After a blocking pop took elements from `key` (its write finished): if some are left the
// next blocked client may be served now; if the key is gone other clients may still wait on
// it, so it stays registered (an unneeded registration costs one ignored report later).
void AfterBlockingPop(ExecContext& ctx, std::string_view key);

// Redis's getTimeoutFromObjectOrReply(UNIT_SECONDS): a long double of seconds, rounded up to
// whole milliseconds and converted as C converts (out of range becomes negative); 0 means
// forever.
bool ParseBlockingTimeout(std::string_view arg, int64_t* ms, std::string_view* error);
// The same inside a blocking pop's handler, where Redis checks it (after the command's own
// syntax for BLMOVE/BLMPOP/BZMPOP, first for the others); replies the error.
bool CheckBlockingTimeout(std::string_view arg, ReplyBuilder* rb);

// COMMAND DOCS extras on a table entry.
inline CommandSpec WithHistory(CommandSpec s, std::string_view history) {
  s.doc.history = history;
  return s;
}
inline CommandSpec Deprecated(CommandSpec s, std::string_view since, std::string_view by) {
  s.doc.deprecated_since = since;
  s.doc.replaced_by = by;
  return s;
}
// The history line every blocking pop with a timeout has in Redis 7.0.
inline constexpr std::string_view kTimeoutIsDoubleHistory =
    "6.0.0 `timeout` is interpreted as a double instead of an integer.";

// Shared reply helpers for handlers.
void ReplyStatus(ReplyBuilder* rb, OpStatus status);
// Redis's "ERR wrong number of arguments for 'get' command".
void ReplyArityError(ReplyBuilder* rb, std::string_view command_name);
// A container's HELP text as Redis writes it: one status string per line.
void ReplyHelpLines(ReplyBuilder* rb, std::span<const std::string_view> lines);
// Parses an integer argument, replying "value is not an integer or out of range" if bad.
bool ArgToInt64(std::string_view arg, int64_t* out, ReplyBuilder* rb);

// Redis's parseScanCursorOrReply (SCAN, HSCAN, SSCAN, ZSCAN): strtoul's syntax (a sign and
// leading zeros allowed, "-1" is 2^64-1, "" is 0) but no leading space, nothing after the
// digits, no overflow.
bool ParseScanCursor(std::string_view arg, uint64_t* out);

// Shared fan-out merges: sum of integer replies (DEL, EXISTS, DBSIZE, ...) and "+OK" from
// every shard (MSET, FLUSHALL). The first error of any part wins.
void MergeSum(MergeContext& ctx);
void MergeOk(MergeContext& ctx);

}  // namespace omnibus
