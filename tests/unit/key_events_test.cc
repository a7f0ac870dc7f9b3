// store/: the shared pieces every container goes through: Listpack, StringMap (with SCAN's
// guarantee across resizes), counted memory, and the Db's key-event choke point (DESIGN §10.1):
// each way a key can change reports exactly one event, bumps watched versions and files ready
// keys for blocked clients.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "omnibus/base/str_cat.h"
#include "omnibus/store/db.h"
#include "omnibus/store/hash.h"
#include "omnibus/store/listpack.h"
#include "omnibus/store/memory.h"
#include "omnibus/store/string_map.h"

namespace omnibus {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

std::vector<std::string> Contents(const Listpack& lp) {
  std::vector<std::string> out;
  for (Listpack::Pos p = lp.Begin(); p != lp.End(); p = lp.Next(p)) out.emplace_back(lp.At(p));
  return out;
}

std::vector<std::string> ContentsBackwards(const Listpack& lp) {
  std::vector<std::string> out;
  for (Listpack::Pos p = lp.End(); p != lp.Begin();) {
    p = lp.Prev(p);
    out.emplace_back(lp.At(p));
  }
  return out;
}

TEST(ListpackTest, InsertEraseReplaceBothDirections) {
  Listpack lp = Listpack::Create();
  EXPECT_TRUE(lp.empty());
  lp.Append("b");
  lp.Prepend("a");
  lp.Append(std::string(300, 'x'));  // a two-byte length on both sides
  lp.Append("");
  EXPECT_THAT(Contents(lp), ElementsAre("a", "b", std::string(300, 'x'), ""));
  EXPECT_THAT(ContentsBackwards(lp), ElementsAre("", std::string(300, 'x'), "b", "a"));
  EXPECT_EQ(lp.size(), 4u);
  EXPECT_EQ(lp.At(lp.Seek(-2)), std::string(300, 'x'));
  EXPECT_EQ(lp.Seek(4), lp.End());
  EXPECT_EQ(lp.Seek(-5), lp.End());
  lp.Replace(lp.Seek(2), "short");
  lp.Replace(lp.Seek(0), std::string(200, 'y'));
  EXPECT_THAT(Contents(lp), ElementsAre(std::string(200, 'y'), "b", "short", ""));
  Listpack::Pos after = lp.Erase(lp.Seek(1), 2);
  EXPECT_EQ(lp.At(after), "");
  EXPECT_THAT(ContentsBackwards(lp), ElementsAre("", std::string(200, 'y')));
  EXPECT_EQ(lp.Find(""), lp.Seek(1));
  EXPECT_EQ(lp.Find("nope"), lp.End());
  Listpack copy = lp.Copy();
  lp.Erase(lp.Begin(), 10);  // more than there are: erases what there is
  EXPECT_TRUE(lp.empty());
  EXPECT_EQ(lp.bytes(), 8u);
  EXPECT_EQ(copy.size(), 2u);
  lp.Free();
  copy.Free();
}

TEST(ListpackTest, FindWithStrideSkipsValues) {
  Listpack lp = Listpack::Create();
  for (const char* s : {"f1", "v", "f2", "f1"}) lp.Append(s);
  EXPECT_EQ(lp.Find("v", 2), lp.End());  // "v" only in a value position
  EXPECT_EQ(lp.Find("v", 1), lp.Seek(1));
  EXPECT_EQ(lp.Find("f1", 2), lp.Begin());
  EXPECT_EQ(lp.Find("f2", 2), lp.Seek(2));
  lp.Free();
}

TEST(StringMapTest, SetFindEraseAndReplaceWithOtherLength) {
  StringMap m;
  EXPECT_TRUE(m.Set("a", "1"));
  EXPECT_FALSE(m.Set("a", "longer"));
  EXPECT_EQ(m.Find("a")->value(), "longer");
  EXPECT_TRUE(m.Insert("b").second);
  EXPECT_FALSE(m.Insert("b", "x").second);
  EXPECT_EQ(m.size(), 2u);
  EXPECT_TRUE(m.Erase("a"));
  EXPECT_FALSE(m.Erase("a"));
  EXPECT_EQ(m.Find("a"), nullptr);
  EXPECT_EQ(m.size(), 1u);
}

// Redis's SCAN guarantee: keys present for the whole scan come back at least once, even when
// the map doubles or shrinks between calls.
TEST(StringMapTest, ScanCoversStableKeysAcrossResizes) {
  for (int direction : {+1, -1}) {
    StringMap m;
    std::set<std::string> stable;
    for (int i = 0; i < 200; ++i) {
      m.Set(StrCat("s", i));
      stable.insert(StrCat("s", i));
    }
    if (direction < 0) {
      for (int i = 0; i < 5000; ++i) m.Set(StrCat("tmp", i));
    }
    std::set<std::string> seen;
    uint64_t cursor = 0;
    int calls = 0;
    do {
      cursor = m.Scan(cursor, [&](const StringMap::Entry& e) { seen.emplace(e.key()); });
      ++calls;
      if (direction > 0 && calls % 3 == 0 && calls < 30) {
        for (int i = 0; i < 300; ++i) m.Set(StrCat("grow", calls, ":", i));
      } else if (direction < 0 && calls == 2) {
        for (int i = 0; i < 5000; ++i) m.Erase(StrCat("tmp", i));
      }
    } while (cursor != 0);
    for (const std::string& k : stable) EXPECT_TRUE(seen.count(k)) << k;
  }
}

TEST(StringMapTest, CloneAndRandomAndMemoryIsCounted) {
  int64_t before = StoreAllocatedBytes();
  StringMap* m = StoreNew<StringMap>();
  for (int i = 0; i < 100; ++i) m->Set(StrCat("k", i), StrCat("v", i));
  EXPECT_GT(StoreAllocatedBytes(), before + 100 * 16);
  StringMap* c = m->Clone();
  EXPECT_EQ(c->size(), 100u);
  EXPECT_EQ(c->Find("k42")->value(), "v42");
  std::mt19937_64 rng(1);
  std::set<std::string> picked;
  for (int i = 0; i < 2000; ++i) picked.emplace(m->Random([&] { return rng(); })->key());
  EXPECT_GT(picked.size(), 90u);
  StoreDelete(m);
  StoreDelete(c);
  EXPECT_EQ(StoreAllocatedBytes(), before);
}

// A record of every event the choke point reports.
class KeyEventsTest : public ::testing::Test {
 protected:
  KeyEventsTest() {
    db_.TEST_on_event = [this](std::string_view key, KeyEvent ev) {
      events_.emplace_back(std::string(key), ev);
    };
  }
  std::vector<std::pair<std::string, KeyEvent>> Take() { return std::exchange(events_, {}); }

  // Adds field/value to a hash through the write path (store/hash.h: the small form's layout
  // is private to hash.cc).
  void HashAdd(std::string_view key, std::string_view field, bool create = true) {
    auto w = db_.Write(key, ValueType::kHash, create);
    ASSERT_TRUE(w.ok());
    if (!*w) return;
    ObjectRef obj = w->obj();
    HashSet(&obj, field, "v", HashLimits{});
    w->set_obj(obj);
  }

  int64_t now_ = 1'000'000;
  std::vector<ReadyKey> ready_;
  Db db_{&now_, 5, &ready_};
  std::vector<std::pair<int, std::string>> TakeReady() {
    std::vector<std::pair<int, std::string>> out;
    for (const ReadyKey& r : ready_) out.emplace_back(r.db, r.key);
    ready_.clear();
    return out;
  }
  std::vector<std::pair<std::string, KeyEvent>> events_;
};

TEST_F(KeyEventsTest, StringPathsReportOneEventEach) {
  db_.SetString("s", "1");
  EXPECT_THAT(Take(), ElementsAre(Pair("s", KeyEvent::kWritten)));
  db_.ReplaceValue(db_.Find("s"), "22");
  EXPECT_THAT(Take(), ElementsAre(Pair("s", KeyEvent::kUpdated)));
  db_.ResizeValue(db_.Find("s"), 5);
  EXPECT_THAT(Take(), ElementsAre(Pair("s", KeyEvent::kUpdated)));
  db_.SetExpire(db_.Find("s"), now_ + 10);
  EXPECT_THAT(Take(), ElementsAre(Pair("s", KeyEvent::kUpdated)));
  db_.SetExpire(db_.Find("s"), -1);
  EXPECT_THAT(Take(), ElementsAre(Pair("s", KeyEvent::kUpdated)));
  db_.SetExpire(db_.Find("s"), -1);  // no expiry to remove: nothing changed
  EXPECT_THAT(Take(), ElementsAre());
  EXPECT_TRUE(db_.Delete("s"));
  EXPECT_THAT(Take(), ElementsAre(Pair("s", KeyEvent::kDeleted)));
  EXPECT_FALSE(db_.Delete("s"));
  EXPECT_THAT(Take(), ElementsAre());
}

TEST_F(KeyEventsTest, LazyAndActiveExpiryAndFlush) {
  db_.SetString("lazy", "v", now_ + 5);
  db_.SetString("active", "v", now_ + 5);
  Take();
  now_ += 10;
  EXPECT_FALSE(db_.Find("lazy"));
  EXPECT_THAT(Take(), ElementsAre(Pair("lazy", KeyEvent::kExpired)));
  db_.ActiveExpireSlice(64);
  EXPECT_THAT(Take(), ElementsAre(Pair("active", KeyEvent::kExpired)));
  db_.SetString("x", "v");
  Take();
  db_.Clear();
  EXPECT_THAT(Take(), ElementsAre(Pair("", KeyEvent::kFlushed)));
  db_.Clear();  // nothing to flush
  EXPECT_THAT(Take(), ElementsAre());
}

TEST_F(KeyEventsTest, ContainerWritesCreateUpdateAndDeleteWhenEmpty) {
  HashAdd("h", "f1");
  EXPECT_THAT(Take(), ElementsAre(Pair("h", KeyEvent::kWritten)));
  HashAdd("h", "f2");
  EXPECT_THAT(Take(), ElementsAre(Pair("h", KeyEvent::kUpdated)));
  HashAdd("missing", "f", /*create=*/false);
  EXPECT_THAT(Take(), ElementsAre());
  EXPECT_FALSE(db_.Find("missing"));
  {
    auto w = db_.Write("h", ValueType::kHash, false);
    ASSERT_TRUE(w.ok() && *w);
    w->NoChange();
  }
  EXPECT_THAT(Take(), ElementsAre());
  {
    auto w = db_.Write("h", ValueType::kHash, false);
    ObjectRef obj = w->obj();
    HashDelete(&obj, "f1");
    HashDelete(&obj, "f2");
    w->set_obj(obj);
  }
  EXPECT_THAT(Take(), ElementsAre(Pair("h", KeyEvent::kDeleted)));
  EXPECT_FALSE(db_.Find("h"));
  {
    auto w = db_.Write("never-filled", ValueType::kHash, true);
    ASSERT_TRUE(w.ok() && *w && w->created());
  }
  EXPECT_THAT(Take(), ElementsAre());  // created and left empty: as if it never existed
  EXPECT_FALSE(db_.Find("never-filled"));
  db_.SetString("s", "v");
  Take();
  EXPECT_EQ(db_.Write("s", ValueType::kHash, true).status(), OpStatus::kWrongType);
  EXPECT_THAT(Take(), ElementsAre());
}

TEST_F(KeyEventsTest, StoreObjectDetachAttachAndSwap) {
  HashAdd("src", "f");
  Take();
  Db other(&now_);
  other.TEST_on_event = [this](std::string_view key, KeyEvent ev) {
    events_.emplace_back(StrCat("other:", key), ev);
  };
  Record* r = db_.Detach(db_.Find("src"));
  other.Attach("dst", r, now_ + 1000);
  EXPECT_THAT(Take(),
              ElementsAre(Pair("src", KeyEvent::kDeleted), Pair("other:dst", KeyEvent::kWritten)));
  ASSERT_TRUE(other.Find("dst"));
  EXPECT_EQ(other.Find("dst")->type(), ValueType::kHash);
  EXPECT_EQ(other.Find("dst")->expire_at_ms(), now_ + 1000);
  EXPECT_EQ(other.volatile_keys(), 1u);
  // COPY-like: store a copy of the container.
  db_.StoreObject("copy", CopyObject(other.Find("dst")->object()));
  EXPECT_THAT(Take(), ElementsAre(Pair("copy", KeyEvent::kWritten)));
  db_.StoreObject("copy", NewObject(ValueType::kHash));  // empty: deletes the key
  EXPECT_THAT(Take(), ElementsAre(Pair("copy", KeyEvent::kDeleted)));
  db_.SwapContents(other);
  EXPECT_THAT(Take(),
              ElementsAre(Pair("", KeyEvent::kFlushed), Pair("other:", KeyEvent::kFlushed)));
  EXPECT_TRUE(db_.Find("dst"));
  EXPECT_EQ(db_.volatile_keys(), 1u);
  EXPECT_EQ(other.size(), 0u);
}

TEST_F(KeyEventsTest, WatchedVersionsAndReadyKeys) {
  uint64_t v0 = db_.WatchKey("w");
  db_.SetString("unwatched", "x");
  EXPECT_EQ(db_.KeyVersion("w"), v0);
  db_.SetString("w", "x");
  uint64_t v1 = db_.KeyVersion("w");
  EXPECT_NE(v1, v0);
  db_.Clear();
  EXPECT_NE(db_.KeyVersion("w"), v1);
  db_.UnwatchKey("w");
  EXPECT_EQ(db_.KeyVersion("w"), 0u);
  // Like Redis, a flush or SWAPDB changes only watched keys that held a value on one side.
  uint64_t absent = db_.WatchKey("absent");
  db_.SetString("present", "x");
  uint64_t present = db_.WatchKey("present");
  db_.Clear();
  EXPECT_EQ(db_.KeyVersion("absent"), absent);
  EXPECT_NE(db_.KeyVersion("present"), present);
  int64_t now2 = 0;
  Db other(&now2);
  other.SetString("absent", "y");
  absent = db_.KeyVersion("absent");
  db_.SwapContents(other);
  EXPECT_NE(db_.KeyVersion("absent"), absent);

  // Registrations are one-shot: the first gain reports the key and drops it.
  db_.AddBlockingKey("q");
  HashAdd("other", "f");
  EXPECT_TRUE(TakeReady().empty());
  {
    auto w = db_.Write("q", ValueType::kHash, true);  // created, then left empty: nothing
  }
  EXPECT_TRUE(TakeReady().empty());
  HashAdd("q", "f");  // created: gained elements
  EXPECT_THAT(TakeReady(), ElementsAre(Pair(5, "q")));
  HashAdd("q", "g");  // no longer registered
  EXPECT_TRUE(TakeReady().empty());
  db_.AddBlockingKey("q");
  {
    auto w = db_.Write("q", ValueType::kHash, false);  // changed, but gained nothing
  }
  EXPECT_TRUE(TakeReady().empty());
  HashAdd("q", "h");
  EXPECT_THAT(TakeReady(), ElementsAre(Pair(5, "q")));
  // A flush (SWAPDB may bring keys in) reports every registered key.
  db_.AddBlockingKey("a");
  db_.AddBlockingKey("b");
  db_.Clear();
  EXPECT_THAT(TakeReady(), UnorderedElementsAre(Pair(5, "a"), Pair(5, "b")));
  db_.SignalReady("z");
  EXPECT_THAT(TakeReady(), ElementsAre(Pair(5, "z")));
}

TEST(CountedMemoryTest, RecordsAndContainersAreCountedAndReturned) {
  int64_t before = StoreAllocatedBytes();
  {
    int64_t now = 0;
    Db db(&now);
    for (int i = 0; i < 1000; ++i) db.SetString(StrCat("k", i), "value");
    for (int i = 0; i < 100; ++i) {
      auto w = db.Write(StrCat("h", i), ValueType::kHash, true);
      ObjectRef obj = w->obj();
      HashSet(&obj, "f", std::string(100, 'v'), HashLimits{512, 1000});  // stays small
      w->set_obj(obj);
    }
    EXPECT_GT(StoreAllocatedBytes(), before + 1000 * 32 + 100 * 100);
  }
  EXPECT_EQ(StoreAllocatedBytes(), before);
}

}  // namespace
}  // namespace omnibus

namespace omnibus {
namespace {

// Key notices (store/key_notice.h): recorded only while someone listens to their class, in
// the order Redis announces them.
class KeyNoticesTest : public ::testing::Test {
 protected:
  std::vector<std::string> Take() {
    std::vector<std::string> out;
    for (const KeyNotice& n : notices_) {
      if (n.cls == kNoticeModified) {
        out.push_back("modified " + n.key);
      } else if (n.cls == kNoticeFlush) {
        out.push_back("flush");
      } else {
        out.push_back(std::string(n.event) + " " + n.key);
      }
    }
    notices_.clear();
    return out;
  }
  void Listen(uint32_t mask) { listeners_.mask.store(mask); }

  int64_t now_ = 1'000'000;
  std::vector<ReadyKey> ready_;
  std::vector<KeyNotice> notices_;
  NoticeListeners listeners_;
  Db db_{&now_, 2, &ready_, &notices_, &listeners_};
};

TEST_F(KeyNoticesTest, NothingIsRecordedWithoutListeners) {
  db_.SetString("s", "v", now_ + 5);
  db_.Notify(kNotifyString, "set", "s");
  now_ += 10;
  EXPECT_FALSE(db_.Find("s"));
  EXPECT_TRUE(notices_.empty());
  Listen(kNotifyList);  // another class than the events below
  db_.SetString("s", "v");
  db_.Notify(kNotifyString, "set", "s");
  EXPECT_TRUE(notices_.empty());
}

TEST_F(KeyNoticesTest, NewComesBeforeTheCommandsEventAndDelAfterIt) {
  Listen(kNotifyAll | kNotifyNew);
  db_.SetString("s", "v");
  db_.Notify(kNotifyString, "set", "s");
  db_.SetString("s", "w");
  db_.Notify(kNotifyString, "set", "s");
  EXPECT_THAT(Take(), ElementsAre("new s", "set s", "set s"));
  {
    auto w = db_.Write("l", ValueType::kHash, /*create=*/true);
    ObjectRef obj = w->obj();
    HashSet(&obj, "f", "v", HashLimits{});
    w->set_obj(obj);
    w->Notify(kNotifyHash, "hset");
  }
  {
    auto w = db_.Write("l", ValueType::kHash, /*create=*/false);
    ObjectRef obj = w->obj();
    HashDelete(&obj, "f");
    w->set_obj(obj);
    w->Notify(kNotifyHash, "hdel");
  }
  EXPECT_THAT(Take(), ElementsAre("new l", "hset l", "hdel l", "del l"));
  for (const KeyNotice& n : notices_) EXPECT_EQ(n.db, 2);
}

TEST_F(KeyNoticesTest, ExpiryAnnouncesExpiredAndTrackingSeesEveryChange) {
  Listen(kNotifyExpired | kNoticeModified | kNoticeFlush);
  db_.SetString("lazy", "v", now_ + 5);
  db_.SetString("active", "v", now_ + 5);
  EXPECT_THAT(Take(), ElementsAre("modified lazy", "modified active"));
  now_ += 10;
  EXPECT_FALSE(db_.Find("lazy"));
  db_.ActiveExpireSlice(64);
  EXPECT_THAT(Take(),
              ElementsAre("expired lazy", "modified lazy", "expired active", "modified active"));
  db_.SetString("x", "v");
  db_.Clear();  // a flush is announced by the command (NotifyFlush), once
  EXPECT_THAT(Take(), ElementsAre("modified x"));
  db_.NotifyFlush();
  EXPECT_THAT(Take(), ElementsAre("flush"));
}

TEST(NotifyFlagsTest, ParsesAndSpellsAsRedis) {
  uint32_t f = 0;
  EXPECT_TRUE(ParseNotifyFlags("KEA", &f));
  EXPECT_EQ(f, kNotifyKeyspace | kNotifyKeyevent | kNotifyAll);
  EXPECT_EQ(NotifyFlagsToString(f), "AKE");
  EXPECT_TRUE(ParseNotifyFlags("ngK$", &f));
  EXPECT_EQ(NotifyFlagsToString(f), "g$nK");
  EXPECT_TRUE(ParseNotifyFlags("AnKEm", &f));
  EXPECT_EQ(NotifyFlagsToString(f), "AKEm");
  EXPECT_TRUE(ParseNotifyFlags("", &f));
  EXPECT_EQ(f, 0u);
  EXPECT_EQ(NotifyFlagsToString(f), "");
  EXPECT_FALSE(ParseNotifyFlags("KEq", &f));
}

}  // namespace
}  // namespace omnibus
