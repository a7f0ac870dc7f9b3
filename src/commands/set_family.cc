// Set commands: SADD SREM SMEMBERS SISMEMBER SMISMEMBER SCARD SPOP SRANDMEMBER SINTER SUNION
// SDIFF SINTERCARD SINTERSTORE SUNIONSTORE SDIFFSTORE SMOVE SSCAN, as Redis 7.0 answers them.
// Runs on: shard threads (the multi-key commands parked over every shard they touch, so each
// key is reached through ctx.DbFor(key) and the command is atomic across shards).
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "omnibus/base/str_cat.h"
#include "omnibus/base/strings.h"
#include "omnibus/commands/command_table.h"
#include "omnibus/store/db.h"
#include "omnibus/store/set.h"

namespace omnibus {
namespace {

using Args = std::span<const std::string_view>;

// SRANDMEMBER with a negative count builds the whole reply in memory; Redis 7.0 would try to
// (and die on -LONG_MAX). Above this many elements we answer an error instead.
constexpr int64_t kMaxRandomReply = int64_t{1} << 24;

// Redis's SPOP_MOVE_STRATEGY_MUL / SRANDMEMBER_SUB_STRATEGY_MUL: when the count is a large
// part of the set, work on a copy of all members instead of drawing one at a time.
constexpr uint64_t kPopWholeMul = 5;
constexpr uint64_t kRandWholeMul = 3;

SetLimits Limits(const ExecContext& ctx) { return SetLimits::From(ctx.limits()); }

auto RandFn(const ExecContext& ctx) {
  return [local = ctx.local]() { return local->Random(); };
}

std::vector<std::string> AllMembers(const ObjectRef& obj) {
  std::vector<std::string> out;
  out.reserve(SetLength(obj));
  SetForEach(obj, [&](std::string_view m) { out.emplace_back(m); });
  return out;
}

// Moves `n` uniformly chosen elements of `v` to its front (partial Fisher-Yates).
void ChooseFront(std::vector<std::string>* v, size_t n, const ExecContext& ctx) {
  for (size_t i = 0; i < n && i + 1 < v->size(); ++i) {
    size_t j = i + static_cast<size_t>(ctx.local->Random() % (v->size() - i));
    std::swap((*v)[i], (*v)[j]);
  }
}

void ReplyMembers(ReplyBuilder* rb, const ObjectRef& obj) {
  rb->Set(SetLength(obj));
  SetForEach(obj, [rb](std::string_view m) { rb->Bulk(m); });
}

// ---- Single-key commands -----------------------------------------------------------------

void SAdd(ExecContext& ctx) {
  auto w = ctx.DbFor(ctx.args[1]).Write(ctx.args[1], ValueType::kSet, /*create=*/true);
  if (!w.ok()) return ReplyStatus(ctx.reply, w.status());
  SetLimits limits = Limits(ctx);
  ObjectRef obj = w->obj();
  int64_t added = 0;
  for (size_t i = 2; i < ctx.args.size(); ++i) added += SetAdd(&obj, ctx.args[i], limits);
  w->set_obj(obj);
  if (added == 0) {
    w->NoChange();
  } else {
    w->Notify(kNotifySet, "sadd");
  }
  ctx.reply->Integer(added);
}

void SRem(ExecContext& ctx) {
  auto w = ctx.DbFor(ctx.args[1]).Write(ctx.args[1], ValueType::kSet, /*create=*/false);
  if (!w.ok()) return ReplyStatus(ctx.reply, w.status());
  if (!*w) return ctx.reply->Integer(0);
  ObjectRef obj = w->obj();
  int64_t removed = 0;
  for (size_t i = 2; i < ctx.args.size() && SetLength(obj) > 0; ++i) {
    removed += SetRemove(&obj, ctx.args[i]);
  }
  w->set_obj(obj);
  if (removed == 0) {
    w->NoChange();
  } else {
    w->Notify(kNotifySet, "srem");
  }
  ctx.reply->Integer(removed);
}

// The set at `key` for reading: nullopt after replying WRONGTYPE; a null ptr when missing.
std::optional<ObjectRef> ReadSet(ExecContext& ctx, std::string_view key) {
  auto e = ctx.DbFor(key).FindTyped(key, ValueType::kSet);
  if (!e.ok()) {
    ReplyStatus(ctx.reply, e.status());
    return std::nullopt;
  }
  if (!*e) return ObjectRef{ValueType::kSet, Encoding::kIntset, nullptr};
  return (*e)->object();
}

void SMembers(ExecContext& ctx) {
  auto s = ReadSet(ctx, ctx.args[1]);
  if (!s) return;
  if (s->ptr == nullptr) return ctx.reply->Set(0);
  ReplyMembers(ctx.reply, *s);
}

void SIsMember(ExecContext& ctx) {
  auto s = ReadSet(ctx, ctx.args[1]);
  if (!s) return;
  ctx.reply->Integer(s->ptr != nullptr && SetContains(*s, ctx.args[2]));
}

void SMIsMember(ExecContext& ctx) {
  auto s = ReadSet(ctx, ctx.args[1]);
  if (!s) return;
  ctx.reply->Array(ctx.args.size() - 2);
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    ctx.reply->Integer(s->ptr != nullptr && SetContains(*s, ctx.args[i]));
  }
}

void SCard(ExecContext& ctx) {
  auto s = ReadSet(ctx, ctx.args[1]);
  if (!s) return;
  ctx.reply->Integer(s->ptr == nullptr ? 0 : static_cast<int64_t>(SetLength(*s)));
}

// A set holding `members` (distinct), in the smallest form that fits them.
ObjectRef BuildSet(const std::vector<std::string>& members, size_t from, const SetLimits& limits) {
  ObjectRef obj = NewSetObject();
  for (size_t i = from; i < members.size(); ++i) SetAdd(&obj, members[i], limits);
  return obj;
}

void SPopWithCount(ExecContext& ctx) {
  ReplyBuilder* rb = ctx.reply;
  int64_t count;
  if (!ParseInt64(ctx.args[2], &count) || count < 0) {
    return rb->Error("ERR value is out of range, must be positive");
  }
  auto w = ctx.DbFor(ctx.args[1]).Write(ctx.args[1], ValueType::kSet, /*create=*/false);
  if (!w.ok()) return ReplyStatus(rb, w.status());
  if (!*w || count == 0) {
    if (*w) w->NoChange();
    return rb->Set(0);
  }
  ObjectRef obj = w->obj();
  uint64_t size = SetLength(obj);
  uint64_t n = static_cast<uint64_t>(count);
  if (n >= size) {
    // The whole set, in its own order (ascending for an intset, as Redis answers); the key
    // goes with its last member.
    ReplyMembers(rb, obj);
    FreeSet(obj);
    w->set_obj(NewSetObject());
    w->Notify(kNotifySet, "spop");
    return;
  }
  rb->Set(n);
  if (n * kPopWholeMul > size) {
    // Most of the set goes: choose the members that stay and rebuild from them, which also
    // gives the rest the smallest form that fits.
    std::vector<std::string> all = AllMembers(obj);
    size_t keep = static_cast<size_t>(size - n);
    ChooseFront(&all, keep, ctx);
    for (size_t i = keep; i < all.size(); ++i) rb->Bulk(all[i]);
    all.resize(keep);
    FreeSet(obj);
    w->set_obj(BuildSet(all, 0, Limits(ctx)));
    w->Notify(kNotifySet, "spop");
    return;
  }
  auto rand = RandFn(ctx);
  for (uint64_t i = 0; i < n; ++i) {
    std::string m = SetRandomMember(obj, rand);
    SetRemove(&obj, m);
    rb->Bulk(m);
  }
  w->set_obj(obj);
  w->Notify(kNotifySet, "spop");
}

void SPop(ExecContext& ctx) {
  if (ctx.args.size() == 3) return SPopWithCount(ctx);
  if (ctx.args.size() > 3) return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
  auto w = ctx.DbFor(ctx.args[1]).Write(ctx.args[1], ValueType::kSet, /*create=*/false);
  if (!w.ok()) return ReplyStatus(ctx.reply, w.status());
  if (!*w) return ctx.reply->Null();
  ObjectRef obj = w->obj();
  std::string m = SetRandomMember(obj, RandFn(ctx));
  SetRemove(&obj, m);
  w->set_obj(obj);
  w->Notify(kNotifySet, "spop");
  ctx.reply->Bulk(m);
}

void SRandMemberWithCount(ExecContext& ctx) {
  ReplyBuilder* rb = ctx.reply;
  int64_t count;
  if (!ArgToInt64(ctx.args[2], &count, rb)) return;
  if (count == INT64_MIN) {
    return rb->Error(
        "ERR value is out of range, value must between -9223372036854775807 and "
        "9223372036854775807");
  }
  auto s = ReadSet(ctx, ctx.args[1]);
  if (!s) return;
  if (s->ptr == nullptr || count == 0) return rb->Array(0);
  const ObjectRef& obj = *s;
  uint64_t size = SetLength(obj);
  if (count < 0) {
    // May repeat: every draw independent.
    if (-count > kMaxRandomReply) return rb->Error("ERR value is out of range");
    uint64_t n = static_cast<uint64_t>(-count);
    rb->Array(n);
    if (obj.enc == Encoding::kHashtable) {
      auto rand = RandFn(ctx);
      for (uint64_t i = 0; i < n; ++i) rb->Bulk(SetRandomMember(obj, rand));
      return;
    }
    std::vector<std::string> all = AllMembers(obj);
    for (uint64_t i = 0; i < n; ++i) rb->Bulk(all[ctx.local->Random() % all.size()]);
    return;
  }
  uint64_t n = static_cast<uint64_t>(count);
  if (n >= size) {
    rb->Array(size);
    SetForEach(obj, [rb](std::string_view m) { rb->Bulk(m); });
    return;
  }
  rb->Array(n);
  if (obj.enc != Encoding::kHashtable || n * kRandWholeMul > size) {
    std::vector<std::string> all = AllMembers(obj);
    ChooseFront(&all, static_cast<size_t>(n), ctx);
    for (uint64_t i = 0; i < n; ++i) rb->Bulk(all[i]);
    return;
  }
  // A few members of a large set: draw until `n` distinct ones came up.
  absl::flat_hash_set<std::string> picked;
  auto rand = RandFn(ctx);
  while (picked.size() < n) {
    std::string m = SetRandomMember(obj, rand);
    if (picked.insert(m).second) rb->Bulk(m);
  }
}

void SRandMember(ExecContext& ctx) {
  if (ctx.args.size() == 3) return SRandMemberWithCount(ctx);
  if (ctx.args.size() > 3) return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
  auto s = ReadSet(ctx, ctx.args[1]);
  if (!s) return;
  if (s->ptr == nullptr) return ctx.reply->Null();
  ctx.reply->Bulk(SetRandomMember(*s, RandFn(ctx)));
}

// ---- SMOVE --------------------------------------------------------------------------------

void SMove(ExecContext& ctx) {
  std::string_view src = ctx.args[1], dst = ctx.args[2], member = ctx.args[3];
  ReplyBuilder* rb = ctx.reply;
  // Redis 7.0's order: a missing source answers 0 whatever the destination holds; then
  // either key of another type is WRONGTYPE.
  Db& sdb = ctx.DbFor(src);
  Db& ddb = ctx.DbFor(dst);
  {
    Db::Entry se = sdb.Find(src);
    if (!se) return rb->Integer(0);
    if (se->type() != ValueType::kSet) return ReplyStatus(rb, OpStatus::kWrongType);
    if (src == dst) {
      // Never two writes on one key: moving within one set changes nothing.
      return rb->Integer(SetContains(se->object(), member));
    }
  }
  {
    Db::Entry de = ddb.Find(dst);
    if (de && de->type() != ValueType::kSet) return ReplyStatus(rb, OpStatus::kWrongType);
  }
  {
    auto w = sdb.Write(src, ValueType::kSet, /*create=*/false);
    ObjectRef obj = w->obj();
    bool removed = SetRemove(&obj, member);
    w->set_obj(obj);
    if (!removed) {
      w->NoChange();
      return rb->Integer(0);
    }
    w->Notify(kNotifySet, "srem");
  }  // the source's event (or its deletion) happens here, before the destination changes
  auto w = ddb.Write(dst, ValueType::kSet, /*create=*/true);
  ObjectRef obj = w->obj();
  if (SetAdd(&obj, member, Limits(ctx))) {
    w->Notify(kNotifySet, "sadd");
  } else {
    w->NoChange();
  }
  w->set_obj(obj);
  rb->Integer(1);
}

// ---- SINTER / SUNION / SDIFF and their STORE and CARD forms -------------------------------

// Looks every key up (Redis 7.0 checks all of them, so a missing key before a string still
// answers WRONGTYPE). A missing key gives a null ptr. False after replying WRONGTYPE.
bool LoadSets(ExecContext& ctx, Args keys, std::vector<ObjectRef>* out) {
  out->clear();
  for (std::string_view key : keys) {
    auto s = ReadSet(ctx, key);
    if (!s) return false;
    out->push_back(*s);
  }
  return true;
}

// Members common to all `sets` (none missing), in the order of the smallest set; stops after
// `limit` members when limit > 0.
std::vector<std::string> Intersect(std::vector<ObjectRef> sets, uint64_t limit, bool* truncated) {
  std::stable_sort(sets.begin(), sets.end(), [](const ObjectRef& a, const ObjectRef& b) {
    return SetLength(a) < SetLength(b);
  });
  std::vector<std::string> out;
  SetForEach(sets[0], [&](std::string_view m) {
    if (limit > 0 && out.size() >= limit) return;
    for (size_t i = 1; i < sets.size(); ++i) {
      if (sets[i].ptr != sets[0].ptr && !SetContains(sets[i], m)) return;
    }
    out.emplace_back(m);
  });
  if (truncated != nullptr) *truncated = limit > 0 && out.size() >= limit;
  return out;
}

enum class SetOp { kUnion, kDiff };

// SUNION / SDIFF into a new set, built as Redis builds it (an intset that grows into the larger
// forms), so an all-integer result answers in ascending order like 7.0.
ObjectRef UnionDiff(const std::vector<ObjectRef>& sets, SetOp op, const SetLimits& limits) {
  ObjectRef result = NewSetObject();
  if (op == SetOp::kUnion) {
    for (const ObjectRef& s : sets) {
      if (s.ptr != nullptr) SetForEach(s, [&](std::string_view m) { SetAdd(&result, m, limits); });
    }
    return result;
  }
  if (sets[0].ptr == nullptr) return result;
  SetForEach(sets[0], [&](std::string_view m) {
    for (size_t i = 1; i < sets.size(); ++i) {
      if (sets[i].ptr != nullptr && SetContains(sets[i], m)) return;
    }
    SetAdd(&result, m, limits);
  });
  return result;
}

bool AnyMissing(const std::vector<ObjectRef>& sets) {
  return std::any_of(sets.begin(), sets.end(), [](const ObjectRef& s) { return s.ptr == nullptr; });
}

void SInter(ExecContext& ctx) {
  std::vector<ObjectRef> sets;
  if (!LoadSets(ctx, ctx.args.subspan(1), &sets)) return;
  if (AnyMissing(sets)) return ctx.reply->Set(0);
  std::vector<std::string> members = Intersect(std::move(sets), 0, nullptr);
  ctx.reply->Set(members.size());
  for (const std::string& m : members) ctx.reply->Bulk(m);
}

void SInterStore(ExecContext& ctx) {
  std::string_view dst = ctx.args[1];
  std::vector<ObjectRef> sets;
  ctx.SetReadLookups(true);  // the sources are read (keymiss), the destination written
  bool loaded = LoadSets(ctx, ctx.args.subspan(2), &sets);
  ctx.SetReadLookups(false);
  if (!loaded) return;
  ObjectRef result = NewSetObject();
  if (!AnyMissing(sets)) {
    SetLimits limits = Limits(ctx);
    for (const std::string& m : Intersect(std::move(sets), 0, nullptr)) {
      SetAdd(&result, m, limits);
    }
  }
  int64_t n = static_cast<int64_t>(SetLength(result));
  // An empty result deletes the destination.
  ctx.DbFor(dst).StoreObjectNotify(dst, result, kNotifySet, "sinterstore");
  ctx.reply->Integer(n);
}

void SInterCardKeys(Args args, std::vector<int>* out) { KeysAfterCount(args, 1, false, out); }

void SInterCard(ExecContext& ctx) {
  ReplyBuilder* rb = ctx.reply;
  int64_t numkeys;
  if (!ParseInt64(ctx.args[1], &numkeys) || numkeys < 1) {
    return rb->Error("ERR numkeys should be greater than 0");
  }
  if (numkeys > static_cast<int64_t>(ctx.args.size()) - 2) {
    return rb->Error("ERR Number of keys can't be greater than number of args");
  }
  uint64_t limit = 0;
  for (size_t i = 2 + static_cast<size_t>(numkeys); i < ctx.args.size(); ++i) {
    if (EqualsIgnoreCase(ctx.args[i], "LIMIT") && i + 1 < ctx.args.size()) {
      int64_t l;
      if (!ParseInt64(ctx.args[i + 1], &l) || l < 0)
        return rb->Error("ERR LIMIT can't be negative");
      limit = static_cast<uint64_t>(l);
      ++i;
    } else {
      return ReplyStatus(rb, OpStatus::kSyntaxError);
    }
  }
  std::vector<ObjectRef> sets;
  if (!LoadSets(ctx, ctx.args.subspan(2, static_cast<size_t>(numkeys)), &sets)) return;
  if (AnyMissing(sets)) return rb->Integer(0);
  rb->Integer(static_cast<int64_t>(Intersect(std::move(sets), limit, nullptr).size()));
}

template <SetOp kOp>
void SUnionDiff(ExecContext& ctx) {
  std::vector<ObjectRef> sets;
  if (!LoadSets(ctx, ctx.args.subspan(1), &sets)) return;
  ObjectRef result = UnionDiff(sets, kOp, Limits(ctx));
  ReplyMembers(ctx.reply, result);
  FreeSet(result);
}

template <SetOp kOp>
void SUnionDiffStore(ExecContext& ctx) {
  std::string_view dst = ctx.args[1];
  std::vector<ObjectRef> sets;
  ctx.SetReadLookups(true);  // the sources are read (keymiss), the destination written
  bool loaded = LoadSets(ctx, ctx.args.subspan(2), &sets);
  ctx.SetReadLookups(false);
  if (!loaded) return;
  ObjectRef result = UnionDiff(sets, kOp, Limits(ctx));
  int64_t n = static_cast<int64_t>(SetLength(result));
  // An empty result deletes the destination.
  ctx.DbFor(dst).StoreObjectNotify(dst, result, kNotifySet,
                                   kOp == SetOp::kUnion ? "sunionstore" : "sdiffstore");
  ctx.reply->Integer(n);
}

// ---- SSCAN --------------------------------------------------------------------------------

void SScan(ExecContext& ctx) {
  ReplyBuilder* rb = ctx.reply;
  uint64_t cursor;
  if (!ParseScanCursor(ctx.args[2], &cursor)) return rb->Error("ERR invalid cursor");
  auto s = ReadSet(ctx, ctx.args[1]);
  if (!s) return;
  if (s->ptr == nullptr) {
    rb->Array(2);
    rb->Bulk("0");
    return rb->Array(0);
  }
  int64_t count = 10;
  std::optional<std::string_view> pattern;
  for (size_t i = 3; i < ctx.args.size(); i += 2) {
    bool has_value = i + 1 < ctx.args.size();
    if (EqualsIgnoreCase(ctx.args[i], "COUNT") && has_value) {
      if (!ArgToInt64(ctx.args[i + 1], &count, rb)) return;
      if (count < 1) return ReplyStatus(rb, OpStatus::kSyntaxError);
    } else if (EqualsIgnoreCase(ctx.args[i], "MATCH") && has_value) {
      pattern = ctx.args[i + 1];
      if (*pattern == "*") pattern.reset();
    } else {
      return ReplyStatus(rb, OpStatus::kSyntaxError);
    }
  }
  std::vector<std::string> found;
  uint64_t next = SetScan(*s, cursor, static_cast<size_t>(count), [&](std::string_view m) {
    if (!pattern || GlobMatch(*pattern, m)) found.emplace_back(m);
  });
  char buf[24];
  rb->Array(2);
  rb->Bulk({buf, FormatUint64(next, buf)});
  rb->Array(found.size());
  for (const std::string& m : found) rb->Bulk(m);
}

constexpr uint32_t kWriteOom = kCmdWrite | kCmdDenyOom;
constexpr uint32_t kRoFast = kCmdReadOnly | kCmdFast;

}  // namespace

std::vector<CommandSpec> SetFamily() {
  auto doc = [](std::string_view summary, std::string_view since, std::string_view complexity,
                std::string_view args) {
    return CommandDoc{summary, since, "set", complexity, args};
  };
  constexpr std::string_view kInterComplexity =
      "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of "
      "sets.";
  constexpr std::string_view kUnionComplexity =
      "O(N) where N is the total number of elements in all given sets.";
  CommandSpec sintercard{"sintercard",
                         -3,
                         kCmdReadOnly,
                         "@read @set @slow",
                         0,
                         0,
                         0,
                         Route::kParked,
                         SInterCard,
                         nullptr,
                         nullptr,
                         nullptr,
                         doc("Intersect multiple sets and return the cardinality of the result",
                             "7.0.0", kInterComplexity,
                             "numkeys:integer key:key{key_flags=RO+access}... "
                             "[limit:integer:LIMIT]")};
  sintercard.keys_fn = SInterCardKeys;
  return {
      {"sadd", -3, kWriteOom | kCmdFast, "@write @set @fast", 1, 1, 1, Route::kKey, SAdd, nullptr,
       nullptr, nullptr,
       doc("Add one or more members to a set", "1.0.0",
           "O(1) for each element added, so O(N) to add N elements when the command is called "
           "with multiple arguments.",
           "key:key{key_flags=RW+insert} member:string...")},
      {"srem", -3, kCmdWrite | kCmdFast, "@write @set @fast", 1, 1, 1, Route::kKey, SRem, nullptr,
       nullptr, nullptr,
       doc("Remove one or more members from a set", "1.0.0",
           "O(N) where N is the number of members to be removed.",
           "key:key{key_flags=RW+delete} member:string...")},
      {"smembers", 2, kCmdReadOnly | kCmdCoalescable, "@read @set @slow", 1, 1, 1, Route::kKey,
       SMembers, nullptr, nullptr, nullptr,
       doc("Get all the members in a set", "1.0.0", "O(N) where N is the set cardinality.",
           "key:key{key_flags=RO+access}")},
      {"sismember", 3, kRoFast | kCmdCoalescable, "@read @set @fast", 1, 1, 1, Route::kKey,
       SIsMember, nullptr, nullptr, nullptr,
       doc("Determine if a given value is a member of a set", "1.0.0", "O(1)",
           "key:key{key_flags=RO} member:string")},
      {"smismember", -3, kRoFast | kCmdCoalescable, "@read @set @fast", 1, 1, 1, Route::kKey,
       SMIsMember, nullptr, nullptr, nullptr,
       doc("Returns the membership associated with the given elements for a set", "6.2.0",
           "O(N) where N is the number of elements being checked for membership",
           "key:key{key_flags=RO+access} member:string...")},
      {"scard", 2, kRoFast | kCmdCoalescable, "@read @set @fast", 1, 1, 1, Route::kKey, SCard,
       nullptr, nullptr, nullptr,
       doc("Get the number of members in a set", "1.0.0", "O(1)", "key:key{key_flags=RO}")},
      {"spop", -2, kCmdWrite | kCmdFast, "@write @set @fast", 1, 1, 1, Route::kKey, SPop, nullptr,
       nullptr, nullptr,
       doc("Remove and return one or multiple random members from a set", "1.0.0",
           "Without the count argument O(1), otherwise O(N) where N is the value of the passed "
           "count.",
           "key:key{key_flags=RW+access+delete} [count:integer{since=3.2.0}]")},
      {"srandmember", -2, kCmdReadOnly, "@read @set @slow", 1, 1, 1, Route::kKey, SRandMember,
       nullptr, nullptr, nullptr,
       doc("Get one or multiple random members from a set", "1.0.0",
           "Without the count argument O(1), otherwise O(N) where N is the absolute value of the "
           "passed count.",
           "key:key{key_flags=RO+access} [count:integer{since=2.6.0}]")},
      {"sinter", -2, kCmdReadOnly, "@read @set @slow", 1, -1, 1, Route::kParked, SInter, nullptr,
       nullptr, nullptr,
       doc("Intersect multiple sets", "1.0.0", kInterComplexity,
           "key:key{key_flags=RO+access}...")},
      {"sunion", -2, kCmdReadOnly, "@read @set @slow", 1, -1, 1, Route::kParked,
       SUnionDiff<SetOp::kUnion>, nullptr, nullptr, nullptr,
       doc("Add multiple sets", "1.0.0", kUnionComplexity, "key:key{key_flags=RO+access}...")},
      {"sdiff", -2, kCmdReadOnly, "@read @set @slow", 1, -1, 1, Route::kParked,
       SUnionDiff<SetOp::kDiff>, nullptr, nullptr, nullptr,
       doc("Subtract multiple sets", "1.0.0", kUnionComplexity, "key:key{key_flags=RO+access}...")},
      sintercard,
      {"sinterstore", -3, kWriteOom, "@write @set @slow", 1, -1, 1, Route::kParked, SInterStore,
       nullptr, nullptr, nullptr,
       doc("Intersect multiple sets and store the resulting set in a key", "1.0.0",
           kInterComplexity,
           "destination:key{key_flags=RW+update} key:key{key_flags=RO+access}...")},
      {"sunionstore", -3, kWriteOom, "@write @set @slow", 1, -1, 1, Route::kParked,
       SUnionDiffStore<SetOp::kUnion>, nullptr, nullptr, nullptr,
       doc("Add multiple sets and store the resulting set in a key", "1.0.0", kUnionComplexity,
           "destination:key{key_flags=OW+update} key:key{key_flags=RO+access}...")},
      {"sdiffstore", -3, kWriteOom, "@write @set @slow", 1, -1, 1, Route::kParked,
       SUnionDiffStore<SetOp::kDiff>, nullptr, nullptr, nullptr,
       doc("Subtract multiple sets and store the resulting set in a key", "1.0.0", kUnionComplexity,
           "destination:key{key_flags=OW+update} key:key{key_flags=RO+access}...")},
      {"smove", 4, kCmdWrite | kCmdFast, "@write @set @fast", 1, 2, 1, Route::kParked, SMove,
       nullptr, nullptr, nullptr,
       doc("Move a member from one set to another", "1.0.0", "O(1)",
           "source:key{key_flags=RW+access+delete} destination:key{key_flags=RW+insert} "
           "member:string")},
      {"sscan", -3, kCmdReadOnly, "@read @set @slow", 1, 1, 1, Route::kKey, SScan, nullptr, nullptr,
       nullptr,
       doc("Incrementally iterate Set elements", "2.8.0",
           "O(1) for every call. O(N) for a complete iteration, including enough command calls "
           "for the cursor to return back to 0. N is the number of elements inside the "
           "collection..",
           "key:key{key_flags=RO+access} cursor:integer [pattern:pattern:MATCH] "
           "[count:integer:COUNT]")},
  };
}

}  // namespace omnibus
