#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "omnibus/store/container_limits.h"
#include "omnibus/store/record.h"

namespace omnibus {

// The set type's storage, in three forms (ObjectRef::enc):
//   kIntset     every member an integer (Redis's string2ll rules) and at most
//               set-max-intset-entries of them: a sorted array (store/intset.h).
//   kListpack   a small non-integer set: at most set-max-listpack-entries members of at most
//               set-max-listpack-value bytes each, in insertion order (Redis 7.2's small form;
//               7.0 would say "hashtable").
//   kHashtable  anything larger: the shared StringMap, members as keys without values.
// A set only moves to a larger form (intset -> listpack or hashtable, listpack -> hashtable),
// never back, as in Redis; sets built whole (*STORE, SPOP's rest) start in the smallest form
// that fits. Functions that may convert take the ObjectRef by pointer and update it; the
// caller then stores it (KeyWrite::set_obj).
// Runs on: the owning shard thread.

// The thresholds, read once per command from the server's ContainerLimits.
struct SetLimits {
  size_t max_intset_entries = 512;
  size_t max_listpack_entries = 128;
  size_t max_listpack_value = 64;
  static SetLimits From(const ContainerLimits& l);
};

// Adds `member`; false if it was already there. May convert (see above).
bool SetAdd(ObjectRef* obj, std::string_view member, const SetLimits& limits);
// Removes `member`; false if it was not there.
bool SetRemove(ObjectRef* obj, std::string_view member);
bool SetContains(const ObjectRef& obj, std::string_view member);

// Every member once, in the form's order (ascending numbers for an intset). The view is only
// valid during the call. `fn` must not change the set.
void SetForEach(const ObjectRef& obj, const std::function<void(std::string_view)>& fn);
// A uniformly chosen member of a non-empty set, with the shard's random source.
std::string SetRandomMember(const ObjectRef& obj, const std::function<uint64_t()>& rand);

// SSCAN: calls `fn` for members and returns the next cursor (0 when done). A small form
// (intset, listpack) returns everything at once with cursor 0, as Redis does; the hashtable
// visits about `count` members per call and returns, over a whole scan, every member present
// throughout it at least once, even if the set grows or shrinks meanwhile.
uint64_t SetScan(const ObjectRef& obj, uint64_t cursor, size_t count,
                 const std::function<void(std::string_view)>& fn);

// An empty set in the smallest form (an intset; the first SetAdd picks the right form).
ObjectRef NewSetObject();

}  // namespace omnibus
