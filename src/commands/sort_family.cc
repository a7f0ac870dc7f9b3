// SORT and SORT_RO: sort a list, set or sorted set, optionally by weights in other keys
// (BY pattern), fetching other keys' values (GET pattern, `->field` of hashes), with LIMIT,
// ASC/DESC, ALPHA and STORE, as Redis 7.0's sortCommandGeneric does.
// Runs on: shard threads. Patterns can name any key, so a SORT with BY/GET patterns parks
// every shard (DESIGN §6) and reaches each key through ctx.DbFor(key).
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "omnibus/base/strings.h"
#include "omnibus/commands/command_table.h"
#include "omnibus/store/hash.h"
#include "omnibus/store/list.h"
#include "omnibus/store/set.h"
#include "omnibus/store/zset.h"

namespace omnibus {
namespace {

struct SortOptions {
  bool desc = false;
  bool alpha = false;
  bool dontsort = false;
  int64_t limit_start = 0;
  int64_t limit_count = -1;
  std::optional<std::string_view> by;
  std::optional<std::string_view> store;
  std::vector<std::string_view> gets;
};

// Parses the options; false after replying an error. `readonly` (SORT_RO) has no STORE.
bool ParseSortOptions(std::span<const std::string_view> args, bool readonly, SortOptions* o,
                      ReplyBuilder* rb) {
  for (size_t j = 2; j < args.size(); ++j) {
    size_t left = args.size() - j - 1;
    std::string_view a = args[j];
    if (EqualsIgnoreCase(a, "asc")) {
      o->desc = false;
    } else if (EqualsIgnoreCase(a, "desc")) {
      o->desc = true;
    } else if (EqualsIgnoreCase(a, "alpha")) {
      o->alpha = true;
    } else if (EqualsIgnoreCase(a, "limit") && left >= 2) {
      if (!ArgToInt64(args[j + 1], &o->limit_start, rb) ||
          !ArgToInt64(args[j + 2], &o->limit_count, rb))
        return false;
      j += 2;
    } else if (EqualsIgnoreCase(a, "store") && left >= 1 && !readonly) {
      o->store = args[++j];
    } else if (EqualsIgnoreCase(a, "by") && left >= 1) {
      o->by = args[++j];
      // A BY pattern without '*' names no key per element: "don't sort" (BY nosort).
      if (o->by->find('*') == std::string_view::npos) o->dontsort = true;
    } else if (EqualsIgnoreCase(a, "get") && left >= 1) {
      o->gets.push_back(args[++j]);
    } else {
      ReplyStatus(rb, OpStatus::kSyntaxError);
      return false;
    }
  }
  return true;
}

// Does this pattern read other keys? ("#" is the element itself; no '*' reads nothing.)
bool ReadsKeys(std::string_view pattern) {
  return pattern != "#" && pattern.find('*') != std::string_view::npos;
}

// SORT key ... [STORE dst]: the key, the destination, and every shard when a pattern may
// read any key (position -1, see KeyPositions).
void SortKeys(std::span<const std::string_view> args, std::vector<int>* out) {
  out->push_back(1);
  bool patterns = false;
  for (size_t j = 2; j < args.size(); ++j) {
    size_t left = args.size() - j - 1;
    if (EqualsIgnoreCase(args[j], "limit") && left >= 2) {
      j += 2;
    } else if (EqualsIgnoreCase(args[j], "store") && left >= 1) {
      out->push_back(static_cast<int>(++j));
    } else if ((EqualsIgnoreCase(args[j], "by") || EqualsIgnoreCase(args[j], "get")) && left >= 1) {
      patterns |= ReadsKeys(args[++j]);
    }
  }
  if (patterns) out->push_back(kAllShardsKey);
}

// Redis's lookupKeyByPattern: "#" is the element; otherwise the first '*' is replaced by the
// element, and a "->field" after it reads that hash field. Missing keys, wrong types and
// patterns without '*' give nothing.
std::optional<std::string> LookupByPattern(ExecContext& ctx, std::string_view pattern,
                                           std::string_view element) {
  if (pattern == "#") return std::string(element);
  size_t star = pattern.find('*');
  if (star == std::string_view::npos) return std::nullopt;
  std::string_view field;
  std::string_view rest = pattern.substr(star + 1);
  size_t arrow = rest.find("->");
  if (arrow != std::string_view::npos && arrow + 2 < rest.size()) {
    field = rest.substr(arrow + 2);
    rest = rest.substr(0, arrow);
  }
  std::string key;
  key.reserve(star + element.size() + rest.size());
  key.append(pattern.substr(0, star)).append(element).append(rest);
  Db::Entry e = ctx.DbFor(key).Find(key);
  if (!e) return std::nullopt;
  if (!field.empty()) {
    if (e->type() != ValueType::kHash) return std::nullopt;
    std::string value;
    if (!HashGetField(e->object(), field, &value)) return std::nullopt;
    return value;
  }
  if (e->type() != ValueType::kString) return std::nullopt;
  return std::string(e->value());
}

struct SortItem {
  std::string element;
  double score = 0;
  std::optional<std::string> by;  // ALPHA with BY: the compared value (missing sorts first)
};

int CompareBytes(std::string_view a, std::string_view b) { return a.compare(b); }

void SortGeneric(ExecContext& ctx, bool readonly) {
  SortOptions o;
  if (!ParseSortOptions(ctx.args, readonly, &o, ctx.reply)) return;
  std::string_view key = ctx.args[1];
  // Everything but the destination is read (keymiss), BY and GET patterns included.
  ctx.SetReadLookups(true);
  Db::Entry e = ctx.DbFor(key).Find(key);
  if (e && e->type() != ValueType::kList && e->type() != ValueType::kSet &&
      e->type() != ValueType::kZSet)
    return ReplyStatus(ctx.reply, OpStatus::kWrongType);
  ValueType type = e ? e->type() : ValueType::kList;
  // Redis: a set read unsorted is in hash order; when storing it, sort it so the result is
  // deterministic.
  if (o.dontsort && type == ValueType::kSet && o.store) {
    o.dontsort = false;
    o.alpha = true;
    o.by.reset();
  }
  std::vector<SortItem> items;
  if (e) {
    ObjectRef obj = e->object();
    auto add = [&](std::string_view v) { items.push_back(SortItem{std::string(v)}); };
    if (type == ValueType::kList) {
      ListForEach(obj, add);
    } else if (type == ValueType::kSet) {
      SetForEach(obj, add);
    } else {
      ZSetForEach(obj, [&](std::string_view m, double) { add(m); });
    }
  }
  int64_t n = static_cast<int64_t>(items.size());
  int64_t start = o.limit_start < 0 ? 0 : o.limit_start;
  // start + count - 1, saturating (LIMIT 2 9223372036854775807 means "to the end").
  int64_t end = o.limit_count < 0                       ? n - 1
                : o.limit_count - 1 > INT64_MAX - start ? INT64_MAX
                                                        : start + (o.limit_count - 1);
  if (start >= n) {
    start = n - 1;
    end = n - 2;
  }
  if (end >= n) end = n - 1;
  // A list or sorted set read unsorted keeps its own order, reversed by DESC (a set's order
  // is its hash order either way).
  if (o.dontsort && type != ValueType::kSet && o.desc) std::reverse(items.begin(), items.end());

  if (!o.dontsort) {
    bool bad_score = false;
    bool by_pattern = o.by.has_value();
    for (SortItem& it : items) {
      std::optional<std::string> byval;
      if (by_pattern) {
        byval = LookupByPattern(ctx, *o.by, it.element);
        if (!byval) continue;  // missing weight: score 0 / sorts first
      }
      const std::string& v = by_pattern ? *byval : it.element;
      if (o.alpha) {
        if (by_pattern) it.by = v;
      } else {
        // Redis: strtod over the whole value; trailing bytes, overflow or NaN are errors.
        errno = 0;
        char* end_ptr;
        it.score = strtod(v.c_str(), &end_ptr);
        if (*end_ptr != '\0' || errno == ERANGE || std::isnan(it.score) ||
            end_ptr != v.c_str() + v.size())
          bad_score = true;
      }
    }
    if (bad_score) return ctx.reply->Error("ERR One or more scores can't be converted into double");
    auto cmp = [&](const SortItem& a, const SortItem& b) {
      int c;
      if (!o.alpha) {
        c = a.score > b.score ? 1 : a.score < b.score ? -1 : CompareBytes(a.element, b.element);
      } else if (by_pattern) {
        if (!a.by || !b.by) {
          c = (!a.by && !b.by) ? 0 : !a.by ? -1 : 1;
        } else {
          c = CompareBytes(*a.by, *b.by);
        }
      } else {
        c = CompareBytes(a.element, b.element);
      }
      return o.desc ? c > 0 : c < 0;
    };
    std::stable_sort(items.begin(), items.end(), cmp);
  }

  size_t getops = o.gets.size();
  int64_t count = end - start + 1;
  if (count < 0) count = 0;
  size_t outputlen = getops ? getops * static_cast<size_t>(count) : static_cast<size_t>(count);
  if (!o.store) {
    ctx.reply->Array(outputlen);
    for (int64_t j = start; j <= end; ++j) {
      const std::string& el = items[static_cast<size_t>(j)].element;
      if (getops == 0) {
        ctx.reply->Bulk(el);
        continue;
      }
      for (std::string_view g : o.gets) {
        std::optional<std::string> v = LookupByPattern(ctx, g, el);
        if (v) {
          ctx.reply->Bulk(*v);
        } else {
          ctx.reply->Null();
        }
      }
    }
    return;
  }
  std::vector<std::string> values;
  values.reserve(outputlen);
  for (int64_t j = start; j <= end; ++j) {
    const std::string& el = items[static_cast<size_t>(j)].element;
    if (getops == 0) {
      values.push_back(el);
      continue;
    }
    for (std::string_view g : o.gets) values.push_back(LookupByPattern(ctx, g, el).value_or(""));
  }
  Db& dst = ctx.DbFor(*o.store);
  ctx.SetReadLookups(false);
  if (values.empty()) {
    if (dst.Delete(*o.store)) dst.Notify(kNotifyGeneric, "del", *o.store);
  } else {
    dst.StoreObjectNotify(*o.store, ListFromValues(values, ctx.limits()), kNotifyList, "sortstore");
  }
  ctx.reply->Integer(static_cast<int64_t>(outputlen));
}

void Sort(ExecContext& ctx) { SortGeneric(ctx, false); }
void SortRo(ExecContext& ctx) { SortGeneric(ctx, true); }

}  // namespace

std::vector<CommandSpec> SortFamily() {
  CommandSpec sort{"sort",
                   -2,
                   kCmdWrite | kCmdDenyOom,
                   "@write @set @sortedset @list @slow @dangerous",
                   1,
                   1,
                   1,
                   Route::kParked,
                   Sort};
  sort.keys_fn = SortKeys;
  sort.doc = CommandDoc{
      "Sort the elements in a list, set or sorted set", "1.0.0", "generic",
      "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the "
      "number of returned elements. When the elements are not sorted, complexity is O(N).",
      "key:key{key_flags=RO+access} [by-pattern:pattern:BY] "
      "[limit:block(offset:integer count:integer):LIMIT] "
      "[get-pattern:pattern:GET{multiple_token}...] "
      "[order:oneof(asc:pure-token:ASC|desc:pure-token:DESC)] [sorting:pure-token:ALPHA] "
      "[destination:key:STORE{key_flags=OW+update}]"};
  CommandSpec sort_ro{
      "sort_ro",      -2,    kCmdReadOnly, "@read @set @sortedset @list @slow @dangerous", 1, 1, 1,
      Route::kParked, SortRo};
  sort_ro.keys_fn = SortKeys;
  sort_ro.doc = CommandDoc{
      "Sort the elements in a list, set or sorted set. Read-only variant of SORT.", "7.0.0",
      "generic",
      "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the "
      "number of returned elements. When the elements are not sorted, complexity is O(N).",
      "key:key{key_flags=RO+access} [by-pattern:pattern:BY] "
      "[limit:block(offset:integer count:integer):LIMIT] "
      "[get-pattern:pattern:GET{multiple_token}...] "
      "[order:oneof(asc:pure-token:ASC|desc:pure-token:DESC)] [sorting:pure-token:ALPHA]"};
  return {sort, sort_ro};
}

}  // namespace omnibus
