#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "omnibus/store/record.h"

namespace omnibus {

// The hash type's storage (Redis's t_hash.c object layer). Two forms, as in Redis 7.0:
//   - Encoding::kListpack: ObjectRef::ptr is one buffer of field, value, field, value... (one
//     allocation per hash, no wrapper). New fields are appended, an update rewrites the value
//     in place and a delete removes the pair in place, so listings come out in Redis's order.
//     Its layout is private to hash.cc (a leaner cousin of store/Listpack, see there): reach
//     it only through these functions.
//   - Encoding::kHashtable: ObjectRef::ptr is a StringMap (field -> value).
// A hash converts to the table when it gets more than hash-max-listpack-entries fields or a
// field or value longer than hash-max-listpack-value bytes, and never converts back.
//
// Functions taking `ObjectRef*` may reallocate or convert the hash; the caller stores the new
// ref (KeyWrite::set_obj). String views returned from a hash are valid until its next change.
// Runs on: the owning shard thread.

struct HashLimits {
  int64_t max_entries = 512;  // hash-max-listpack-entries
  int64_t max_value = 64;     // hash-max-listpack-value
};

// The value of `field`, if present.
std::optional<std::string_view> HashFind(const ObjectRef& obj, std::string_view field);
// The same, copied (SORT's BY/GET hash->field lookups).
bool HashGetField(const ObjectRef& obj, std::string_view field, std::string* out);

// Redis's hashTypeTryConversion: converts a listpack hash to the table when any of `args`
// (fields and values about to be written) is longer than the value limit. Called before a
// write that takes several fields at once (HSET, HMSET, HSETNX of a new field).
void HashTryConvert(ObjectRef* obj, std::span<const std::string_view> args,
                    const HashLimits& limits);
// Redis's hashTypeSet: sets `field` to `value` (converting first if either is too long for the
// listpack, and afterwards if the listpack has too many fields). Returns true if `field` is new.
bool HashSet(ObjectRef* obj, std::string_view field, std::string_view value,
             const HashLimits& limits);
// Removes `field`; returns false if it was not there. Never converts.
bool HashDelete(ObjectRef* obj, std::string_view field);
// Converts a listpack hash to the table form (no-op for a table).
void HashConvertToTable(ObjectRef* obj);

// Every field and value, in the hash's order (listpack order for small hashes).
void HashForEach(const ObjectRef& obj,
                 const std::function<void(std::string_view field, std::string_view value)>& fn);

// HSCAN step. A listpack hash is returned whole (cursor 0 back), as Redis does; a table visits
// the buckets at `cursor` and returns the next cursor (0 when done), with Redis's guarantee
// that every field present for the whole scan is returned at least once. `fn` may not change
// the hash. `count` is the number of elements (fields plus values) Redis aims for per call.
uint64_t HashScan(const ObjectRef& obj, uint64_t cursor, int64_t count,
                  const std::function<void(std::string_view field, std::string_view value)>& fn);

// A random field (and its value); the hash must not be empty. `rand` returns uniformly random
// 64-bit values.
std::pair<std::string_view, std::string_view> HashRandom(const ObjectRef& obj,
                                                         const std::function<uint64_t()>& rand);

}  // namespace omnibus
