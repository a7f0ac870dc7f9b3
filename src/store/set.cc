// The set type's storage: intset, listpack and hashtable forms, and the conversions between
// them (store/set.h).
#include "omnibus/store/set.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "omnibus/base/strings.h"
#include "omnibus/store/intset.h"
#include "omnibus/store/listpack.h"
#include "omnibus/store/memory.h"
#include "omnibus/store/object.h"
#include "omnibus/store/string_map.h"

namespace omnibus {
namespace {

// Decimal digits (and sign) of v: the bytes it takes as a listpack member.
size_t DigitsOf(int64_t v) {
  char buf[24];
  return FormatInt64(v, buf);
}

ObjectRef MakeRef(Encoding enc, void* ptr) { return ObjectRef{ValueType::kSet, enc, ptr}; }

// The hashtable form: the shared StringMap, members as keys without values.
StringMap* Table(const ObjectRef& obj) { return static_cast<StringMap*>(obj.ptr); }

// Moves every member of `obj` into a new container of form `enc` and frees the old one.
void Convert(ObjectRef* obj, Encoding enc) {
  if (enc == Encoding::kListpack) {
    Listpack lp = Listpack::Create();
    SetForEach(*obj, [&](std::string_view m) { lp.Append(m); });
    FreeSet(*obj);
    *obj = MakeRef(Encoding::kListpack, lp.data());
    return;
  }
  StringMap* t = StoreNew<StringMap>();
  SetForEach(*obj, [&](std::string_view m) { t->Insert(m); });
  FreeSet(*obj);
  *obj = MakeRef(Encoding::kHashtable, t);
}

// Where an intset goes when it must change form: a listpack if the `extra` members it is about
// to take (at most `extra_len` bytes each) still fit one, else a hashtable.
Encoding GrowIntsetTarget(IntSet is, size_t extra, size_t extra_len, const SetLimits& limits) {
  size_t longest = extra_len;
  if (is.size() > 0) {
    longest = std::max({longest, DigitsOf(is.At(0)), DigitsOf(is.At(is.size() - 1))});
  }
  if (is.size() + extra <= limits.max_listpack_entries && longest <= limits.max_listpack_value) {
    return Encoding::kListpack;
  }
  return Encoding::kHashtable;
}

}  // namespace

SetLimits SetLimits::From(const ContainerLimits& l) {
  auto get = [](const std::atomic<int64_t>& v) {
    return static_cast<size_t>(std::max<int64_t>(0, ContainerLimits::Get(v)));
  };
  return SetLimits{get(l.set_max_intset_entries), get(l.set_max_listpack_entries),
                   get(l.set_max_listpack_value)};
}

ObjectRef NewSetObject() { return MakeRef(Encoding::kIntset, IntSet::Create().data()); }

ObjectRef NewSet() { return NewSetObject(); }

void FreeSet(const ObjectRef& obj) {
  switch (obj.enc) {
    case Encoding::kIntset:
      return IntSet(obj.ptr).Free();
    case Encoding::kListpack:
      return Listpack(obj.ptr).Free();
    case Encoding::kHashtable:
      return StoreDelete(Table(obj));
    default:
      abort();
  }
}

size_t SetLength(const ObjectRef& obj) {
  switch (obj.enc) {
    case Encoding::kIntset:
      return IntSet(obj.ptr).size();
    case Encoding::kListpack:
      return Listpack(obj.ptr).size();
    case Encoding::kHashtable:
      return Table(obj)->size();
    default:
      abort();
  }
}

ObjectRef CopySet(const ObjectRef& obj) {
  switch (obj.enc) {
    case Encoding::kIntset:
      return MakeRef(obj.enc, IntSet(obj.ptr).Copy().data());
    case Encoding::kListpack:
      return MakeRef(obj.enc, Listpack(obj.ptr).Copy().data());
    case Encoding::kHashtable:
      return MakeRef(obj.enc, Table(obj)->Clone());
    default:
      abort();
  }
}

bool SetAdd(ObjectRef* obj, std::string_view member, const SetLimits& limits) {
  int64_t v;
  bool is_int = ParseInt64(member, &v);
  if (obj->enc == Encoding::kIntset) {
    IntSet is(obj->ptr);
    if (is_int) {
      if (is.Contains(v)) return false;
      if (is.size() + 1 <= std::min<size_t>(limits.max_intset_entries, IntSet::kMaxSize)) {
        is.Add(v);
        obj->ptr = is.data();
        return true;
      }
    }
    // A non-integer (never in an intset), or one integer too many.
    Convert(obj, GrowIntsetTarget(is, 1, member.size(), limits));
    // The converted set cannot hold `member` yet: fall through to add it.
  }
  if (obj->enc == Encoding::kListpack) {
    Listpack lp(obj->ptr);
    if (lp.Find(member) != lp.End()) return false;
    if (lp.size() + 1 <= limits.max_listpack_entries &&
        member.size() <= limits.max_listpack_value) {
      lp.Append(member);
      obj->ptr = lp.data();
      return true;
    }
    Convert(obj, Encoding::kHashtable);
  }
  return Table(*obj)->Insert(member).second;
}

bool SetRemove(ObjectRef* obj, std::string_view member) {
  switch (obj->enc) {
    case Encoding::kIntset: {
      int64_t v;
      if (!ParseInt64(member, &v)) return false;
      IntSet is(obj->ptr);
      bool removed = is.Remove(v);
      obj->ptr = is.data();
      return removed;
    }
    case Encoding::kListpack: {
      Listpack lp(obj->ptr);
      Listpack::Pos pos = lp.Find(member);
      if (pos == lp.End()) return false;
      lp.Erase(pos);
      obj->ptr = lp.data();
      return true;
    }
    case Encoding::kHashtable:
      return Table(*obj)->Erase(member);
    default:
      abort();
  }
}

bool SetContains(const ObjectRef& obj, std::string_view member) {
  switch (obj.enc) {
    case Encoding::kIntset: {
      int64_t v;
      return ParseInt64(member, &v) && IntSet(obj.ptr).Contains(v);
    }
    case Encoding::kListpack: {
      Listpack lp(obj.ptr);
      return lp.Find(member) != lp.End();
    }
    case Encoding::kHashtable:
      return Table(obj)->Contains(member);
    default:
      abort();
  }
}

void SetForEach(const ObjectRef& obj, const std::function<void(std::string_view)>& fn) {
  switch (obj.enc) {
    case Encoding::kIntset: {
      IntSet is(obj.ptr);
      char buf[24];
      for (uint32_t i = 0; i < is.size(); ++i) fn({buf, FormatInt64(is.At(i), buf)});
      return;
    }
    case Encoding::kListpack: {
      Listpack lp(obj.ptr);
      for (Listpack::Pos p = lp.Begin(); p != lp.End(); p = lp.Next(p)) fn(lp.At(p));
      return;
    }
    case Encoding::kHashtable:
      return Table(obj)->ForEach([&](const StringMap::Entry& e) { fn(e.key()); });
    default:
      abort();
  }
}

std::string SetRandomMember(const ObjectRef& obj, const std::function<uint64_t()>& rand) {
  switch (obj.enc) {
    case Encoding::kIntset: {
      IntSet is(obj.ptr);
      return Int64ToString(is.At(static_cast<uint32_t>(rand() % is.size())));
    }
    case Encoding::kListpack: {
      Listpack lp(obj.ptr);
      return std::string(lp.At(lp.Seek(static_cast<int64_t>(rand() % lp.size()))));
    }
    case Encoding::kHashtable:
      return std::string(Table(obj)->Random(rand)->key());
    default:
      abort();
  }
}

uint64_t SetScan(const ObjectRef& obj, uint64_t cursor, size_t count,
                 const std::function<void(std::string_view)>& fn) {
  if (obj.enc != Encoding::kHashtable) {
    SetForEach(obj, fn);
    return 0;
  }
  // Redis's loop: buckets until `count` members were seen (before MATCH filters them), at
  // most count * 10 buckets, or the end.
  const StringMap* t = Table(obj);
  size_t seen = 0;
  size_t max_buckets = count > SIZE_MAX / 10 ? SIZE_MAX : count * 10;
  do {
    cursor = t->Scan(cursor, [&](const StringMap::Entry& e) {
      fn(e.key());
      ++seen;
    });
  } while (cursor != 0 && max_buckets-- > 0 && seen < count);
  return cursor;
}

}  // namespace omnibus
