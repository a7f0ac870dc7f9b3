// Sorted set commands: ZADD ZINCRBY ZREM ZCARD ZSCORE ZMSCORE ZRANK ZREVRANK ZCOUNT ZLEXCOUNT
// ZRANGE ZRANGESTORE ZRANGEBYSCORE ZREVRANGEBYSCORE ZRANGEBYLEX ZREVRANGEBYLEX ZREVRANGE
// ZREMRANGEBYRANK ZREMRANGEBYSCORE ZREMRANGEBYLEX ZPOPMIN ZPOPMAX ZMPOP ZRANDMEMBER ZUNION
// ZINTER ZDIFF ZINTERCARD ZUNIONSTORE ZINTERSTORE ZDIFFSTORE ZSCAN, as Redis 7.0 answers them.
// Runs on: shard threads (multi-key commands parked over their shards, §6).
#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "omnibus/base/str_cat.h"
#include "omnibus/base/strings.h"
#include "omnibus/commands/command_table.h"
#include "omnibus/store/set.h"
#include "omnibus/store/zset.h"

namespace omnibus {
namespace {

using Args = std::span<const std::string_view>;

constexpr uint32_t kWriteOom = kCmdWrite | kCmdDenyOom;

bool IsOpt(std::string_view arg, std::string_view opt) { return EqualsIgnoreCase(arg, opt); }

void ReplyError(ReplyBuilder* rb, std::string_view msg) { rb->Error(StrCat("ERR ", msg)); }

// Redis's getDoubleFromObject: strtod over the whole argument, no leading space, no NaN, no
// overflow (a denormal underflow is accepted, as strtod returns it).
bool ParseScore(std::string_view arg, double* out) {
  if (arg.empty() || isspace(static_cast<unsigned char>(arg[0]))) return false;
  std::string buf(arg);
  char* end;
  errno = 0;
  double v = strtod(buf.c_str(), &end);
  if (static_cast<size_t>(end - buf.c_str()) != buf.size()) return false;
  if (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || v == 0)) return false;
  if (std::isnan(v)) return false;
  *out = v;
  return true;
}

// ---- Ranges -----------------------------------------------------------------------------

struct ScoreRange {
  double min = 0, max = 0;
  bool minex = false, maxex = false;
};

// Redis's zslParseRange: strtod as a C string ("(" alone is an exclusive 0, leading spaces are
// skipped, an embedded NUL ends the number), no NaN.
bool ParseRangeItem(std::string_view arg, double* v, bool* ex) {
  std::string buf(arg);
  const char* p = buf.c_str();
  *ex = false;
  if (p[0] == '(') {
    ++p;
    *ex = true;
  }
  char* end;
  *v = strtod(p, &end);
  return end[0] == '\0' && !std::isnan(*v);
}

bool ParseScoreRange(std::string_view min, std::string_view max, ScoreRange* r) {
  return ParseRangeItem(min, &r->min, &r->minex) && ParseRangeItem(max, &r->max, &r->maxex);
}

struct LexItem {
  enum Kind { kMinusInf, kPlusInf, kValue } kind = kValue;
  std::string value;
  bool ex = false;
};

// Redis's zslParseLexRangeItem.
bool ParseLexItem(std::string_view arg, LexItem* it) {
  if (arg.empty()) return false;
  switch (arg[0]) {
    case '+':
    case '-':
      if (arg.size() > 1 && arg[1] != '\0') return false;
      it->kind = arg[0] == '+' ? LexItem::kPlusInf : LexItem::kMinusInf;
      return true;
    case '(':
    case '[':
      it->kind = LexItem::kValue;
      it->ex = arg[0] == '(';
      it->value = std::string(arg.substr(1));
      return true;
    default:
      return false;
  }
}

struct LexRange {
  LexItem min, max;
};

bool ParseLexRange(std::string_view min, std::string_view max, LexRange* r) {
  return ParseLexItem(min, &r->min) && ParseLexItem(max, &r->max);
}

// [lo, hi): the ranks inside a score range.
std::pair<size_t, size_t> ScoreRanks(const ObjectRef& o, const ScoreRange& r) {
  size_t lo = ZSetCountScoreBelow(o, r.min, r.minex);
  size_t hi = ZSetCountScoreBelow(o, r.max, !r.maxex);
  return {lo, std::max(lo, hi)};
}

size_t LexBound(const ObjectRef& o, const LexItem& it, bool is_max) {
  switch (it.kind) {
    case LexItem::kMinusInf:
      return 0;
    case LexItem::kPlusInf:
      return ZSetLength(o);
    case LexItem::kValue:
      break;
  }
  // min: members < value (or <= value when exclusive); max: <= value (or < when exclusive).
  return ZSetCountLexBelow(o, it.value, is_max ? !it.ex : it.ex);
}

std::pair<size_t, size_t> LexRanks(const ObjectRef& o, const LexRange& r) {
  size_t lo = LexBound(o, r.min, false);
  size_t hi = LexBound(o, r.max, true);
  return {lo, std::max(lo, hi)};
}

// A run of ranks to emit: [start, start + count), walked backwards when `reverse`.
struct RankWindow {
  size_t start = 0;
  size_t count = 0;
  bool reverse = false;
};

void ForWindow(const ObjectRef& o, const RankWindow& w,
               const std::function<void(std::string_view, double)>& fn) {
  if (w.count == 0) return;
  ZSetRangeByRank(o, w.start, w.start + w.count - 1, w.reverse, [&](std::string_view m, double s) {
    fn(m, s);
    return true;
  });
}

// Redis's rank sanitizing (negative from the end, clamped). Empty when out of range.
bool ClampRanks(int64_t start, int64_t end, size_t len, size_t* s, size_t* e) {
  int64_t llen = static_cast<int64_t>(len);
  if (start < 0) start = llen + start;
  if (end < 0) end = llen + end;
  if (start < 0) start = 0;
  if (start > end || start >= llen) return false;
  if (end >= llen) end = llen - 1;
  *s = static_cast<size_t>(start);
  *e = static_cast<size_t>(end);
  return true;
}

// Ranks [lo, hi) after LIMIT offset count (Redis: a negative offset skips everything, a
// negative count means all).
RankWindow LimitWindow(size_t lo, size_t hi, bool reverse, int64_t offset, int64_t limit) {
  RankWindow w;
  w.reverse = reverse;
  size_t n = hi - lo;
  if (offset < 0 || static_cast<uint64_t>(offset) >= n) return w;
  size_t count = n - static_cast<size_t>(offset);
  if (limit >= 0) count = std::min(count, static_cast<size_t>(limit));
  w.count = count;
  w.start = reverse ? hi - static_cast<size_t>(offset) - count : lo + static_cast<size_t>(offset);
  return w;
}

// An array of members, with scores: flat in RESP2, [member, score] pairs in RESP3.
void ReplyScoredHeader(ReplyBuilder* rb, size_t n, bool withscores) {
  rb->Array(withscores && !rb->resp3() ? n * 2 : n);
}
void ReplyScoredItem(ReplyBuilder* rb, std::string_view m, double s, bool withscores) {
  if (withscores && rb->resp3()) rb->Array(2);
  rb->Bulk(m);
  if (withscores) rb->Double(s);
}

size_t MaxEntries(const ExecContext& ctx) {
  int64_t v = ContainerLimits::Get(ctx.limits().zset_max_listpack_entries);
  return v < 0 ? 0 : static_cast<size_t>(v);
}
size_t MaxValue(const ExecContext& ctx) {
  int64_t v = ContainerLimits::Get(ctx.limits().zset_max_listpack_value);
  return v < 0 ? 0 : static_cast<size_t>(v);
}

// Looks a zset up for reading: false after replying WRONGTYPE; *obj stays null when missing.
bool ReadZSet(ExecContext& ctx, std::string_view key, const ObjectRef** obj, ObjectRef* storage) {
  auto e = ctx.DbFor(key).FindTyped(key, ValueType::kZSet);
  if (!e.ok()) {
    ReplyStatus(ctx.reply, e.status());
    return false;
  }
  if (*e) {
    *storage = (*e)->object();
    *obj = storage;
  } else {
    *obj = nullptr;
  }
  return true;
}

// ---- ZADD / ZINCRBY ---------------------------------------------------------------------

void ZAddGeneric(ExecContext& ctx, int flags) {
  Args a = ctx.args;
  size_t idx = 2;
  bool ch = false;  // reply-only: count changed members too
  for (; idx < a.size(); ++idx) {
    std::string_view o = a[idx];
    if (IsOpt(o, "nx")) {
      flags |= kZAddNx;
    } else if (IsOpt(o, "xx")) {
      flags |= kZAddXx;
    } else if (IsOpt(o, "ch")) {
      ch = true;
    } else if (IsOpt(o, "incr")) {
      flags |= kZAddIncr;
    } else if (IsOpt(o, "gt")) {
      flags |= kZAddGt;
    } else if (IsOpt(o, "lt")) {
      flags |= kZAddLt;
    } else {
      break;
    }
  }
  bool incr = flags & kZAddIncr, nx = flags & kZAddNx, xx = flags & kZAddXx;
  bool gt = flags & kZAddGt, lt = flags & kZAddLt;
  size_t elements = a.size() - idx;
  if (elements % 2 != 0 || elements == 0) return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
  elements /= 2;
  if (nx && xx)
    return ReplyError(ctx.reply, "XX and NX options at the same time are not compatible");
  if ((gt && nx) || (lt && nx) || (gt && lt)) {
    return ReplyError(ctx.reply, "GT, LT, and/or NX options at the same time are not compatible");
  }
  if (incr && elements > 1) {
    return ReplyError(ctx.reply, "INCR option supports a single increment-element pair");
  }
  std::vector<double> scores(elements);
  for (size_t i = 0; i < elements; ++i) {
    if (!ParseScore(a[idx + 2 * i], &scores[i])) {
      return ReplyError(ctx.reply, "value is not a valid float");
    }
  }
  Db& db = ctx.DbFor(a[1]);
  auto w = db.Write(a[1], ValueType::kZSet, /*create=*/!xx);
  if (!w.ok()) return ReplyStatus(ctx.reply, w.status());
  size_t added = 0, updated = 0, processed = 0;
  double score = 0;
  if (*w) {
    ObjectRef o = w->obj();
    for (size_t i = 0; i < elements; ++i) {
      double ns = 0;
      int out =
          ZSetAdd(&o, a[idx + 2 * i + 1], scores[i], flags, &ns, MaxEntries(ctx), MaxValue(ctx));
      if (out & kZAddNaN) {
        w->set_obj(o);
        if (added + updated == 0) {
          w->NoChange();
        } else {
          w->Notify(kNotifyZset, incr ? "zincr" : "zadd");
        }
        return ReplyError(ctx.reply, "resulting score is not a number (NaN)");
      }
      if (out & kZAddAdded) ++added;
      if (out & kZAddUpdated) ++updated;
      if (!(out & kZAddNop)) ++processed;
      score = ns;
    }
    w->set_obj(o);
    if (added + updated == 0) {
      w->NoChange();
    } else {
      w->Notify(kNotifyZset, incr ? "zincr" : "zadd");
    }
  }
  if (incr) {
    if (processed > 0) {
      ctx.reply->Double(score);
    } else {
      ctx.reply->Null();
    }
  } else {
    ctx.reply->Integer(static_cast<int64_t>(ch ? added + updated : added));
  }
}

void ZAdd(ExecContext& ctx) { ZAddGeneric(ctx, 0); }

void ZIncrBy(ExecContext& ctx) {
  // ZINCRBY key incr member is ZADD key INCR incr member.
  std::string_view args[] = {ctx.args[0], ctx.args[1], ctx.args[2], ctx.args[3]};
  ExecContext sub = ctx;
  sub.args = args;
  ZAddGeneric(sub, kZAddIncr);
}

// ---- Simple reads and ZREM --------------------------------------------------------------

void ZRem(ExecContext& ctx) {
  auto w = ctx.DbFor(ctx.args[1]).Write(ctx.args[1], ValueType::kZSet, false);
  if (!w.ok()) return ReplyStatus(ctx.reply, w.status());
  if (!*w) return ctx.reply->Integer(0);
  ObjectRef o = w->obj();
  int64_t removed = 0;
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    if (ZSetRemove(&o, ctx.args[i])) ++removed;
    if (ZSetLength(o) == 0) break;
  }
  w->set_obj(o);
  if (removed == 0) {
    w->NoChange();
  } else {
    w->Notify(kNotifyZset, "zrem");
  }
  ctx.reply->Integer(removed);
}

void ZCard(ExecContext& ctx) {
  ObjectRef st;
  const ObjectRef* o;
  if (!ReadZSet(ctx, ctx.args[1], &o, &st)) return;
  ctx.reply->Integer(o ? static_cast<int64_t>(ZSetLength(*o)) : 0);
}

void ZScore(ExecContext& ctx) {
  ObjectRef st;
  const ObjectRef* o;
  if (!ReadZSet(ctx, ctx.args[1], &o, &st)) return;
  double s;
  if (o && ZSetScore(*o, ctx.args[2], &s)) return ctx.reply->Double(s);
  ctx.reply->Null();
}

void ZMScore(ExecContext& ctx) {
  ObjectRef st;
  const ObjectRef* o;
  if (!ReadZSet(ctx, ctx.args[1], &o, &st)) return;
  ctx.reply->Array(ctx.args.size() - 2);
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    double s;
    if (o && ZSetScore(*o, ctx.args[i], &s)) {
      ctx.reply->Double(s);
    } else {
      ctx.reply->Null();
    }
  }
}

template <bool kReverse>
void ZRank(ExecContext& ctx) {
  ObjectRef st;
  const ObjectRef* o;
  if (!ReadZSet(ctx, ctx.args[1], &o, &st)) return;
  int64_t r = o ? ZSetRank(*o, ctx.args[2]) : -1;
  if (r < 0) return ctx.reply->Null();
  ctx.reply->Integer(kReverse ? static_cast<int64_t>(ZSetLength(*o)) - 1 - r : r);
}

void ZCount(ExecContext& ctx) {
  ScoreRange r;
  if (!ParseScoreRange(ctx.args[2], ctx.args[3], &r)) {
    return ReplyError(ctx.reply, "min or max is not a float");
  }
  ObjectRef st;
  const ObjectRef* o;
  if (!ReadZSet(ctx, ctx.args[1], &o, &st)) return;
  if (!o) return ctx.reply->Integer(0);
  auto [lo, hi] = ScoreRanks(*o, r);
  ctx.reply->Integer(static_cast<int64_t>(hi - lo));
}

void ZLexCount(ExecContext& ctx) {
  LexRange r;
  if (!ParseLexRange(ctx.args[2], ctx.args[3], &r)) {
    return ReplyError(ctx.reply, "min or max not valid string range item");
  }
  ObjectRef st;
  const ObjectRef* o;
  if (!ReadZSet(ctx, ctx.args[1], &o, &st)) return;
  if (!o) return ctx.reply->Integer(0);
  auto [lo, hi] = LexRanks(*o, r);
  ctx.reply->Integer(static_cast<int64_t>(hi - lo));
}

// ---- ZRANGE family ----------------------------------------------------------------------

enum class RangeType { kAuto, kRank, kScore, kLex };
enum class Direction { kAuto, kForward, kReverse };

// Redis 7.0's zrangeGenericCommand. `store`: ZRANGESTORE (destination at argument 1);
// `argc_start` is the index of the source key.
void ZRangeGeneric(ExecContext& ctx, size_t argc_start, bool store, RangeType rangetype,
                   Direction direction) {
  Args a = ctx.args;
  std::string_view key = a[argc_start];
  size_t minidx = argc_start + 1, maxidx = argc_start + 2;
  bool withscores = false;
  int64_t offset = 0, limit = -1;
  for (size_t j = argc_start + 3; j < a.size(); ++j) {
    size_t left = a.size() - j - 1;
    if (!store && IsOpt(a[j], "withscores")) {
      withscores = true;
    } else if (IsOpt(a[j], "limit") && left >= 2) {
      if (!ArgToInt64(a[j + 1], &offset, ctx.reply) || !ArgToInt64(a[j + 2], &limit, ctx.reply))
        return;
      j += 2;
    } else if (direction == Direction::kAuto && IsOpt(a[j], "rev")) {
      direction = Direction::kReverse;
    } else if (rangetype == RangeType::kAuto && IsOpt(a[j], "bylex")) {
      rangetype = RangeType::kLex;
    } else if (rangetype == RangeType::kAuto && IsOpt(a[j], "byscore")) {
      rangetype = RangeType::kScore;
    } else {
      return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
    }
  }
  // Redis tests opt_limit != -1, so "LIMIT 0 -1" passes with a rank range.
  bool has_limit = limit != -1;
  if (direction == Direction::kAuto) direction = Direction::kForward;
  if (rangetype == RangeType::kAuto) rangetype = RangeType::kRank;
  bool reverse = direction == Direction::kReverse;
  if (has_limit && rangetype == RangeType::kRank) {
    return ReplyError(ctx.reply,
                      "syntax error, LIMIT is only supported in combination with either BYSCORE "
                      "or BYLEX");
  }
  if (withscores && rangetype == RangeType::kLex) {
    return ReplyError(ctx.reply,
                      "syntax error, WITHSCORES not supported in combination with BYLEX");
  }
  if (reverse && rangetype != RangeType::kRank) std::swap(minidx, maxidx);

  int64_t start = 0, end = 0;
  ScoreRange sr;
  LexRange lr;
  switch (rangetype) {
    case RangeType::kAuto:
    case RangeType::kRank:
      if (!ArgToInt64(a[minidx], &start, ctx.reply) || !ArgToInt64(a[maxidx], &end, ctx.reply))
        return;
      break;
    case RangeType::kScore:
      if (!ParseScoreRange(a[minidx], a[maxidx], &sr)) {
        return ReplyError(ctx.reply, "min or max is not a float");
      }
      break;
    case RangeType::kLex:
      if (!ParseLexRange(a[minidx], a[maxidx], &lr)) {
        return ReplyError(ctx.reply, "min or max not valid string range item");
      }
      break;
  }

  ObjectRef st;
  const ObjectRef* o;
  if (store) ctx.SetReadLookups(true);  // the source is read (keymiss)
  bool found = ReadZSet(ctx, key, &o, &st);
  if (store) ctx.SetReadLookups(false);
  if (!found) return;
  RankWindow w;
  if (o != nullptr) {
    size_t len = ZSetLength(*o);
    if (rangetype == RangeType::kRank) {
      size_t s, e;
      if (ClampRanks(start, end, len, &s, &e)) {
        w.reverse = reverse;
        w.count = e - s + 1;
        w.start = reverse ? len - 1 - e : s;
      }
    } else {
      auto [lo, hi] = rangetype == RangeType::kScore ? ScoreRanks(*o, sr) : LexRanks(*o, lr);
      w = LimitWindow(lo, hi, reverse, offset, limit);
    }
  }
  if (store) {
    std::vector<ZEntry> out;
    out.reserve(w.count);
    if (o != nullptr) {
      ForWindow(*o, w, [&](std::string_view m, double s) { out.emplace_back(std::string(m), s); });
    }
    size_t n = out.size();
    ctx.DbFor(a[1]).StoreObjectNotify(a[1],
                                      ZSetBuild(std::move(out), MaxEntries(ctx), MaxValue(ctx)),
                                      kNotifyZset, "zrangestore");
    return ctx.reply->Integer(static_cast<int64_t>(n));
  }
  ReplyScoredHeader(ctx.reply, w.count, withscores);
  if (o != nullptr) {
    ForWindow(*o, w,
              [&](std::string_view m, double s) { ReplyScoredItem(ctx.reply, m, s, withscores); });
  }
}

void ZRange(ExecContext& ctx) { ZRangeGeneric(ctx, 1, false, RangeType::kAuto, Direction::kAuto); }
void ZRangeStore(ExecContext& ctx) {
  ZRangeGeneric(ctx, 2, true, RangeType::kAuto, Direction::kAuto);
}
void ZRevRange(ExecContext& ctx) {
  ZRangeGeneric(ctx, 1, false, RangeType::kRank, Direction::kReverse);
}
void ZRangeByScore(ExecContext& ctx) {
  ZRangeGeneric(ctx, 1, false, RangeType::kScore, Direction::kForward);
}
void ZRevRangeByScore(ExecContext& ctx) {
  ZRangeGeneric(ctx, 1, false, RangeType::kScore, Direction::kReverse);
}
void ZRangeByLex(ExecContext& ctx) {
  ZRangeGeneric(ctx, 1, false, RangeType::kLex, Direction::kForward);
}
void ZRevRangeByLex(ExecContext& ctx) {
  ZRangeGeneric(ctx, 1, false, RangeType::kLex, Direction::kReverse);
}

// ---- ZREMRANGEBY* -----------------------------------------------------------------------

void ZRemRangeGeneric(ExecContext& ctx, RangeType type) {
  Args a = ctx.args;
  int64_t start = 0, end = 0;
  ScoreRange sr;
  LexRange lr;
  if (type == RangeType::kRank) {
    if (!ArgToInt64(a[2], &start, ctx.reply) || !ArgToInt64(a[3], &end, ctx.reply)) return;
  } else if (type == RangeType::kScore) {
    if (!ParseScoreRange(a[2], a[3], &sr))
      return ReplyError(ctx.reply, "min or max is not a float");
  } else {
    if (!ParseLexRange(a[2], a[3], &lr)) {
      return ReplyError(ctx.reply, "min or max not valid string range item");
    }
  }
  auto w = ctx.DbFor(a[1]).Write(a[1], ValueType::kZSet, false);
  if (!w.ok()) return ReplyStatus(ctx.reply, w.status());
  if (!*w) return ctx.reply->Integer(0);
  ObjectRef o = w->obj();
  size_t lo = 0, hi = 0;
  if (type == RangeType::kRank) {
    size_t s, e;
    if (ClampRanks(start, end, ZSetLength(o), &s, &e)) {
      lo = s;
      hi = e + 1;
    }
  } else {
    std::tie(lo, hi) = type == RangeType::kScore ? ScoreRanks(o, sr) : LexRanks(o, lr);
  }
  size_t removed = hi > lo ? ZSetRemoveRankRange(&o, lo, hi - 1) : 0;
  w->set_obj(o);
  if (removed == 0) {
    w->NoChange();
  } else {
    w->Notify(kNotifyZset, type == RangeType::kRank    ? "zremrangebyrank"
                           : type == RangeType::kScore ? "zremrangebyscore"
                                                       : "zremrangebylex");
  }
  ctx.reply->Integer(static_cast<int64_t>(removed));
}

void ZRemRangeByRank(ExecContext& ctx) { ZRemRangeGeneric(ctx, RangeType::kRank); }
void ZRemRangeByScore(ExecContext& ctx) { ZRemRangeGeneric(ctx, RangeType::kScore); }
void ZRemRangeByLex(ExecContext& ctx) { ZRemRangeGeneric(ctx, RangeType::kLex); }

// ---- Pops -------------------------------------------------------------------------------

// Pops up to `count` from the min (or max) end of the zset at `key` (which exists).
std::vector<ZEntry> PopFrom(KeyWrite& w, bool max, size_t count) {
  ObjectRef o = w.obj();
  size_t len = ZSetLength(o);
  count = std::min(count, len);
  std::vector<ZEntry> out;
  out.reserve(count);
  if (count == 0) return out;
  size_t s = max ? len - count : 0, e = max ? len - 1 : count - 1;
  ZSetRangeByRank(o, s, e, max, [&](std::string_view m, double sc) {
    out.emplace_back(std::string(m), sc);
    return true;
  });
  ZSetRemoveRankRange(&o, s, e);
  w.set_obj(o);
  return out;
}

template <bool kMax>
void ZPopMinMax(ExecContext& ctx) {
  Args a = ctx.args;
  if (a.size() > 3) return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
  int64_t count = -1;
  if (a.size() == 3) {
    if (!ParseInt64(a[2], &count) || count < 0) {
      return ReplyError(ctx.reply, "value is out of range, must be positive");
    }
  }
  bool nested = ctx.reply->resp3() && count != -1;
  auto w = ctx.DbFor(a[1]).Write(a[1], ValueType::kZSet, false);
  if (!w.ok()) return ReplyStatus(ctx.reply, w.status());
  if (!*w || count == 0) return ctx.reply->Array(0);
  std::vector<ZEntry> got = PopFrom(*w, kMax, count == -1 ? 1 : static_cast<size_t>(count));
  w->Notify(kNotifyZset, kMax ? "zpopmax" : "zpopmin");
  ctx.reply->Array(nested ? got.size() : got.size() * 2);
  for (const auto& [m, s] : got) {
    if (nested) ctx.reply->Array(2);
    ctx.reply->Bulk(m);
    ctx.reply->Double(s);
  }
}

// Redis's getRangeLongFromObjectOrReply(1, LONG_MAX, msg): any failure answers `msg`.
bool ArgPositive(std::string_view arg, int64_t* out, std::string_view msg, ReplyBuilder* rb) {
  if (!ParseInt64(arg, out) || *out < 1) {
    ReplyError(rb, msg);
    return false;
  }
  return true;
}

// ZMPOP numkeys key... (at = 1) and BZMPOP timeout numkeys key... (at = 2).
void ZMPopAt(ExecContext& ctx, size_t at) {
  Args a = ctx.args;
  int64_t numkeys;
  if (!ArgPositive(a[at], &numkeys, "numkeys should be greater than 0", ctx.reply)) return;
  if (numkeys > static_cast<int64_t>(a.size()) - static_cast<int64_t>(at) - 2) {
    return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
  }
  size_t where_idx = at + 1 + static_cast<size_t>(numkeys);
  bool max;
  if (IsOpt(a[where_idx], "min")) {
    max = false;
  } else if (IsOpt(a[where_idx], "max")) {
    max = true;
  } else {
    return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
  }
  int64_t count = -1;
  for (size_t j = where_idx + 1; j < a.size(); ++j) {
    if (count == -1 && IsOpt(a[j], "count") && j + 1 < a.size()) {
      ++j;
      if (!ArgPositive(a[j], &count, "count should be greater than 0", ctx.reply)) return;
    } else {
      return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
    }
  }
  if (count == -1) count = 1;
  if (at == 2 && !CheckBlockingTimeout(a[1], ctx.reply)) return;  // BZMPOP
  for (size_t i = at + 1; i < where_idx; ++i) {
    auto w = ctx.DbFor(a[i]).Write(a[i], ValueType::kZSet, false);
    if (!w.ok()) return ReplyStatus(ctx.reply, w.status());
    if (!*w) continue;
    std::vector<ZEntry> got = PopFrom(*w, max, static_cast<size_t>(count));
    w->Notify(kNotifyZset, max ? "zpopmax" : "zpopmin");
    ctx.reply->Array(2);
    ctx.reply->Bulk(a[i]);
    ctx.reply->Array(got.size());
    for (const auto& [m, s] : got) {
      ctx.reply->Array(2);
      ctx.reply->Bulk(m);
      ctx.reply->Double(s);
    }
    w->Finish();
    AfterBlockingPop(ctx, a[i]);
    return;
  }
  if (BlockOnKeys(ctx, a.subspan(at + 1, where_idx - at - 1))) return;
  ctx.reply->NullArray();
}

void ZMPop(ExecContext& ctx) { ZMPopAt(ctx, 1); }
void BZMPop(ExecContext& ctx) { ZMPopAt(ctx, 2); }

void BZMPopKeys(std::span<const std::string_view> args, std::vector<int>* out) {
  KeysAfterCount(args, 2, /*dest_first=*/false, out);
}

// BZPOPMIN/BZPOPMAX key [key ...] timeout: [key, member, score] from the first non-empty key.
template <bool kMax>
void BZPop(ExecContext& ctx) {
  if (!CheckBlockingTimeout(ctx.args.back(), ctx.reply)) return;
  Args keys = ctx.args.subspan(1, ctx.args.size() - 2);
  for (std::string_view key : keys) {
    auto w = ctx.DbFor(key).Write(key, ValueType::kZSet, false);
    if (!w.ok()) return ReplyStatus(ctx.reply, w.status());
    if (!*w) continue;
    std::vector<ZEntry> got = PopFrom(*w, kMax, 1);
    w->Notify(kNotifyZset, kMax ? "zpopmax" : "zpopmin");
    ctx.reply->Array(3);
    ctx.reply->Bulk(key);
    ctx.reply->Bulk(got[0].first);
    ctx.reply->Double(got[0].second);
    w->Finish();
    AfterBlockingPop(ctx, key);
    return;
  }
  if (BlockOnKeys(ctx, keys)) return;
  ctx.reply->NullArray();
}

// ---- ZRANDMEMBER ------------------------------------------------------------------------

void ZRandMember(ExecContext& ctx) {
  Args a = ctx.args;
  if (a.size() == 2) {
    ObjectRef st;
    const ObjectRef* o;
    if (!ReadZSet(ctx, a[1], &o, &st)) return;
    if (o == nullptr) return ctx.reply->Null();
    size_t r = ctx.local->Random() % ZSetLength(*o);
    ZSetRangeByRank(*o, r, r, false, [&](std::string_view m, double) {
      ctx.reply->Bulk(m);
      return true;
    });
    return;
  }
  int64_t l;
  if (!ArgToInt64(a[2], &l, ctx.reply)) return;
  if (l == LLONG_MIN) {
    return ReplyError(ctx.reply,
                      "value is out of range, value must between -9223372036854775807 and "
                      "9223372036854775807");
  }
  bool withscores = false;
  if (a.size() > 4 || (a.size() == 4 && !IsOpt(a[3], "withscores"))) {
    return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
  }
  if (a.size() == 4) {
    withscores = true;
    if (l < -LLONG_MAX / 2 || l > LLONG_MAX / 2)
      return ReplyError(ctx.reply, "value is out of range");
  }
  ObjectRef st;
  const ObjectRef* o;
  if (!ReadZSet(ctx, a[1], &o, &st)) return;
  if (o == nullptr || l == 0) return ctx.reply->Array(0);
  size_t size = ZSetLength(*o);
  auto emit_rank = [&](size_t r) {
    ZSetRangeByRank(*o, r, r, false, [&](std::string_view m, double s) {
      ReplyScoredItem(ctx.reply, m, s, withscores);
      return true;
    });
  };
  if (l < 0) {
    // Repeats allowed: every pick is independent.
    size_t count = static_cast<size_t>(-l);
    ReplyScoredHeader(ctx.reply, count, withscores);
    for (size_t i = 0; i < count; ++i) emit_rank(ctx.local->Random() % size);
    return;
  }
  size_t count = static_cast<size_t>(l);
  if (count >= size) {
    ReplyScoredHeader(ctx.reply, size, withscores);
    ZSetForEach(
        *o, [&](std::string_view m, double s) { ReplyScoredItem(ctx.reply, m, s, withscores); });
    return;
  }
  // Distinct ranks: a partial Fisher-Yates over the ranks when the sample is a large part of the
  // set, else rejection sampling.
  std::vector<size_t> ranks;
  ranks.reserve(count);
  if (count * 3 > size) {
    std::vector<size_t> all(size);
    for (size_t i = 0; i < size; ++i) all[i] = i;
    for (size_t i = 0; i < count; ++i) {
      size_t j = i + ctx.local->Random() % (size - i);
      std::swap(all[i], all[j]);
      ranks.push_back(all[i]);
    }
  } else {
    absl::flat_hash_set<size_t> seen;
    while (ranks.size() < count) {
      size_t r = ctx.local->Random() % size;
      if (seen.insert(r).second) ranks.push_back(r);
    }
  }
  ReplyScoredHeader(ctx.reply, count, withscores);
  for (size_t r : ranks) emit_rank(r);
}

// ---- ZUNION / ZINTER / ZDIFF and their *STORE forms, ZINTERCARD -------------------------

enum class SetOp { kUnion, kInter, kDiff };
enum class Aggregate { kSum, kMin, kMax };

// One input: a zset (or nothing for a missing key).
// One input: a zset, a set (members with score 1, as Redis accepts), or nothing (missing key).
struct Source {
  std::string_view key;
  ObjectRef obj{};
  bool exists = false;
  bool is_set = false;
  double weight = 1.0;
  // A set input's members, built on the first lookup (SetForEach is the set type's only
  // promised reader).
  std::unique_ptr<absl::flat_hash_set<std::string>> members;

  size_t Length() const {
    if (!exists) return 0;
    return is_set ? ObjectLength(obj) : ZSetLength(obj);
  }
  void ForEach(const std::function<void(std::string_view, double)>& fn) const {
    if (!exists) return;
    if (is_set) return SetForEach(obj, [&](std::string_view m) { fn(m, 1.0); });
    ZSetForEach(obj, fn);
  }
  bool Find(std::string_view m, double* s) {
    if (!exists) return false;
    if (!is_set) return ZSetScore(obj, m, s);
    if (members == nullptr) {
      members = std::make_unique<absl::flat_hash_set<std::string>>();
      ForEach([&](std::string_view x, double) { members->emplace(x); });
    }
    *s = 1.0;
    return members->contains(absl::string_view(m.data(), m.size()));
  }
};

void Aggregate1(double* target, double val, Aggregate agg) {
  switch (agg) {
    case Aggregate::kSum:
      *target = *target + val;
      // inf + -inf: Redis keeps 0 rather than NaN.
      if (std::isnan(*target)) *target = 0.0;
      break;
    case Aggregate::kMin:
      *target = val < *target ? val : *target;
      break;
    case Aggregate::kMax:
      *target = val > *target ? val : *target;
      break;
  }
}

// Redis 7.0's zunionInterDiffGenericCommand. `numkeys_at`: index of numkeys; `store`: the
// *STORE forms (destination at argument 1); `card_only`: ZINTERCARD.
void ZSetOpGeneric(ExecContext& ctx, size_t numkeys_at, bool store, SetOp op, bool card_only) {
  Args a = ctx.args;
  int64_t setnum;
  if (!ArgToInt64(a[numkeys_at], &setnum, ctx.reply)) return;
  if (setnum < 1) {
    std::string name(a[0]);
    AsciiToLower(&name);
    return ReplyError(ctx.reply, StrCat("at least 1 input key is needed for '", name, "' command"));
  }
  if (setnum > static_cast<int64_t>(a.size() - (numkeys_at + 1))) {
    return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
  }
  std::vector<Source> src(static_cast<size_t>(setnum));
  size_t j = numkeys_at + 1;
  for (auto& s : src) {
    s.key = a[j++];
    if (store) ctx.SetReadLookups(true);  // a source is read (keymiss)
    auto e = ctx.DbFor(s.key).Find(s.key);
    if (store) ctx.SetReadLookups(false);
    if (e) {
      // Without the set type's reader a set input answers WRONGTYPE.
      bool set_ok = e->type() == ValueType::kSet;
      if (e->type() != ValueType::kZSet && !set_ok) {
        return ReplyStatus(ctx.reply, OpStatus::kWrongType);
      }
      s.obj = e->object();
      s.exists = true;
      s.is_set = e->type() == ValueType::kSet;
    }
  }
  Aggregate agg = Aggregate::kSum;
  bool withscores = false;
  int64_t limit = 0;
  while (j < a.size()) {
    size_t remaining = a.size() - j;
    if (op != SetOp::kDiff && !card_only && remaining >= src.size() + 1 && IsOpt(a[j], "weights")) {
      ++j;
      for (auto& s : src) {
        if (!ParseScore(a[j++], &s.weight)) {
          return ReplyError(ctx.reply, "weight value is not a float");
        }
      }
    } else if (op != SetOp::kDiff && !card_only && remaining >= 2 && IsOpt(a[j], "aggregate")) {
      ++j;
      if (IsOpt(a[j], "sum")) {
        agg = Aggregate::kSum;
      } else if (IsOpt(a[j], "min")) {
        agg = Aggregate::kMin;
      } else if (IsOpt(a[j], "max")) {
        agg = Aggregate::kMax;
      } else {
        return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
      }
      ++j;
    } else if (!store && !card_only && IsOpt(a[j], "withscores")) {
      ++j;
      withscores = true;
    } else if (card_only && remaining >= 2 && IsOpt(a[j], "limit")) {
      ++j;
      if (!ParseInt64(a[j], &limit) || limit < 0) {
        return ReplyError(ctx.reply, "LIMIT can't be negative");
      }
      ++j;
    } else {
      return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
    }
  }
  if (op != SetOp::kDiff) {
    std::stable_sort(src.begin(), src.end(),
                     [](const Source& x, const Source& y) { return x.Length() < y.Length(); });
  }

  std::vector<ZEntry> result;
  int64_t cardinality = 0;
  if (op == SetOp::kInter) {
    if (src[0].Length() > 0) {
      src[0].ForEach([&](std::string_view m, double sc) {
        if (card_only && limit > 0 && cardinality >= limit) return;
        double score = src[0].weight * sc;
        if (std::isnan(score)) score = 0;
        size_t i = 1;
        for (; i < src.size(); ++i) {
          double v;
          if (!src[i].Find(m, &v)) break;
          Aggregate1(&score, v * src[i].weight, agg);
        }
        if (i != src.size()) return;
        if (card_only) {
          ++cardinality;
        } else {
          result.emplace_back(std::string(m), score);
        }
      });
    }
  } else if (op == SetOp::kUnion) {
    absl::flat_hash_map<std::string, double> acc;
    for (const auto& s : src) {
      if (s.Length() == 0) continue;
      s.ForEach([&](std::string_view m, double sc) {
        double score = s.weight * sc;
        if (std::isnan(score)) score = 0;
        auto [it, inserted] = acc.try_emplace(std::string(m), score);
        if (!inserted) Aggregate1(&it->second, score, agg);
      });
    }
    result.reserve(acc.size());
    for (auto& [m, sc] : acc) result.emplace_back(m, sc);
  } else {
    if (src[0].Length() > 0) {
      src[0].ForEach([&](std::string_view m, double sc) {
        double v;
        for (size_t i = 1; i < src.size(); ++i) {
          if (src[i].Find(m, &v)) return;
        }
        result.emplace_back(std::string(m), sc);
      });
    }
  }

  if (card_only) return ctx.reply->Integer(cardinality);
  if (store) {
    size_t n = result.size();
    ctx.DbFor(a[1]).StoreObjectNotify(
        a[1], ZSetBuild(std::move(result), MaxEntries(ctx), MaxValue(ctx)), kNotifyZset,
        op == SetOp::kUnion   ? "zunionstore"
        : op == SetOp::kInter ? "zinterstore"
                              : "zdiffstore");
    return ctx.reply->Integer(static_cast<int64_t>(n));
  }
  std::sort(result.begin(), result.end(), [](const ZEntry& x, const ZEntry& y) {
    if (x.second != y.second) return x.second < y.second;
    return x.first < y.first;  // std::string order is Redis's memcmp-then-length order
  });
  ReplyScoredHeader(ctx.reply, result.size(), withscores);
  for (const auto& [m, s] : result) ReplyScoredItem(ctx.reply, m, s, withscores);
}

void ZUnion(ExecContext& ctx) { ZSetOpGeneric(ctx, 1, false, SetOp::kUnion, false); }
void ZInter(ExecContext& ctx) { ZSetOpGeneric(ctx, 1, false, SetOp::kInter, false); }
void ZDiff(ExecContext& ctx) { ZSetOpGeneric(ctx, 1, false, SetOp::kDiff, false); }
void ZInterCard(ExecContext& ctx) { ZSetOpGeneric(ctx, 1, false, SetOp::kInter, true); }
void ZUnionStore(ExecContext& ctx) { ZSetOpGeneric(ctx, 2, true, SetOp::kUnion, false); }
void ZInterStore(ExecContext& ctx) { ZSetOpGeneric(ctx, 2, true, SetOp::kInter, false); }
void ZDiffStore(ExecContext& ctx) { ZSetOpGeneric(ctx, 2, true, SetOp::kDiff, false); }

// ---- ZSCAN ------------------------------------------------------------------------------

void ZScan(ExecContext& ctx) {
  Args a = ctx.args;
  uint64_t cursor;
  if (!ParseScanCursor(a[2], &cursor)) return ctx.reply->Error("ERR invalid cursor");
  ObjectRef st;
  const ObjectRef* o;
  if (!ReadZSet(ctx, a[1], &o, &st)) return;
  if (o == nullptr) {
    ctx.reply->Array(2);
    ctx.reply->Bulk("0");
    return ctx.reply->Array(0);
  }
  int64_t count = 10;
  std::string_view pattern;
  bool use_pattern = false;
  for (size_t i = 3; i < a.size();) {
    size_t left = a.size() - i;
    if (IsOpt(a[i], "count") && left >= 2) {
      if (!ArgToInt64(a[i + 1], &count, ctx.reply)) return;
      if (count < 1) return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
      i += 2;
    } else if (IsOpt(a[i], "match") && left >= 2) {
      pattern = a[i + 1];
      use_pattern = !(pattern.size() == 1 && pattern[0] == '*');
      i += 2;
    } else {
      return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
    }
  }
  std::vector<std::pair<std::string, std::string>> found;
  uint64_t next =
      ZSetScan(*o, cursor, static_cast<size_t>(count), [&](std::string_view m, double s) {
        if (use_pattern && !GlobMatch(pattern, m)) return;
        found.emplace_back(std::string(m), ZScoreToString(s));
      });
  ctx.reply->Array(2);
  ctx.reply->Bulk(Int64ToString(static_cast<int64_t>(next)).c_str());
  ctx.reply->Array(found.size() * 2);
  for (const auto& [m, s] : found) {
    ctx.reply->Bulk(m);
    ctx.reply->Bulk(s);
  }
}

void KeysNumkeys1(std::span<const std::string_view> args, std::vector<int>* out) {
  KeysAfterCount(args, 1, false, out);
}
void KeysNumkeys2Dst(std::span<const std::string_view> args, std::vector<int>* out) {
  KeysAfterCount(args, 2, true, out);
}

}  // namespace

std::vector<CommandSpec> ZSetFamily() {
  auto doc = [](std::string_view summary, std::string_view since, std::string_view complexity,
                std::string_view args) {
    return CommandDoc{summary, since, "sorted-set", complexity, args};
  };
  constexpr uint32_t kRead = kCmdReadOnly;
  constexpr uint32_t kReadFast = kCmdReadOnly | kCmdFast;
  std::vector<CommandSpec> t = {
      {"zadd", -4, kWriteOom | kCmdFast, "@write @sortedset @fast", 1, 1, 1, Route::kKey, ZAdd,
       nullptr, nullptr, nullptr,
       doc("Add one or more members to a sorted set, or update its score if it already exists",
           "1.2.0",
           "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
           "key:key [condition:oneof(nx:pure-token:NX|xx:pure-token:XX){since=3.0.2}] "
           "[comparison:oneof(gt:pure-token:GT|lt:pure-token:LT){since=6.2.0}] "
           "[change:pure-token:CH{since=3.0.2}] [increment:pure-token:INCR{since=3.0.2}] "
           "score_member:block(score:double member:string)...")},
      {"zincrby", 4, kWriteOom | kCmdFast, "@write @sortedset @fast", 1, 1, 1, Route::kKey, ZIncrBy,
       nullptr, nullptr, nullptr,
       doc("Increment the score of a member in a sorted set", "1.2.0",
           "O(log(N)) where N is the number of elements in the sorted set.",
           "key:key{key_flags=RW+access+update} increment:integer member:string")},
      {"zrem", -3, kCmdWrite | kCmdFast, "@write @sortedset @fast", 1, 1, 1, Route::kKey, ZRem,
       nullptr, nullptr, nullptr,
       doc("Remove one or more members from a sorted set", "1.2.0",
           "O(M*log(N)) with N being the number of elements in the sorted set and M the number "
           "of elements to be removed.",
           "key:key{key_flags=RW+delete} member:string...")},
      {"zcard", 2, kReadFast | kCmdCoalescable, "@read @sortedset @fast", 1, 1, 1, Route::kKey,
       ZCard, nullptr, nullptr, nullptr,
       doc("Get the number of members in a sorted set", "1.2.0", "O(1)", "key:key{key_flags=RO}")},
      {"zscore", 3, kReadFast | kCmdCoalescable, "@read @sortedset @fast", 1, 1, 1, Route::kKey,
       ZScore, nullptr, nullptr, nullptr,
       doc("Get the score associated with the given member in a sorted set", "1.2.0", "O(1)",
           "key:key member:string")},
      {"zmscore", -3, kReadFast | kCmdCoalescable, "@read @sortedset @fast", 1, 1, 1, Route::kKey,
       ZMScore, nullptr, nullptr, nullptr,
       doc("Get the score associated with the given members in a sorted set", "6.2.0",
           "O(N) where N is the number of members being requested.", "key:key member:string...")},
      {"zrank", 3, kReadFast | kCmdCoalescable, "@read @sortedset @fast", 1, 1, 1, Route::kKey,
       ZRank<false>, nullptr, nullptr, nullptr,
       doc("Determine the index of a member in a sorted set", "2.0.0", "O(log(N))",
           "key:key member:string")},
      {"zrevrank", 3, kReadFast | kCmdCoalescable, "@read @sortedset @fast", 1, 1, 1, Route::kKey,
       ZRank<true>, nullptr, nullptr, nullptr,
       doc("Determine the index of a member in a sorted set, with scores ordered from high to "
           "low",
           "2.0.0", "O(log(N))", "key:key member:string")},
      {"zcount", 4, kReadFast | kCmdCoalescable, "@read @sortedset @fast", 1, 1, 1, Route::kKey,
       ZCount, nullptr, nullptr, nullptr,
       doc("Count the members in a sorted set with scores within the given values", "2.0.0",
           "O(log(N)) with N being the number of elements in the sorted set.",
           "key:key min:double max:double")},
      {"zlexcount", 4, kReadFast | kCmdCoalescable, "@read @sortedset @fast", 1, 1, 1, Route::kKey,
       ZLexCount, nullptr, nullptr, nullptr,
       doc("Count the number of members in a sorted set between a given lexicographical range",
           "2.8.9", "O(log(N)) with N being the number of elements in the sorted set.",
           "key:key min:string max:string")},
      {"zrange", -4, kRead | kCmdCoalescable, "@read @sortedset @slow", 1, 1, 1, Route::kKey,
       ZRange, nullptr, nullptr, nullptr,
       doc("Return a range of members in a sorted set", "1.2.0",
           "O(log(N)+M) with N being the number of elements in the sorted set and M the number "
           "of elements returned.",
           "key:key start:string stop:string [sortby:oneof(byscore:pure-token:BYSCORE|bylex:pure"
           "-token:BYLEX){since=6.2.0}] [rev:pure-token:REV{since=6.2.0}] [offset_count:block("
           "offset:integer count:integer):LIMIT{since=6.2.0}] [withscores:pure-token:WITHSCORES]")},
      {"zrangestore", -5, kWriteOom, "@write @sortedset @slow", 1, 2, 1, Route::kParked,
       ZRangeStore, nullptr, nullptr, nullptr,
       doc("Store a range of members from sorted set into another key", "6.2.0",
           "O(log(N)+M) with N being the number of elements in the sorted set and M the number "
           "of elements stored into the destination key.",
           "dst:key{key_flags=OW+update} src:key{key_flags=RO+access} min:string max:string "
           "[sortby:oneof(byscore:pure-token:BYSCORE|bylex:pure-token:BYLEX)] "
           "[rev:pure-token:REV] [offset_count:block(offset:integer count:integer):LIMIT]")},
      {"zrangebyscore", -4, kRead | kCmdCoalescable, "@read @sortedset @slow", 1, 1, 1, Route::kKey,
       ZRangeByScore, nullptr, nullptr, nullptr,
       doc("Return a range of members in a sorted set, by score", "1.0.5",
           "O(log(N)+M) with N being the number of elements in the sorted set and M the number "
           "of elements being returned. If M is constant (e.g. always asking for the first 10 "
           "elements with LIMIT), you can consider it O(log(N)).",
           "key:key min:double max:double [withscores:pure-token:WITHSCORES{since=2.0.0}] "
           "[offset_count:block(offset:integer count:integer):LIMIT]")},
      {"zrevrangebyscore", -4, kRead | kCmdCoalescable, "@read @sortedset @slow", 1, 1, 1,
       Route::kKey, ZRevRangeByScore, nullptr, nullptr, nullptr,
       doc("Return a range of members in a sorted set, by score, with scores ordered from high "
           "to low",
           "2.2.0",
           "O(log(N)+M) with N being the number of elements in the sorted set and M the number "
           "of elements being returned. If M is constant (e.g. always asking for the first 10 "
           "elements with LIMIT), you can consider it O(log(N)).",
           "key:key max:double min:double [withscores:pure-token:WITHSCORES] "
           "[offset_count:block(offset:integer count:integer):LIMIT]")},
      {"zrangebylex", -4, kRead | kCmdCoalescable, "@read @sortedset @slow", 1, 1, 1, Route::kKey,
       ZRangeByLex, nullptr, nullptr, nullptr,
       doc("Return a range of members in a sorted set, by lexicographical range", "2.8.9",
           "O(log(N)+M) with N being the number of elements in the sorted set and M the number "
           "of elements being returned. If M is constant (e.g. always asking for the first 10 "
           "elements with LIMIT), you can consider it O(log(N)).",
           "key:key min:string max:string [offset_count:block(offset:integer count:integer):"
           "LIMIT]")},
      {"zrevrangebylex", -4, kRead, "@read @sortedset @slow", 1, 1, 1, Route::kKey, ZRevRangeByLex,
       nullptr, nullptr, nullptr,
       doc("Return a range of members in a sorted set, by lexicographical range, ordered from "
           "higher to lower strings.",
           "2.8.9",
           "O(log(N)+M) with N being the number of elements in the sorted set and M the number "
           "of elements being returned. If M is constant (e.g. always asking for the first 10 "
           "elements with LIMIT), you can consider it O(log(N)).",
           "key:key max:string min:string [offset_count:block(offset:integer count:integer):"
           "LIMIT]")},
      {"zrevrange", -4, kRead | kCmdCoalescable, "@read @sortedset @slow", 1, 1, 1, Route::kKey,
       ZRevRange, nullptr, nullptr, nullptr,
       doc("Return a range of members in a sorted set, by index, with scores ordered from high "
           "to low",
           "1.2.0",
           "O(log(N)+M) with N being the number of elements in the sorted set and M the number "
           "of elements returned.",
           "key:key start:integer stop:integer [withscores:pure-token:WITHSCORES]")},
      {"zremrangebyrank", 4, kCmdWrite, "@write @sortedset @slow", 1, 1, 1, Route::kKey,
       ZRemRangeByRank, nullptr, nullptr, nullptr,
       doc("Remove all members in a sorted set within the given indexes", "2.0.0",
           "O(log(N)+M) with N being the number of elements in the sorted set and M the number "
           "of elements removed by the operation.",
           "key:key{key_flags=RW+delete} start:integer stop:integer")},
      {"zremrangebyscore", 4, kCmdWrite, "@write @sortedset @slow", 1, 1, 1, Route::kKey,
       ZRemRangeByScore, nullptr, nullptr, nullptr,
       doc("Remove all members in a sorted set within the given scores", "1.2.0",
           "O(log(N)+M) with N being the number of elements in the sorted set and M the number "
           "of elements removed by the operation.",
           "key:key{key_flags=RW+delete} min:double max:double")},
      {"zremrangebylex", 4, kCmdWrite, "@write @sortedset @slow", 1, 1, 1, Route::kKey,
       ZRemRangeByLex, nullptr, nullptr, nullptr,
       doc("Remove all members in a sorted set between the given lexicographical range", "2.8.9",
           "O(log(N)+M) with N being the number of elements in the sorted set and M the number "
           "of elements removed by the operation.",
           "key:key{key_flags=RW+delete} min:string max:string")},
      {"zpopmin", -2, kCmdWrite | kCmdFast, "@write @sortedset @fast", 1, 1, 1, Route::kKey,
       ZPopMinMax<false>, nullptr, nullptr, nullptr,
       doc("Remove and return members with the lowest scores in a sorted set", "5.0.0",
           "O(log(N)*M) with N being the number of elements in the sorted set, and M being the "
           "number of elements popped.",
           "key:key{key_flags=RW+access+delete} [count:integer]")},
      {"zpopmax", -2, kCmdWrite | kCmdFast, "@write @sortedset @fast", 1, 1, 1, Route::kKey,
       ZPopMinMax<true>, nullptr, nullptr, nullptr,
       doc("Remove and return members with the highest scores in a sorted set", "5.0.0",
           "O(log(N)*M) with N being the number of elements in the sorted set, and M being the "
           "number of elements popped.",
           "key:key{key_flags=RW+access+delete} [count:integer]")},
      {"zmpop", -4, kCmdWrite, "@write @sortedset @slow", 0, 0, 0, Route::kParked, ZMPop, nullptr,
       nullptr, nullptr,
       doc("Remove and return members with scores in a sorted set", "7.0.0",
           "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of "
           "elements in the sorted set, and M being the number of elements popped.",
           "numkeys:integer key:key{key_flags=RW+access+delete}... where:oneof(min:pure-token:"
           "MIN|max:pure-token:MAX) [count:integer:COUNT]"),
       KeysNumkeys1},
      WithHistory(
          BlockingCommand(
              "bzpopmin", -3, kCmdWrite | kCmdNoScript | kCmdBlocking | kCmdFast,
              "@write @sortedset @fast @blocking", 1, -2, BZPop<false>, -1,
              doc("Remove and return the member with the lowest score from one or more "
                  "sorted sets, or block until one is available",
                  "5.0.0", "O(log(N)) with N being the number of elements in the sorted set.",
                  "key:key{key_flags=RW+access+delete}... timeout:double")),
          kTimeoutIsDoubleHistory),
      WithHistory(
          BlockingCommand(
              "bzpopmax", -3, kCmdWrite | kCmdNoScript | kCmdBlocking | kCmdFast,
              "@write @sortedset @fast @blocking", 1, -2, BZPop<true>, -1,
              doc("Remove and return the member with the highest score from one or more "
                  "sorted sets, or block until one is available",
                  "5.0.0", "O(log(N)) with N being the number of elements in the sorted set.",
                  "key:key{key_flags=RW+access+delete}... timeout:double")),
          kTimeoutIsDoubleHistory),
      BlockingCommand("bzmpop", -5, kCmdWrite | kCmdBlocking, "@write @sortedset @slow @blocking",
                      0, 0, BZMPop, 1,
                      doc("Remove and return members with scores in a sorted set or block until "
                          "one is available",
                          "7.0.0",
                          "O(K) + O(M*log(N)) where K is the number of provided keys, N being the "
                          "number of elements in the sorted set, and M being the number of "
                          "elements popped.",
                          "timeout:double numkeys:integer key:key{key_flags=RW+access+delete}... "
                          "where:oneof(min:pure-token:MIN|max:pure-token:MAX) "
                          "[count:integer:COUNT]"),
                      BZMPopKeys),
      {"zrandmember", -2, kRead, "@read @sortedset @slow", 1, 1, 1, Route::kKey, ZRandMember,
       nullptr, nullptr, nullptr,
       doc("Get one or multiple random elements from a sorted set", "6.2.0",
           "O(N) where N is the number of elements returned",
           "key:key [options:block(count:integer [withscores:pure-token:WITHSCORES])]")},
      {"zunion", -3, kRead, "@read @sortedset @slow", 0, 0, 0, Route::kParked, ZUnion, nullptr,
       nullptr, nullptr,
       doc("Add multiple sorted sets", "6.2.0",
           "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M "
           "being the number of elements in the resulting sorted set.",
           "numkeys:integer key:key... [weight:integer:WEIGHTS...] [aggregate:oneof(sum:pure-"
           "token:SUM|min:pure-token:MIN|max:pure-token:MAX):AGGREGATE] "
           "[withscores:pure-token:WITHSCORES]"),
       KeysNumkeys1},
      {"zinter", -3, kRead, "@read @sortedset @slow", 0, 0, 0, Route::kParked, ZInter, nullptr,
       nullptr, nullptr,
       doc("Intersect multiple sorted sets", "6.2.0",
           "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being "
           "the number of input sorted sets and M being the number of elements in the resulting "
           "sorted set.",
           "numkeys:integer key:key... [weight:integer:WEIGHTS...] [aggregate:oneof(sum:pure-"
           "token:SUM|min:pure-token:MIN|max:pure-token:MAX):AGGREGATE] "
           "[withscores:pure-token:WITHSCORES]"),
       KeysNumkeys1},
      {"zdiff", -3, kRead, "@read @sortedset @slow", 0, 0, 0, Route::kParked, ZDiff, nullptr,
       nullptr, nullptr,
       doc("Subtract multiple sorted sets", "6.2.0",
           "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the "
           "sets, N is the size of the first set, and K is the size of the result set.",
           "numkeys:integer key:key... [withscores:pure-token:WITHSCORES]"),
       KeysNumkeys1},
      {"zintercard", -3, kRead, "@read @sortedset @slow", 0, 0, 0, Route::kParked, ZInterCard,
       nullptr, nullptr, nullptr,
       doc("Intersect multiple sorted sets and return the cardinality of the result", "7.0.0",
           "O(N*K) worst case with N being the smallest input sorted set, K being the number of "
           "input sorted sets.",
           "numkeys:integer key:key... [limit:integer:LIMIT]"),
       KeysNumkeys1},
      {"zunionstore", -4, kWriteOom, "@write @sortedset @slow", 1, 1, 1, Route::kParked,
       ZUnionStore, nullptr, nullptr, nullptr,
       doc("Add multiple sorted sets and store the resulting sorted set in a new key", "2.0.0",
           "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M "
           "being the number of elements in the resulting sorted set.",
           "destination:key{key_flags=OW+update} numkeys:integer key:key{key_flags=RO+access}"
           "... [weight:integer:WEIGHTS...] [aggregate:oneof(sum:pure-token:SUM|min:pure-token:"
           "MIN|max:pure-token:MAX):AGGREGATE]"),
       KeysNumkeys2Dst},
      {"zinterstore", -4, kWriteOom, "@write @sortedset @slow", 1, 1, 1, Route::kParked,
       ZInterStore, nullptr, nullptr, nullptr,
       doc("Intersect multiple sorted sets and store the resulting sorted set in a new key",
           "2.0.0",
           "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being "
           "the number of input sorted sets and M being the number of elements in the resulting "
           "sorted set.",
           "destination:key{key_flags=OW+update} numkeys:integer key:key{key_flags=RO+access}"
           "... [weight:integer:WEIGHTS...] [aggregate:oneof(sum:pure-token:SUM|min:pure-token:"
           "MIN|max:pure-token:MAX):AGGREGATE]"),
       KeysNumkeys2Dst},
      {"zdiffstore", -4, kWriteOom, "@write @sortedset @slow", 1, 1, 1, Route::kParked, ZDiffStore,
       nullptr, nullptr, nullptr,
       doc("Subtract multiple sorted sets and store the resulting sorted set in a new key", "6.2.0",
           "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the "
           "sets, N is the size of the first set, and K is the size of the result set.",
           "destination:key{key_flags=OW+update} numkeys:integer key:key{key_flags=RO+access}"
           "..."),
       KeysNumkeys2Dst},
      {"zscan", -3, kRead, "@read @sortedset @slow", 1, 1, 1, Route::kKey, ZScan, nullptr, nullptr,
       nullptr,
       doc("Incrementally iterate sorted sets elements and associated scores", "2.8.0",
           "O(1) for every call. O(N) for a complete iteration, including enough command calls "
           "for the cursor to return back to 0. N is the number of elements inside the "
           "collection..",
           "key:key cursor:integer [pattern:pattern:MATCH] [count:integer:COUNT]")},
  };
  return t;
}

}  // namespace omnibus
