// The hash type's storage: a listpack of field/value pairs while small, a StringMap after
// (see store/hash.h).
#include "omnibus/store/hash.h"

#include <cstdlib>

#include "omnibus/store/listpack.h"
#include "omnibus/store/memory.h"
#include "omnibus/store/object.h"
#include "omnibus/store/string_map.h"

namespace omnibus {
namespace {

StringMap* Map(const ObjectRef& obj) { return static_cast<StringMap*>(obj.ptr); }

bool TooLong(std::string_view s, const HashLimits& limits) {
  return static_cast<int64_t>(s.size()) > limits.max_value;
}

// The position of `field`'s entry in a hash listpack (fields are the even entries), or End().
Listpack::Pos FindField(const Listpack& lp, std::string_view field) { return lp.Find(field, 2); }

}  // namespace

ObjectRef NewHash() {
  return ObjectRef{ValueType::kHash, Encoding::kListpack, Listpack::Create().data()};
}

void FreeHash(const ObjectRef& obj) {
  if (obj.enc == Encoding::kListpack) return Listpack(obj.ptr).Free();
  if (obj.enc == Encoding::kHashtable) return StoreDelete(Map(obj));
  abort();
}

size_t HashLength(const ObjectRef& obj) {
  if (obj.enc == Encoding::kListpack) return Listpack(obj.ptr).size() / 2;
  if (obj.enc == Encoding::kHashtable) return Map(obj)->size();
  abort();
}

ObjectRef CopyHash(const ObjectRef& obj) {
  if (obj.enc == Encoding::kListpack) {
    return ObjectRef{obj.type, obj.enc, Listpack(obj.ptr).Copy().data()};
  }
  if (obj.enc == Encoding::kHashtable) return ObjectRef{obj.type, obj.enc, Map(obj)->Clone()};
  abort();
}

std::optional<std::string_view> HashFind(const ObjectRef& obj, std::string_view field) {
  if (obj.enc == Encoding::kListpack) {
    Listpack lp(obj.ptr);
    Listpack::Pos pos = FindField(lp, field);
    if (pos == lp.End()) return std::nullopt;
    return lp.At(lp.Next(pos));
  }
  const StringMap::Entry* e = Map(obj)->Find(field);
  if (e == nullptr) return std::nullopt;
  return e->value();
}

bool HashGetField(const ObjectRef& obj, std::string_view field, std::string* out) {
  std::optional<std::string_view> v = HashFind(obj, field);
  if (!v) return false;
  out->assign(v->data(), v->size());
  return true;
}

void HashConvertToTable(ObjectRef* obj) {
  if (obj->enc != Encoding::kListpack) return;
  Listpack lp(obj->ptr);
  StringMap* map = StoreNew<StringMap>();
  for (Listpack::Pos pos = lp.Begin(); pos != lp.End();) {
    Listpack::Pos value = lp.Next(pos);
    map->Set(lp.At(pos), lp.At(value));
    pos = lp.Next(value);
  }
  lp.Free();
  *obj = ObjectRef{ValueType::kHash, Encoding::kHashtable, map};
}

void HashTryConvert(ObjectRef* obj, std::span<const std::string_view> args,
                    const HashLimits& limits) {
  if (obj->enc != Encoding::kListpack) return;
  for (std::string_view a : args) {
    if (TooLong(a, limits)) return HashConvertToTable(obj);
  }
}

bool HashSet(ObjectRef* obj, std::string_view field, std::string_view value,
             const HashLimits& limits) {
  // As Redis 7.0's hashTypeSet: HINCRBY* reach here without HashTryConvert.
  if (obj->enc == Encoding::kListpack && (TooLong(field, limits) || TooLong(value, limits))) {
    HashConvertToTable(obj);
  }
  if (obj->enc == Encoding::kListpack) {
    Listpack lp(obj->ptr);
    Listpack::Pos pos = FindField(lp, field);
    bool added = pos == lp.End();
    if (added) {
      lp.Append(field);
      lp.Append(value);
    } else {
      lp.Replace(lp.Next(pos), value);
    }
    obj->ptr = lp.data();
    if (static_cast<int64_t>(lp.size() / 2) > limits.max_entries) HashConvertToTable(obj);
    return added;
  }
  return Map(*obj)->Set(field, value);
}

bool HashDelete(ObjectRef* obj, std::string_view field) {
  if (obj->enc == Encoding::kListpack) {
    Listpack lp(obj->ptr);
    Listpack::Pos pos = FindField(lp, field);
    if (pos == lp.End()) return false;
    lp.Erase(pos, 2);
    obj->ptr = lp.data();
    return true;
  }
  return Map(*obj)->Erase(field);
}

void HashForEach(const ObjectRef& obj,
                 const std::function<void(std::string_view field, std::string_view value)>& fn) {
  if (obj.enc == Encoding::kListpack) {
    Listpack lp(obj.ptr);
    for (Listpack::Pos pos = lp.Begin(); pos != lp.End();) {
      Listpack::Pos value = lp.Next(pos);
      fn(lp.At(pos), lp.At(value));
      pos = lp.Next(value);
    }
    return;
  }
  Map(obj)->ForEach([&](const StringMap::Entry& e) { fn(e.key(), e.value()); });
}

uint64_t HashScan(const ObjectRef& obj, uint64_t cursor, int64_t count,
                  const std::function<void(std::string_view field, std::string_view value)>& fn) {
  if (obj.enc == Encoding::kListpack) {
    HashForEach(obj, fn);
    return 0;
  }
  // Redis's scanGenericCommand: up to count*10 buckets, until `count` elements (a field and
  // its value count as two) were collected.
  int64_t elements = 0;
  int64_t max_iterations = count > INT64_MAX / 10 ? INT64_MAX : count * 10;
  const StringMap* map = Map(obj);
  do {
    cursor = map->Scan(cursor, [&](const StringMap::Entry& e) {
      fn(e.key(), e.value());
      elements += 2;
    });
  } while (cursor != 0 && max_iterations-- > 0 && elements < count);
  return cursor;
}

std::pair<std::string_view, std::string_view> HashRandom(const ObjectRef& obj,
                                                         const std::function<uint64_t()>& rand) {
  if (obj.enc == Encoding::kListpack) {
    Listpack lp(obj.ptr);
    uint64_t n = lp.size() / 2;
    Listpack::Pos pos = lp.Seek(static_cast<int64_t>(rand() % n) * 2);
    return {lp.At(pos), lp.At(lp.Next(pos))};
  }
  const StringMap::Entry* e = Map(obj)->Random(rand);
  return {e->key(), e->value()};
}

}  // namespace omnibus
