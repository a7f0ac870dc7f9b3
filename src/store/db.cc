#include "omnibus/store/db.h"

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "omnibus/store/lazy_free.h"
#include "omnibus/store/lease_table.h"

namespace omnibus {

std::atomic<uint64_t> Db::ready_seq_{0};
const NoticeListeners Db::no_listeners_;
thread_local bool Db::read_lookups_ = false;

namespace {

// Debian's abseil has its own string_view type; heterogeneous lookups need that one.
absl::string_view AbslView(std::string_view s) { return {s.data(), s.size()}; }

}  // namespace

KeyWrite& KeyWrite::operator=(KeyWrite&& o) noexcept {
  if (this != &o) {
    Finish();
    db_ = std::exchange(o.db_, nullptr);
    record_ = std::exchange(o.record_, nullptr);
    len_before_ = o.len_before_;
    notices_at_ = o.notices_at_;
    new_seq_ = o.new_seq_;
    created_ = o.created_;
    changed_ = o.changed_;
  }
  return *this;
}

void KeyWrite::Notify(uint32_t cls, const char* event) {
  if (record_ != nullptr) db_->Notify(cls, event, record_->key());
}

void KeyWrite::Finish() {
  if (record_ == nullptr) return;
  db_->FinishWrite(*this);
  record_ = nullptr;
}

void Db::FinishWrite(KeyWrite& w) {
  Record* r = w.record_;
  size_t len = ObjectLength(r->object());
  if (len == 0) {
    // Redis never keeps an empty container: the key goes with its last element.
    Record** link = table_.Find(r->key());
    if (w.created_) {
      // Created by this write and never filled: as if it had never existed.
      Record* gone = table_.Unlink(link);
      if (gone->has_expire()) --volatile_;
      FreeRecord(gone);
      return;
    }
    Notify(kNotifyGeneric, "del", r->key());  // after the handler's own event, as Redis
    Remove(Entry{link}, KeyEvent::kDeleted);
    return;
  }
  if (w.created_ && w.new_seq_ != 0 && notices_ != nullptr && Listening(kNotifyNew)) {
    // Redis's dbAdd announces the key before the command's own event.
    RecordNotice(kNotifyNew, "new", r->key());
    notices_->back().seq = w.new_seq_;
    if (w.notices_at_ < notices_->size()) {
      std::rotate(notices_->begin() + static_cast<ptrdiff_t>(w.notices_at_), notices_->end() - 1,
                  notices_->end());
    }
  }
  if (!w.changed_ && !w.created_) return;
  OnKeyEvent(r->key(), w.created_ ? KeyEvent::kWritten : KeyEvent::kUpdated, len > w.len_before_);
}

void Db::RecordNotice(uint32_t cls, const char* event, std::string_view key) {
  if (notices_ == nullptr) return;
  KeyNotice& n = notices_->emplace_back();
  n.cls = cls;
  n.db = index_;
  n.event = event;
  n.key.assign(key);
  n.seq = NextReadySeq();
}

void Db::OnKeyEvent(std::string_view key, KeyEvent event, bool gained) {
  // Client tracking invalidates on every change of a key (Redis's signalModifiedKey); flushes
  // are announced once per command (NotifyFlush).
  if (event != KeyEvent::kFlushed) Notify(kNoticeModified, nullptr, key);
  // A flush's watched keys were touched before it (TouchWatchedPresent): only those that held
  // a value.
  if (!watched_.empty() && event != KeyEvent::kFlushed) {
    if (auto it = watched_.find(AbslView(key)); it != watched_.end()) {
      it->second.version = ++version_clock_;
    }
  }
  if (!blocking_.empty() && ready_ != nullptr) {
    if (event == KeyEvent::kFlushed) {
      // SWAPDB may bring keys in: let the reactor re-check every blocked key.
      for (const std::string& k : blocking_) ready_->push_back(ReadyKey{index_, k, NextReadySeq()});
      blocking_.clear();
    } else if (gained) {
      if (auto it = blocking_.find(AbslView(key)); it != blocking_.end()) {
        ready_->push_back(ReadyKey{index_, std::string(*it), NextReadySeq()});
        blocking_.erase(it);
      }
    }
  }
  if (leases_ != nullptr && event != KeyEvent::kFlushed) ForgetLease(key);
  if (TEST_on_event) TEST_on_event(key, event);
}

void Db::LeaseTableFree::operator()(LeaseTable* t) const { StoreDelete(t); }

LeaseTable& Db::leases() {
  if (leases_ == nullptr) {
    // Tokens start at a random point, so one from before a restart rarely matches.
    std::random_device rd;
    leases_.reset(StoreNew<LeaseTable>((uint64_t{rd()} << 32) ^ rd()));
  }
  return *leases_;
}

void Db::ForgetLease(std::string_view key) {
  if (leases_->Forget(key)) SignalReady(key);
}

void Db::ClearLeases() {
  if (leases_ == nullptr) return;
  leases_->Clear([this](std::string_view key) { SignalReady(key); });
}

Db::Entry Db::Find(std::string_view key) {
  if (evictor_ != nullptr) evictor_->Count(index_, key);  // TinyLFU counts hits and misses
  Entry e = Peek(key);
  if (e) {
    Touch(e.get());
    keyspace_hits += read_lookups_;
  } else if (read_lookups_) {
    ++keyspace_misses;
    NotifyMiss(key);
  }
  return e;
}

Db::Entry Db::Peek(std::string_view key) {
  Record** link = table_.Find(key);
  if (link == nullptr) return {};
  if (IsExpired(*link)) {
    ++expired_keys;
    Remove(Entry{link}, KeyEvent::kExpired);
    return {};
  }
  return Entry{link};
}

OpResult<Db::Entry> Db::FindTyped(std::string_view key, ValueType type) {
  Entry e = Find(key);
  if (e && e->type() != type) return OpStatus::kWrongType;
  return e;
}

OpResult<KeyWrite> Db::Write(std::string_view key, ValueType type, bool create) {
  Entry e = Find(key);
  if (e) {
    if (e->type() != type) return OpStatus::kWrongType;
    return KeyWrite(this, e.get(), false, 0, 0);
  }
  if (!create) return KeyWrite();
  Record* r = NewObjectRecord(key, NewObject(type), -1);
  Stamp(r);
  table_.Insert(r);
  const bool announce = notices_ != nullptr && Listening(kNotifyNew);
  return KeyWrite(this, r, true, announce ? notices_->size() : 0, announce ? NextReadySeq() : 0);
}

Record* Db::Rebuild(Entry e, int64_t expire_at_ms) {
  Record* old = e.get();
  Record* r = NewRecord(old->key(), old->vlen, expire_at_ms);
  r->type_enc = old->type_enc;
  r->flags =
      static_cast<uint8_t>((old->flags & ~Record::kHasExpire) | (r->flags & Record::kHasExpire));
  r->lru = old->lru;
  r->next = old->next;
  memcpy(r->mutable_value(), old->value().data(), old->vlen);
  bool had = old->has_expire();
  *e.link = r;
  FreeRecordShell(old);  // the value (a container's pointer included) now lives in `r`
  if (had && !r->has_expire()) --volatile_;
  if (!had && r->has_expire()) ++volatile_;
  return r;
}

Record** Db::FindForOverwrite(std::string_view key) {
  Record** link = table_.Find(key);
  if (link != nullptr && IsExpired(*link)) {
    // As Redis's lookupKeyWrite: the dead key expires (and is announced) before the write.
    ++expired_keys;
    Remove(Entry{link}, KeyEvent::kExpired);
    link = nullptr;
  }
  if (link == nullptr) Notify(kNotifyNew, "new", key);
  return link;
}

void Db::SetString(std::string_view key, std::string_view value, int64_t expire_at_ms,
                   bool keep_ttl) {
  Record** link = FindForOverwrite(key);
  Record* r;
  if (link != nullptr) {
    Record* old = *link;
    if (keep_ttl && !IsExpired(old)) expire_at_ms = old->expire_at_ms();
    r = NewRecord(key, value.size(), expire_at_ms);
    r->next = old->next;
    r->lru = old->lru;  // an overwrite keeps the key's LFU history, as Redis's dbOverwrite
    Touch(r);
    *link = r;
    if (old->has_expire()) --volatile_;
    FreeReplaced(old);
  } else {
    r = NewRecord(key, value.size(), expire_at_ms);
    Stamp(r);
    table_.Insert(r);
  }
  memcpy(r->mutable_value(), value.data(), value.size());
  if (r->has_expire()) ++volatile_;
  OnKeyEvent(key, KeyEvent::kWritten, false);
}

Db::Entry Db::ReplaceValue(Entry e, std::string_view value) {
  Record* r = e.get();
  if (r->vlen != value.size()) {
    Record* n = NewRecord(r->key(), value.size(), r->expire_at_ms());
    n->lru = r->lru;
    n->next = r->next;
    *e.link = n;
    FreeRecord(r);
    r = n;
  }
  memcpy(r->mutable_value(), value.data(), value.size());
  r->flags &= static_cast<uint8_t>(~Record::kRawString);
  OnKeyEvent(r->key(), KeyEvent::kUpdated, false);
  return e;
}

Db::Entry Db::ResizeValue(Entry e, size_t new_len) {
  Record* old = e.get();
  size_t keep = std::min<size_t>(old->vlen, new_len);
  Record* r = NewRecord(old->key(), new_len, old->expire_at_ms());
  r->flags |= Record::kRawString;
  r->lru = old->lru;
  r->next = old->next;
  memcpy(r->mutable_value(), old->value().data(), keep);
  memset(r->mutable_value() + keep, 0, new_len - keep);
  *e.link = r;
  FreeRecord(old);
  OnKeyEvent(r->key(), KeyEvent::kUpdated, false);
  return e;
}

void Db::StoreObject(std::string_view key, const ObjectRef& obj) {
  if (ObjectLength(obj) == 0) {
    FreeObject(obj);
    Delete(key, LazyServerDel());
    return;
  }
  Record** link = FindForOverwrite(key);
  Record* r = NewObjectRecord(key, obj, -1);
  if (link != nullptr) {
    Record* old = *link;
    r->lru = old->lru;
    Touch(r);
    r->next = old->next;
    *link = r;
    if (old->has_expire()) --volatile_;
    FreeReplaced(old);
  } else {
    Stamp(r);
    table_.Insert(r);
  }
  OnKeyEvent(key, KeyEvent::kWritten, true);
}

void Db::StoreObjectNotify(std::string_view key, const ObjectRef& obj, uint32_t cls,
                           const char* event) {
  if (ObjectLength(obj) == 0) {
    FreeObject(obj);
    if (Delete(key, LazyServerDel())) Notify(kNotifyGeneric, "del", key);
    return;
  }
  StoreObject(key, obj);
  Notify(cls, event, key);
}

bool Db::Delete(std::string_view key, bool lazy) {
  Entry e = Find(key);
  if (!e) {
    // DEL of a missing key still revokes its lease (docs/leases.md).
    if (leases_ != nullptr) ForgetLease(key);
    return false;
  }
  Delete(e, lazy);
  return true;
}

void Db::Delete(Entry e, bool lazy) { Remove(e, KeyEvent::kDeleted, lazy); }

void Db::Evict(Entry e) {
  Remove(e, KeyEvent::kEvicted, LazyFreeOptions::Get(LazyFreeSettings().lazy_eviction));
}

size_t Db::SampleSome(bool volatile_only, uint64_t random, size_t n, Record** out) {
  if (volatile_only && volatile_ == 0) return 0;
  size_t got = table_.SampleSome(random, n, out, volatile_only);
  if (got > 0 || !volatile_only) return got;
  // Keys with a TTL are rare here: walk from a cursor until one turns up (Redis samples its
  // expires dict, which holds only those).
  Record* found = nullptr;
  int passes = 0;
  while (found == nullptr && passes < 2) {
    sample_cursor_ = table_.Scan(sample_cursor_, [&](Record* r) {
      if (found == nullptr && r->has_expire()) found = r;
    });
    if (sample_cursor_ == 0) ++passes;
  }
  if (found == nullptr) return 0;
  out[0] = found;
  return 1;
}

void Db::FreeReplaced(Record* old) { FreeRecordMaybeLazy(old, LazyServerDel()); }

void Db::Remove(Entry e, KeyEvent event, bool lazy) {
  if (event == KeyEvent::kExpired) Notify(kNotifyExpired, "expired", (*e.link)->key());
  if (event == KeyEvent::kEvicted) Notify(kNotifyEvicted, "evicted", (*e.link)->key());
  Record* r = table_.Unlink(e.link);
  if (r->has_expire()) --volatile_;
  OnKeyEvent(r->key(), event, false);
  if (event == KeyEvent::kExpired) lazy |= LazyFreeOptions::Get(LazyFreeSettings().lazy_expire);
  FreeRecordMaybeLazy(r, lazy);
  table_.MaybeShrink();
}

Record* Db::Detach(Entry e) {
  Record* r = table_.Unlink(e.link);
  if (r->has_expire()) --volatile_;
  OnKeyEvent(r->key(), KeyEvent::kDeleted, false);
  table_.MaybeShrink();
  return r;
}

void Db::Attach(std::string_view key, Record* detached, int64_t expire_at_ms) {
  Record* r = NewRecord(key, detached->vlen, expire_at_ms);
  r->type_enc = detached->type_enc;
  r->flags |= static_cast<uint8_t>(detached->flags & Record::kRawString);
  memcpy(r->mutable_value(), detached->value().data(), detached->vlen);
  FreeRecordShell(detached);
  Touch(r);
  Record** link = FindForOverwrite(key);
  if (link != nullptr) {
    Record* old = *link;
    r->next = old->next;
    *link = r;
    if (old->has_expire()) --volatile_;
    FreeReplaced(old);
  } else {
    table_.Insert(r);
  }
  if (r->has_expire()) ++volatile_;
  OnKeyEvent(key, KeyEvent::kWritten, r->is_container());
}

Db::Entry Db::SetExpire(Entry e, int64_t expire_at_ms) {
  Record* r = e.get();
  if (expire_at_ms >= 0 && r->has_expire()) {
    memcpy(r->payload(), &expire_at_ms, sizeof(expire_at_ms));  // same size: in place
  } else if (expire_at_ms < 0 && !r->has_expire()) {
    return e;
  } else {
    r = Rebuild(e, expire_at_ms);
  }
  OnKeyEvent(r->key(), KeyEvent::kUpdated, false);
  return e;
}

bool Db::LiveIn(const Table& table, std::string_view key) const {
  Record* const* link = const_cast<Table&>(table).Find(key);
  return link != nullptr && !IsExpired(*link);
}

void Db::TouchWatchedPresent(const Table* a, const Table* b) {
  // Redis's touchAllWatchedKeysInDb: a flush or swap changes a watched key only if it held a
  // value on one side of it.
  for (auto& [key, w] : watched_) {
    if ((a != nullptr && LiveIn(*a, key)) || (b != nullptr && LiveIn(*b, key))) {
      w.version = ++version_clock_;
    }
  }
}

void Db::Clear(bool lazy) {
  bool had_keys = table_.size() > 0;
  if (had_keys && !watched_.empty()) TouchWatchedPresent(&table_, nullptr);
  if (lazy) {
    FreeTableLazily(&table_);
  } else {
    table_.Clear();
  }
  volatile_ = 0;
  expire_cursor_ = 0;
  if (had_keys) OnKeyEvent({}, KeyEvent::kFlushed, false);
  ClearLeases();
}

void Db::SwapContents(Db& other) {
  if (!watched_.empty()) TouchWatchedPresent(&table_, &other.table_);
  if (!other.watched_.empty()) other.TouchWatchedPresent(&other.table_, &table_);
  table_.Swap(other.table_);
  std::swap(volatile_, other.volatile_);
  std::swap(expire_cursor_, other.expire_cursor_);
  std::swap(expired_keys, other.expired_keys);
  OnKeyEvent({}, KeyEvent::kFlushed, false);
  other.OnKeyEvent({}, KeyEvent::kFlushed, false);
  ClearLeases();
  other.ClearLeases();
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
  for (const std::string& k : expired) Peek(k);  // expires it
}

Db::Entry Db::RandomLive(const std::function<uint64_t()>& rand) {
  // Like Redis, give up after a bounded number of tries when most keys are expired.
  for (int tries = 0; tries < 100 && table_.size() > 0; ++tries) {
    Record* r = table_.Random(rand);
    if (r == nullptr) return {};
    Entry e = Peek(r->key());  // expires it lazily if its time has come
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
      Remove(Entry{link}, KeyEvent::kExpired);
      ++expired;
    }
  }
  expired_keys += expired;
  return {examined, expired};
}

uint64_t Db::WatchKey(std::string_view key) {
  Watch& w = watched_[AbslView(key)];
  ++w.watchers;
  return w.version;
}

void Db::UnwatchKey(std::string_view key) {
  auto it = watched_.find(AbslView(key));
  if (it != watched_.end() && --it->second.watchers == 0) watched_.erase(it);
}

uint64_t Db::KeyVersion(std::string_view key) const {
  auto it = watched_.find(AbslView(key));
  return it == watched_.end() ? 0 : it->second.version;
}

}  // namespace omnibus
