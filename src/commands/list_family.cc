// List commands: LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE LINDEX LSET LINSERT LREM LTRIM
// LPOS LMPOP RPOPLPUSH LMOVE (blocking pops are not here yet).
// Runs on: shard threads (LMPOP, RPOPLPUSH and LMOVE parked when their keys live on several
// shards, so every key is reached through ctx.DbFor(key)).
#include <algorithm>
#include <climits>
#include <cstring>
#include <string>
#include <vector>

#include "omnibus/base/strings.h"
#include "omnibus/commands/command_table.h"
#include "omnibus/store/list.h"

namespace omnibus {
namespace {

using Args = std::span<const std::string_view>;

bool IsOpt(std::string_view arg, std::string_view opt) { return EqualsIgnoreCase(arg, opt); }

ListNodeLimit Limit(const ExecContext& ctx) { return ListLimit(ctx.limits()); }

// Redis's getListPositionFromObjectOrReply: LEFT or RIGHT, else a syntax error.
bool ParseWhere(std::string_view arg, ListEnd* end, ReplyBuilder* rb) {
  if (IsOpt(arg, "LEFT")) {
    *end = ListEnd::kHead;
  } else if (IsOpt(arg, "RIGHT")) {
    *end = ListEnd::kTail;
  } else {
    ReplyStatus(rb, OpStatus::kSyntaxError);
    return false;
  }
  return true;
}

// Redis's getRangeLongFromObjectOrReply with a message: a non-integer or a value outside
// [min, max] gets the same error text.
bool ArgInRange(std::string_view arg, int64_t min, int64_t* out, std::string_view error,
                ReplyBuilder* rb) {
  if (ParseInt64(arg, out) && *out >= min) return true;
  rb->Error(error);
  return false;
}

// Pops up to `count` elements from one end of an open list and replies them as an array.
void PopRangeReply(KeyWrite& w, ListEnd end, int64_t count, const ListNodeLimit& limit,
                   ReplyBuilder* rb) {
  ObjectRef obj = w.obj();
  size_t n = std::min(static_cast<size_t>(count), ListLength(obj));
  rb->Array(n);
  char buf[ListNodePack::kIntBuf];
  for (size_t i = 0; i < n; ++i) {
    rb->Bulk(ListPeek(obj, end, buf));
    ListPop(&obj, end, limit);
  }
  w.set_obj(obj);
}

size_t DecimalDigits(size_t v) {
  size_t n = 1;
  while (v >= 10) {
    v /= 10;
    ++n;
  }
  return n;
}

// Appends `n` elements from `c` as RESP bulk strings ("$len\r\nbytes\r\n", the same in RESP2
// and RESP3). LRANGE's replies are the large ones (LRANGE_600): sizing the buffer once and
// writing in place costs a fraction of one ReplyBuilder::Bulk call (three appends) per element.
void AppendBulks(ListCursor c, size_t n, std::string* out) {
  size_t total = 0;
  ListCursor probe = c;
  for (size_t i = 0; i < n; ++i, probe.Next()) {
    size_t len = probe.value().size();
    total += 1 + DecimalDigits(len) + 2 + len + 2;
  }
  size_t at = out->size();
  out->resize(at + total);
  char* p = out->data() + at;
  for (size_t i = 0; i < n; ++i, c.Next()) {
    std::string_view v = c.value();
    *p++ = '$';
    size_t digits = DecimalDigits(v.size());
    for (size_t d = digits, len = v.size(); d > 0; --d, len /= 10) {
      p[d - 1] = static_cast<char>('0' + len % 10);
    }
    p += digits;
    *p++ = '\r';
    *p++ = '\n';
    if (!v.empty()) memcpy(p, v.data(), v.size());
    p += v.size();
    *p++ = '\r';
    *p++ = '\n';
  }
}

template <ListEnd kEnd, bool kOnlyIfExists>
void Push(ExecContext& ctx) {
  Args a = ctx.args;
  Db& db = ctx.DbFor(a[1]);
  auto w = db.Write(a[1], ValueType::kList, /*create=*/!kOnlyIfExists);
  if (!w.ok()) return ReplyStatus(ctx.reply, w.status());
  if (!*w) return ctx.reply->Integer(0);
  ObjectRef obj = w->obj();
  ListNodeLimit limit = Limit(ctx);
  for (size_t i = 2; i < a.size(); ++i) ListPush(&obj, kEnd, a[i], limit);
  w->set_obj(obj);
  ctx.reply->Integer(static_cast<int64_t>(ListLength(obj)));
}

template <ListEnd kEnd>
void Pop(ExecContext& ctx) {
  Args a = ctx.args;
  if (a.size() > 3) return ReplyArityError(ctx.reply, kEnd == ListEnd::kHead ? "lpop" : "rpop");
  bool has_count = a.size() == 3;
  int64_t count = 0;
  if (has_count &&
      !ArgInRange(a[2], 0, &count, "ERR value is out of range, must be positive", ctx.reply))
    return;
  Db& db = ctx.DbFor(a[1]);
  auto w = db.Write(a[1], ValueType::kList, /*create=*/false);
  if (!w.ok()) return ReplyStatus(ctx.reply, w.status());
  if (!*w) return has_count ? ctx.reply->NullArray() : ctx.reply->Null();
  ListNodeLimit limit = Limit(ctx);
  if (!has_count) {
    ObjectRef obj = w->obj();
    char buf[ListNodePack::kIntBuf];
    ctx.reply->Bulk(ListPeek(obj, kEnd, buf));
    ListPop(&obj, kEnd, limit);
    w->set_obj(obj);
    return;
  }
  if (count == 0) {
    w->NoChange();
    return ctx.reply->Array(0);
  }
  PopRangeReply(*w, kEnd, count, limit, ctx.reply);
}

void LLen(ExecContext& ctx) {
  auto e = ctx.DbFor(ctx.args[1]).FindTyped(ctx.args[1], ValueType::kList);
  if (!e.ok()) return ReplyStatus(ctx.reply, e.status());
  ctx.reply->Integer(*e ? static_cast<int64_t>(ListLength((*e)->object())) : 0);
}

// Redis's index normalisation for LRANGE/LTRIM: false when the range is empty.
bool NormalizeRange(int64_t len, int64_t* start, int64_t* end) {
  if (*start < 0) *start += len;
  if (*end < 0) *end += len;
  if (*start < 0) *start = 0;
  if (*start > *end || *start >= len) return false;
  if (*end >= len) *end = len - 1;
  return true;
}

void LRange(ExecContext& ctx) {
  Args a = ctx.args;
  int64_t start, end;
  if (!ArgToInt64(a[2], &start, ctx.reply) || !ArgToInt64(a[3], &end, ctx.reply)) return;
  auto e = ctx.DbFor(a[1]).FindTyped(a[1], ValueType::kList);
  if (!e.ok()) return ReplyStatus(ctx.reply, e.status());
  if (!*e) return ctx.reply->Array(0);
  ObjectRef obj = (*e)->object();
  if (!NormalizeRange(static_cast<int64_t>(ListLength(obj)), &start, &end)) {
    return ctx.reply->Array(0);
  }
  int64_t n = end - start + 1;
  ctx.reply->Array(static_cast<size_t>(n));
  if (ctx.reply->out() != nullptr) {
    return AppendBulks(ListSeek(obj, start), static_cast<size_t>(n), ctx.reply->out());
  }
  // Capture mode (a script's redis.call): element by element.
  ListCursor c = ListSeek(obj, start);
  for (int64_t i = 0; i < n; ++i, c.Next()) ctx.reply->Bulk(c.value());
}

void LIndex(ExecContext& ctx) {
  Args a = ctx.args;
  // Redis looks the key up before it parses the index.
  auto e = ctx.DbFor(a[1]).FindTyped(a[1], ValueType::kList);
  if (!e.ok()) return ReplyStatus(ctx.reply, e.status());
  if (!*e) return ctx.reply->Null();
  int64_t index;
  if (!ArgToInt64(a[2], &index, ctx.reply)) return;
  ListCursor c = ListSeek((*e)->object(), index);
  if (!c.valid()) return ctx.reply->Null();
  ctx.reply->Bulk(c.value());
}

void LSet(ExecContext& ctx) {
  Args a = ctx.args;
  auto w = ctx.DbFor(a[1]).Write(a[1], ValueType::kList, /*create=*/false);
  if (!w.ok()) return ReplyStatus(ctx.reply, w.status());
  if (!*w) return ReplyStatus(ctx.reply, OpStatus::kNoSuchKey);
  int64_t index;
  if (!ArgToInt64(a[2], &index, ctx.reply)) return w->NoChange();
  ObjectRef obj = w->obj();
  if (!ListSet(&obj, index, a[3], Limit(ctx))) {
    w->NoChange();
    return ctx.reply->Error("ERR index out of range");
  }
  w->set_obj(obj);
  ctx.reply->Ok();
}

void LInsert(ExecContext& ctx) {
  Args a = ctx.args;
  bool after;
  if (IsOpt(a[2], "AFTER")) {
    after = true;
  } else if (IsOpt(a[2], "BEFORE")) {
    after = false;
  } else {
    return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
  }
  auto w = ctx.DbFor(a[1]).Write(a[1], ValueType::kList, /*create=*/false);
  if (!w.ok()) return ReplyStatus(ctx.reply, w.status());
  if (!*w) return ctx.reply->Integer(0);
  ObjectRef obj = w->obj();
  if (!ListInsert(&obj, a[3], a[4], after, Limit(ctx))) {
    w->NoChange();
    return ctx.reply->Integer(-1);
  }
  w->set_obj(obj);
  ctx.reply->Integer(static_cast<int64_t>(ListLength(obj)));
}

void LRem(ExecContext& ctx) {
  Args a = ctx.args;
  int64_t count;
  if (!ArgToInt64(a[2], &count, ctx.reply)) return;
  auto w = ctx.DbFor(a[1]).Write(a[1], ValueType::kList, /*create=*/false);
  if (!w.ok()) return ReplyStatus(ctx.reply, w.status());
  if (!*w) return ctx.reply->Integer(0);
  ObjectRef obj = w->obj();
  size_t removed = ListRemove(&obj, a[3], count, Limit(ctx));
  w->set_obj(obj);
  if (removed == 0) w->NoChange();
  ctx.reply->Integer(static_cast<int64_t>(removed));
}

void LTrim(ExecContext& ctx) {
  Args a = ctx.args;
  int64_t start, end;
  if (!ArgToInt64(a[2], &start, ctx.reply) || !ArgToInt64(a[3], &end, ctx.reply)) return;
  auto w = ctx.DbFor(a[1]).Write(a[1], ValueType::kList, /*create=*/false);
  if (!w.ok()) return ReplyStatus(ctx.reply, w.status());
  if (!*w) return ctx.reply->Ok();
  ObjectRef obj = w->obj();
  int64_t len = static_cast<int64_t>(ListLength(obj));
  int64_t head = len, tail = 0;  // an empty range removes everything
  if (NormalizeRange(len, &start, &end)) {
    head = start;
    tail = len - end - 1;
  }
  // Redis reports LTRIM as a change even when nothing was trimmed (WATCH sees it).
  ListTrim(&obj, static_cast<size_t>(head), static_cast<size_t>(tail), Limit(ctx));
  w->set_obj(obj);
  ctx.reply->Ok();
}

void LPos(ExecContext& ctx) {
  Args a = ctx.args;
  int64_t rank = 1, count = -1, maxlen = 0;  // count -1: no COUNT option
  for (size_t j = 3; j < a.size(); ++j) {
    bool more = j + 1 < a.size();
    if (IsOpt(a[j], "RANK") && more) {
      if (!ArgToInt64(a[++j], &rank, ctx.reply)) return;
      if (rank == 0) {
        return ctx.reply->Error(
            "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
            "or use negative to start from the end of the list");
      }
    } else if (IsOpt(a[j], "COUNT") && more) {
      if (!ArgInRange(a[++j], 0, &count, "ERR COUNT can't be negative", ctx.reply)) return;
    } else if (IsOpt(a[j], "MAXLEN") && more) {
      if (!ArgInRange(a[++j], 0, &maxlen, "ERR MAXLEN can't be negative", ctx.reply)) return;
    } else {
      return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
    }
  }
  auto e = ctx.DbFor(a[1]).FindTyped(a[1], ValueType::kList);
  if (!e.ok()) return ReplyStatus(ctx.reply, e.status());
  if (!*e) return count != -1 ? ctx.reply->Array(0) : ctx.reply->Null();
  ObjectRef obj = (*e)->object();
  const bool from_tail = rank < 0;
  // Matches to pass over first. Redis 7.0 negates RANK -2^63 into itself, so that rank takes
  // the first match from the tail and its COUNT never stops the walk: the same here.
  const bool min_rank = rank == INT64_MIN;
  const int64_t skip = min_rank ? 0 : from_tail ? -rank - 1 : rank - 1;
  if (min_rank && count > 0) count = 0;
  const int64_t len = static_cast<int64_t>(ListLength(obj));
  std::vector<int64_t> found;
  int64_t matches = 0;
  ListCursor c = ListSeek(obj, from_tail ? -1 : 0);
  for (int64_t i = 0; c.valid() && (maxlen == 0 || i < maxlen); ++i) {
    if (c.value() == a[2] && matches++ >= skip) {
      found.push_back(from_tail ? len - i - 1 : i);
      if (count != -1 ? (count != 0 && static_cast<int64_t>(found.size()) >= count) : true) break;
    }
    if (from_tail) {
      c.Prev();
    } else {
      c.Next();
    }
  }
  if (count == -1) {
    return found.empty() ? ctx.reply->Null() : ctx.reply->Integer(found[0]);
  }
  ctx.reply->Array(found.size());
  for (int64_t i : found) ctx.reply->Integer(i);
}

void LMPopKeys(std::span<const std::string_view> args, std::vector<int>* out) {
  KeysAfterCount(args, 1, /*dest_first=*/false, out);
}

// LMPOP numkeys key... (at = 1) and BLMPOP timeout numkeys key... (at = 2).
void LMPopAt(ExecContext& ctx, size_t at) {
  Args a = ctx.args;
  int64_t numkeys;
  if (!ArgInRange(a[at], 1, &numkeys, "ERR numkeys should be greater than 0", ctx.reply)) return;
  if (numkeys > static_cast<int64_t>(a.size()) - static_cast<int64_t>(at) - 2) {
    return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);  // no room for LEFT|RIGHT
  }
  size_t where_at = at + 1 + static_cast<size_t>(numkeys);
  ListEnd end;
  if (!ParseWhere(a[where_at], &end, ctx.reply)) return;
  int64_t count = -1;
  for (size_t j = where_at + 1; j < a.size(); ++j) {
    if (count == -1 && IsOpt(a[j], "COUNT") && j + 1 < a.size()) {
      if (!ArgInRange(a[++j], 1, &count, "ERR count should be greater than 0", ctx.reply)) return;
    } else {
      return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
    }
  }
  if (count == -1) count = 1;
  if (at == 2 && !CheckBlockingTimeout(a[1], ctx.reply)) return;  // BLMPOP
  ListNodeLimit limit = Limit(ctx);
  for (size_t k = at + 1; k < where_at; ++k) {
    auto w = ctx.DbFor(a[k]).Write(a[k], ValueType::kList, /*create=*/false);
    if (!w.ok()) return ReplyStatus(ctx.reply, w.status());
    if (!*w) continue;
    ctx.reply->Array(2);
    ctx.reply->Bulk(a[k]);
    PopRangeReply(*w, end, count, limit, ctx.reply);
    w->Finish();
    AfterBlockingPop(ctx, a[k]);
    return;
  }
  if (BlockOnKeys(ctx, a.subspan(at + 1, where_at - at - 1))) return;
  ctx.reply->NullArray();
}

void LMPop(ExecContext& ctx) { LMPopAt(ctx, 1); }

void BLMPopKeys(std::span<const std::string_view> args, std::vector<int>* out) {
  KeysAfterCount(args, 2, /*dest_first=*/false, out);
}

void BLMPop(ExecContext& ctx) { LMPopAt(ctx, 2); }

void MoveGeneric(ExecContext& ctx, ListEnd from, ListEnd to) {
  Args a = ctx.args;
  std::string_view src = a[1], dst = a[2];
  auto sw = ctx.DbFor(src).Write(src, ValueType::kList, /*create=*/false);
  if (!sw.ok()) return ReplyStatus(ctx.reply, sw.status());
  if (!*sw) return ctx.reply->Null();
  ListNodeLimit limit = Limit(ctx);
  ObjectRef obj = sw->obj();
  char buf[ListNodePack::kIntBuf];
  std::string value(ListPeek(obj, from, buf));
  if (src == dst) {
    // One key: a rotation through the one write (never two KeyWrites on one key).
    ListPop(&obj, from, limit);
    ListPush(&obj, to, value, limit);
    sw->set_obj(obj);
    return ctx.reply->Bulk(value);
  }
  Db& ddb = ctx.DbFor(dst);
  // The destination's type is checked before anything is popped.
  auto dw = ddb.Write(dst, ValueType::kList, /*create=*/true);
  if (!dw.ok()) {
    sw->NoChange();
    return ReplyStatus(ctx.reply, dw.status());
  }
  ObjectRef dobj = dw->obj();
  ListPush(&dobj, to, value, limit);
  dw->set_obj(dobj);
  dw->Finish();
  ListPop(&obj, from, limit);
  sw->set_obj(obj);
  sw->Finish();
  ctx.reply->Bulk(value);
}

void RPopLPush(ExecContext& ctx) { MoveGeneric(ctx, ListEnd::kTail, ListEnd::kHead); }

void LMove(ExecContext& ctx) {
  ListEnd from, to;
  if (!ParseWhere(ctx.args[3], &from, ctx.reply) || !ParseWhere(ctx.args[4], &to, ctx.reply))
    return;
  MoveGeneric(ctx, from, to);
}

// BLPOP/BRPOP key [key ...] timeout: the first non-empty key in argument order gives one
// element; the timeout was checked by the reactor.
template <ListEnd kEnd>
void BlockingPop(ExecContext& ctx) {
  if (!CheckBlockingTimeout(ctx.args.back(), ctx.reply)) return;
  Args keys = ctx.args.subspan(1, ctx.args.size() - 2);
  ListNodeLimit limit = Limit(ctx);
  for (std::string_view key : keys) {
    auto w = ctx.DbFor(key).Write(key, ValueType::kList, /*create=*/false);
    if (!w.ok()) return ReplyStatus(ctx.reply, w.status());
    if (!*w) continue;
    ObjectRef obj = w->obj();
    char buf[ListNodePack::kIntBuf];
    ctx.reply->Array(2);
    ctx.reply->Bulk(key);
    ctx.reply->Bulk(ListPeek(obj, kEnd, buf));
    ListPop(&obj, kEnd, limit);
    w->set_obj(obj);
    w->Finish();
    AfterBlockingPop(ctx, key);
    return;
  }
  if (BlockOnKeys(ctx, keys)) return;
  ctx.reply->NullArray();
}

// BLMOVE src dst LEFT|RIGHT LEFT|RIGHT timeout, BRPOPLPUSH src dst timeout.
void BlockingMove(ExecContext& ctx, ListEnd from, ListEnd to) {
  if (!CheckBlockingTimeout(ctx.args.back(), ctx.reply)) return;
  std::string_view src = ctx.args[1];
  auto found = ctx.DbFor(src).FindTyped(src, ValueType::kList);
  if (!found.ok()) return ReplyStatus(ctx.reply, found.status());
  if (!*found) {
    if (BlockOnKeys(ctx, ctx.args.subspan(1, 1))) return;
    return ctx.reply->Null();
  }
  MoveGeneric(ctx, from, to);
  AfterBlockingPop(ctx, src);
}

void BRPopLPush(ExecContext& ctx) { BlockingMove(ctx, ListEnd::kTail, ListEnd::kHead); }

void BLMove(ExecContext& ctx) {
  ListEnd from, to;
  if (!ParseWhere(ctx.args[3], &from, ctx.reply) || !ParseWhere(ctx.args[4], &to, ctx.reply))
    return;
  BlockingMove(ctx, from, to);
}

constexpr uint32_t kWriteOom = kCmdWrite | kCmdDenyOom;

CommandDoc Doc(std::string_view summary, std::string_view since, std::string_view complexity,
               std::string_view args) {
  return CommandDoc{summary, since, "list", complexity, args};
}

constexpr std::string_view kPushComplexity =
    "O(1) for each element added, so O(N) to add N elements when the command is called with "
    "multiple arguments.";

}  // namespace

std::vector<CommandSpec> ListFamily() {
  CommandSpec lmpop{"lmpop",
                    -4,
                    kCmdWrite,
                    "@write @list @slow",
                    0,
                    0,
                    0,
                    Route::kParked,
                    LMPop,
                    nullptr,
                    nullptr,
                    nullptr,
                    Doc("Pop elements from a list", "7.0.0",
                        "O(N+M) where N is the number of provided keys and M is the number of "
                        "elements returned.",
                        "numkeys:integer key:key{key_flags=RW+access+delete}... where:oneof(left:p"
                        "ure-token:LEFT|right:pure-token:RIGHT) [count:integer:COUNT]")};
  lmpop.keys_fn = LMPopKeys;
  return {
      {"lpush", -3, kWriteOom | kCmdFast, "@write @list @fast", 1, 1, 1, Route::kKey,
       Push<ListEnd::kHead, false>, nullptr, nullptr, nullptr,
       Doc("Prepend one or multiple elements to a list", "1.0.0", kPushComplexity,
           "key:key{key_flags=RW+insert} element:string...")},
      {"rpush", -3, kWriteOom | kCmdFast, "@write @list @fast", 1, 1, 1, Route::kKey,
       Push<ListEnd::kTail, false>, nullptr, nullptr, nullptr,
       Doc("Append one or multiple elements to a list", "1.0.0", kPushComplexity,
           "key:key{key_flags=RW+insert} element:string...")},
      {"lpushx", -3, kWriteOom | kCmdFast, "@write @list @fast", 1, 1, 1, Route::kKey,
       Push<ListEnd::kHead, true>, nullptr, nullptr, nullptr,
       Doc("Prepend an element to a list, only if the list exists", "2.2.0", kPushComplexity,
           "key:key{key_flags=RW+insert} element:string...")},
      {"rpushx", -3, kWriteOom | kCmdFast, "@write @list @fast", 1, 1, 1, Route::kKey,
       Push<ListEnd::kTail, true>, nullptr, nullptr, nullptr,
       Doc("Append an element to a list, only if the list exists", "2.2.0", kPushComplexity,
           "key:key{key_flags=RW+insert} element:string...")},
      {"lpop", -2, kCmdWrite | kCmdFast, "@write @list @fast", 1, 1, 1, Route::kKey,
       Pop<ListEnd::kHead>, nullptr, nullptr, nullptr,
       Doc("Remove and get the first elements in a list", "1.0.0",
           "O(N) where N is the number of elements returned",
           "key:key{key_flags=RW+access+delete} [count:integer{since=6.2.0}]")},
      {"rpop", -2, kCmdWrite | kCmdFast, "@write @list @fast", 1, 1, 1, Route::kKey,
       Pop<ListEnd::kTail>, nullptr, nullptr, nullptr,
       Doc("Remove and get the last elements in a list", "1.0.0",
           "O(N) where N is the number of elements returned",
           "key:key{key_flags=RW+access+delete} [count:integer{since=6.2.0}]")},
      {"llen", 2, kCmdReadOnly | kCmdFast | kCmdCoalescable, "@read @list @fast", 1, 1, 1,
       Route::kKey, LLen, nullptr, nullptr, nullptr,
       Doc("Get the length of a list", "1.0.0", "O(1)", "key:key{key_flags=RO}")},
      {"lrange", 4, kCmdReadOnly | kCmdCoalescable, "@read @list @slow", 1, 1, 1, Route::kKey,
       LRange, nullptr, nullptr, nullptr,
       Doc("Get a range of elements from a list", "1.0.0",
           "O(S+N) where S is the distance of start offset from HEAD for small lists, from "
           "nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the "
           "specified range.",
           "key:key start:integer stop:integer")},
      {"lindex", 3, kCmdReadOnly | kCmdCoalescable, "@read @list @slow", 1, 1, 1, Route::kKey,
       LIndex, nullptr, nullptr, nullptr,
       Doc("Get an element from a list by its index", "1.0.0",
           "O(N) where N is the number of elements to traverse to get to the element at index. "
           "This makes asking for the first or the last element of the list O(1).",
           "key:key index:integer")},
      {"lset", 4, kWriteOom, "@write @list @slow", 1, 1, 1, Route::kKey, LSet, nullptr, nullptr,
       nullptr,
       Doc("Set the value of an element in a list by its index", "1.0.0",
           "O(N) where N is the length of the list. Setting either the first or the last "
           "element of the list is O(1).",
           "key:key{key_flags=RW+update} index:integer element:string")},
      {"linsert", 5, kWriteOom, "@write @list @slow", 1, 1, 1, Route::kKey, LInsert, nullptr,
       nullptr, nullptr,
       Doc("Insert an element before or after another element in a list", "2.2.0",
           "O(N) where N is the number of elements to traverse before seeing the value pivot. "
           "This means that inserting somewhere on the left end on the list (head) can be "
           "considered O(1) and inserting somewhere on the right end (tail) is O(N).",
           "key:key{key_flags=RW+insert} where:oneof(before:pure-token:BEFORE|after:pure-token:"
           "AFTER) pivot:string element:string")},
      {"lrem", 4, kCmdWrite, "@write @list @slow", 1, 1, 1, Route::kKey, LRem, nullptr, nullptr,
       nullptr,
       Doc("Remove elements from a list", "1.0.0",
           "O(N+M) where N is the length of the list and M is the number of elements removed.",
           "key:key{key_flags=RW+delete} count:integer element:string")},
      {"ltrim", 4, kCmdWrite, "@write @list @slow", 1, 1, 1, Route::kKey, LTrim, nullptr, nullptr,
       nullptr,
       Doc("Trim a list to the specified range", "1.0.0",
           "O(N) where N is the number of elements to be removed by the operation.",
           "key:key{key_flags=RW+delete} start:integer stop:integer")},
      {"lpos", -3, kCmdReadOnly | kCmdCoalescable, "@read @list @slow", 1, 1, 1, Route::kKey, LPos,
       nullptr, nullptr, nullptr,
       Doc("Return the index of matching elements on a list", "6.0.6",
           "O(N) where N is the number of elements in the list, for the average case. When "
           "searching for elements near the head or the tail of the list, or when the MAXLEN "
           "option is provided, the command may run in constant time.",
           "key:key element:string [rank:integer:RANK] [num-matches:integer:COUNT] "
           "[len:integer:MAXLEN]")},
      lmpop,
      Deprecated(
          {"rpoplpush", 3, kWriteOom, "@write @list @slow", 1, 2, 1, Route::kParked, RPopLPush,
           nullptr, nullptr, nullptr,
           Doc("Remove the last element in a list, prepend it to another list and return it",
               "1.2.0", "O(1)",
               "source:key{key_flags=RW+access+delete} destination:key{key_flags=RW+insert}")},
          "6.2.0", "`LMOVE` with the `RIGHT` and `LEFT` arguments"),
      {"lmove", 5, kWriteOom, "@write @list @slow", 1, 2, 1, Route::kParked, LMove, nullptr,
       nullptr, nullptr,
       Doc("Pop an element from a list, push it to another list and return it", "6.2.0", "O(1)",
           "source:key{key_flags=RW+access+delete} destination:key{key_flags=RW+insert} "
           "wherefrom:oneof(left:pure-token:LEFT|right:pure-token:RIGHT) whereto:oneof(left:pu"
           "re-token:LEFT|right:pure-token:RIGHT)")},
      WithHistory(
          BlockingCommand("blpop", -3, kCmdWrite | kCmdNoScript | kCmdBlocking,
                          "@write @list @slow @blocking", 1, -2, BlockingPop<ListEnd::kHead>, -1,
                          Doc("Remove and get the first element in a list, or block until one is "
                              "available",
                              "2.0.0", "O(N) where N is the number of provided keys.",
                              "key:key{key_flags=RW+access+delete}... timeout:double")),
          kTimeoutIsDoubleHistory),
      WithHistory(
          BlockingCommand("brpop", -3, kCmdWrite | kCmdNoScript | kCmdBlocking,
                          "@write @list @slow @blocking", 1, -2, BlockingPop<ListEnd::kTail>, -1,
                          Doc("Remove and get the last element in a list, or block until one is "
                              "available",
                              "2.0.0", "O(N) where N is the number of provided keys.",
                              "key:key{key_flags=RW+access+delete}... timeout:double")),
          kTimeoutIsDoubleHistory),
      Deprecated(
          WithHistory(BlockingCommand(
                          "brpoplpush", 4, kWriteOom | kCmdNoScript | kCmdBlocking,
                          "@write @list @slow @blocking", 1, 2, BRPopLPush, -1,
                          Doc("Pop an element from a list, push it to another list and return it; "
                              "or block until one is available",
                              "2.2.0", "O(1)",
                              "source:key{key_flags=RW+access+delete} "
                              "destination:key{key_flags=RW+insert} timeout:double")),
                      kTimeoutIsDoubleHistory),
          "6.2.0", "`BLMOVE` with the `RIGHT` and `LEFT` arguments"),
      BlockingCommand("blmove", 6, kWriteOom | kCmdNoScript | kCmdBlocking,
                      "@write @list @slow @blocking", 1, 2, BLMove, -1,
                      Doc("Pop an element from a list, push it to another list and return it; "
                          "or block until one is available",
                          "6.2.0", "O(1)",
                          "source:key{key_flags=RW+access+delete} "
                          "destination:key{key_flags=RW+insert} "
                          "wherefrom:oneof(left:pure-token:LEFT|right:pure-token:RIGHT) "
                          "whereto:oneof(left:pure-token:LEFT|right:pure-token:RIGHT) "
                          "timeout:double")),
      BlockingCommand("blmpop", -5, kCmdWrite | kCmdBlocking, "@write @list @slow @blocking", 0, 0,
                      BLMPop, 1,
                      Doc("Pop elements from a list, or block until one is available", "7.0.0",
                          "O(N+M) where N is the number of provided keys and M is the number of "
                          "elements returned.",
                          "timeout:double numkeys:integer key:key{key_flags=RW+access+delete}... "
                          "where:oneof(left:pure-token:LEFT|right:pure-token:RIGHT) "
                          "[count:integer:COUNT]"),
                      BLMPopKeys),
  };
}

}  // namespace omnibus
