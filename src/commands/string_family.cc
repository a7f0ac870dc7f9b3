// String commands: GET SET SETNX SETEX PSETEX GETSET GETDEL GETEX MGET MSET MSETNX APPEND
// STRLEN INCR DECR INCRBY DECRBY INCRBYFLOAT GETRANGE SETRANGE SUBSTR.
// Runs on: shard threads (MSET/MGET as one sub-command per shard, MSETNX parked).
#include <climits>
#include <cmath>
#include <cstring>

#include "omnibus/base/str_cat.h"
#include "omnibus/base/strings.h"
#include "omnibus/commands/command_table.h"

namespace omnibus {
namespace {

// Largest string a command may build (proto-max-bulk-len's default, as in Redis).
// The longest string APPEND and SETRANGE may make: proto-max-bulk-len (Redis's
// checkStringLength), which CONFIG keeps within what a record holds.
int64_t MaxStringLen(const ExecContext& ctx) {
  return ContainerLimits::Get(ctx.limits().proto_max_bulk_len);
}

using Args = std::span<const std::string_view>;

bool IsOpt(std::string_view arg, std::string_view opt) { return EqualsIgnoreCase(arg, opt); }

enum ExFlags : uint32_t {
  kNx = 1,
  kXx = 2,
  kGet = 4,
  kKeepTtl = 8,
  kPersist = 16,
  kEx = 32,
  kPx = 64,
  kExAt = 128,
  kPxAt = 256,
};
constexpr uint32_t kAnyExpire = kEx | kPx | kExAt | kPxAt;

enum class OptionsFor { kSet, kGetEx };

// Redis's parseExtendedStringArgumentsOrReply: each option conflicts only with the others
// (so "EX 1 EX 2" is accepted and the last wins, as in Redis).
bool ParseStringOptions(Args args, size_t start, OptionsFor cmd, uint32_t* flags,
                        std::string_view* expire, ReplyBuilder* rb) {
  for (size_t j = start; j < args.size(); ++j) {
    std::string_view opt = args[j];
    bool has_next = j + 1 < args.size();
    bool set = cmd == OptionsFor::kSet;
    auto take = [&](uint32_t flag) {
      *flags |= flag;
      *expire = args[++j];
    };
    if (set && IsOpt(opt, "NX") && !(*flags & kXx)) {
      *flags |= kNx;
    } else if (set && IsOpt(opt, "XX") && !(*flags & kNx)) {
      *flags |= kXx;
    } else if (set && IsOpt(opt, "GET")) {
      *flags |= kGet;
    } else if (set && IsOpt(opt, "KEEPTTL") && !(*flags & (kPersist | kAnyExpire))) {
      *flags |= kKeepTtl;
    } else if (!set && IsOpt(opt, "PERSIST") && !(*flags & (kKeepTtl | kAnyExpire))) {
      *flags |= kPersist;
    } else if (IsOpt(opt, "EX") && !(*flags & (kKeepTtl | kPersist | kExAt | kPx | kPxAt)) &&
               has_next) {
      take(kEx);
    } else if (IsOpt(opt, "PX") && !(*flags & (kKeepTtl | kPersist | kEx | kExAt | kPxAt)) &&
               has_next) {
      take(kPx);
    } else if (IsOpt(opt, "EXAT") && !(*flags & (kKeepTtl | kPersist | kEx | kPx | kPxAt)) &&
               has_next) {
      take(kExAt);
    } else if (IsOpt(opt, "PXAT") && !(*flags & (kKeepTtl | kPersist | kEx | kExAt | kPx)) &&
               has_next) {
      take(kPxAt);
    } else {
      ReplyStatus(rb, OpStatus::kSyntaxError);
      return false;
    }
  }
  return true;
}

void ReplyInvalidExpire(ReplyBuilder* rb, std::string_view cmd) {
  rb->Error(StrCat("ERR invalid expire time in '", cmd, "' command"));
}

// Redis's getExpireMillisecondsOrReply: turns an EX/PX/EXAT/PXAT argument into absolute ms.
bool ExpireArgToAbsMs(std::string_view arg, bool seconds, bool relative, int64_t now_ms,
                      std::string_view cmd, int64_t* out, ReplyBuilder* rb) {
  int64_t v;
  if (!ArgToInt64(arg, &v, rb)) return false;
  if (v <= 0 || (seconds && v > LLONG_MAX / 1000)) {
    ReplyInvalidExpire(rb, cmd);
    return false;
  }
  if (seconds) v *= 1000;
  if (relative) {
    if (v > LLONG_MAX - now_ms) {
      ReplyInvalidExpire(rb, cmd);
      return false;
    }
    v += now_ms;
  }
  *out = v;
  return true;
}

bool ExpireFromFlags(uint32_t flags, std::string_view arg, int64_t now_ms, std::string_view cmd,
                     int64_t* out, ReplyBuilder* rb) {
  *out = -1;
  if (!(flags & kAnyExpire)) return true;
  return ExpireArgToAbsMs(arg, flags & (kEx | kExAt), flags & (kEx | kPx), now_ms, cmd, out, rb);
}

// Stores `value` at `key` with an absolute expiry; an expiry already in the past deletes the
// key instead (what Redis does for SET ... EXAT <past>).
// Announces "set" (and "expire" with an expiry) as Redis does, even for the past expiry.
void StoreString(Db& db, std::string_view key, std::string_view value, int64_t expire_at_ms,
                 bool keep_ttl) {
  if (expire_at_ms >= 0 && expire_at_ms <= db.now_ms()) {
    db.Notify(kNotifyString, "set", key);
    db.Notify(kNotifyGeneric, "expire", key);
    db.Delete(key);
    return;
  }
  db.SetString(key, value, expire_at_ms, keep_ttl);
  db.Notify(kNotifyString, "set", key);
  if (expire_at_ms >= 0) db.Notify(kNotifyGeneric, "expire", key);
}

// Reads a string key for GET-like replies; false after replying WRONGTYPE.
bool ReplyStringOrNull(Db& db, std::string_view key, ReplyBuilder* rb) {
  auto e = db.FindTyped(key, ValueType::kString);
  if (!e.ok()) {
    ReplyStatus(rb, e.status());
    return false;
  }
  if (*e) {
    rb->Bulk((*e)->value());
  } else {
    rb->Null();
  }
  return true;
}

void Get(ExecContext& ctx) { ReplyStringOrNull(ctx.DbFor(ctx.args[1]), ctx.args[1], ctx.reply); }

void SetGeneric(ExecContext& ctx, std::string_view cmd, uint32_t flags, std::string_view expire) {
  Args a = ctx.args;
  Db& db = ctx.DbFor(a[1]);
  int64_t expire_at;
  if (!ExpireFromFlags(flags, expire, ctx.now_ms(), cmd, &expire_at, ctx.reply)) return;
  if ((flags & kGet) && !ReplyStringOrNull(db, a[1], ctx.reply)) return;
  bool found = static_cast<bool>(db.Find(a[1]));
  if ((flags & kGet) && !found) db.NotifyMiss(a[1]);  // GET's read lookup, as Redis's
  if (((flags & kNx) && found) || ((flags & kXx) && !found)) {
    if (!(flags & kGet)) ctx.reply->Null();
    return;
  }
  StoreString(db, a[1], a[2], expire_at, flags & kKeepTtl);
  if (!(flags & kGet)) ctx.reply->Ok();
}

void Set(ExecContext& ctx) {
  uint32_t flags = 0;
  std::string_view expire;
  if (!ParseStringOptions(ctx.args, 3, OptionsFor::kSet, &flags, &expire, ctx.reply)) return;
  SetGeneric(ctx, "set", flags, expire);
}

void SetNx(ExecContext& ctx) {
  Db& db = ctx.DbFor(ctx.args[1]);
  if (db.Find(ctx.args[1])) {
    ctx.reply->Integer(0);
    return;
  }
  db.SetString(ctx.args[1], ctx.args[2]);
  db.Notify(kNotifyString, "set", ctx.args[1]);
  ctx.reply->Integer(1);
}

template <bool kSeconds>
void SetExGeneric(ExecContext& ctx) {
  // SETEX key seconds value: the expiry is the middle argument.
  std::string_view cmd = kSeconds ? "setex" : "psetex";
  int64_t expire_at;
  if (!ExpireArgToAbsMs(ctx.args[2], kSeconds, true, ctx.now_ms(), cmd, &expire_at, ctx.reply))
    return;
  StoreString(ctx.DbFor(ctx.args[1]), ctx.args[1], ctx.args[3], expire_at, false);
  ctx.reply->Ok();
}

void GetSet(ExecContext& ctx) { SetGeneric(ctx, "getset", kGet, {}); }

void GetDel(ExecContext& ctx) {
  Db& db = ctx.DbFor(ctx.args[1]);
  auto e = db.FindTyped(ctx.args[1], ValueType::kString);
  if (!e.ok()) return ReplyStatus(ctx.reply, e.status());
  if (!*e) {
    db.NotifyMiss(ctx.args[1]);
    return ctx.reply->Null();
  }
  ctx.reply->Bulk((*e)->value());
  db.Delete(*e);
  db.Notify(kNotifyGeneric, "del", ctx.args[1]);
}

void GetEx(ExecContext& ctx) {
  uint32_t flags = 0;
  std::string_view expire;
  if (!ParseStringOptions(ctx.args, 2, OptionsFor::kGetEx, &flags, &expire, ctx.reply)) return;
  // Redis's order: options, then the key (missing: nil, wrong type: error), then the expiry.
  Db& db = ctx.DbFor(ctx.args[1]);
  auto e = db.FindTyped(ctx.args[1], ValueType::kString);
  if (!e.ok()) return ReplyStatus(ctx.reply, e.status());
  if (!*e) {
    db.NotifyMiss(ctx.args[1]);
    return ctx.reply->Null();
  }
  int64_t expire_at;
  if (!ExpireFromFlags(flags, expire, ctx.now_ms(), "getex", &expire_at, ctx.reply)) return;
  ctx.reply->Bulk((*e)->value());
  if (expire_at >= 0 && expire_at <= ctx.now_ms()) {
    db.Delete(*e);
    db.Notify(kNotifyGeneric, "del", ctx.args[1]);
  } else if (expire_at >= 0) {
    db.SetExpire(*e, expire_at);
    db.Notify(kNotifyGeneric, "expire", ctx.args[1]);
  } else if ((flags & kPersist) && (*e)->has_expire()) {
    db.SetExpire(*e, -1);
    db.Notify(kNotifyGeneric, "persist", ctx.args[1]);
  }
}

// MGET on one shard: one reply element per key, nil for missing or non-string keys.
void MGet(ExecContext& ctx) {
  ctx.reply->Array(ctx.args.size() - 1);
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    Db::Entry e = ctx.DbFor(ctx.args[i]).Find(ctx.args[i]);
    if (e && e->type() == ValueType::kString) {
      ctx.reply->Bulk(e->value());
    } else {
      ctx.reply->Null();
    }
  }
}

void MSet(ExecContext& ctx) {
  for (size_t i = 1; i + 1 < ctx.args.size(); i += 2) {
    Db& db = ctx.DbFor(ctx.args[i]);
    db.SetString(ctx.args[i], ctx.args[i + 1]);
    db.Notify(kNotifyString, "set", ctx.args[i]);
  }
  ctx.reply->Ok();
}

// Parked when its keys span shards, so the check and the writes are one atomic step.
void MSetNx(ExecContext& ctx) {
  for (size_t i = 1; i + 1 < ctx.args.size(); i += 2) {
    if (ctx.DbFor(ctx.args[i]).Find(ctx.args[i])) {
      ctx.reply->Integer(0);
      return;
    }
  }
  MSet(ctx);
  ctx.reply->Reset();
  ctx.reply->Integer(1);
}

void Append(ExecContext& ctx) {
  Db& db = ctx.DbFor(ctx.args[1]);
  auto e = db.FindTyped(ctx.args[1], ValueType::kString);
  if (!e.ok()) return ReplyStatus(ctx.reply, e.status());
  std::string_view add = ctx.args[2];
  if (!*e) {
    db.SetString(ctx.args[1], add);
    db.Notify(kNotifyString, "append", ctx.args[1]);
    ctx.reply->Integer(static_cast<int64_t>(add.size()));
    return;
  }
  size_t old_len = (*e)->vlen;
  if (static_cast<int64_t>(old_len + add.size()) > MaxStringLen(ctx))
    return ReplyStatus(ctx.reply, OpStatus::kStringTooLong);
  Db::Entry grown = db.ResizeValue(*e, old_len + add.size());
  memcpy(grown->mutable_value() + old_len, add.data(), add.size());
  db.Notify(kNotifyString, "append", ctx.args[1]);
  ctx.reply->Integer(static_cast<int64_t>(old_len + add.size()));
}

void StrLen(ExecContext& ctx) {
  auto e = ctx.DbFor(ctx.args[1]).FindTyped(ctx.args[1], ValueType::kString);
  if (!e.ok()) return ReplyStatus(ctx.reply, e.status());
  ctx.reply->Integer(*e ? static_cast<int64_t>((*e)->vlen) : 0);
}

void IncrByGeneric(ExecContext& ctx, int64_t delta) {
  Db& db = ctx.DbFor(ctx.args[1]);
  auto e = db.FindTyped(ctx.args[1], ValueType::kString);
  if (!e.ok()) return ReplyStatus(ctx.reply, e.status());
  int64_t current = 0;
  if (*e && !ParseInt64((*e)->value(), &current))
    return ReplyStatus(ctx.reply, OpStatus::kNotAnInteger);
  if ((delta < 0 && current < 0 && delta < LLONG_MIN - current) ||
      (delta > 0 && current > 0 && delta > LLONG_MAX - current))
    return ReplyStatus(ctx.reply, OpStatus::kIncrOverflow);
  int64_t result = current + delta;
  char buf[24];
  std::string_view text(buf, FormatInt64(result, buf));
  if (*e) {
    db.ReplaceValue(*e, text);  // keeps the TTL, as Redis's INCR does
  } else {
    db.SetString(ctx.args[1], text);
  }
  db.Notify(kNotifyString, "incrby", ctx.args[1]);
  ctx.reply->Integer(result);
}

void Incr(ExecContext& ctx) { IncrByGeneric(ctx, 1); }
void Decr(ExecContext& ctx) { IncrByGeneric(ctx, -1); }
void IncrBy(ExecContext& ctx) {
  int64_t d;
  if (ArgToInt64(ctx.args[2], &d, ctx.reply)) IncrByGeneric(ctx, d);
}
void DecrBy(ExecContext& ctx) {
  int64_t d;
  if (!ArgToInt64(ctx.args[2], &d, ctx.reply)) return;
  if (d == LLONG_MIN) return ctx.reply->Error("ERR decrement would overflow");
  IncrByGeneric(ctx, -d);
}

void IncrByFloat(ExecContext& ctx) {
  Db& db = ctx.DbFor(ctx.args[1]);
  auto e = db.FindTyped(ctx.args[1], ValueType::kString);
  if (!e.ok()) return ReplyStatus(ctx.reply, e.status());
  long double current = 0, incr;
  if ((*e && !ParseLongDouble((*e)->value(), &current)) || !ParseLongDouble(ctx.args[2], &incr))
    return ReplyStatus(ctx.reply, OpStatus::kNotAFloat);
  long double result = current + incr;
  if (std::isnan(result) || std::isinf(result))
    return ReplyStatus(ctx.reply, OpStatus::kIncrFloatNanOrInf);
  std::string text = LongDoubleToHuman(result);
  if (*e) {
    db.ReplaceValue(*e, text);
  } else {
    db.SetString(ctx.args[1], text);
  }
  db.Notify(kNotifyString, "incrbyfloat", ctx.args[1]);
  ctx.reply->Bulk(text);
}

void GetRange(ExecContext& ctx) {
  int64_t start, end;
  if (!ArgToInt64(ctx.args[2], &start, ctx.reply) || !ArgToInt64(ctx.args[3], &end, ctx.reply))
    return;
  auto e = ctx.DbFor(ctx.args[1]).FindTyped(ctx.args[1], ValueType::kString);
  if (!e.ok()) return ReplyStatus(ctx.reply, e.status());
  std::string_view s = *e ? (*e)->value() : std::string_view();
  int64_t len = static_cast<int64_t>(s.size());
  if (start < 0 && end < 0 && start > end) return ctx.reply->Bulk("");
  if (start < 0) start += len;
  if (end < 0) end += len;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= len) end = len - 1;
  if (start > end || len == 0) return ctx.reply->Bulk("");
  ctx.reply->Bulk(s.substr(static_cast<size_t>(start), static_cast<size_t>(end - start + 1)));
}

void SetRange(ExecContext& ctx) {
  int64_t offset;
  if (!ArgToInt64(ctx.args[2], &offset, ctx.reply)) return;
  if (offset < 0) return ReplyStatus(ctx.reply, OpStatus::kOffsetOutOfRange);
  std::string_view value = ctx.args[3];
  Db& db = ctx.DbFor(ctx.args[1]);
  auto e = db.FindTyped(ctx.args[1], ValueType::kString);
  if (!e.ok()) return ReplyStatus(ctx.reply, e.status());
  int64_t old_len = *e ? static_cast<int64_t>((*e)->vlen) : 0;
  if (value.empty()) return ctx.reply->Integer(old_len);
  if (offset > MaxStringLen(ctx) - static_cast<int64_t>(value.size()))  // no overflow
    return ReplyStatus(ctx.reply, OpStatus::kStringTooLong);
  size_t need = static_cast<size_t>(offset) + value.size();
  Db::Entry entry = *e;
  if (!entry) {
    db.SetString(ctx.args[1], "");
    entry = db.Find(ctx.args[1]);
  }
  if (need > entry->vlen) entry = db.ResizeValue(entry, need);
  memcpy(entry->mutable_value() + offset, value.data(), value.size());
  db.Notify(kNotifyString, "setrange", ctx.args[1]);
  ctx.reply->Integer(static_cast<int64_t>(entry->vlen));
}

// Merges MGET's per-shard arrays back into the order of the keys asked for.
void MergeMGet(MergeContext& ctx) {
  size_t n = ctx.args.size() - 1;
  std::vector<const ReplyValue*> elements(n);
  for (const SubReply& part : ctx.parts) {
    for (size_t i = 0; i < part.positions.size(); ++i) {
      elements[part.positions[i]] = &part.value->elements[i];
    }
  }
  ctx.reply->Array(n);
  for (const ReplyValue* e : elements) ctx.reply->Value(*e);
}

constexpr uint32_t kWriteOom = kCmdWrite | kCmdDenyOom;

}  // namespace

// Merges the "+OK" of every shard (or the first error).
void MergeOk(MergeContext& ctx) {
  for (const SubReply& part : ctx.parts) {
    if (part.value->is_error()) return ctx.reply->Value(*part.value);
  }
  ctx.reply->Ok();
}

// Merges integer replies by summing them (DEL, EXISTS, TOUCH, UNLINK, DBSIZE).
void MergeSum(MergeContext& ctx) {
  int64_t sum = 0;
  for (const SubReply& part : ctx.parts) {
    if (part.value->kind != ReplyValue::Kind::kInteger) return ctx.reply->Value(*part.value);
    sum += part.value->integer;
  }
  ctx.reply->Integer(sum);
}

std::vector<CommandSpec> StringFamily() {
  auto doc = [](std::string_view summary, std::string_view since, std::string_view complexity,
                std::string_view args) {
    return CommandDoc{summary, since, "string", complexity, args};
  };
  return {
      {"get", 2, kCmdReadOnly | kCmdFast | kCmdCoalescable, "@read @string @fast", 1, 1, 1,
       Route::kKey, Get, nullptr, nullptr, nullptr,
       doc("Get the value of a key", "1.0.0", "O(1)", "key:key")},
      {"set", -3, kWriteOom, "@write @string @slow", 1, 1, 1, Route::kKey, Set, nullptr, nullptr,
       nullptr,
       doc("Set the string value of a key", "1.0.0", "O(1)",
           "key:key{key_flags=RW+access+update+variable_flags} value:string [condition:oneof"
           "(nx:pure-token:NX|xx:pure-token:XX){since=2.6.12}] [get:pure-token:GET{since=6.2"
           ".0}] [expiration:oneof(seconds:integer:EX{since=2.6.12}|milliseconds:integer:PX{"
           "since=2.6.12}|unix-time-seconds:unix-time:EXAT{since=6.2.0}|unix-time-millisecon"
           "ds:unix-time:PXAT{since=6.2.0}|keepttl:pure-token:KEEPTTL{since=6.0.0})]")},
      {"setnx", 3, kWriteOom | kCmdFast, "@write @string @fast", 1, 1, 1, Route::kKey, SetNx,
       nullptr, nullptr, nullptr,
       doc("Set the value of a key, only if the key does not exist", "1.0.0", "O(1)",
           "key:key{key_flags=OW+insert} value:string")},
      {"setex", 4, kWriteOom, "@write @string @slow", 1, 1, 1, Route::kKey, SetExGeneric<true>,
       nullptr, nullptr, nullptr,
       doc("Set the value and expiration of a key", "2.0.0", "O(1)",
           "key:key{key_flags=OW+update} seconds:integer value:string")},
      {"psetex", 4, kWriteOom, "@write @string @slow", 1, 1, 1, Route::kKey, SetExGeneric<false>,
       nullptr, nullptr, nullptr,
       doc("Set the value and expiration in milliseconds of a key", "2.6.0", "O(1)",
           "key:key{key_flags=OW+update} milliseconds:integer value:string")},
      {"getset", 3, kWriteOom | kCmdFast, "@write @string @fast", 1, 1, 1, Route::kKey, GetSet,
       nullptr, nullptr, nullptr,
       doc("Set the string value of a key and return its old value", "1.0.0", "O(1)",
           "key:key{key_flags=RW+access+update} value:string")},
      {"getdel", 2, kCmdWrite | kCmdFast, "@write @string @fast", 1, 1, 1, Route::kKey, GetDel,
       nullptr, nullptr, nullptr,
       doc("Get the value of a key and delete the key", "6.2.0", "O(1)",
           "key:key{key_flags=RW+access+delete}")},
      {"getex", -2, kCmdWrite | kCmdFast, "@write @string @fast", 1, 1, 1, Route::kKey, GetEx,
       nullptr, nullptr, nullptr,
       doc("Get the value of a key and optionally set its expiration", "6.2.0", "O(1)",
           "key:key{key_flags=RW+access+update} [expiration:oneof(seconds:integer:EX|millise"
           "conds:integer:PX|unix-time-seconds:unix-time:EXAT|unix-time-milliseconds:unix-ti"
           "me:PXAT|persist:pure-token:PERSIST)]")},
      {"mget", -2, kCmdReadOnly | kCmdFast | kCmdCoalescable, "@read @string @fast", 1, -1, 1,
       Route::kScatter, MGet, nullptr, MergeMGet, nullptr,
       doc("Get the values of all the given keys", "1.0.0",
           "O(N) where N is the number of keys to retrieve.", "key:key...")},
      {"mset", -3, kWriteOom, "@write @string @slow", 1, -1, 2, Route::kScatter, MSet, nullptr,
       MergeOk, nullptr,
       doc("Set multiple keys to multiple values", "1.0.1",
           "O(N) where N is the number of keys to set.",
           "key_value:block(key:key{key_flags=OW+update} value:string)...")},
      {"msetnx", -3, kWriteOom, "@write @string @slow", 1, -1, 2, Route::kParked, MSetNx, nullptr,
       nullptr, nullptr,
       doc("Set multiple keys to multiple values, only if none of the keys exist", "1.0.1",
           "O(N) where N is the number of keys to set.",
           "key_value:block(key:key{key_flags=OW+insert} value:string)...")},
      {"append", 3, kWriteOom | kCmdFast, "@write @string @fast", 1, 1, 1, Route::kKey, Append,
       nullptr, nullptr, nullptr,
       doc("Append a value to a key", "2.0.0",
           "O(1). The amortized time complexity is O(1) assuming the appended value is small "
           "and the already present value is of any size, since the dynamic string library "
           "used by Redis will double the free space available on every reallocation.",
           "key:key{key_flags=RW+insert} value:string")},
      {"strlen", 2, kCmdReadOnly | kCmdFast | kCmdCoalescable, "@read @string @fast", 1, 1, 1,
       Route::kKey, StrLen, nullptr, nullptr, nullptr,
       doc("Get the length of the value stored in a key", "2.2.0", "O(1)",
           "key:key{key_flags=RO}")},
      {"incr", 2, kWriteOom | kCmdFast, "@write @string @fast", 1, 1, 1, Route::kKey, Incr, nullptr,
       nullptr, nullptr,
       doc("Increment the integer value of a key by one", "1.0.0", "O(1)",
           "key:key{key_flags=RW+access+update}")},
      {"decr", 2, kWriteOom | kCmdFast, "@write @string @fast", 1, 1, 1, Route::kKey, Decr, nullptr,
       nullptr, nullptr,
       doc("Decrement the integer value of a key by one", "1.0.0", "O(1)",
           "key:key{key_flags=RW+access+update}")},
      {"incrby", 3, kWriteOom | kCmdFast, "@write @string @fast", 1, 1, 1, Route::kKey, IncrBy,
       nullptr, nullptr, nullptr,
       doc("Increment the integer value of a key by the given amount", "1.0.0", "O(1)",
           "key:key{key_flags=RW+access+update} increment:integer")},
      {"decrby", 3, kWriteOom | kCmdFast, "@write @string @fast", 1, 1, 1, Route::kKey, DecrBy,
       nullptr, nullptr, nullptr,
       doc("Decrement the integer value of a key by the given number", "1.0.0", "O(1)",
           "key:key{key_flags=RW+access+update} decrement:integer")},
      {"incrbyfloat", 3, kWriteOom | kCmdFast, "@write @string @fast", 1, 1, 1, Route::kKey,
       IncrByFloat, nullptr, nullptr, nullptr,
       doc("Increment the float value of a key by the given amount", "2.6.0", "O(1)",
           "key:key{key_flags=RW+access+update} increment:double")},
      {"getrange", 4, kCmdReadOnly | kCmdCoalescable, "@read @string @slow", 1, 1, 1, Route::kKey,
       GetRange, nullptr, nullptr, nullptr,
       doc("Get a substring of the string stored at a key", "2.4.0",
           "O(N) where N is the length of the returned string.",
           "key:key start:integer end:integer")},
      {"substr", 4, kCmdReadOnly | kCmdCoalescable, "@read @string @slow", 1, 1, 1, Route::kKey,
       GetRange, nullptr, nullptr, nullptr,
       doc("Get a substring of the string stored at a key", "1.0.0",
           "O(N) where N is the length of the returned string.",
           "key:key start:integer end:integer")},
      {"setrange", 4, kWriteOom, "@write @string @slow", 1, 1, 1, Route::kKey, SetRange, nullptr,
       nullptr, nullptr,
       doc("Overwrite part of a string at key starting at the specified offset", "2.2.0",
           "O(1), not counting the time taken to copy the new string in place.",
           "key:key offset:integer value:string")},
  };
}

}  // namespace omnibus
