#include "omnibus/store/db.h"

#include <cstring>
#include <vector>

namespace omnibus {

Db::Entry Db::Find(std::string_view key) {
  Record** link = table_.Find(key);
  if (link == nullptr) return {};
  if (IsExpired(*link)) {
    ++expired_keys;
    Delete(Entry{link});
    return {};
  }
  return Entry{link};
}

OpResult<Db::Entry> Db::FindTyped(std::string_view key, ValueType type) {
  Entry e = Find(key);
  if (e && e->type != type) return OpStatus::kWrongType;
  return e;
}

Record* Db::Rebuild(Entry e, std::string_view value, int64_t expire_at_ms, size_t vlen) {
  Record* old = e.get();
  Record* r = NewRecord(old->key(), vlen, expire_at_ms);
  r->type = old->type;
  r->next = old->next;
  if (!value.empty()) memcpy(r->mutable_value(), value.data(), value.size());
  bool had = old->has_expire();
  *e.link = r;
  FreeRecord(old);
  if (had && !r->has_expire()) --volatile_;
  if (!had && r->has_expire()) ++volatile_;
  return r;
}

void Db::SetString(std::string_view key, std::string_view value, int64_t expire_at_ms,
                   bool keep_ttl) {
  Record** link = table_.Find(key);
  if (link != nullptr) {
    Record* old = *link;
    if (keep_ttl && !IsExpired(old)) expire_at_ms = old->expire_at_ms();
    Record* r = Rebuild(Entry{link}, value, expire_at_ms, value.size());
    r->type = ValueType::kString;
    return;
  }
  Record* r = NewRecord(key, value.size(), expire_at_ms);
  memcpy(r->mutable_value(), value.data(), value.size());
  table_.Insert(r);
  if (r->has_expire()) ++volatile_;
}

Db::Entry Db::ReplaceValue(Entry e, std::string_view value) {
  Record* r = e.get();
  if (r->vlen == value.size()) {
    memcpy(r->mutable_value(), value.data(), value.size());
    return e;
  }
  Rebuild(e, value, r->expire_at_ms(), value.size());
  return e;
}

Db::Entry Db::ResizeValue(Entry e, size_t new_len) {
  Record* old = e.get();
  size_t keep = std::min<size_t>(old->vlen, new_len);
  Record* r = NewRecord(old->key(), new_len, old->expire_at_ms());
  r->type = old->type;
  r->next = old->next;
  memcpy(r->mutable_value(), old->value().data(), keep);
  memset(r->mutable_value() + keep, 0, new_len - keep);
  *e.link = r;
  FreeRecord(old);
  return e;
}

bool Db::Delete(std::string_view key) {
  Entry e = Find(key);
  if (!e) return false;
  Delete(e);
  return true;
}

void Db::Delete(Entry e) {
  Record* r = table_.Unlink(e.link);
  if (r->has_expire()) --volatile_;
  FreeRecord(r);
  table_.MaybeShrink();
}

Db::Entry Db::SetExpire(Entry e, int64_t expire_at_ms) {
  Record* r = e.get();
  if (expire_at_ms >= 0 && r->has_expire()) {
    memcpy(r->payload(), &expire_at_ms, sizeof(expire_at_ms));  // same size: in place
    return e;
  }
  if (expire_at_ms < 0 && !r->has_expire()) return e;
  Rebuild(e, r->value(), expire_at_ms, r->vlen);
  return e;
}

void Db::Clear() {
  table_.Clear();
  volatile_ = 0;
  expire_cursor_ = 0;
}

void Db::ForEachLive(const std::function<void(const Record*)>& fn) {
  std::vector<std::string> expired;
  uint64_t cursor = 0;
  do {
    cursor = table_.Scan(cursor, [&](Record* r) {
      if (IsExpired(r)) {
        expired.emplace_back(r->key());
      } else {
        fn(r);
      }
    });
  } while (cursor != 0);
  for (const std::string& k : expired) {
    if (Delete(k)) ++expired_keys;
  }
}

Db::Entry Db::RandomLive(const std::function<uint64_t()>& rand) {
  // Like Redis, give up after a bounded number of tries when most keys are expired.
  for (int tries = 0; tries < 100 && table_.size() > 0; ++tries) {
    Record* r = table_.Random(rand);
    if (r == nullptr) return {};
    Entry e = Find(r->key());  // expires it lazily if its time has come
    if (e) return e;
  }
  return {};
}

std::pair<size_t, size_t> Db::ActiveExpireSlice(int buckets) {
  if (volatile_ == 0 || table_.size() == 0) return {0, 0};
  std::vector<std::string> dead;
  size_t examined = 0;
  for (int i = 0; i < buckets; ++i) {
    expire_cursor_ = table_.Scan(expire_cursor_, [&](Record* r) {
      if (!r->has_expire()) return;
      ++examined;
      if (r->expire_at_ms() <= *now_ms_) dead.emplace_back(r->key());
    });
    if (expire_cursor_ == 0) break;
  }
  size_t expired = 0;
  for (const std::string& k : dead) {
    Record** link = table_.Find(k);
    if (link != nullptr && IsExpired(*link)) {
      Delete(Entry{link});
      ++expired;
    }
  }
  expired_keys += expired;
  return {examined, expired};
}

}  // namespace omnibus
