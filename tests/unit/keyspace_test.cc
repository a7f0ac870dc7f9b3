// store/: the chained Table (growth, shrink, incremental rehash, SCAN, Random), Db over a
// fake clock (lazy and active expiry, TTL bookkeeping) and Keyspace's active expire cycle.

#include "omnibus/store/keyspace.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "omnibus/base/str_cat.h"
#include "omnibus/store/db.h"
#include "omnibus/store/record.h"
#include "omnibus/store/table.h"

namespace omnibus {
namespace {

using ::testing::UnorderedElementsAreArray;

std::string Key(int i) { return StrCat("key:", i); }

Record* MakeRecord(std::string_view key, std::string_view value = "v", int64_t expire = -1) {
  Record* r = NewRecord(key, value.size(), expire);
  if (!value.empty()) memcpy(r->mutable_value(), value.data(), value.size());
  return r;
}

bool Contains(Table& t, std::string_view key) {
  Record** link = t.Find(key);
  return link != nullptr && (*link)->key() == key;
}

// Unlinks and frees `key`; false if it was not there.
bool Erase(Table& t, std::string_view key) {
  Record** link = t.Find(key);
  if (link == nullptr) return false;
  FreeRecord(t.Unlink(link));
  return true;
}

void FinishRehash(Table& t) {
  for (int i = 0; i < 10'000'000 && t.RehashStep(100); ++i) {
  }
  ASSERT_FALSE(t.rehashing());
}

// Every key a full SCAN returns (the table is not modified during it).
std::multiset<std::string> ScanAll(Table& t) {
  std::multiset<std::string> seen;
  uint64_t cursor = 0;
  do {
    cursor = t.Scan(cursor, [&](Record* r) { seen.emplace(r->key()); });
  } while (cursor != 0);
  return seen;
}

// Inserts key:0, key:1, ... until an insert starts a new rehash of a table already holding
// at least `min_keys` (so the rehash has only just begun). Returns how many keys it inserted.
int FillUntilRehashing(Table& t, int min_keys) {
  int n = 0;
  while (n < 50 * min_keys) {
    bool was_rehashing = t.rehashing();
    t.Insert(MakeRecord(Key(n)));
    ++n;
    if (!was_rehashing && t.rehashing() && n >= min_keys) break;
  }
  return n;
}

TEST(TableTest, EmptyTable) {
  Table t;
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.Find("x"), nullptr);
  EXPECT_EQ(t.Scan(0, [](Record*) { ADD_FAILURE() << "visited a record of an empty table"; }), 0u);
  EXPECT_EQ(t.Random([] { return uint64_t{7}; }), nullptr);
  EXPECT_FALSE(t.RehashStep(10));
}

TEST(TableTest, InsertFindUnlinkThroughGrowthAndShrink) {
  constexpr int kN = 20000;
  Table t;
  for (int i = 0; i < kN; ++i) {
    Record** link = t.Insert(MakeRecord(Key(i), StrCat("value", i)));
    ASSERT_EQ((*link)->key(), Key(i));
  }
  EXPECT_EQ(t.size(), static_cast<size_t>(kN));
  FinishRehash(t);
  EXPECT_GE(t.bucket_count(), static_cast<size_t>(kN / 2));
  for (int i = 0; i < kN; ++i) {
    Record** link = t.Find(Key(i));
    ASSERT_NE(link, nullptr) << Key(i);
    EXPECT_EQ((*link)->value(), StrCat("value", i));
  }
  EXPECT_FALSE(Contains(t, "absent"));

  // Delete all but ten keys, shrinking as Db does after each deletion.
  for (int i = 10; i < kN; ++i) {
    ASSERT_TRUE(Erase(t, Key(i))) << Key(i);
    t.MaybeShrink();
  }
  EXPECT_EQ(t.size(), 10u);
  for (int round = 0; round < 20; ++round) {
    FinishRehash(t);
    t.MaybeShrink();
  }
  FinishRehash(t);
  EXPECT_LE(t.bucket_count(), 64u);
  for (int i = 0; i < kN; ++i) EXPECT_EQ(Contains(t, Key(i)), i < 10) << Key(i);
  EXPECT_EQ(t.size(), 10u);
  EXPECT_EQ(ScanAll(t).size(), 10u);
}

TEST(TableTest, EveryKeyFindableMidRehash) {
  Table t;
  int n = FillUntilRehashing(t, 4000);
  ASSERT_TRUE(t.rehashing());
  std::vector<std::string> all;
  for (int i = 0; i < n; ++i) all.push_back(Key(i));

  // SCAN does not advance the rehash, so this sees both arrays exactly as they are.
  std::multiset<std::string> seen = ScanAll(t);
  EXPECT_TRUE(t.rehashing());
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()),
            std::set<std::string>(all.begin(), all.end()));

  // Find moves one bucket per call; keep inserting new keys while checking old ones.
  int checked_while_rehashing = 0;
  for (int i = 0; i < n; ++i) {
    if (t.rehashing()) ++checked_while_rehashing;
    ASSERT_TRUE(Contains(t, Key(i))) << Key(i) << " lost mid-rehash";
    if (i % 4 == 0) {
      t.Insert(MakeRecord(Key(n)));
      all.push_back(Key(n));
      ++n;
    }
  }
  EXPECT_GT(checked_while_rehashing, 100);
  for (const std::string& k : all) ASSERT_TRUE(Contains(t, k)) << k;
  EXPECT_EQ(t.size(), all.size());
}

// Runs `scenario` in a forked child, so that a crash in the code under test fails this
// test instead of killing the whole binary. The scenario returns what went wrong ("" if
// nothing), which the child prints for the failure message.
template <typename F>
void RunIsolated(F scenario) {
  EXPECT_EXIT(
      {
        std::string why = scenario();
        fputs(why.c_str(), stderr);
        _exit(why.empty() ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(TableTest, UnlinkDuringRehashKeepsEveryOtherKey) {
  // A SET then DEL of a new key while the table is growing: the new key sits in the new
  // array even though its old-array bucket has not been moved yet.
  RunIsolated([]() -> std::string {
    Table t;
    int n = FillUntilRehashing(t, 4000);
    if (!t.rehashing()) return "no rehash started";
    int tmp = 0;
    while (t.rehashing() && tmp < 100000) {
      std::string k = StrCat("tmp:", tmp++);
      t.Insert(MakeRecord(k));
      if (!Erase(t, k)) return StrCat(k, " not found right after its insert");
    }
    int missing = 0;
    for (int i = 0; i < n; ++i) missing += !Contains(t, Key(i));
    size_t scanned = ScanAll(t).size();
    if (missing != 0 || t.size() != static_cast<size_t>(n) || scanned != static_cast<size_t>(n))
      return StrCat("after ", tmp, " insert+unlink pairs during a rehash: ", missing, " of ", n,
                    " keys lost; size() ", t.size(), ", SCAN returns ", scanned);
    return "";
  });
}

TEST(TableTest, ScanReturnsEachKeyOnceWhenStable) {
  Table t;
  for (int i = 0; i < 5000; ++i) t.Insert(MakeRecord(Key(i)));
  FinishRehash(t);
  std::multiset<std::string> seen = ScanAll(t);
  EXPECT_EQ(seen.size(), 5000u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 5000u);
}

// The SCAN guarantee: keys present for the whole scan are returned at least once, whatever
// happens to other keys between calls. `between` runs after every Scan call.
template <typename F>
void ExpectScanCovers(Table& t, const std::vector<std::string>& stable, F between) {
  std::set<std::string> seen;
  uint64_t cursor = 0;
  int calls = 0;
  do {
    cursor = t.Scan(cursor, [&](Record* r) { seen.emplace(r->key()); });
    between();
    ASSERT_LT(++calls, 1'000'000) << "scan does not terminate";
  } while (cursor != 0);
  int missing = 0;
  for (const std::string& k : stable) missing += !seen.count(k);
  EXPECT_EQ(missing, 0) << "of " << stable.size() << " stable keys, after " << calls << " calls";
}

TEST(TableTest, ScanGuaranteeWhileGrowing) {
  Table t;
  std::vector<std::string> stable;
  for (int i = 0; i < 1000; ++i) {
    stable.push_back(StrCat("stable:", i));
    t.Insert(MakeRecord(stable.back()));
  }
  FinishRehash(t);
  size_t start_buckets = t.bucket_count();
  int next = 0;
  bool saw_rehash = false;
  ExpectScanCovers(t, stable, [&] {
    // Bounded: a table that grew forever would never let the cursor finish.
    for (int j = 0; j < 40 && next < 30000; ++j) t.Insert(MakeRecord(Key(next++)));
    saw_rehash |= t.rehashing();
  });
  EXPECT_TRUE(saw_rehash);
  EXPECT_GT(t.bucket_count(), 4 * start_buckets);
}

TEST(TableTest, ScanGuaranteeWhileShrinking) {
  Table t;
  std::vector<std::string> stable;
  for (int i = 0; i < 300; ++i) {
    stable.push_back(StrCat("stable:", i));
    t.Insert(MakeRecord(stable.back()));
  }
  constexpr int kExtra = 30000;
  for (int i = 0; i < kExtra; ++i) t.Insert(MakeRecord(Key(i)));
  FinishRehash(t);
  size_t start_buckets = t.bucket_count();
  int next = 0;
  bool saw_rehash = false;
  size_t smallest = start_buckets;  // smallest table seen between calls, outside a rehash
  ExpectScanCovers(t, stable, [&] {
    // These keys were all inserted before the scan (and before any shrink began).
    for (int j = 0; j < 1000 && next < kExtra; ++j) {
      ASSERT_TRUE(Erase(t, Key(next++)));
      t.MaybeShrink();
    }
    saw_rehash |= t.rehashing();
    t.RehashStep(20);  // what an idle shard does (Db::RehashStep)
    if (!t.rehashing()) smallest = std::min(smallest, t.bucket_count());
  });
  EXPECT_TRUE(saw_rehash);
  EXPECT_LT(smallest, start_buckets / 4) << "the table did not shrink during the scan";
}

TEST(TableTest, ScanGuaranteeGrowThenShrinkInOneScan) {
  Table t;
  std::vector<std::string> stable;
  for (int i = 0; i < 500; ++i) {
    stable.push_back(StrCat("stable:", i));
    t.Insert(MakeRecord(stable.back()));
  }
  FinishRehash(t);
  // First half of the calls insert 20k keys; once done, the rest delete them again, but
  // only after any growth rehash has finished (so each deleted key was inserted before the
  // rehash it is deleted in began).
  int inserted = 0, erased = 0;
  ExpectScanCovers(t, stable, [&] {
    if (inserted < 20000) {
      for (int j = 0; j < 200; ++j) t.Insert(MakeRecord(Key(inserted++)));
      return;
    }
    if (erased == 0) FinishRehash(t);
    for (int j = 0; j < 200 && erased < inserted; ++j) {
      ASSERT_TRUE(Erase(t, Key(erased++)));
      t.MaybeShrink();
    }
  });
}

TEST(TableTest, RandomReturnsOnlyLiveRecords) {
  Table t;
  std::mt19937_64 rng(42);
  auto rand = [&] { return rng(); };
  std::set<std::string> live;
  for (int i = 0; i < 2000; ++i) {
    t.Insert(MakeRecord(Key(i)));
    live.insert(Key(i));
  }
  for (int i = 0; i < 2000; i += 2) {
    ASSERT_TRUE(Erase(t, Key(i)));
    live.erase(Key(i));
  }
  std::set<std::string> picked;
  for (int i = 0; i < 20000; ++i) {
    Record* r = t.Random(rand);
    ASSERT_NE(r, nullptr);
    ASSERT_TRUE(live.count(std::string(r->key()))) << r->key() << " is not live";
    picked.emplace(r->key());
  }
  EXPECT_GT(picked.size(), live.size() * 9 / 10);

  // Also mid-rehash, when part of the old array is already empty.
  Table g;
  int n = FillUntilRehashing(g, 3000);
  for (int i = 0; i < 1000 && g.rehashing(); ++i) g.RehashStep(1);
  ASSERT_TRUE(g.rehashing());
  for (int i = 0; i < 5000; ++i) {
    Record* r = g.Random(rand);
    ASSERT_NE(r, nullptr);
    ASSERT_EQ(r->key().substr(0, 4), "key:");
    ASSERT_LT(std::stoi(std::string(r->key().substr(4))), n);
  }
}

TEST(RecordTest, Layout) {
  Record* r = MakeRecord("key", "value", 12345);
  EXPECT_TRUE(r->has_expire());
  EXPECT_EQ(r->expire_at_ms(), 12345);
  EXPECT_EQ(r->key(), "key");
  EXPECT_EQ(r->value(), "value");
  EXPECT_EQ(r->alloc_size(), Record::kHeaderSize + 8 + 3 + 5);
  FreeRecord(r);
  r = MakeRecord("key", "");
  EXPECT_FALSE(r->has_expire());
  EXPECT_EQ(r->expire_at_ms(), -1);
  EXPECT_EQ(r->value(), "");
  FreeRecord(r);
}

TEST(RecordTest, FootprintOf16ByteKeyAnd16ByteValue) {
  std::string key(16, 'k'), value(16, 'v');
  Record* r = MakeRecord(key, value);
  Record* rx = MakeRecord(key, value, 1);
  size_t bytes = RecordFootprint(r);
  size_t bytes_ttl = RecordFootprint(rx);
  std::cout << "record for 16 B key + 16 B value: alloc " << r->alloc_size() << " B, footprint "
            << bytes << " B (with TTL: alloc " << rx->alloc_size() << " B, footprint " << bytes_ttl
            << " B)\n";
  RecordProperty("record_bytes", static_cast<int>(bytes));
  RecordProperty("record_bytes_with_ttl", static_cast<int>(bytes_ttl));
  EXPECT_EQ(r->alloc_size(), 52u);  // the figure record.h promises
  EXPECT_GE(bytes, r->alloc_size());
  EXPECT_LE(bytes, r->alloc_size() + 32);
  EXPECT_GE(bytes_ttl, rx->alloc_size());
  FreeRecord(r);
  FreeRecord(rx);

  // Per key including the bucket array, at 100k keys.
  Table t;
  size_t records = 0;
  constexpr int kN = 100000;
  for (int i = 0; i < kN; ++i) {
    std::string k = std::to_string(1000000000000000 + i);  // 16 bytes
    Record** link = t.Insert(MakeRecord(k, value));
    records += RecordFootprint(*link);
  }
  FinishRehash(t);
  double per_key = static_cast<double>(records + t.bucket_bytes()) / kN;
  std::cout << "per key at " << kN << " keys (record + bucket share): " << per_key << " B\n";
  RecordProperty("bytes_per_key_100k", std::to_string(per_key));
  EXPECT_LT(per_key, 128.0);
}

// Db over a fake clock.
class DbTest : public ::testing::Test {
 protected:
  int64_t now_ = 1'000'000;
  Db db_{&now_};
};

TEST_F(DbTest, SetFindDelete) {
  db_.SetString("a", "1");
  Db::Entry e = db_.Find("a");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->value(), "1");
  EXPECT_EQ(e->type(), ValueType::kString);
  auto typed = db_.FindTyped("a", ValueType::kString);
  ASSERT_TRUE(typed.ok());
  EXPECT_TRUE(*typed);
  EXPECT_FALSE(db_.Find("b"));
  EXPECT_EQ(db_.size(), 1u);
  db_.SetString("a", "longer value");
  EXPECT_EQ(db_.Find("a")->value(), "longer value");
  EXPECT_EQ(db_.size(), 1u);
  EXPECT_TRUE(db_.Delete("a"));
  EXPECT_FALSE(db_.Delete("a"));
  EXPECT_EQ(db_.size(), 0u);
  EXPECT_EQ(db_.now_ms(), now_);
}

TEST_F(DbTest, LazyExpiryOnFind) {
  db_.SetString("k", "v", now_ + 100);
  db_.SetString("p", "v");
  EXPECT_EQ(db_.volatile_keys(), 1u);
  now_ += 99;
  ASSERT_TRUE(db_.Find("k"));
  EXPECT_EQ(db_.Find("k")->expire_at_ms(), 1'000'100);
  now_ += 1;  // expire_at <= now: gone
  EXPECT_FALSE(db_.Find("k"));
  EXPECT_EQ(db_.size(), 1u);
  EXPECT_EQ(db_.volatile_keys(), 0u);
  EXPECT_EQ(db_.expired_keys, 1u);
  EXPECT_TRUE(db_.Find("p"));
  // Delete of an expired key reports it absent (and counts the expiry once).
  db_.SetString("d", "v", now_ + 1);
  now_ += 5;
  EXPECT_FALSE(db_.Delete("d"));
  EXPECT_EQ(db_.expired_keys, 2u);
  EXPECT_EQ(db_.volatile_keys(), 0u);
}

TEST_F(DbTest, SetStringKeepTtl) {
  db_.SetString("k", "v1", now_ + 500);
  db_.SetString("k", "v2", -1, /*keep_ttl=*/true);
  ASSERT_TRUE(db_.Find("k"));
  EXPECT_EQ(db_.Find("k")->value(), "v2");
  EXPECT_EQ(db_.Find("k")->expire_at_ms(), now_ + 500);
  EXPECT_EQ(db_.volatile_keys(), 1u);

  db_.SetString("k", "v3");  // a plain SET clears the TTL
  EXPECT_EQ(db_.Find("k")->expire_at_ms(), -1);
  EXPECT_EQ(db_.volatile_keys(), 0u);

  db_.SetString("k", "v4", now_ + 10);
  EXPECT_EQ(db_.Find("k")->expire_at_ms(), now_ + 10);
  EXPECT_EQ(db_.volatile_keys(), 1u);
  db_.SetString("k", "v5", now_ + 20);
  EXPECT_EQ(db_.Find("k")->expire_at_ms(), now_ + 20);
  EXPECT_EQ(db_.volatile_keys(), 1u);

  db_.SetString("n", "x");
  db_.SetString("n", "y", -1, true);
  EXPECT_EQ(db_.Find("n")->expire_at_ms(), -1);

  // KEEPTTL on a key whose time has come must not resurrect its old deadline.
  db_.SetString("e", "x", now_ + 1);
  now_ += 1;
  db_.SetString("e", "y", -1, true);
  ASSERT_TRUE(db_.Find("e"));
  EXPECT_EQ(db_.Find("e")->value(), "y");
  EXPECT_EQ(db_.Find("e")->expire_at_ms(), -1);
  EXPECT_EQ(db_.volatile_keys(), 1u);  // only "k" (still due in 19 ms)
}

TEST_F(DbTest, SetExpireAddRemoveChange) {
  db_.SetString("k", "value");
  Db::Entry e = db_.SetExpire(db_.Find("k"), now_ + 1000);
  EXPECT_EQ(e->expire_at_ms(), now_ + 1000);
  EXPECT_EQ(db_.volatile_keys(), 1u);
  e = db_.SetExpire(db_.Find("k"), now_ + 2000);
  EXPECT_EQ(e->expire_at_ms(), now_ + 2000);
  EXPECT_EQ(db_.volatile_keys(), 1u);
  e = db_.SetExpire(db_.Find("k"), -1);
  EXPECT_FALSE(e->has_expire());
  EXPECT_EQ(db_.volatile_keys(), 0u);
  e = db_.SetExpire(db_.Find("k"), -1);
  EXPECT_FALSE(e->has_expire());
  EXPECT_EQ(db_.volatile_keys(), 0u);
  EXPECT_EQ(db_.Find("k")->value(), "value");
  EXPECT_EQ(db_.Find("k")->key(), "k");

  // The expiry it was given is the one that counts.
  db_.SetExpire(db_.Find("k"), now_ + 5);
  now_ += 4;
  EXPECT_TRUE(db_.Find("k"));
  now_ += 1;
  EXPECT_FALSE(db_.Find("k"));
  EXPECT_EQ(db_.volatile_keys(), 0u);
}

TEST_F(DbTest, VolatileKeysCounting) {
  for (int i = 0; i < 100; ++i) db_.SetString(Key(i), "v", i % 2 ? now_ + 1000 + i : -1);
  EXPECT_EQ(db_.volatile_keys(), 50u);
  for (int i = 0; i < 10; ++i) db_.Delete(Key(i));  // 5 volatile among them
  EXPECT_EQ(db_.volatile_keys(), 45u);
  db_.SetExpire(db_.Find(Key(10)), now_ + 1);  // was persistent
  EXPECT_EQ(db_.volatile_keys(), 46u);
  db_.SetExpire(db_.Find(Key(11)), -1);  // was volatile
  EXPECT_EQ(db_.volatile_keys(), 45u);
  db_.Clear();
  EXPECT_EQ(db_.volatile_keys(), 0u);
  EXPECT_EQ(db_.size(), 0u);
  EXPECT_FALSE(db_.Find(Key(12)));
}

TEST_F(DbTest, ActiveExpireSliceRemovesWithoutAccess) {
  for (int i = 0; i < 300; ++i) {
    int64_t at = i < 100 ? now_ + 10 : (i < 150 ? now_ + 1'000'000 : -1);
    db_.SetString(Key(i), "v", at);
  }
  EXPECT_EQ(db_.volatile_keys(), 150u);
  // Nothing is due yet: a full sweep expires nothing.
  for (int i = 0; i < 1000; ++i) {
    auto [examined, expired] = db_.ActiveExpireSlice(16);
    EXPECT_EQ(expired, 0u);
  }
  EXPECT_EQ(db_.size(), 300u);
  now_ += 10;
  size_t total = 0;
  for (int i = 0; i < 10000 && db_.size() > 200; ++i) {
    auto [examined, expired] = db_.ActiveExpireSlice(16);
    EXPECT_LE(expired, examined);
    total += expired;
  }
  EXPECT_EQ(total, 100u);
  EXPECT_EQ(db_.size(), 200u);
  EXPECT_EQ(db_.volatile_keys(), 50u);
  EXPECT_EQ(db_.expired_keys, 100u);
  // The survivors are exactly the right ones (looked at only now).
  for (int i = 0; i < 300; ++i) EXPECT_EQ(static_cast<bool>(db_.Find(Key(i))), i >= 100) << i;
}

TEST_F(DbTest, ForEachLiveSkipsExpired) {
  for (int i = 0; i < 20; ++i) db_.SetString(Key(i), "v", i < 5 ? now_ + 1 : now_ + 100);
  now_ += 1;
  std::vector<std::string> live;
  db_.ForEachLive([&](const Record* r) { live.emplace_back(r->key()); });
  std::vector<std::string> want;
  for (int i = 5; i < 20; ++i) want.push_back(Key(i));
  EXPECT_THAT(live, UnorderedElementsAreArray(want));
  EXPECT_EQ(db_.size(), 15u);  // the dead ones were removed on the way
  EXPECT_EQ(db_.expired_keys, 5u);
  EXPECT_EQ(db_.volatile_keys(), 15u);
}

TEST_F(DbTest, RandomLiveReturnsOnlyLiveKeys) {
  std::mt19937_64 rng(7);
  auto rand = [&] { return rng(); };
  for (int i = 0; i < 200; ++i) db_.SetString(Key(i), "v", i < 150 ? now_ + 1 : -1);
  now_ += 1;
  for (int i = 0; i < 500; ++i) {
    Db::Entry e = db_.RandomLive(rand);
    if (!e) continue;
    int idx = std::stoi(std::string(e->key().substr(4)));
    ASSERT_GE(idx, 150) << e->key() << " is expired";
  }
  // All expired: nothing comes back, and what was met is gone.
  Db only_dead(&now_);
  for (int i = 0; i < 50; ++i) only_dead.SetString(Key(i), "v", now_ + 1);
  now_ += 1;
  EXPECT_FALSE(only_dead.RandomLive(rand));
  EXPECT_LT(only_dead.size(), 50u);
  Db empty(&now_);
  EXPECT_FALSE(empty.RandomLive(rand));
}

TEST_F(DbTest, ReplaceAndResizeKeepExpiry) {
  db_.SetString("k", "abcdef", now_ + 777);
  Db::Entry e = db_.ReplaceValue(db_.Find("k"), "ABCDEF");  // same size: in place
  EXPECT_EQ(e->value(), "ABCDEF");
  EXPECT_EQ(e->expire_at_ms(), now_ + 777);
  e = db_.ReplaceValue(db_.Find("k"), "a much longer value than before");
  EXPECT_EQ(e->value(), "a much longer value than before");
  EXPECT_EQ(e->expire_at_ms(), now_ + 777);
  EXPECT_EQ(e->key(), "k");
  e = db_.ResizeValue(db_.Find("k"), 40);
  EXPECT_EQ(e->value(), std::string("a much longer value than before") + std::string(9, '\0'));
  EXPECT_EQ(e->expire_at_ms(), now_ + 777);
  e = db_.ResizeValue(db_.Find("k"), 6);
  EXPECT_EQ(e->value(), "a much");
  EXPECT_EQ(e->expire_at_ms(), now_ + 777);
  EXPECT_EQ(db_.volatile_keys(), 1u);
  EXPECT_EQ(db_.size(), 1u);

  db_.SetString("p", "xy");
  e = db_.ResizeValue(db_.Find("p"), 3);
  EXPECT_EQ(e->value(), std::string("xy\0", 3));
  EXPECT_FALSE(e->has_expire());
  e = db_.ReplaceValue(db_.Find("p"), "");
  EXPECT_EQ(e->value(), "");
  EXPECT_FALSE(e->has_expire());
  EXPECT_EQ(db_.volatile_keys(), 1u);
  // The rebuilt records are still linked into the table.
  EXPECT_EQ(db_.Find("k")->value(), "a much");
  EXPECT_TRUE(db_.Find("p"));
}

TEST(DbRehashTest, DeleteNewKeysDuringRehash) {
  // SET a new key and DEL it while the table is growing (a very common pattern).
  RunIsolated([]() -> std::string {
    int64_t now = 1000;
    Db db(&now);
    int n = 0;
    while (!(db.table().rehashing() && n >= 4000) && n < 200000) db.SetString(Key(n++), "v");
    if (!db.table().rehashing()) return "no rehash started";
    int i = 0;
    for (; i < 100000 && db.table().rehashing(); ++i) {
      std::string k = StrCat("tmp:", i);
      db.SetString(k, "t");
      if (!db.Delete(k)) return StrCat(k, " not found right after SET");
    }
    int missing = 0;
    for (int k = 0; k < n; ++k) missing += !db.Find(Key(k));
    if (missing != 0 || db.size() != static_cast<size_t>(n))
      return StrCat("after ", i, " SET+DEL pairs during a rehash: ", missing, " of ", n,
                    " keys lost; size() ", db.size());
    return "";
  });
}

TEST(KeyspaceTest, DbsAreLazyAndShareTheClock) {
  Keyspace ks(16);
  EXPECT_EQ(ks.num_dbs(), 16);
  EXPECT_EQ(ks.db_if_exists(3), nullptr);
  ks.set_now_ms(5000);
  Db& db = ks.db(3);
  EXPECT_EQ(ks.db_if_exists(3), &db);
  EXPECT_EQ(db.now_ms(), 5000);
  ks.set_now_ms(6000);
  EXPECT_EQ(db.now_ms(), 6000);
  EXPECT_EQ(ks.now_ms(), 6000);
  EXPECT_NE(ks.Random(), ks.Random());
}

TEST(KeyspaceTest, ActiveExpireCycleRemovesExpiredKeysWithoutAccess) {
  Keyspace ks(16);
  ks.set_now_ms(1000);
  for (int i = 0; i < 300; ++i) {
    ks.db(0).SetString(Key(i), "v", 1500);
    ks.db(5).SetString(Key(i), "v", 1500);
  }
  for (int i = 0; i < 10; ++i) ks.db(0).SetString(StrCat("keep", i), "v");
  ks.db(7).SetString("later", "v", 10'000);

  EXPECT_EQ(ks.ActiveExpireCycle(1'000'000), 0u);  // nothing due
  ks.set_now_ms(2000);
  size_t total = 0;
  for (int i = 0; i < 1000 && total < 600; ++i) total += ks.ActiveExpireCycle(1'000'000);
  EXPECT_EQ(total, 600u);
  EXPECT_EQ(ks.db(0).size(), 10u);
  EXPECT_EQ(ks.db(5).size(), 0u);
  EXPECT_EQ(ks.db(7).size(), 1u);
  EXPECT_EQ(ks.db(0).volatile_keys(), 0u);
  EXPECT_EQ(ks.db(0).expired_keys + ks.db(5).expired_keys, 600u);
  EXPECT_EQ(ks.db_if_exists(1), nullptr);  // the cycle does not create DBs
}

}  // namespace
}  // namespace omnibus
