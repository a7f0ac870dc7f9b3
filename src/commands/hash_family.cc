// Hash commands: HSET HSETNX HGET HMGET HMSET HGETALL HDEL HEXISTS HLEN HSTRLEN HKEYS HVALS
// HINCRBY HINCRBYFLOAT HRANDFIELD HSCAN, as Redis 7.0's t_hash.c answers them.
// Runs on: shard threads (every command has one key).
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "omnibus/base/str_cat.h"
#include "omnibus/base/strings.h"
#include "omnibus/commands/command_table.h"
#include "omnibus/store/hash.h"

namespace omnibus {
namespace {

using Pair = std::pair<std::string_view, std::string_view>;

// Redis 7.0's texts for the errors only hash commands give.
constexpr std::string_view kErrHashNotInteger = "ERR hash value is not an integer";
constexpr std::string_view kErrHashNotFloat = "ERR hash value is not a float";
constexpr std::string_view kErrIncrNanOrInf = "ERR value is NaN or Infinity";
constexpr std::string_view kErrRandCountRange =
    "ERR value is out of range, value must between -9223372036854775807 and "
    "9223372036854775807";
constexpr std::string_view kErrInvalidCursor = "ERR invalid cursor";

HashLimits LimitsOf(const ExecContext& ctx) {
  return HashLimits{ContainerLimits::Get(ctx.limits().hash_max_listpack_entries),
                    ContainerLimits::Get(ctx.limits().hash_max_listpack_value)};
}

// The hash at args[1] for reading: nullopt after replying WRONGTYPE; a null ptr when missing.
std::optional<ObjectRef> ReadHash(ExecContext& ctx) {
  auto e = ctx.DbFor(ctx.args[1]).FindTyped(ctx.args[1], ValueType::kHash);
  if (!e.ok()) {
    ReplyStatus(ctx.reply, e.status());
    return std::nullopt;
  }
  if (!*e) return ObjectRef{};
  return (*e)->object();
}

// HSET and HMSET: the same write, different replies.
void SetFields(ExecContext& ctx, bool hmset) {
  if (ctx.args.size() % 2 == 1) return ReplyArityError(ctx.reply, hmset ? "hmset" : "hset");
  auto w = ctx.DbFor(ctx.args[1]).Write(ctx.args[1], ValueType::kHash, /*create=*/true);
  if (!w.ok()) return ReplyStatus(ctx.reply, w.status());
  HashLimits limits = LimitsOf(ctx);
  ObjectRef obj = w->obj();
  HashTryConvert(&obj, ctx.args.subspan(2), limits);
  int64_t created = 0;
  for (size_t i = 2; i < ctx.args.size(); i += 2) {
    created += HashSet(&obj, ctx.args[i], ctx.args[i + 1], limits) ? 1 : 0;
  }
  w->set_obj(obj);
  if (hmset) return ctx.reply->Ok();
  ctx.reply->Integer(created);
}

void HSet(ExecContext& ctx) { SetFields(ctx, false); }
void HMSet(ExecContext& ctx) { SetFields(ctx, true); }

void HSetNx(ExecContext& ctx) {
  auto w = ctx.DbFor(ctx.args[1]).Write(ctx.args[1], ValueType::kHash, /*create=*/true);
  if (!w.ok()) return ReplyStatus(ctx.reply, w.status());
  ObjectRef obj = w->obj();
  if (HashFind(obj, ctx.args[2])) {
    w->NoChange();
    return ctx.reply->Integer(0);
  }
  // Redis converts for a long field or value only when the field is really added.
  HashLimits limits = LimitsOf(ctx);
  HashTryConvert(&obj, ctx.args.subspan(2, 2), limits);
  HashSet(&obj, ctx.args[2], ctx.args[3], limits);
  w->set_obj(obj);
  ctx.reply->Integer(1);
}

void HGet(ExecContext& ctx) {
  std::optional<ObjectRef> obj = ReadHash(ctx);
  if (!obj) return;
  std::optional<std::string_view> v;
  if (obj->ptr != nullptr) v = HashFind(*obj, ctx.args[2]);
  if (!v) return ctx.reply->Null();
  ctx.reply->Bulk(*v);
}

void HMGet(ExecContext& ctx) {
  std::optional<ObjectRef> obj = ReadHash(ctx);
  if (!obj) return;
  ctx.reply->Array(ctx.args.size() - 2);
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    std::optional<std::string_view> v;
    if (obj->ptr != nullptr) v = HashFind(*obj, ctx.args[i]);
    if (v) {
      ctx.reply->Bulk(*v);
    } else {
      ctx.reply->Null();
    }
  }
}

enum ListWhat { kFields = 1, kValues = 2, kBoth = 3 };

// HGETALL (a map in RESP3), HKEYS, HVALS.
template <ListWhat what>
void ListHash(ExecContext& ctx) {
  std::optional<ObjectRef> obj = ReadHash(ctx);
  if (!obj) return;
  size_t n = obj->ptr == nullptr ? 0 : HashLength(*obj);
  if (what == kBoth) {
    ctx.reply->Map(n);
  } else {
    ctx.reply->Array(n);
  }
  if (n == 0) return;
  HashForEach(*obj, [&](std::string_view field, std::string_view value) {
    if (what & kFields) ctx.reply->Bulk(field);
    if (what & kValues) ctx.reply->Bulk(value);
  });
}

void HDel(ExecContext& ctx) {
  auto w = ctx.DbFor(ctx.args[1]).Write(ctx.args[1], ValueType::kHash, /*create=*/false);
  if (!w.ok()) return ReplyStatus(ctx.reply, w.status());
  if (!*w) return ctx.reply->Integer(0);
  ObjectRef obj = w->obj();
  int64_t deleted = 0;
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    if (HashDelete(&obj, ctx.args[i])) {
      ++deleted;
      if (HashLength(obj) == 0) break;  // the key goes with its last field
    }
  }
  w->set_obj(obj);
  if (deleted == 0) w->NoChange();
  ctx.reply->Integer(deleted);
}

void HLen(ExecContext& ctx) {
  std::optional<ObjectRef> obj = ReadHash(ctx);
  if (!obj) return;
  ctx.reply->Integer(obj->ptr == nullptr ? 0 : static_cast<int64_t>(HashLength(*obj)));
}

void HExists(ExecContext& ctx) {
  std::optional<ObjectRef> obj = ReadHash(ctx);
  if (!obj) return;
  ctx.reply->Integer(obj->ptr != nullptr && HashFind(*obj, ctx.args[2]) ? 1 : 0);
}

void HStrLen(ExecContext& ctx) {
  std::optional<ObjectRef> obj = ReadHash(ctx);
  if (!obj) return;
  std::optional<std::string_view> v;
  if (obj->ptr != nullptr) v = HashFind(*obj, ctx.args[2]);
  ctx.reply->Integer(v ? static_cast<int64_t>(v->size()) : 0);
}

void HIncrBy(ExecContext& ctx) {
  int64_t incr;
  if (!ArgToInt64(ctx.args[3], &incr, ctx.reply)) return;
  auto w = ctx.DbFor(ctx.args[1]).Write(ctx.args[1], ValueType::kHash, /*create=*/true);
  if (!w.ok()) return ReplyStatus(ctx.reply, w.status());
  ObjectRef obj = w->obj();
  int64_t value = 0;
  if (std::optional<std::string_view> old = HashFind(obj, ctx.args[2])) {
    if (!ParseInt64(*old, &value)) {
      w->NoChange();
      return ctx.reply->Error(kErrHashNotInteger);
    }
  }
  if ((incr < 0 && value < 0 && incr < LLONG_MIN - value) ||
      (incr > 0 && value > 0 && incr > LLONG_MAX - value)) {
    w->NoChange();
    return ReplyStatus(ctx.reply, OpStatus::kIncrOverflow);
  }
  value += incr;
  char buf[24];
  HashSet(&obj, ctx.args[2], std::string_view(buf, FormatInt64(value, buf)), LimitsOf(ctx));
  w->set_obj(obj);
  ctx.reply->Integer(value);
}

void HIncrByFloat(ExecContext& ctx) {
  long double incr;
  if (!ParseLongDouble(ctx.args[3], &incr)) return ReplyStatus(ctx.reply, OpStatus::kNotAFloat);
  if (std::isnan(incr) || std::isinf(incr)) return ctx.reply->Error(kErrIncrNanOrInf);
  auto w = ctx.DbFor(ctx.args[1]).Write(ctx.args[1], ValueType::kHash, /*create=*/true);
  if (!w.ok()) return ReplyStatus(ctx.reply, w.status());
  ObjectRef obj = w->obj();
  long double value = 0;
  if (std::optional<std::string_view> old = HashFind(obj, ctx.args[2])) {
    if (!ParseLongDouble(*old, &value)) {
      w->NoChange();
      return ctx.reply->Error(kErrHashNotFloat);
    }
  }
  value += incr;
  if (std::isnan(value) || std::isinf(value)) {
    w->NoChange();
    return ReplyStatus(ctx.reply, OpStatus::kIncrFloatNanOrInf);
  }
  std::string text = LongDoubleToHuman(value);
  HashSet(&obj, ctx.args[2], text, LimitsOf(ctx));
  w->set_obj(obj);
  ctx.reply->Bulk(text);
}

// One HRANDFIELD element: "field", or with values "field value" (RESP2, flat) / a pair
// (RESP3).
void ReplyRandomElement(ReplyBuilder* rb, const Pair& p, bool withvalues) {
  if (withvalues && rb->resp3()) rb->Array(2);
  rb->Bulk(p.first);
  if (withvalues) rb->Bulk(p.second);
}

void HRandFieldWithCount(ExecContext& ctx, int64_t l, bool withvalues) {
  std::optional<ObjectRef> found = ReadHash(ctx);
  if (!found) return;
  if (found->ptr == nullptr) return ctx.reply->Array(0);
  const ObjectRef& obj = *found;
  uint64_t size = HashLength(obj);
  bool unique = l >= 0;
  uint64_t count = unique ? static_cast<uint64_t>(l) : 0 - static_cast<uint64_t>(l);
  if (count == 0) return ctx.reply->Array(0);
  ReplyBuilder* rb = ctx.reply;
  Keyspace* ks = ctx.local;
  auto rand = [ks] { return ks->Random(); };
  bool flat_pairs = withvalues && !rb->resp3();

  // Repetitions allowed (or a single element): independent draws, in random order.
  if (!unique || count == 1) {
    rb->Array(flat_pairs ? count * 2 : count);
    if (obj.enc == Encoding::kListpack && count > 1) {
      // Index the small form once rather than walking it for every draw.
      std::vector<Pair> all;
      all.reserve(size);
      HashForEach(obj, [&](std::string_view f, std::string_view v) { all.emplace_back(f, v); });
      while (count-- > 0) ReplyRandomElement(rb, all[rand() % size], withvalues);
      return;
    }
    while (count-- > 0) ReplyRandomElement(rb, HashRandom(obj, rand), withvalues);
    return;
  }
  uint64_t reply_size = count < size ? count : size;
  rb->Array(flat_pairs ? reply_size * 2 : reply_size);
  // Asked for at least the whole hash: all of it, in the hash's order.
  if (count >= size) {
    HashForEach(obj, [&](std::string_view f, std::string_view v) {
      ReplyRandomElement(rb, Pair{f, v}, withvalues);
    });
    return;
  }
  // A listpack, or a large part of a table: one pass choosing each element with the
  // probability that leaves exactly `count` (selection sampling), in the hash's order as
  // Redis's listpack sampling does.
  if (obj.enc == Encoding::kListpack || count * 3 > size) {
    uint64_t left = size, need = count;
    HashForEach(obj, [&](std::string_view f, std::string_view v) {
      if (need > 0 && rand() % left < need) {
        ReplyRandomElement(rb, Pair{f, v}, withvalues);
        --need;
      }
      --left;
    });
    return;
  }
  // A few elements of a big table: random draws until `count` distinct ones.
  absl::flat_hash_set<std::string_view> seen;
  while (seen.size() < count) {
    Pair p = HashRandom(obj, rand);
    if (seen.insert(p.first).second) ReplyRandomElement(rb, p, withvalues);
  }
}

void HRandField(ExecContext& ctx) {
  if (ctx.args.size() >= 3) {
    int64_t l;
    if (!ArgToInt64(ctx.args[2], &l, ctx.reply)) return;
    if (l == LLONG_MIN) {
      return ctx.reply->Error(kErrRandCountRange);
    }
    if (ctx.args.size() > 4 ||
        (ctx.args.size() == 4 && !EqualsIgnoreCase(ctx.args[3], "withvalues")))
      return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
    bool withvalues = ctx.args.size() == 4;
    if (withvalues && (l < -LLONG_MAX / 2 || l > LLONG_MAX / 2))
      return ReplyStatus(ctx.reply, OpStatus::kOutOfRange);
    return HRandFieldWithCount(ctx, l, withvalues);
  }
  std::optional<ObjectRef> obj = ReadHash(ctx);
  if (!obj) return;
  if (obj->ptr == nullptr) return ctx.reply->Null();
  Keyspace* ks = ctx.local;
  ctx.reply->Bulk(HashRandom(*obj, [ks] { return ks->Random(); }).first);
}

void HScan(ExecContext& ctx) {
  uint64_t cursor;
  if (!ParseScanCursor(ctx.args[2], &cursor)) return ctx.reply->Error(kErrInvalidCursor);
  std::optional<ObjectRef> obj = ReadHash(ctx);
  if (!obj) return;
  if (obj->ptr == nullptr) {
    ctx.reply->Array(2);
    ctx.reply->Bulk("0");
    return ctx.reply->Array(0);
  }
  int64_t count = 10;
  std::string_view pattern;
  bool has_pattern = false;
  for (size_t j = 3; j < ctx.args.size(); ++j) {
    std::string_view opt = ctx.args[j];
    bool more = j + 1 < ctx.args.size();
    if (EqualsIgnoreCase(opt, "count") && more) {
      if (!ArgToInt64(ctx.args[++j], &count, ctx.reply)) return;
      if (count < 1) return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
    } else if (EqualsIgnoreCase(opt, "match") && more) {
      pattern = ctx.args[++j];
      has_pattern = pattern != "*";
    } else {
      return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
    }
  }
  // Views into the hash stay valid: nothing changes it before the reply is written.
  std::vector<Pair> out;
  uint64_t next = HashScan(*obj, cursor, count, [&](std::string_view f, std::string_view v) {
    if (!has_pattern || GlobMatch(pattern, f)) out.emplace_back(f, v);
  });
  ctx.reply->Array(2);
  ctx.reply->Bulk(StrCat(next));
  ctx.reply->Array(out.size() * 2);
  for (const Pair& p : out) {
    ctx.reply->Bulk(p.first);
    ctx.reply->Bulk(p.second);
  }
}

CommandDoc Doc(std::string_view summary, std::string_view since, std::string_view complexity,
               std::string_view args) {
  return CommandDoc{summary, since, "hash", complexity, args};
}

}  // namespace

std::vector<CommandSpec> HashFamily() {
  constexpr uint32_t kWriteFast = kCmdWrite | kCmdDenyOom | kCmdFast;
  constexpr uint32_t kReadFast = kCmdReadOnly | kCmdFast;
  return {
      {"hset", -4, kWriteFast, "@write @hash @fast", 1, 1, 1, Route::kKey, HSet, nullptr, nullptr,
       nullptr,
       Doc("Set the string value of a hash field", "2.0.0",
           "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the "
           "command is called with multiple field/value pairs.",
           "key:key{key_flags=RW+update} field_value:block(field:string value:string)...")},
      {"hsetnx", 4, kWriteFast, "@write @hash @fast", 1, 1, 1, Route::kKey, HSetNx, nullptr,
       nullptr, nullptr,
       Doc("Set the value of a hash field, only if the field does not exist", "2.0.0", "O(1)",
           "key:key{key_flags=RW+insert} field:string value:string")},
      {"hget", 3, kReadFast | kCmdCoalescable, "@read @hash @fast", 1, 1, 1, Route::kKey, HGet,
       nullptr, nullptr, nullptr,
       Doc("Get the value of a hash field", "2.0.0", "O(1)",
           "key:key{key_flags=RO+access} field:string")},
      {"hmget", -3, kReadFast | kCmdCoalescable, "@read @hash @fast", 1, 1, 1, Route::kKey, HMGet,
       nullptr, nullptr, nullptr,
       Doc("Get the values of all the given hash fields", "2.0.0",
           "O(N) where N is the number of fields being requested.",
           "key:key{key_flags=RO+access} field:string...")},
      {"hmset", -4, kWriteFast, "@write @hash @fast", 1, 1, 1, Route::kKey, HMSet, nullptr, nullptr,
       nullptr,
       Doc("Set multiple hash fields to multiple values", "2.0.0",
           "O(N) where N is the number of fields being set.",
           "key:key{key_flags=RW+update} field_value:block(field:string value:string)...")},
      {"hgetall", 2, kCmdReadOnly | kCmdCoalescable, "@read @hash @slow", 1, 1, 1, Route::kKey,
       ListHash<kBoth>, nullptr, nullptr, nullptr,
       Doc("Get all the fields and values in a hash", "2.0.0",
           "O(N) where N is the size of the hash.", "key:key{key_flags=RO+access}")},
      {"hdel", -3, kCmdWrite | kCmdFast, "@write @hash @fast", 1, 1, 1, Route::kKey, HDel, nullptr,
       nullptr, nullptr,
       Doc("Delete one or more hash fields", "2.0.0",
           "O(N) where N is the number of fields to be removed.",
           "key:key{key_flags=RW+delete} field:string...")},
      {"hexists", 3, kReadFast | kCmdCoalescable, "@read @hash @fast", 1, 1, 1, Route::kKey,
       HExists, nullptr, nullptr, nullptr,
       Doc("Determine if a hash field exists", "2.0.0", "O(1)",
           "key:key{key_flags=RO} field:string")},
      {"hlen", 2, kReadFast | kCmdCoalescable, "@read @hash @fast", 1, 1, 1, Route::kKey, HLen,
       nullptr, nullptr, nullptr,
       Doc("Get the number of fields in a hash", "2.0.0", "O(1)", "key:key{key_flags=RO}")},
      {"hstrlen", 3, kReadFast | kCmdCoalescable, "@read @hash @fast", 1, 1, 1, Route::kKey,
       HStrLen, nullptr, nullptr, nullptr,
       Doc("Get the length of the value of a hash field", "3.2.0", "O(1)",
           "key:key{key_flags=RO} field:string")},
      {"hkeys", 2, kCmdReadOnly | kCmdCoalescable, "@read @hash @slow", 1, 1, 1, Route::kKey,
       ListHash<kFields>, nullptr, nullptr, nullptr,
       Doc("Get all the fields in a hash", "2.0.0", "O(N) where N is the size of the hash.",
           "key:key{key_flags=RO+access}")},
      {"hvals", 2, kCmdReadOnly | kCmdCoalescable, "@read @hash @slow", 1, 1, 1, Route::kKey,
       ListHash<kValues>, nullptr, nullptr, nullptr,
       Doc("Get all the values in a hash", "2.0.0", "O(N) where N is the size of the hash.",
           "key:key{key_flags=RO+access}")},
      {"hincrby", 4, kWriteFast, "@write @hash @fast", 1, 1, 1, Route::kKey, HIncrBy, nullptr,
       nullptr, nullptr,
       Doc("Increment the integer value of a hash field by the given number", "2.0.0", "O(1)",
           "key:key{key_flags=RW+access+update} field:string increment:integer")},
      {"hincrbyfloat", 4, kWriteFast, "@write @hash @fast", 1, 1, 1, Route::kKey, HIncrByFloat,
       nullptr, nullptr, nullptr,
       Doc("Increment the float value of a hash field by the given amount", "2.6.0", "O(1)",
           "key:key{key_flags=RW+access+update} field:string increment:double")},
      {"hrandfield", -2, kCmdReadOnly, "@read @hash @slow", 1, 1, 1, Route::kKey, HRandField,
       nullptr, nullptr, nullptr,
       Doc("Get one or multiple random fields from a hash", "6.2.0",
           "O(N) where N is the number of fields returned",
           "key:key{key_flags=RO+access} [options:block(count:integer "
           "[withvalues:pure-token:WITHVALUES])]")},
      {"hscan", -3, kCmdReadOnly, "@read @hash @slow", 1, 1, 1, Route::kKey, HScan, nullptr,
       nullptr, nullptr,
       Doc("Incrementally iterate hash fields and associated values", "2.8.0",
           "O(1) for every call. O(N) for a complete iteration, including enough command calls "
           "for the cursor to return back to 0. N is the number of elements inside the "
           "collection..",
           "key:key{key_flags=RO+access} cursor:integer [pattern:pattern:MATCH] "
           "[count:integer:COUNT]")},
  };
}

}  // namespace omnibus
