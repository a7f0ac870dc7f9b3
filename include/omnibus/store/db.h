#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "omnibus/base/op_status.h"
#include "omnibus/store/record.h"
#include "omnibus/store/table.h"

namespace omnibus {

// One logical database (SELECT n) of one shard. All reads expire lazily: a key whose time has
// come is deleted on the access that finds it, so no reply ever shows an expired key.
// Runs on: the owning shard thread.
class Db {
 public:
  // `now_ms` is the shard's clock for the command being executed (Unix ms); tests point it at
  // a fake clock.
  explicit Db(const int64_t* now_ms) : now_ms_(now_ms) {}

  // A found key: valid until the next call on this Db.
  struct Entry {
    Record** link = nullptr;
    explicit operator bool() const { return link != nullptr; }
    Record* operator->() const { return *link; }
    Record* get() const { return *link; }
  };

  Entry Find(std::string_view key);
  // Find, but a key of another type is kWrongType.
  OpResult<Entry> FindTyped(std::string_view key, ValueType type);

  // Creates or overwrites `key` as a string. keep_ttl keeps an existing expiry; otherwise
  // the key gets `expire_at_ms` (-1 for none).
  void SetString(std::string_view key, std::string_view value, int64_t expire_at_ms = -1,
                 bool keep_ttl = false);
  // Replaces the value of an existing entry, keeping its expiry. Returns the new entry.
  Entry ReplaceValue(Entry e, std::string_view value);
  // Resizes an existing string value in place (new bytes are zero), for APPEND/SETRANGE.
  Entry ResizeValue(Entry e, size_t new_len);

  bool Delete(std::string_view key);
  void Delete(Entry e);

  // Sets (ms >= 0) or clears (ms < 0) the expiry of an existing entry.
  Entry SetExpire(Entry e, int64_t expire_at_ms);

  size_t size() const { return table_.size(); }
  size_t volatile_keys() const { return volatile_; }
  int64_t now_ms() const { return *now_ms_; }
  void Clear();

  uint64_t Scan(uint64_t cursor, const std::function<void(Record*)>& fn) {
    return table_.Scan(cursor, fn);
  }
  // Every live key, expiring the dead ones found on the way (KEYS).
  void ForEachLive(const std::function<void(const Record*)>& fn);
  Entry RandomLive(const std::function<uint64_t()>& rand);

  // One bounded slice of active expiry: walks up to `buckets` buckets from the DB's own
  // cursor and deletes expired records. Returns {examined volatile keys, expired}.
  std::pair<size_t, size_t> ActiveExpireSlice(int buckets);
  bool RehashStep(int n) { return table_.RehashStep(n); }

  const Table& table() const { return table_; }
  bool IsExpired(const Record* r) const { return r->has_expire() && r->expire_at_ms() <= *now_ms_; }

  uint64_t expired_keys = 0;  // stats: keys removed by lazy or active expiry

 private:
  Record* Rebuild(Entry e, std::string_view value, int64_t expire_at_ms, size_t vlen);

  const int64_t* now_ms_;
  Table table_;
  size_t volatile_ = 0;
  uint64_t expire_cursor_ = 0;
};

}  // namespace omnibus
