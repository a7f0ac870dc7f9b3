// Transactions: MULTI EXEC DISCARD WATCH UNWATCH. MULTI/DISCARD/UNWATCH only change the
// session; EXEC and WATCH are reactor coroutines (net/transaction.cc) because they wait for
// shards. The two shard-side handlers here register and drop the WATCH versions of keys.
#include "omnibus/base/str_cat.h"
#include "omnibus/base/strings.h"
#include "omnibus/commands/command_table.h"

namespace omnibus {
namespace {

void Multi(ReactorContext& ctx) {
  if (ctx.session->in_multi) return ctx.reply->Error("ERR MULTI calls can not be nested");
  ctx.session->in_multi = true;
  ctx.reply->Ok();
}

void Discard(ReactorContext& ctx) {
  Session& s = *ctx.session;
  if (!s.in_multi) return ctx.reply->Error("ERR DISCARD without MULTI");
  s.in_multi = false;
  s.multi_dirty = false;
  s.queued.clear();
  ctx.server->Unwatch(s);
  ctx.reply->Ok();
}

void Unwatch(ReactorContext& ctx) {
  ctx.server->Unwatch(*ctx.session);
  ctx.reply->Ok();
}

CommandDoc TxDoc(std::string_view summary, std::string_view since, std::string_view complexity,
                 std::string_view args = "") {
  return CommandDoc{summary, since, "transactions", complexity, args};
}

constexpr uint32_t kTxFlags = kCmdNoScript | kCmdLoading | kCmdStale;

CommandSpec TaskCommand(std::string_view name, int arity, uint32_t flags,
                        std::string_view acl_categories, int first_key, int last_key,
                        ReactorTask task, CommandDoc doc) {
  CommandSpec s{name, arity, flags, acl_categories, first_key, last_key, first_key > 0 ? 1 : 0};
  s.route = Route::kTask;
  s.task = task;
  s.doc = doc;
  return s;
}

}  // namespace

void WatchKeysOnShard(ExecContext& ctx) {
  // args: name key...; replies each key's version, in order (captured by the reactor).
  ctx.reply->Array(ctx.args.size() - 1);
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    Db& db = ctx.DbFor(ctx.args[i]);
    db.Peek(ctx.args[i]);  // a key whose time has come expires now, not after the WATCH
    ctx.reply->Integer(static_cast<int64_t>(db.WatchKey(ctx.args[i])));
  }
}

void UnwatchKeysOnShard(ExecContext& ctx) {
  // args: name (db key)...
  for (size_t i = 1; i + 1 < ctx.args.size(); i += 2) {
    int64_t db = 0;
    ParseInt64(ctx.args[i], &db);
    ctx.DbFor(ctx.args[i + 1], static_cast<int>(db)).UnwatchKey(ctx.args[i + 1]);
  }
}

std::vector<CommandSpec> TransactionFamily() {
  return {
      ReactorCommand("multi", 1, kTxFlags | kCmdFast | kCmdAllowBusy | kCmdNotQueued,
                     "@fast @transaction", Multi,
                     TxDoc("Mark the start of a transaction block", "1.2.0", "O(1)")),
      TaskCommand("exec", 1, kTxFlags | kCmdSkipSlowlog | kCmdNotQueued, "@slow @transaction", 0, 0,
                  ReactorTask::kExec,
                  TxDoc("Execute all commands issued after MULTI", "1.2.0",
                        "Depends on commands in the transaction")),
      ReactorCommand("discard", 1, kTxFlags | kCmdFast | kCmdAllowBusy | kCmdNotQueued,
                     "@fast @transaction", Discard,
                     TxDoc("Discard all commands issued after MULTI", "2.0.0",
                           "O(N), when N is the number of queued commands")),
      TaskCommand("watch", -2, kTxFlags | kCmdFast | kCmdAllowBusy | kCmdNotQueued,
                  "@fast @transaction", 1, -1, ReactorTask::kWatch,
                  TxDoc("Watch the given keys to determine execution of the MULTI/EXEC block",
                        "2.2.0", "O(1) for every key.", "key:key{key_flags=RO}...")),
      ReactorCommand("unwatch", 1, kTxFlags | kCmdFast | kCmdAllowBusy, "@fast @transaction",
                     Unwatch, TxDoc("Forget about all watched keys", "2.2.0", "O(1)")),
  };
}

}  // namespace omnibus
