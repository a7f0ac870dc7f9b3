// Generic key commands that work on every type: RENAME RENAMENX COPY MOVE SWAPDB and OBJECT.
// Runs on: shard threads. RENAME/RENAMENX/COPY are parked when their two keys live on two
// shards (DESIGN §6), so the value moves between keyspaces in one atomic step.
#include <climits>

#include "omnibus/base/str_cat.h"
#include "omnibus/base/strings.h"
#include "omnibus/commands/command_table.h"
#include "omnibus/store/lazy_free.h"

namespace omnibus {
namespace {

constexpr std::string_view kSameObject = "ERR source and destination objects are the same";
constexpr std::string_view kDbOutOfRange = "ERR DB index is out of range";

void RenameGeneric(ExecContext& ctx, bool nx) {
  std::string_view from = ctx.args[1], to = ctx.args[2];
  Db& src = ctx.DbFor(from);
  if (!src.Find(from)) return ctx.reply->Error("ERR no such key");
  if (from == to) return nx ? ctx.reply->Integer(0) : ctx.reply->Ok();
  Db& dst = ctx.DbFor(to);
  if (nx && dst.Find(to)) return ctx.reply->Integer(0);
  // As Redis: an existing destination is deleted first (then the key arrives as "new").
  dst.Delete(to, LazyServerDel());  // lazily under lazyfree-lazy-server-del, as Redis
  // Found again: an Entry is valid only until the next call on its Db, and `dst` may be it.
  Db::Entry e = src.Find(from);
  int64_t expire = e->expire_at_ms();
  // The value itself (a container's whole structure) moves; only the record is rebuilt.
  dst.Attach(to, src.Detach(e), expire);
  src.Notify(kNotifyGeneric, "rename_from", from);
  dst.Notify(kNotifyGeneric, "rename_to", to);
  nx ? ctx.reply->Integer(1) : ctx.reply->Ok();
}

void Rename(ExecContext& ctx) { RenameGeneric(ctx, false); }
void RenameNx(ExecContext& ctx) { RenameGeneric(ctx, true); }

// Parses a DB index as Redis's selectDb does; false after replying.
bool ParseDbIndex(ExecContext& ctx, std::string_view arg, int64_t* db) {
  if (!ArgToInt64(arg, db, ctx.reply)) return false;
  if (*db < 0 || *db >= ctx.local->num_dbs()) {
    ctx.reply->Error(kDbOutOfRange);
    return false;
  }
  return true;
}

void Copy(ExecContext& ctx) {
  std::string_view from = ctx.args[1], to = ctx.args[2];
  int64_t db = ctx.db_index;
  bool replace = false;
  for (size_t j = 3; j < ctx.args.size(); ++j) {
    if (EqualsIgnoreCase(ctx.args[j], "replace")) {
      replace = true;
    } else if (EqualsIgnoreCase(ctx.args[j], "db") && j + 1 < ctx.args.size()) {
      if (!ParseDbIndex(ctx, ctx.args[++j], &db)) return;
    } else {
      return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
    }
  }
  if (db == ctx.db_index && from == to) return ctx.reply->Error(kSameObject);
  Db& src = ctx.DbFor(from);
  Db& dst = ctx.DbFor(to, static_cast<int>(db));
  // The destination first: an Entry is valid only until the next call on its Db, and `dst`
  // may be `src` (both checks answer 0, so their order does not show).
  bool dst_exists = static_cast<bool>(dst.Find(to));
  ctx.SetReadLookups(true);  // the source is read (keymiss)
  Db::Entry e = src.Find(from);
  ctx.SetReadLookups(false);
  if (!e) return ctx.reply->Integer(0);
  if (dst_exists && !replace) return ctx.reply->Integer(0);
  int64_t expire = e->expire_at_ms();
  if (dst_exists) {
    // As Redis: the old destination goes first (then the copy arrives as "new"). `e` is
    // found again: it is valid only until the next call on its Db.
    dst.Delete(to, LazyServerDel());
    e = src.Find(from);
  }
  if (e->is_container()) {
    dst.StoreObject(to, CopyObject(e->object()));
    if (expire >= 0) dst.SetExpire(dst.Find(to), expire);
  } else {
    dst.SetString(to, e->value(), expire);
  }
  dst.Notify(kNotifyGeneric, "copy_to", to);
  ctx.reply->Integer(1);
}

// MOVE key db: both DBs belong to the key's shard, so it never needs parking.
void Move(ExecContext& ctx) {
  std::string_view key = ctx.args[1];
  int64_t db;
  if (!ParseDbIndex(ctx, ctx.args[2], &db)) return;
  if (db == ctx.db_index) return ctx.reply->Error(kSameObject);
  Db& src = ctx.DbFor(key);
  Db::Entry e = src.Find(key);
  if (!e) return ctx.reply->Integer(0);
  Db& dst = ctx.DbFor(key, static_cast<int>(db));
  if (dst.Find(key)) return ctx.reply->Integer(0);
  int64_t expire = e->expire_at_ms();
  dst.Attach(key, src.Detach(e), expire);
  src.Notify(kNotifyGeneric, "move_from", key);
  dst.Notify(kNotifyGeneric, "move_to", key);
  ctx.reply->Integer(1);
}

// SWAPDB a b: every shard swaps its two DBs (an all-shards fence, so no command sees one
// shard swapped and another not).
void SwapDb(ExecContext& ctx) {
  int64_t a, b;
  if (!ParseInt64(ctx.args[1], &a) || a < INT_MIN || a > INT_MAX)
    return ctx.reply->Error("ERR invalid first DB index");
  if (!ParseInt64(ctx.args[2], &b) || b < INT_MIN || b > INT_MAX)
    return ctx.reply->Error("ERR invalid second DB index");
  int n = ctx.local->num_dbs();
  if (a < 0 || a >= n || b < 0 || b >= n) return ctx.reply->Error(kDbOutOfRange);
  if (a != b) ctx.local->db(static_cast<int>(a)).SwapContents(ctx.local->db(static_cast<int>(b)));
  ctx.reply->Ok();
}

// Redis's string2ll acceptance: what Redis would store with the "int" encoding.
bool IsSharedInteger(const Record* r) {
  if (RecordEncodingName(r) != "int") return false;
  int64_t v;
  return ParseInt64(r->value(), &v) && v >= 0 && v < 10000;
}

void ObjectEncoding(ExecContext& ctx) {
  Db::Entry e = ctx.DbFor(ctx.args[2]).Peek(ctx.args[2]);
  if (!e) return ctx.reply->Null();
  ctx.reply->Bulk(RecordEncodingName(e.get()));
}

void ObjectRefCount(ExecContext& ctx) {
  Db::Entry e = ctx.DbFor(ctx.args[2]).Peek(ctx.args[2]);
  if (!e) return ctx.reply->Null();
  // Redis shares the objects of the integers 0..9999 and reports them as INT_MAX references.
  ctx.reply->Integer(IsSharedInteger(e.get()) ? INT_MAX : 1);
}

void ObjectIdleTime(ExecContext& ctx) {
  Db::Entry e = ctx.DbFor(ctx.args[2]).Peek(ctx.args[2]);
  if (!e) return ctx.reply->Null();
  const Evictor& ev = ctx.local->evictor();
  // Under an LFU policy the record's stamp is a counter, not an access time (as Redis).
  if (PolicyIsLfu(ev.policy())) {
    return ctx.reply->Error(
        "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when "
        "switching between policies at runtime LRU and LFU data will take some time to adjust.");
  }
  ctx.reply->Integer(ev.IdleSeconds(e.get()));
}

void ObjectFreq(ExecContext& ctx) {
  Db::Entry e = ctx.DbFor(ctx.args[2]).Peek(ctx.args[2]);
  if (!e) return ctx.reply->Null();
  const Evictor& ev = ctx.local->evictor();
  if (!PolicyIsLfu(ev.policy())) {
    return ctx.reply->Error(
        "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please "
        "note that when switching between policies at runtime LRU and LFU data will take some "
        "time to adjust.");
  }
  ctx.reply->Integer(ev.LfuCounter(e.get()));
}

void ObjectHelp(ReactorContext& ctx) {
  static constexpr std::string_view kLines[] = {
      "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "ENCODING <key>",
      "    Return the kind of internal representation used in order to store the value",
      "    associated with a <key>.",
      "FREQ <key>",
      "    Return the access frequency index of the <key>. The returned integer is",
      "    proportional to the logarithm of the recent access frequency of the key.",
      "IDLETIME <key>",
      "    Return the idle time of the <key>, that is the approximated number of",
      "    seconds elapsed since the last access to the key.",
      "REFCOUNT <key>",
      "    Return the number of references of the value associated with the specified",
      "    <key>.",
      "HELP",
      "    Prints this help.",
  };
  ReplyHelpLines(ctx.reply, kLines);
}

CommandDoc Doc(std::string_view summary, std::string_view since, std::string_view complexity,
               std::string_view args) {
  return CommandDoc{summary, since, "generic", complexity, args};
}

CommandSpec ObjectSub(std::string_view name, ShardHandler handler, CommandDoc doc) {
  CommandSpec s{name, 3, kCmdReadOnly, "@keyspace @read @slow", 2, 2, 1, Route::kKey, handler};
  s.doc = doc;
  return s;
}

}  // namespace

std::vector<CommandSpec> GenericFamily() {
  constexpr uint32_t kWriteFast = kCmdWrite | kCmdFast;
  CommandSpec object = ReactorCommand(
      "object", -2, 0, "@slow", nullptr,
      Doc("A container for object introspection commands", "2.2.3", "Depends on subcommand.", ""));
  return {
      {"rename", 3, kCmdWrite, "@keyspace @write @slow", 1, 2, 1, Route::kParked, Rename, nullptr,
       nullptr, nullptr,
       Doc("Rename a key", "1.0.0", "O(1)",
           "key:key{key_flags=RW+access+delete} newkey:key{key_flags=OW+insert}")},
      {"renamenx", 3, kWriteFast, "@keyspace @write @fast", 1, 2, 1, Route::kParked, RenameNx,
       nullptr, nullptr, nullptr,
       Doc("Rename a key, only if the new key does not exist", "1.0.0", "O(1)",
           "key:key{key_flags=RW+access+delete} newkey:key{key_flags=OW+insert}")},
      {"copy", -3, kCmdWrite | kCmdDenyOom, "@keyspace @write @slow", 1, 2, 1, Route::kParked, Copy,
       nullptr, nullptr, nullptr,
       Doc("Copy a key", "6.2.0",
           "O(N) worst case for collections, where N is the number of nested items. O(1) for "
           "string values.",
           "source:key{key_flags=RO+access} destination:key{key_flags=OW+update} "
           "[destination-db:integer:DB] [replace:pure-token:REPLACE]")},
      {"move", 3, kWriteFast, "@keyspace @write @fast", 1, 1, 1, Route::kKey, Move, nullptr,
       nullptr, nullptr,
       Doc("Move a key to another database", "1.0.0", "O(1)",
           "key:key{key_flags=RW+access+delete} db:integer")},
      {"swapdb", 3, kWriteFast, "@keyspace @write @fast @dangerous", 0, 0, 0, Route::kAllShards,
       SwapDb, nullptr, MergeOk, nullptr,
       CommandDoc{"Swaps two Redis databases", "4.0.0", "server",
                  "O(N) where N is the count of clients watching or blocking on keys from both "
                  "databases.",
                  "index1:integer index2:integer"}},
      object,
      ObjectSub("object|encoding", ObjectEncoding,
                Doc("Inspect the internal encoding of a Redis object", "2.2.3", "O(1)",
                    "key:key{key_flags=RO}")),
      ObjectSub("object|freq", ObjectFreq,
                Doc("Get the logarithmic access frequency counter of a Redis object", "4.0.0",
                    "O(1)", "key:key{key_flags=RO}")),
      ObjectSub("object|idletime", ObjectIdleTime,
                Doc("Get the time since a Redis object was last accessed", "2.2.3", "O(1)",
                    "key:key{key_flags=RO}")),
      ObjectSub("object|refcount", ObjectRefCount,
                Doc("Get the number of references to the value of the key", "2.2.3", "O(1)",
                    "key:key{key_flags=RO}")),
      ReactorCommand("object|help", 2, kCmdLoading | kCmdStale, "@keyspace @slow", ObjectHelp,
                     Doc("Show helpful text about the different subcommands", "6.2.0", "O(1)", "")),
  };
}

}  // namespace omnibus
