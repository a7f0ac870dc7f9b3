// The hash type's storage: a listpack of field/value pairs while small, a StringMap after
// (see store/hash.h).
#include "omnibus/store/hash.h"

#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "omnibus/store/memory.h"
#include "omnibus/store/object.h"
#include "omnibus/store/string_map.h"

namespace omnibus {
namespace {

// The small form: Redis's listpack semantics (one allocation; new fields appended at the end,
// values replaced in place, pairs removed in place, so listings come out in Redis 7.0's order)
// in a layout made for hashes. Hashes are only ever walked forwards, so unlike the shared
// Listpack an entry carries no backward length, and the header is two bytes: a hash of five
// short pairs fits a 64-byte block instead of an 80-byte one (1M such hashes: ~16 MB less).
//
//   u16 pairs (0xFFFF: too many to count, walk) | entry... | 0xFF
//   entry: u8 len (< 0xFE) | bytes,  or  0xFE | u32 len | bytes
class PairPack {
 public:
  static constexpr size_t kHeader = 2;
  static constexpr uint8_t kEnd = 0xFF;
  static constexpr uint8_t kLong = 0xFE;
  static constexpr uint16_t kUnknownCount = 0xFFFF;

  static void* Create() {
    uint8_t* p = static_cast<uint8_t*>(StoreAlloc(kHeader + 1));
    StoreCount(p, 0);
    p[kHeader] = kEnd;
    return p;
  }

  explicit PairPack(void* p) : p_(static_cast<uint8_t*>(p)) {}
  void* data() const { return p_; }

  size_t pairs() const {
    uint16_t n;
    memcpy(&n, p_, 2);
    if (n != kUnknownCount) return n;
    size_t count = 0;
    for (size_t pos = kHeader; p_[pos] != kEnd; pos = Next(Next(pos))) ++count;
    return count;
  }
  // Offset just past the last entry (where the end byte is).
  size_t end() const {
    size_t pos = kHeader;
    while (p_[pos] != kEnd) pos = Next(pos);
    return pos;
  }
  size_t bytes() const { return end() + 1; }
  size_t begin() const { return kHeader; }
  bool at_end(size_t pos) const { return p_[pos] == kEnd; }

  std::string_view At(size_t pos) const {
    size_t len, head;
    Decode(pos, &len, &head);
    return {reinterpret_cast<const char*>(p_ + pos + head), len};
  }
  size_t Next(size_t pos) const {
    size_t len, head;
    Decode(pos, &len, &head);
    return pos + head + len;
  }
  // The offset of `field`'s entry, or end().
  size_t Find(std::string_view field) const {
    size_t pos = kHeader;
    while (p_[pos] != kEnd) {
      if (At(pos) == field) return pos;
      pos = Next(Next(pos));
    }
    return pos;
  }

  // Appends a pair; `at` is end() (as a failed Find returns it).
  void Append(size_t at, std::string_view field, std::string_view value) {
    size_t n = pairs();
    size_t add = EntrySize(field.size()) + EntrySize(value.size());
    p_ = static_cast<uint8_t*>(StoreRealloc(p_, at + add + 1));
    at = Put(at, field);
    at = Put(at, value);
    p_[at] = kEnd;
    StoreCount(p_, n + 1);
  }
  // Replaces the entry at `pos` (a value) by `v`, keeping its place.
  void Replace(size_t pos, std::string_view v) {
    size_t old_next = Next(pos);
    size_t need = EntrySize(v.size());
    size_t total = bytes();
    size_t old_size = old_next - pos;
    if (need > old_size) {
      p_ = static_cast<uint8_t*>(StoreRealloc(p_, total + need - old_size));
      memmove(p_ + pos + need, p_ + old_next, total - old_next);
    } else if (need < old_size) {
      memmove(p_ + pos + need, p_ + old_next, total - old_next);
      p_ = static_cast<uint8_t*>(StoreRealloc(p_, total - (old_size - need)));
    }
    Put(pos, v);
  }
  // Removes the pair whose field entry is at `pos`.
  void ErasePair(size_t pos) {
    size_t n = pairs();
    size_t after = Next(Next(pos));
    size_t total = bytes();
    memmove(p_ + pos, p_ + after, total - after);
    p_ = static_cast<uint8_t*>(StoreRealloc(p_, total - (after - pos)));
    StoreCount(p_, n - 1);
  }
  void* Copy() const {
    size_t n = bytes();
    void* q = StoreAlloc(n);
    memcpy(q, p_, n);
    return q;
  }
  void Free() { StoreFree(p_); }

 private:
  static size_t EntrySize(size_t len) { return (len < kLong ? 1 : 5) + len; }
  static void StoreCount(uint8_t* p, size_t n) {
    uint16_t v = n >= kUnknownCount ? kUnknownCount : static_cast<uint16_t>(n);
    memcpy(p, &v, 2);
  }
  void Decode(size_t pos, size_t* len, size_t* head) const {
    if (p_[pos] < kLong) {
      *len = p_[pos];
      *head = 1;
    } else {
      uint32_t l;
      memcpy(&l, p_ + pos + 1, 4);
      *len = l;
      *head = 5;
    }
  }
  // Writes entry `v` at `pos`; returns the offset after it.
  size_t Put(size_t pos, std::string_view v) {
    if (v.size() < kLong) {
      p_[pos++] = static_cast<uint8_t>(v.size());
    } else {
      if (v.size() > UINT32_MAX) throw std::length_error("hash value too large");
      uint32_t l = static_cast<uint32_t>(v.size());
      p_[pos] = kLong;
      memcpy(p_ + pos + 1, &l, 4);
      pos += 5;
    }
    if (!v.empty()) memcpy(p_ + pos, v.data(), v.size());
    return pos + v.size();
  }

  uint8_t* p_;
};

StringMap* Map(const ObjectRef& obj) { return static_cast<StringMap*>(obj.ptr); }

bool TooLong(std::string_view s, const HashLimits& limits) {
  return static_cast<int64_t>(s.size()) > limits.max_value;
}

}  // namespace

ObjectRef NewHash() { return ObjectRef{ValueType::kHash, Encoding::kListpack, PairPack::Create()}; }

void FreeHash(const ObjectRef& obj) {
  if (obj.enc == Encoding::kListpack) return PairPack(obj.ptr).Free();
  if (obj.enc == Encoding::kHashtable) return StoreDelete(Map(obj));
  abort();
}

size_t HashLength(const ObjectRef& obj) {
  if (obj.enc == Encoding::kListpack) return PairPack(obj.ptr).pairs();
  if (obj.enc == Encoding::kHashtable) return Map(obj)->size();
  abort();
}

ObjectRef CopyHash(const ObjectRef& obj) {
  if (obj.enc == Encoding::kListpack) return ObjectRef{obj.type, obj.enc, PairPack(obj.ptr).Copy()};
  if (obj.enc == Encoding::kHashtable) return ObjectRef{obj.type, obj.enc, Map(obj)->Clone()};
  abort();
}

std::optional<std::string_view> HashFind(const ObjectRef& obj, std::string_view field) {
  if (obj.enc == Encoding::kListpack) {
    PairPack pack(obj.ptr);
    size_t pos = pack.Find(field);
    if (pack.at_end(pos)) return std::nullopt;
    return pack.At(pack.Next(pos));
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
  PairPack pack(obj->ptr);
  StringMap* map = StoreNew<StringMap>();
  for (size_t pos = pack.begin(); !pack.at_end(pos);) {
    size_t value = pack.Next(pos);
    map->Set(pack.At(pos), pack.At(value));
    pos = pack.Next(value);
  }
  pack.Free();
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
    PairPack pack(obj->ptr);
    size_t pos = pack.Find(field);
    bool added = pack.at_end(pos);
    if (added) {
      pack.Append(pos, field, value);
    } else {
      pack.Replace(pack.Next(pos), value);
    }
    obj->ptr = pack.data();
    // Redis checks after updates too, so a lowered limit converts on the next write.
    if (static_cast<int64_t>(pack.pairs()) > limits.max_entries) HashConvertToTable(obj);
    return added;
  }
  return Map(*obj)->Set(field, value);
}

bool HashDelete(ObjectRef* obj, std::string_view field) {
  if (obj->enc == Encoding::kListpack) {
    PairPack pack(obj->ptr);
    size_t pos = pack.Find(field);
    if (pack.at_end(pos)) return false;
    pack.ErasePair(pos);
    obj->ptr = pack.data();
    return true;
  }
  return Map(*obj)->Erase(field);
}

void HashForEach(const ObjectRef& obj,
                 const std::function<void(std::string_view field, std::string_view value)>& fn) {
  if (obj.enc == Encoding::kListpack) {
    PairPack pack(obj.ptr);
    for (size_t pos = pack.begin(); !pack.at_end(pos);) {
      size_t value = pack.Next(pos);
      fn(pack.At(pos), pack.At(value));
      pos = pack.Next(value);
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
    PairPack pack(obj.ptr);
    uint64_t skip = rand() % pack.pairs();
    size_t pos = pack.begin();
    for (; skip > 0; --skip) pos = pack.Next(pack.Next(pos));
    return {pack.At(pos), pack.At(pack.Next(pos))};
  }
  const StringMap::Entry* e = Map(obj)->Random(rand);
  return {e->key(), e->value()};
}

}  // namespace omnibus
