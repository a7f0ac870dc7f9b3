// Eviction's parts on one thread (store/eviction.h): the policy names, TinyLFU's sketch, LFU
// counters as Redis computes them, and a keyspace that evicts by each policy under a shared
// budget.
#include "omnibus/store/eviction.h"

#include <string>

#include "gtest/gtest.h"
#include "omnibus/store/keyspace.h"
#include "omnibus/store/memory.h"

namespace omnibus {
namespace {

TEST(EvictionPolicyTest, NamesRoundTrip) {
  for (const char* name :
       {"noeviction", "allkeys-lru", "volatile-lru", "allkeys-lfu", "volatile-lfu",
        "allkeys-random", "volatile-random", "volatile-ttl", "allkeys-tinylfu"}) {
    auto p = ParseEvictionPolicy(name);
    ASSERT_TRUE(p.has_value()) << name;
    EXPECT_EQ(EvictionPolicyName(*p), name);
  }
  EXPECT_EQ(ParseEvictionPolicy("ALLKEYS-LRU"), EvictionPolicy::kAllKeysLru);
  EXPECT_FALSE(ParseEvictionPolicy("lru").has_value());
}

TEST(FrequencySketchTest, CountsAndAges) {
  FrequencySketch sketch(1000);
  for (int i = 0; i < 7; ++i) sketch.Add(Evictor::KeyHash(0, "hot"));
  sketch.Add(Evictor::KeyHash(0, "once"));
  EXPECT_EQ(sketch.Estimate(Evictor::KeyHash(0, "hot")), 7);
  EXPECT_EQ(sketch.Estimate(Evictor::KeyHash(0, "once")), 1);
  EXPECT_EQ(sketch.Estimate(Evictor::KeyHash(0, "never")), 0);
  EXPECT_EQ(sketch.Estimate(Evictor::KeyHash(1, "hot")), 0);  // another DB, another key
  // Counters saturate at 15.
  for (int i = 0; i < 40; ++i) sketch.Add(Evictor::KeyHash(0, "hot"));
  EXPECT_EQ(sketch.Estimate(Evictor::KeyHash(0, "hot")), 15);
  // After 10 additions per key the counts halve: what was popular fades.
  for (int i = 0; i < 10 * 4096; ++i) sketch.Add(Evictor::KeyHash(2, std::to_string(i)));
  EXPECT_LE(sketch.Estimate(Evictor::KeyHash(0, "hot")), 8);
}

class KeyspaceEvictionTest : public ::testing::Test {
 protected:
  KeyspaceEvictionTest() : budget_(1), ks_(16, nullptr, nullptr, &settings_) {
    ks_.AttachBudget(&budget_, 0);
    now_ = 1'700'000'000'000;
    Refresh();
  }
  void Refresh() { ks_.set_now_ms(now_); }
  void Policy(EvictionPolicy p) {
    settings_.policy.store(static_cast<uint8_t>(p));
    Refresh();
  }
  // maxmemory = what this thread holds now + room.
  void LimitTo(int64_t room) {
    settings_.maxmemory.store(StoreAllocatedBytes() + room);
    Refresh();
  }
  void Fill(const std::string& prefix, int n, int64_t ttl_ms = -1) {
    for (int i = 0; i < n; ++i) {
      ks_.db(0).SetString(prefix + std::to_string(i), std::string(100, 'v'),
                          ttl_ms > 0 ? now_ + ttl_ms : -1);
    }
  }
  int Count(const std::string& prefix, int n) {
    int found = 0;
    for (int i = 0; i < n; ++i) found += ks_.db(0).Peek(prefix + std::to_string(i)) ? 1 : 0;
    return found;
  }

  EvictionSettings settings_;
  MemoryBudget budget_;
  Keyspace ks_;
  int64_t now_;
};

TEST_F(KeyspaceEvictionTest, LfuCounterStartsAtFiveGrowsLogarithmicallyAndDecays) {
  Policy(EvictionPolicy::kAllKeysLfu);
  ks_.db(0).SetString("k", "v");
  Evictor& ev = ks_.evictor();
  Db::Entry e = ks_.db(0).Peek("k");
  EXPECT_EQ(ev.LfuCounter(e.get()), 5);
  for (int i = 0; i < 1000; ++i) ks_.db(0).Find("k");
  e = ks_.db(0).Peek("k");
  int hot = ev.LfuCounter(e.get());
  // lfu-log-factor 10: 1000 hits take the counter to about 10-20 (Redis's table).
  EXPECT_GT(hot, 10);
  EXPECT_LT(hot, 25);
  // lfu-decay-time 1: one point per idle minute.
  now_ += 3 * 60'000;
  Refresh();
  EXPECT_EQ(ev.LfuCounter(e.get()), hot - 3);
}

TEST_F(KeyspaceEvictionTest, MakeRoomEvictsDownToTheLimitAndNoevictionRefuses) {
  Fill("a", 1000);
  LimitTo(-20'000);
  Policy(EvictionPolicy::kNoEviction);
  EXPECT_FALSE(ks_.MakeRoom());
  EXPECT_EQ(ks_.db(0).size(), 1000u);
  Policy(EvictionPolicy::kAllKeysRandom);
  EXPECT_TRUE(ks_.MakeRoom());
  EXPECT_LE(StoreAllocatedBytes(), settings_.maxmemory.load());
  EXPECT_LT(ks_.db(0).size(), 1000u);
  EXPECT_EQ(ks_.evictor().evicted_keys, 1000u - ks_.db(0).size());
  ks_.PublishMemory();
  EXPECT_EQ(budget_.Evicted(), ks_.evictor().evicted_keys);
}

TEST_F(KeyspaceEvictionTest, VolatileTtlEvictsTheSoonestAndNothingWithoutATtl) {
  Fill("keep", 300);
  Fill("soon", 100, 10'000);
  Fill("late", 100, 10'000'000);
  Policy(EvictionPolicy::kVolatileTtl);
  LimitTo(-10'000);
  EXPECT_TRUE(ks_.MakeRoom());
  EXPECT_EQ(Count("keep", 300), 300);
  EXPECT_GE(Count("late", 100), 95);  // sampled: approximate, as Redis's
  EXPECT_LT(Count("soon", 100), 100);
  // Asking for more than the keys with a TTL hold: they all go, then out of memory (with no
  // time limit: by default a command evicts for 500 µs and leaves the rest for later).
  settings_.tenacity.store(100);
  settings_.maxmemory.store(1);
  Refresh();
  EXPECT_FALSE(ks_.MakeRoom());
  EXPECT_EQ(Count("keep", 300), 300);
  EXPECT_EQ(ks_.db(0).volatile_keys(), 0u);
}

TEST_F(KeyspaceEvictionTest, EvictionGoesThroughTheChokePoint) {
  std::vector<std::string> events;
  ks_.db(0).TEST_on_event = [&](std::string_view key, KeyEvent e) {
    if (e == KeyEvent::kEvicted) events.emplace_back(key);
  };
  Fill("k", 10);
  Policy(EvictionPolicy::kAllKeysLru);
  LimitTo(-1);
  EXPECT_TRUE(ks_.MakeRoom());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_FALSE(ks_.db(0).Peek(events[0]));
}

}  // namespace
}  // namespace omnibus

namespace omnibus {
namespace {

TEST_F(KeyspaceEvictionTest, TableDoesNotGrowPastMaxmemoryUntilChainsAreLong) {
  Fill("a", 1024);
  const size_t buckets = ks_.db(0).table().bucket_count();
  // Full: the writes below (nothing evicts them here) keep the budget over the limit, so a
  // bigger bucket array does not fit.
  LimitTo(1);
  Fill("b", 2000);
  EXPECT_EQ(ks_.db(0).table().bucket_count(), buckets);
  // Past kForceGrowRatio records per bucket it grows anyway (lookups must stay short).
  Fill("c", static_cast<int>(Table::kForceGrowRatio * buckets));
  EXPECT_GT(ks_.db(0).table().bucket_count(), buckets);
}

}  // namespace
}  // namespace omnibus

namespace omnibus {
namespace {

TEST_F(KeyspaceEvictionTest, APoolOfFlushedKeysDoesNotStopEviction) {
  Policy(EvictionPolicy::kAllKeysLru);
  Fill("old", 100);
  now_ += 3600'000;  // the old keys are an hour idle: the best candidates there are
  Refresh();
  LimitTo(-1);
  EXPECT_TRUE(ks_.MakeRoom());  // fills the pool with old keys
  ks_.db(0).Clear();            // FLUSHALL: every pooled key is gone
  settings_.maxmemory.store(0);
  Refresh();
  Fill("new", 100);  // all fresher than what the pool holds
  LimitTo(-1);
  EXPECT_TRUE(ks_.MakeRoom());
  EXPECT_LT(ks_.db(0).size(), 100u);
}

}  // namespace
}  // namespace omnibus
