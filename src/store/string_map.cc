#include "omnibus/store/string_map.h"

#include "omnibus/store/memory.h"
#include "omnibus/store/table.h"

namespace omnibus {
namespace {

constexpr size_t kMinBuckets = 4;

}  // namespace

StringMap::~StringMap() { Clear(); }

StringMap::Entry* StringMap::NewEntry(std::string_view key, std::string_view value) {
  Entry* e = static_cast<Entry*>(StoreAlloc(sizeof(Entry) + key.size() + value.size()));
  e->next = nullptr;
  e->klen = static_cast<uint32_t>(key.size());
  e->vlen = static_cast<uint32_t>(value.size());
  if (!key.empty()) memcpy(e->data(), key.data(), key.size());
  if (!value.empty()) memcpy(e->data() + key.size(), value.data(), value.size());
  return e;
}

size_t StringMap::BucketOf(std::string_view key) const { return HashKey(key) & mask_; }

StringMap::Entry* StringMap::Find(std::string_view key) const {
  if (buckets_ == nullptr) return nullptr;
  for (Entry* e = buckets_[BucketOf(key)]; e != nullptr; e = e->next) {
    if (e->key() == key) return e;
  }
  return nullptr;
}

void StringMap::Resize(size_t buckets) {
  Entry** fresh = static_cast<Entry**>(StoreAlloc(buckets * sizeof(Entry*)));
  memset(fresh, 0, buckets * sizeof(Entry*));
  size_t new_mask = buckets - 1;
  if (buckets_ != nullptr) {
    for (size_t i = 0; i <= mask_; ++i) {
      Entry* e = buckets_[i];
      while (e != nullptr) {
        Entry* next = e->next;
        size_t b = HashKey(e->key()) & new_mask;
        e->next = fresh[b];
        fresh[b] = e;
        e = next;
      }
    }
    StoreFree(buckets_);
  }
  buckets_ = fresh;
  mask_ = new_mask;
}

void StringMap::GrowIfNeeded() {
  if (buckets_ == nullptr) return Resize(kMinBuckets);
  if (size_ >= mask_ + 1) Resize((mask_ + 1) * 2);
}

void StringMap::ShrinkIfNeeded() {
  size_t n = mask_ + 1;
  if (buckets_ == nullptr || n <= kMinBuckets || size_ * 8 >= n) return;
  size_t target = kMinBuckets;
  while (target < size_) target *= 2;
  Resize(target);
}

std::pair<StringMap::Entry*, bool> StringMap::Insert(std::string_view key, std::string_view value) {
  if (Entry* e = Find(key)) return {e, false};
  GrowIfNeeded();
  Entry* e = NewEntry(key, value);
  size_t b = BucketOf(key);
  e->next = buckets_[b];
  buckets_[b] = e;
  ++size_;
  return {e, true};
}

bool StringMap::Set(std::string_view key, std::string_view value) {
  if (buckets_ != nullptr) {
    for (Entry** link = &buckets_[BucketOf(key)]; *link != nullptr; link = &(*link)->next) {
      Entry* e = *link;
      if (e->key() != key) continue;
      if (e->vlen == value.size()) {
        if (!value.empty()) memcpy(e->mutable_value(), value.data(), value.size());
      } else {
        Entry* n = NewEntry(key, value);
        n->next = e->next;
        *link = n;
        StoreFree(e);
      }
      return false;
    }
  }
  Insert(key, value);
  return true;
}

bool StringMap::Erase(std::string_view key) {
  if (buckets_ == nullptr) return false;
  for (Entry** link = &buckets_[BucketOf(key)]; *link != nullptr; link = &(*link)->next) {
    Entry* e = *link;
    if (e->key() != key) continue;
    *link = e->next;
    StoreFree(e);
    --size_;
    ShrinkIfNeeded();
    return true;
  }
  return false;
}

void StringMap::Clear() {
  if (buckets_ == nullptr) return;
  for (size_t i = 0; i <= mask_; ++i) {
    Entry* e = buckets_[i];
    while (e != nullptr) {
      Entry* next = e->next;
      StoreFree(e);
      e = next;
    }
  }
  StoreFree(buckets_);
  buckets_ = nullptr;
  mask_ = 0;
  size_ = 0;
}

StringMap::Entry* StringMap::Random(const std::function<uint64_t()>& rand) const {
  if (size_ == 0) return nullptr;
  Entry* head;
  do {
    head = buckets_[rand() & mask_];
  } while (head == nullptr);
  size_t len = 0;
  for (Entry* e = head; e != nullptr; e = e->next) ++len;
  size_t pick = rand() % len;
  Entry* e = head;
  while (pick-- > 0) e = e->next;
  return e;
}

uint64_t StringMap::Scan(uint64_t cursor, const std::function<void(const Entry&)>& fn) const {
  if (buckets_ == nullptr) return 0;
  const uint64_t m = mask_;
  for (Entry* e = buckets_[cursor & m]; e != nullptr; e = e->next) fn(*e);
  // Redis's dictScan for one table: increment the reversed cursor's masked bits.
  cursor |= ~m;
  cursor = ReverseBits64(cursor);
  ++cursor;
  return ReverseBits64(cursor);
}

StringMap* StringMap::Clone() const {
  StringMap* copy = StoreNew<StringMap>();
  if (buckets_ == nullptr) return copy;
  copy->Resize(mask_ + 1);
  for (size_t i = 0; i <= mask_; ++i) {
    // Same bucket count and hash: each entry lands in the same bucket index.
    for (Entry* e = buckets_[i]; e != nullptr; e = e->next) {
      Entry* n = NewEntry(e->key(), e->value());
      n->next = copy->buckets_[i];
      copy->buckets_[i] = n;
    }
  }
  copy->size_ = size_;
  return copy;
}

}  // namespace omnibus
