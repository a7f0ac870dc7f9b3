#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "omnibus/store/record.h"

namespace omnibus {

// The sorted set type (Redis's zset), in two forms:
//
// - Encoding::kListpack: member, score, member, score... in one listpack, ordered by
//   (score, member). The score entry holds the 8 raw bytes of the double.
// - Encoding::kSkiplist: Redis's skiplist with spans (O(log n) rank and range) whose nodes are
//   also chained in a member hash table. One allocation per member holds the score, the links
//   and the member bytes, so a member is stored once.
//
// Order is Redis's: by score, ties by member bytes (memcmp, shorter first). Every function
// takes an ObjectRef of type kZSet; the mutating ones may convert it (listpack -> skiplist) and
// then update *obj, which the caller hands to KeyWrite::set_obj. Ranks are 0-based.
// Runs on: the owning shard thread.

using ZEntry = std::pair<std::string, double>;

// Score of `member`; false when absent.
bool ZSetScore(const ObjectRef& obj, std::string_view member, double* score);
// Ascending rank of `member`, or -1 when absent.
int64_t ZSetRank(const ObjectRef& obj, std::string_view member);
// Number of members whose score is < x (or <= x when `inclusive`).
size_t ZSetCountScoreBelow(const ObjectRef& obj, double x, bool inclusive);
// Number of members that sort before x by bytes (or <= x when `inclusive`). Meaningful when
// all scores are equal, as for Redis's lex commands.
size_t ZSetCountLexBelow(const ObjectRef& obj, std::string_view x, bool inclusive);
// Calls fn for ranks start..end (inclusive, both < length), ascending, or from end down to
// start when `reverse`. fn returns false to stop. The views are valid only during the call.
void ZSetRangeByRank(const ObjectRef& obj, size_t start, size_t end, bool reverse,
                     const std::function<bool(std::string_view member, double score)>& fn);
// Every member in ascending rank (SORT's input).
void ZSetForEach(const ObjectRef& obj,
                 const std::function<void(std::string_view member, double score)>& fn);

// ZADD/ZINCRBY flags in, result flags out (Redis's zsetAdd).
enum ZAddIn : int { kZAddIncr = 1, kZAddNx = 2, kZAddXx = 4, kZAddGt = 8, kZAddLt = 16 };
enum ZAddOut : int { kZAddNaN = 1, kZAddAdded = 2, kZAddUpdated = 4, kZAddNop = 8 };
// Adds or updates `member`. Converts a listpack to a skiplist when the new member would pass
// `max_entries` or is longer than `max_value`. *new_score receives the resulting score when
// the member was added or updated (or is unchanged).
int ZSetAdd(ObjectRef* obj, std::string_view member, double score, int in_flags, double* new_score,
            size_t max_entries, size_t max_value);
// Removes `member`; false when absent.
bool ZSetRemove(ObjectRef* obj, std::string_view member);
// Removes ranks start..end (inclusive, both < length); returns how many.
size_t ZSetRemoveRankRange(ObjectRef* obj, size_t start, size_t end);
// A new zset holding `entries` (distinct members, any order), in the smallest form that
// fits the limits (listpack when both hold), as Redis builds *STORE results.
ObjectRef ZSetBuild(std::vector<ZEntry> entries, size_t max_entries, size_t max_value);
// Converts a listpack to a skiplist (no-op for a skiplist).
void ZSetConvertToSkiplist(ObjectRef* obj);
// ZSCAN: a listpack is returned whole (cursor 0 back). A skiplist is walked by its member
// table's buckets with a reverse-binary cursor: a member present for the whole scan is
// returned at least once even if the table is resized between calls. Visits at least
// `count` buckets' worth of members (up to 10x as many empty buckets).
uint64_t ZSetScan(const ObjectRef& obj, uint64_t cursor, size_t count,
                  const std::function<void(std::string_view member, double score)>& fn);

// Redis's d2string for ZSCAN (integral values without exponent, "-0", "inf").
std::string ZScoreToString(double v);

// Test seams: checks the skiplist's spans/links/hash against each other (true when sound).
bool ZSetTEST_Verify(const ObjectRef& obj);
// True while a skiplist's member table is being resized (incrementally).
bool ZSetTEST_Rehashing(const ObjectRef& obj);

}  // namespace omnibus
