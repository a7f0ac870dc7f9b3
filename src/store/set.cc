// The set type's storage: intset, listpack and hashtable forms, and the conversions between
// them (store/set.h).
#include "omnibus/store/set.h"

#include <algorithm>
#include <cstdlib>

#include "omnibus/base/strings.h"
#include "omnibus/store/intset.h"
#include "omnibus/store/listpack.h"
#include "omnibus/store/object.h"
#include "omnibus/store/set_table.h"

namespace omnibus {
namespace {

// Decimal digits (and sign) of v: the bytes it takes as a listpack member.
size_t DigitsOf(int64_t v) {
  char buf[24];
  return FormatInt64(v, buf);
}

ObjectRef MakeRef(Encoding enc, void* ptr) { return ObjectRef{ValueType::kSet, enc, ptr}; }

// Moves every member of `obj` into a new container of form `enc` and frees the old one.
void Convert(ObjectRef* obj, Encoding enc) {
  if (enc == Encoding::kListpack) {
    Listpack lp = Listpack::Create();
    SetForEach(*obj, [&](std::string_view m) { lp.Append(m); });
    FreeSet(*obj);
    *obj = MakeRef(Encoding::kListpack, lp.data());
    return;
  }
  SetTable* t = SetTable::Create(SetLength(*obj));
  SetForEach(*obj, [&](std::string_view m) { t->Add(m); });
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
      return SetTable::Destroy(static_cast<SetTable*>(obj.ptr));
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
      return static_cast<SetTable*>(obj.ptr)->size();
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
      return MakeRef(obj.enc, static_cast<SetTable*>(obj.ptr)->Copy());
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
      if (is.size() + 1 <= limits.max_intset_entries) {
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
  return static_cast<SetTable*>(obj->ptr)->Add(member);
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
      return static_cast<SetTable*>(obj->ptr)->Remove(member);
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
      return static_cast<SetTable*>(obj.ptr)->Contains(member);
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
      return static_cast<SetTable*>(obj.ptr)->ForEach(fn);
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
      return std::string(static_cast<SetTable*>(obj.ptr)->Random(rand));
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
  return static_cast<SetTable*>(obj.ptr)->Scan(cursor, count, fn);
}

}  // namespace omnibus
