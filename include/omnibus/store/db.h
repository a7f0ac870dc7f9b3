#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "omnibus/base/op_status.h"
#include "omnibus/store/eviction.h"
#include "omnibus/store/key_notice.h"
#include "omnibus/store/object.h"
#include "omnibus/store/record.h"
#include "omnibus/store/table.h"

namespace omnibus {

// What happened to a key, as the choke point reports it (DESIGN §10.1).
enum class KeyEvent : uint8_t {
  kWritten,  // created or overwritten: SET, a container created, RENAME/MOVE/COPY in, *STORE
  kUpdated,  // an existing value changed in place: APPEND, HSET, LPUSH on a list, EXPIRE
  kDeleted,  // DEL, a container emptied, RENAME/MOVE out
  kExpired,  // lazy or active expiry
  kFlushed,  // FLUSHDB/FLUSHALL/SWAPDB: every key of the DB at once (the key is empty)
  kEvicted,  // maxmemory eviction
};

class Db;
class LeaseTable;

// A key that gained elements while clients block on it (§10.5), with its place in the order
// such events happened across every shard (a parked step fills several shards' lists).
struct ReadyKey {
  int db = 0;
  std::string key;
  uint64_t seq = 0;       // when it became ready (a process-wide counter)
  uint64_t dispatch = 0;  // the reactor's: when the work that made it ready was dispatched
};

// Write access to one container key: the only way a handler changes a list, hash, set or
// zset (§10.1). When it ends (destructor or Finish) it reports the change to the Db's choke
// point and deletes the key if the container ended up empty, as Redis does. Holds the record,
// not its table link, so other keys may be looked up meanwhile; do not hold two writes on the
// same key, and do not change the key's expiry while one is open.
class KeyWrite {
 public:
  KeyWrite() = default;
  KeyWrite(const KeyWrite&) = delete;
  KeyWrite& operator=(const KeyWrite&) = delete;
  KeyWrite(KeyWrite&& o) noexcept { *this = std::move(o); }
  KeyWrite& operator=(KeyWrite&& o) noexcept;
  ~KeyWrite() { Finish(); }

  // False when the key does not exist and was not created.
  explicit operator bool() const { return record_ != nullptr; }
  ObjectRef obj() const { return record_->object(); }
  // After the container was reallocated or converted to another encoding.
  void set_obj(const ObjectRef& o) { record_->set_object(o); }
  bool created() const { return created_; }
  std::string_view key() const { return record_->key(); }
  // Nothing was changed after all (SREM of absent members): no event.
  void NoChange() { changed_ = false; }
  // Announces the command's event for this key (keyspace notifications): before Finish, so
  // the "del" of a container left empty follows it, as in Redis.
  void Notify(uint32_t cls, const char* event);
  // Reports now (then the write is closed), e.g. before the handler looks at a key that may
  // be this one.
  void Finish();

 private:
  friend class Db;
  KeyWrite(Db* db, Record* r, bool created, size_t notices_at, uint64_t new_seq)
      : db_(db),
        record_(r),
        len_before_(created ? 0 : ObjectLength(r->object())),
        notices_at_(notices_at),
        new_seq_(new_seq),
        created_(created) {}

  Db* db_ = nullptr;
  Record* record_ = nullptr;
  size_t len_before_ = 0;
  // A created key's "new" goes before the handler's events: where, and its place in the
  // order of notices (taken when the key was created; 0: nobody listens to "new").
  size_t notices_at_ = 0;
  uint64_t new_seq_ = 0;
  bool created_ = false;
  bool changed_ = true;
};

// One logical database (SELECT n) of one shard. All reads expire lazily: a key whose time has
// come is deleted on the access that finds it, so no reply ever shows an expired key.
//
// Every change to a key passes one choke point, OnKeyEvent (DESIGN §10.1): it bumps the
// versions of watched keys (WATCH), files keys that gained elements while clients block on
// them (blocking pops), and lets tests observe every path. Memory is counted where it is
// allocated (store/memory.h).
// Runs on: the owning shard thread.
class Db {
 public:
  // `now_ms` is the shard's clock for the command being executed (Unix ms); tests point it at
  // a fake clock.
  // Keys that gain elements while clients block on them are appended to `ready` as
  // (index, key) (null: nobody listens).
  // Key notices (store/key_notice.h) go to `notices` while `listeners` asks for them.
  // `evictor` (the shard's, may be null) stamps records on access and counts lookups for
  // eviction (store/eviction.h); null: plain LRU stamps.
  explicit Db(const int64_t* now_ms, int index = 0, std::vector<ReadyKey>* ready = nullptr,
              std::vector<KeyNotice>* notices = nullptr, const NoticeListeners* listeners = nullptr,
              Evictor* evictor = nullptr)
      : now_ms_(now_ms),
        index_(index),
        ready_(ready),
        notices_(notices),
        listeners_(listeners != nullptr ? listeners : &no_listeners_),
        evictor_(evictor) {}

  // A found key: valid until the next call on this Db.
  struct Entry {
    Record** link = nullptr;
    explicit operator bool() const { return link != nullptr; }
    Record* operator->() const { return *link; }
    Record* get() const { return *link; }
  };

  // Looks a key up for a command (expires it lazily, marks it accessed).
  Entry Find(std::string_view key);
  // Find without marking the key accessed (OBJECT, SCAN's TYPE filter).
  Entry Peek(std::string_view key);
  // Find, but a key of another type is kWrongType.
  OpResult<Entry> FindTyped(std::string_view key, ValueType type);

  // Opens a container key for writing: kWrongType for another type; an empty KeyWrite when the
  // key is missing and `create` is false; with `create`, a missing key gets a new empty
  // container of `type` (it is deleted again if the write leaves it empty).
  OpResult<KeyWrite> Write(std::string_view key, ValueType type, bool create);

  // Creates or overwrites `key` as a string. keep_ttl keeps an existing expiry; otherwise
  // the key gets `expire_at_ms` (-1 for none).
  void SetString(std::string_view key, std::string_view value, int64_t expire_at_ms = -1,
                 bool keep_ttl = false);
  // Replaces the value of an existing string entry, keeping its expiry.
  Entry ReplaceValue(Entry e, std::string_view value);
  // Resizes an existing string value in place (new bytes are zero), for APPEND/SETRANGE; the
  // caller then writes the bytes and the string counts as "raw" for OBJECT ENCODING.
  Entry ResizeValue(Entry e, size_t new_len);
  // Creates or overwrites `key` with a container it takes ownership of (*STORE, COPY). An
  // empty container deletes the key instead. Drops any expiry.
  void StoreObject(std::string_view key, const ObjectRef& obj);
  // *STORE: StoreObject, then announces `event` (or "del" when an empty result deleted an
  // existing key), as Redis's *STORE commands do.
  void StoreObjectNotify(std::string_view key, const ObjectRef& obj, uint32_t cls,
                         const char* event);

  // `lazy`: a big value is freed on the lazyfree thread (UNLINK; DEL under
  // lazyfree-lazy-user-del; store/lazy_free.h).
  bool Delete(std::string_view key, bool lazy = false);
  void Delete(Entry e, bool lazy = false);
  // maxmemory: removes the key as an eviction ("evicted" notification, WATCH, tracking), its
  // value freed lazily under lazyfree-lazy-eviction.
  void Evict(Entry e);
  // Up to `n` records (live or not) for eviction's sampling, from a random place;
  // `volatile_only`: records with a TTL (then at least one whenever the Db has any).
  size_t SampleSome(bool volatile_only, uint64_t random, size_t n, Record** out);

  // RENAME/MOVE: takes the key out of this Db (reported as deleted) without freeing its value.
  // The caller must pass the record to Attach (here or in another Db) or FreeRecord it.
  Record* Detach(Entry e);
  // Stores a detached record's value under `key` (overwriting it), with `expire_at_ms`.
  void Attach(std::string_view key, Record* detached, int64_t expire_at_ms);

  // Sets (ms >= 0) or clears (ms < 0) the expiry of an existing entry.
  Entry SetExpire(Entry e, int64_t expire_at_ms);

  size_t size() const { return table_.size(); }
  size_t volatile_keys() const { return volatile_; }
  int64_t now_ms() const { return *now_ms_; }
  // `lazy`: the records are freed on the lazyfree thread (FLUSHDB/FLUSHALL ASYNC).
  void Clear(bool lazy = false);
  // SWAPDB: exchanges the contents (keys, counts, expiry cursor) of two Dbs of one shard.
  // Watched keys and blocked keys stay with their Db and see a flush.
  void SwapContents(Db& other);

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
  void set_grow_gate(Table::GrowGate gate, void* ctx) { table_.set_grow_gate(gate, ctx); }
  bool IsExpired(const Record* r) const { return r->has_expire() && r->expire_at_ms() <= *now_ms_; }

  // --- Key versions (WATCH). Only watched keys carry one; any event bumps it. -------------
  // Starts watching (nested watches count) and returns the key's current version.
  uint64_t WatchKey(std::string_view key);
  void UnwatchKey(std::string_view key);
  // The version of a watched key (0 if it is not watched).
  uint64_t KeyVersion(std::string_view key) const;

  // --- Blocked keys (blocking pops, §10.5). A pop that finds nothing registers its keys;
  // the first event that gives a registered key elements (or a flush/SWAPDB, which may) files
  // it as ready and drops the registration: the reactor re-tries its oldest waiter, which
  // registers again if it still finds nothing. One-shot registrations need no unregistering
  // when a waiter leaves.
  void AddBlockingKey(std::string_view key) { blocking_.emplace(std::string(key)); }
  // A blocking pop that took elements and left some: the next waiter may be served too.
  void SignalReady(std::string_view key) {
    if (ready_ != nullptr) ready_->push_back(ReadyKey{index_, std::string(key), NextReadySeq()});
  }

  static uint64_t NextReadySeq() { return ready_seq_.fetch_add(1, std::memory_order_relaxed); }

  // --- Leases (LEASE.*, docs/leases.md): per missing key, who recomputes it and the stale
  // value missers may be served meanwhile. Any event of a key forgets its lease state (a write
  // gives it a value; DEL revokes the lease even of a missing key), a flush or SWAPDB all of
  // it; clients waiting for such a key are woken (SignalReady).
  LeaseTable& leases();  // created on first use
  LeaseTable* leases_if_any() { return leases_.get(); }
  // --- Keyspace notifications (§10.1): a handler announces each event of its command, in
  // Redis's order, next to the change (e.g. Notify(kNotifyList, "lpush", key)). Recorded only
  // while someone listens to `cls`: one load and a branch otherwise. The Db itself announces
  // "expired", "new" and the "del" of a container a write left empty.
  void Notify(uint32_t cls, const char* event, std::string_view key) {
    if (listeners_->mask.load(std::memory_order_relaxed) & cls) RecordNotice(cls, event, key);
  }
  bool Listening(uint32_t cls) const {
    return (listeners_->mask.load(std::memory_order_relaxed) & cls) != 0;
  }
  // FLUSHDB/FLUSHALL: every key may be gone (client tracking sends a null invalidation).
  // Called once per command, not per shard or DB.
  void NotifyFlush() { Notify(kNoticeFlush, nullptr, {}); }
  // A script's redis.call read `key` for a caller that tracks keys (client tracking
  // remembers it on the reactor).
  void NoteRead(std::string_view key) { RecordNotice(kNoticeRead, nullptr, key); }
  // A command a script runs, for MONITOR clients (`line` as MONITOR prints it).
  void NoteMonitor(std::string_view line) {
    if (Listening(kNoticeMonitor)) RecordNotice(kNoticeMonitor, nullptr, line);
  }

  // keymiss notifications: while the executing thread runs a read-only command (or a write
  // command's lookups of keys it only reads), Find announces the keys it does not find.
  static void SetReadLookups(bool on) { read_lookups_ = on; }
  // A read lookup that found nothing (Redis's keymiss), for commands that read a key with a
  // write's lookup (SET ... GET, GETDEL, GETEX, GETSET).
  void NotifyMiss(std::string_view key) { Notify(kNotifyKeyMiss, "keymiss", key); }

  // Test seam: called for every event that passes the choke point.
  std::function<void(std::string_view key, KeyEvent event)> TEST_on_event;

  uint64_t expired_keys = 0;  // stats: keys removed by lazy or active expiry
  // stats: lookups of read-only commands (Redis's keyspace_hits/misses, INFO stats).
  uint64_t keyspace_hits = 0;
  uint64_t keyspace_misses = 0;

 private:
  friend class KeyWrite;
  // The choke point (§10.1). `gained`: the key now holds elements it did not before.
  void OnKeyEvent(std::string_view key, KeyEvent event, bool gained);
  void FinishWrite(KeyWrite& w);
  void RecordNotice(uint32_t cls, const char* event, std::string_view key);
  bool LiveIn(const Table& table, std::string_view key) const;
  // The key's link for a write that replaces it whole, or null when it is missing (then a
  // "new" is announced); a dead key expires first.
  Record** FindForOverwrite(std::string_view key);
  void TouchWatchedPresent(const Table* a, const Table* b);
  // Replaces the record at `e` by a copy with another expiry; the value bytes (and so a
  // container's ownership) move to the new record.
  Record* Rebuild(Entry e, int64_t expire_at_ms);
  // Unlinks and frees (lazily if `lazy` or for an expiry under lazyfree-lazy-expire); reports
  // `event`.
  void Remove(Entry e, KeyEvent event, bool lazy = false);
  // Frees a value a write replaced (lazily under lazyfree-lazy-server-del).
  static void FreeReplaced(Record* old);
  void Touch(Record* r) {
    if (evictor_ != nullptr) {
      evictor_->Touch(r);
    } else {
      r->lru = static_cast<uint16_t>(*now_ms_ / 1000);
    }
  }
  // A record this Db just created (not an overwrite): LFU's initial counter, TinyLFU's window.
  void Stamp(Record* r) {
    if (evictor_ != nullptr) {
      evictor_->Stamp(r);
      evictor_->Created(index_, r->key());
    } else {
      Touch(r);
    }
  }
  void ForgetLease(std::string_view key);
  void ClearLeases();

  const int64_t* now_ms_;
  Table table_;
  size_t volatile_ = 0;
  uint64_t expire_cursor_ = 0;
  uint64_t sample_cursor_ = 0;  // eviction's walk for keys with a TTL

  struct Watch {
    uint64_t version = 0;
    uint32_t watchers = 0;
  };
  absl::flat_hash_map<std::string, Watch> watched_;
  uint64_t version_clock_ = 0;
  const int index_;
  absl::flat_hash_set<std::string> blocking_;
  std::vector<ReadyKey>* ready_;
  std::vector<KeyNotice>* notices_;
  const NoticeListeners* listeners_;
  Evictor* evictor_;
  static thread_local bool read_lookups_;
  static const NoticeListeners no_listeners_;
  static std::atomic<uint64_t> ready_seq_;
  struct LeaseTableFree {
    void operator()(LeaseTable* t) const;
  };
  std::unique_ptr<LeaseTable, LeaseTableFree> leases_;
};

}  // namespace omnibus
