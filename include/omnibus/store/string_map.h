#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string_view>
#include <utility>

namespace omnibus {

// A chained hash map of byte strings (key -> value bytes, values optional) in counted memory
// (store/memory.h): the large form of hashes (field -> value), sets (members, no value) and
// the member index of sorted sets. One allocation per entry holding the link, both lengths,
// the key and the value.
//
// SCAN uses Redis's reverse-binary cursor, so every entry present for a whole scan is returned
// at least once even if the map grew or shrank between calls (it never rehashes mid-call:
// resizing is done at once, which for one container is cheap enough).
// Runs on: the owning shard thread.
class StringMap {
 public:
  struct Entry {
    Entry* next;
    uint32_t klen;
    uint32_t vlen;

    std::string_view key() const { return {data(), klen}; }
    std::string_view value() const { return {data() + klen, vlen}; }
    char* mutable_value() { return data() + klen; }
    const char* data() const { return reinterpret_cast<const char*>(this + 1); }
    char* data() { return reinterpret_cast<char*>(this + 1); }
  };

  StringMap() = default;
  ~StringMap();
  StringMap(const StringMap&) = delete;
  StringMap& operator=(const StringMap&) = delete;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t bucket_count() const { return mask_ == 0 && buckets_ == nullptr ? 0 : mask_ + 1; }

  Entry* Find(std::string_view key) const;
  bool Contains(std::string_view key) const { return Find(key) != nullptr; }
  // Inserts `key` -> `value`, or replaces the value of an existing key (the entry may move).
  // Returns true if the key is new.
  bool Set(std::string_view key, std::string_view value = {});
  // Inserts only if absent. Returns the entry for `key` and whether it was inserted.
  std::pair<Entry*, bool> Insert(std::string_view key, std::string_view value = {});
  // Returns false if the key was not there.
  bool Erase(std::string_view key);
  void Clear();

  // A random entry (null when empty): a random non-empty bucket, then a random chain element,
  // like Redis's dictGetRandomKey. `rand` returns uniformly random 64-bit values.
  Entry* Random(const std::function<uint64_t()>& rand) const;
  // Visits the entries of the bucket(s) at `cursor`; returns the next cursor (0: done). The
  // callback may not change the map.
  uint64_t Scan(uint64_t cursor, const std::function<void(const Entry&)>& fn) const;
  // Every entry, in bucket order. The callback may not change the map.
  template <typename F>
  void ForEach(F&& fn) const {
    if (buckets_ == nullptr) return;
    for (size_t i = 0; i <= mask_; ++i) {
      for (Entry* e = buckets_[i]; e != nullptr; e = e->next) fn(*e);
    }
  }
  // A deep copy, allocated with StoreNew.
  StringMap* Clone() const;
  // Bytes held by the bucket array (the entries are counted as they are allocated).
  size_t bucket_bytes() const { return bucket_count() * sizeof(Entry*); }

 private:
  static Entry* NewEntry(std::string_view key, std::string_view value);
  size_t BucketOf(std::string_view key) const;
  void Resize(size_t buckets);
  void GrowIfNeeded();
  void ShrinkIfNeeded();

  Entry** buckets_ = nullptr;
  size_t mask_ = 0;  // bucket count - 1 (bucket count is a power of two)
  size_t size_ = 0;
};

}  // namespace omnibus
