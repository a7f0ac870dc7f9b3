// Generic key commands: DEL UNLINK EXISTS TOUCH EXPIRE PEXPIRE EXPIREAT PEXPIREAT TTL PTTL
// EXPIRETIME PEXPIRETIME PERSIST TYPE KEYS SCAN RANDOMKEY DBSIZE FLUSHDB FLUSHALL.
// Runs on: shard threads; merges run on the reactor.
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "omnibus/base/str_cat.h"
#include "omnibus/base/strings.h"
#include "omnibus/commands/command_table.h"
#include "omnibus/store/lazy_free.h"

namespace omnibus {
namespace {

// SCAN cursor: the low 8 bits name the shard, the shard's bucket cursor sits above them, so
// cursors stay below 2^53 (node-redis v4 parses them as JavaScript numbers; KEYSPACE.md).
constexpr int kShardBits = 8;
constexpr uint64_t kShardMask = (uint64_t{1} << kShardBits) - 1;

// DEL and UNLINK: UNLINK frees big values on the lazyfree thread (store/lazy_free.h), DEL too
// under lazyfree-lazy-user-del.
void DelGeneric(ExecContext& ctx, bool lazy) {
  int64_t n = 0;
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    Db& db = ctx.DbFor(ctx.args[i]);
    if (!db.Delete(ctx.args[i], lazy)) continue;
    db.Notify(kNotifyGeneric, "del", ctx.args[i]);
    ++n;
  }
  ctx.reply->Integer(n);
}

void Del(ExecContext& ctx) {
  DelGeneric(ctx, LazyFreeOptions::Get(LazyFreeSettings().lazy_user_del));
}
void Unlink(ExecContext& ctx) { DelGeneric(ctx, true); }

void Exists(ExecContext& ctx) {
  int64_t n = 0;
  for (size_t i = 1; i < ctx.args.size(); ++i)
    n += static_cast<bool>(ctx.DbFor(ctx.args[i]).Find(ctx.args[i]));
  ctx.reply->Integer(n);
}

enum ExpireFlag { kNx = 1, kXx = 2, kGt = 4, kLt = 8 };

// EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT, following Redis's expireGenericCommand.
template <bool kSeconds, bool kRelative>
void ExpireGeneric(ExecContext& ctx) {
  int flags = 0;
  for (size_t j = 3; j < ctx.args.size(); ++j) {
    std::string_view o = ctx.args[j];
    if (EqualsIgnoreCase(o, "nx"))
      flags |= kNx;
    else if (EqualsIgnoreCase(o, "xx"))
      flags |= kXx;
    else if (EqualsIgnoreCase(o, "gt"))
      flags |= kGt;
    else if (EqualsIgnoreCase(o, "lt"))
      flags |= kLt;
    else
      return ctx.reply->Error(StrCat("ERR Unsupported option ", o));
  }
  if ((flags & kNx) && (flags & (kXx | kGt | kLt)))
    return ctx.reply->Error("ERR NX and XX, GT or LT options at the same time are not compatible");
  if ((flags & kGt) && (flags & kLt))
    return ctx.reply->Error("ERR GT and LT options at the same time are not compatible");
  int64_t when;
  if (!ArgToInt64(ctx.args[2], &when, ctx.reply)) return;
  std::string_view cmd =
      kSeconds ? (kRelative ? "expire" : "expireat") : (kRelative ? "pexpire" : "pexpireat");
  auto invalid = [&] {
    ctx.reply->Error(StrCat("ERR invalid expire time in '", cmd, "' command"));
  };
  if (kSeconds) {
    if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000) return invalid();
    when *= 1000;
  }
  int64_t base = kRelative ? ctx.now_ms() : 0;
  if (when > LLONG_MAX - base) return invalid();
  when += base;
  Db& db = ctx.DbFor(ctx.args[1]);
  Db::Entry e = db.Find(ctx.args[1]);
  if (!e) return ctx.reply->Integer(0);
  int64_t current = e->expire_at_ms();
  if (((flags & kNx) && current != -1) || ((flags & kXx) && current == -1) ||
      ((flags & kGt) && (when <= current || current == -1)) ||
      ((flags & kLt) && current != -1 && when >= current))
    return ctx.reply->Integer(0);
  if (when <= ctx.now_ms()) {
    db.Delete(e);
    db.Notify(kNotifyGeneric, "del", ctx.args[1]);
  } else {
    db.SetExpire(e, when);
    db.Notify(kNotifyGeneric, "expire", ctx.args[1]);
  }
  ctx.reply->Integer(1);
}

enum class TtlKind { kTtl, kPttl, kExpireTime, kPExpireTime };

template <TtlKind kKind>
void Ttl(ExecContext& ctx) {
  Db::Entry e = ctx.DbFor(ctx.args[1]).Find(ctx.args[1]);
  if (!e) return ctx.reply->Integer(-2);
  int64_t at = e->expire_at_ms();
  if (at < 0) return ctx.reply->Integer(-1);
  int64_t left = at - ctx.now_ms();
  if (left < 0) left = 0;
  switch (kKind) {
    case TtlKind::kTtl:
      return ctx.reply->Integer((left + 500) / 1000);
    case TtlKind::kPttl:
      return ctx.reply->Integer(left);
    case TtlKind::kExpireTime:
      // Redis rounds, (at + 500) / 1000; redis-server answers as if without overflow even near
      // INT64_MAX, so round without computing at + 500.
      return ctx.reply->Integer(at / 1000 + (at % 1000 >= 500 ? 1 : 0));
    case TtlKind::kPExpireTime:
      return ctx.reply->Integer(at);
  }
}

void Persist(ExecContext& ctx) {
  Db& db = ctx.DbFor(ctx.args[1]);
  Db::Entry e = db.Find(ctx.args[1]);
  if (!e || !e->has_expire()) return ctx.reply->Integer(0);
  db.SetExpire(e, -1);
  db.Notify(kNotifyGeneric, "persist", ctx.args[1]);
  ctx.reply->Integer(1);
}

void Type(ExecContext& ctx) {
  Db::Entry e = ctx.DbFor(ctx.args[1]).Find(ctx.args[1]);
  ctx.reply->SimpleString(e ? TypeName(e->type()) : "none");
}

void Keys(ExecContext& ctx) {
  std::vector<std::string_view> keys;
  std::string_view pattern = ctx.args[1];
  bool all = pattern == "*";
  ctx.LocalDb().ForEachLive([&](const Record* r) {
    if (all || GlobMatch(pattern, r->key())) keys.push_back(r->key());
  });
  ctx.reply->Array(keys.size());
  for (std::string_view k : keys) ctx.reply->Bulk(k);
}

// Concatenates the arrays of every shard (KEYS).
void MergeArrays(MergeContext& ctx) {
  size_t total = 0;
  for (const SubReply& part : ctx.parts) {
    if (part.value->is_error()) return ctx.reply->Value(*part.value);
    total += part.value->elements.size();
  }
  ctx.reply->Array(total);
  for (const SubReply& part : ctx.parts) {
    for (const ReplyValue& e : part.value->elements) ctx.reply->Value(e);
  }
}

struct ScanOptions {
  int64_t count = 10;
  std::string_view pattern;
  std::string_view type;
  bool has_pattern = false;
  bool has_type = false;
};

// SCAN's options, parsed (and errors replied) the same way on the reactor and on the shard.
bool ParseScanOptions(std::span<const std::string_view> args, ScanOptions* o, ReplyBuilder* rb) {
  for (size_t j = 2; j < args.size(); ++j) {
    std::string_view opt = args[j];
    bool more = j + 1 < args.size();
    if (EqualsIgnoreCase(opt, "count") && more) {
      if (!ArgToInt64(args[++j], &o->count, rb)) return false;
      if (o->count < 1) {
        ReplyStatus(rb, OpStatus::kSyntaxError);
        return false;
      }
    } else if (EqualsIgnoreCase(opt, "match") && more) {
      o->pattern = args[++j];
      o->has_pattern = o->pattern != "*";
    } else if (EqualsIgnoreCase(opt, "type") && more) {
      o->type = args[++j];
      o->has_type = true;
    } else {
      ReplyStatus(rb, OpStatus::kSyntaxError);
      return false;
    }
  }
  return true;
}

// SCAN's cursor names its shard in its low bits, so each call goes to exactly one shard.
int RouteScan(std::span<const std::string_view> args, int num_shards, ReplyBuilder* reply) {
  uint64_t cursor;
  if (!ParseScanCursor(args[1], &cursor)) {
    reply->Error("ERR invalid cursor");
    return -1;
  }
  // Options are checked here too, so a bad option gets the same error whichever cursor
  // (and however many shards) it comes with.
  ScanOptions options;
  if (!ParseScanOptions(args, &options, reply)) return -1;
  uint64_t shard = cursor & kShardMask;
  if (shard >= static_cast<uint64_t>(num_shards)) {
    // Not a cursor we handed out: nothing left to scan.
    reply->Array(2);
    reply->Bulk("0");
    reply->Array(0);
    return -1;
  }
  return static_cast<int>(shard);
}

void Scan(ExecContext& ctx) {
  uint64_t cursor = 0;
  ParseScanCursor(ctx.args[1], &cursor);  // validated by RouteScan
  ScanOptions o;
  if (!ParseScanOptions(ctx.args, &o, ctx.reply)) return;
  const int64_t count = o.count;
  const std::string_view pattern = o.pattern, type = o.type;
  const bool has_pattern = o.has_pattern, has_type = o.has_type;
  Db& db = ctx.LocalDb();
  uint64_t local = cursor >> kShardBits;
  std::vector<std::string> keys;
  // Like Redis, visit at most ten buckets per key asked for (saturating: COUNT may be huge).
  int64_t max_iterations = count > INT64_MAX / 10 ? INT64_MAX : count * 10;
  do {
    local = db.Scan(local, [&](Record* r) { keys.emplace_back(r->key()); });
  } while (local != 0 && max_iterations-- > 0 && static_cast<int64_t>(keys.size()) < count);
  // Filter after collecting, as Redis does, so lazy expiry may delete safely.
  std::vector<std::string> out;
  for (std::string& k : keys) {
    if (has_pattern && !GlobMatch(pattern, k)) continue;
    Db::Entry e = db.Find(k);
    if (!e) continue;
    if (has_type && !EqualsIgnoreCase(type, TypeName(e->type()))) continue;
    out.push_back(std::move(k));
  }
  uint64_t next = 0;
  if (local != 0) {
    next = (local << kShardBits) | static_cast<uint64_t>(ctx.shard_index);
  } else if (ctx.shard_index + 1 < ctx.num_shards) {
    next = static_cast<uint64_t>(ctx.shard_index + 1);
  }
  ctx.reply->Array(2);
  ctx.reply->Bulk(StrCat(next));
  ctx.reply->Array(out.size());
  for (const std::string& k : out) ctx.reply->Bulk(k);
}

void RandomKey(ExecContext& ctx) {
  Keyspace* ks = ctx.local;
  Db::Entry e = ctx.LocalDb().RandomLive([ks] { return ks->Random(); });
  if (e) {
    ctx.reply->Bulk(e->key());
  } else {
    ctx.reply->Null();
  }
}

// Picks one of the shards' random keys; shards with more keys are not weighted (yet).
void MergeRandomKey(MergeContext& ctx) {
  std::vector<const ReplyValue*> found;
  for (const SubReply& part : ctx.parts) {
    if (part.value->kind == ReplyValue::Kind::kBulk) found.push_back(part.value);
  }
  if (found.empty()) return ctx.reply->Null();
  ctx.reply->Value(*found[static_cast<size_t>(rand()) % found.size()]);
}

void DbSize(ExecContext& ctx) {
  Db* db = ctx.local->db_if_exists(ctx.db_index);
  ctx.reply->Integer(db == nullptr ? 0 : static_cast<int64_t>(db->size()));
}

// Redis's getFlushCommandFlags: SYNC or ASYNC, else lazyfree-lazy-user-flush decides.
bool ParseFlushOption(ExecContext& ctx, bool* lazy) {
  if (ctx.args.size() > 2 || (ctx.args.size() == 2 && !EqualsIgnoreCase(ctx.args[1], "async") &&
                              !EqualsIgnoreCase(ctx.args[1], "sync"))) {
    ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
    return false;
  }
  *lazy = ctx.args.size() == 2 ? EqualsIgnoreCase(ctx.args[1], "async")
                               : LazyFreeOptions::Get(LazyFreeSettings().lazy_user_flush);
  return true;
}

void FlushDb(ExecContext& ctx) {
  bool lazy;
  if (!ParseFlushOption(ctx, &lazy)) return;
  if (Db* db = ctx.local->db_if_exists(ctx.db_index)) db->Clear(lazy);
  // Client tracking: every key may be gone (once per command: shard 0's part says it).
  if (ctx.shard_index == 0) ctx.local->db(ctx.db_index).NotifyFlush();
  ctx.reply->Ok();
}

void FlushAll(ExecContext& ctx) {
  bool lazy;
  if (!ParseFlushOption(ctx, &lazy)) return;
  for (int i = 0; i < ctx.local->num_dbs(); ++i) {
    if (Db* db = ctx.local->db_if_exists(i)) db->Clear(lazy);
  }
  if (ctx.shard_index == 0) ctx.local->db(ctx.db_index).NotifyFlush();
  ctx.reply->Ok();
}

CommandDoc Doc(std::string_view summary, std::string_view since, std::string_view complexity,
               std::string_view args) {
  return CommandDoc{summary, since, "generic", complexity, args};
}

}  // namespace

std::vector<CommandSpec> KeysFamily() {
  constexpr uint32_t kRoFast = kCmdReadOnly | kCmdFast;
  return {
      {"del", -2, kCmdWrite, "@keyspace @write @slow", 1, -1, 1, Route::kScatter, Del, nullptr,
       MergeSum, nullptr,
       Doc("Delete a key", "1.0.0", "O(N) where N is the number of keys that will be removed.",
           "key:key{key_flags=RM+delete}...")},
      {"unlink", -2, kCmdWrite | kCmdFast, "@keyspace @write @fast", 1, -1, 1, Route::kScatter,
       Unlink, nullptr, MergeSum, nullptr,
       Doc("Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non "
           "blocking.",
           "4.0.0", "O(1) for each key removed regardless of its size.",
           "key:key{key_flags=RM+delete}...")},
      {"exists", -2, kRoFast | kCmdCoalescable, "@keyspace @read @fast", 1, -1, 1, Route::kScatter,
       Exists, nullptr, MergeSum, nullptr,
       Doc("Determine if a key exists", "1.0.0", "O(N) where N is the number of keys to check.",
           "key:key{key_flags=RO}...")},
      {"touch", -2, kRoFast, "@keyspace @read @fast", 1, -1, 1, Route::kScatter, Exists, nullptr,
       MergeSum, nullptr,
       Doc("Alters the last access time of a key(s). Returns the number of existing keys "
           "specified.",
           "3.2.1", "O(N) where N is the number of keys that will be touched.",
           "key:key{key_flags=RO}...")},
      {"expire", -3, kCmdWrite | kCmdFast, "@keyspace @write @fast", 1, 1, 1, Route::kKey,
       ExpireGeneric<true, true>, nullptr, nullptr, nullptr,
       Doc("Set a key's time to live in seconds", "1.0.0", "O(1)",
           "key:key seconds:integer [condition:oneof(nx:pure-token:NX|xx:pure-token:XX|gt:pu"
           "re-token:GT|lt:pure-token:LT){since=7.0.0}]")},
      {"pexpire", -3, kCmdWrite | kCmdFast, "@keyspace @write @fast", 1, 1, 1, Route::kKey,
       ExpireGeneric<false, true>, nullptr, nullptr, nullptr,
       Doc("Set a key's time to live in milliseconds", "2.6.0", "O(1)",
           "key:key milliseconds:integer [condition:oneof(nx:pure-token:NX|xx:pure-token:XX|"
           "gt:pure-token:GT|lt:pure-token:LT){since=7.0.0}]")},
      {"expireat", -3, kCmdWrite | kCmdFast, "@keyspace @write @fast", 1, 1, 1, Route::kKey,
       ExpireGeneric<true, false>, nullptr, nullptr, nullptr,
       Doc("Set the expiration for a key as a UNIX timestamp", "1.2.0", "O(1)",
           "key:key unix-time-seconds:unix-time [condition:oneof(nx:pure-token:NX|xx:pure-to"
           "ken:XX|gt:pure-token:GT|lt:pure-token:LT){since=7.0.0}]")},
      {"pexpireat", -3, kCmdWrite | kCmdFast, "@keyspace @write @fast", 1, 1, 1, Route::kKey,
       ExpireGeneric<false, false>, nullptr, nullptr, nullptr,
       Doc("Set the expiration for a key as a UNIX timestamp specified in milliseconds", "2.6.0",
           "O(1)",
           "key:key unix-time-milliseconds:unix-time [condition:oneof(nx:pure-token:NX|xx:pu"
           "re-token:XX|gt:pure-token:GT|lt:pure-token:LT){since=7.0.0}]")},
      {"ttl", 2, kRoFast | kCmdCoalescable, "@keyspace @read @fast", 1, 1, 1, Route::kKey,
       Ttl<TtlKind::kTtl>, nullptr, nullptr, nullptr,
       Doc("Get the time to live for a key in seconds", "1.0.0", "O(1)", "key:key")},
      {"pttl", 2, kRoFast | kCmdCoalescable, "@keyspace @read @fast", 1, 1, 1, Route::kKey,
       Ttl<TtlKind::kPttl>, nullptr, nullptr, nullptr,
       Doc("Get the time to live for a key in milliseconds", "2.6.0", "O(1)", "key:key")},
      {"expiretime", 2, kRoFast | kCmdCoalescable, "@keyspace @read @fast", 1, 1, 1, Route::kKey,
       Ttl<TtlKind::kExpireTime>, nullptr, nullptr, nullptr,
       Doc("Get the expiration Unix timestamp for a key", "7.0.0", "O(1)", "key:key")},
      {"pexpiretime", 2, kRoFast | kCmdCoalescable, "@keyspace @read @fast", 1, 1, 1, Route::kKey,
       Ttl<TtlKind::kPExpireTime>, nullptr, nullptr, nullptr,
       Doc("Get the expiration Unix timestamp for a key in milliseconds", "7.0.0", "O(1)",
           "key:key")},
      {"persist", 2, kCmdWrite | kCmdFast, "@keyspace @write @fast", 1, 1, 1, Route::kKey, Persist,
       nullptr, nullptr, nullptr,
       Doc("Remove the expiration from a key", "2.2.0", "O(1)", "key:key")},
      {"type", 2, kRoFast | kCmdCoalescable, "@keyspace @read @fast", 1, 1, 1, Route::kKey, Type,
       nullptr, nullptr, nullptr,
       Doc("Determine the type stored at key", "1.0.0", "O(1)", "key:key{key_flags=RO}")},
      {"keys", 2, kCmdReadOnly, "@keyspace @read @slow @dangerous", 0, 0, 0, Route::kAllShards,
       Keys, nullptr, MergeArrays, nullptr,
       Doc("Find all keys matching the given pattern", "1.0.0",
           "O(N) with N being the number of keys in the database, under the assumption that "
           "the key names in the database and the given pattern have limited length.",
           "pattern:pattern")},
      {"scan", -2, kCmdReadOnly, "@keyspace @read @slow", 0, 0, 0, Route::kCustom, Scan, nullptr,
       nullptr, RouteScan,
       Doc("Incrementally iterate the keys space", "2.8.0",
           "O(1) for every call. O(N) for a complete iteration, including enough command calls "
           "for the cursor to return back to 0. N is the number of elements inside the "
           "collection.",
           "cursor:integer [pattern:pattern:MATCH] [count:integer:COUNT] [type:string:TYPE{s"
           "ince=6.0.0}]")},
      {"randomkey", 1, kCmdReadOnly, "@keyspace @read @slow", 0, 0, 0, Route::kAllShards, RandomKey,
       nullptr, MergeRandomKey, nullptr,
       Doc("Return a random key from the keyspace", "1.0.0", "O(1)", "")},
      {"dbsize", 1, kRoFast, "@keyspace @read @fast", 0, 0, 0, Route::kAllShards, DbSize, nullptr,
       MergeSum, nullptr,
       CommandDoc{"Return the number of keys in the selected database", "1.0.0", "server", "O(1)",
                  ""}},
      {"flushdb", -1, kCmdWrite, "@keyspace @write @slow @dangerous", 0, 0, 0, Route::kAllShards,
       FlushDb, nullptr, MergeOk, nullptr,
       CommandDoc{"Remove all keys from the current database", "1.0.0", "server",
                  "O(N) where N is the number of keys in the selected database",
                  "[async:oneof(async:pure-token:ASYNC{since=4.0.0}|sync:pure-token:SYNC{since=6.2."
                  "0})]"}},
      {"flushall", -1, kCmdWrite, "@keyspace @write @slow @dangerous", 0, 0, 0, Route::kAllShards,
       FlushAll, nullptr, MergeOk, nullptr,
       CommandDoc{"Remove all keys from all databases", "1.0.0", "server",
                  "O(N) where N is the total number of keys in all databases",
                  "[async:oneof(async:pure-token:ASYNC{since=4.0.0}|sync:pure-token:SYNC{since=6.2."
                  "0})]"}},
  };
}

}  // namespace omnibus
