// store/lease_table: leases against miss stampedes (docs/leases.md) — the first miss wins a
// token, later ones see the holder; tokens are checked, leases and stale values expire; and
// the Db forgets a key's lease state on every event of the key (a write, a DEL even of a
// missing key, a flush), filing the key as ready when clients wait for it.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "omnibus/store/db.h"
#include "omnibus/store/keyspace.h"
#include "omnibus/store/lease_table.h"
#include "omnibus/store/memory.h"

namespace omnibus {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;

TEST(LeaseTableTest, FirstMissWinsOthersSeeTheHolder) {
  LeaseTable t(42);
  LeaseTable::Acquired a = t.Acquire("k", 1000, kT0);
  EXPECT_TRUE(a.won);
  EXPECT_EQ(a.token, 42u);
  EXPECT_EQ(a.remaining_ms, 1000);
  EXPECT_FALSE(a.stale.has_value());
  for (int i = 0; i < 3; ++i) {
    LeaseTable::Acquired b = t.Acquire("k", 5000, kT0 + 250);
    EXPECT_FALSE(b.won);
    EXPECT_EQ(b.token, 0u);
    EXPECT_EQ(b.remaining_ms, 750);  // the holder's lease, not the asker's lease-ms
  }
  // Another key is independent.
  LeaseTable::Acquired c = t.Acquire("other", 1000, kT0);
  EXPECT_TRUE(c.won);
  EXPECT_NE(c.token, a.token);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.live_leases(kT0), 2u);
}

TEST(LeaseTableTest, OnlyTheLiveTokenIsLive) {
  LeaseTable t(7);
  uint64_t token = t.Acquire("k", 1000, kT0).token;
  EXPECT_TRUE(t.IsLive("k", token, kT0 + 999));
  EXPECT_FALSE(t.IsLive("k", token + 1, kT0));
  EXPECT_FALSE(t.IsLive("k2", token, kT0));
  EXPECT_FALSE(t.IsLive("k", token, kT0 + 1000));  // expired at its deadline
}

TEST(LeaseTableTest, AnExpiredLeaseIsWonAgainWithANewToken) {
  LeaseTable t(100);
  uint64_t first = t.Acquire("k", 1000, kT0).token;
  EXPECT_FALSE(t.Acquire("k", 1000, kT0 + 999).won);
  LeaseTable::Acquired again = t.Acquire("k", 1000, kT0 + 1000);
  EXPECT_TRUE(again.won);
  EXPECT_NE(again.token, first);
  EXPECT_FALSE(t.IsLive("k", first, kT0 + 1000));
  EXPECT_TRUE(t.IsLive("k", again.token, kT0 + 1000));
}

TEST(LeaseTableTest, TokensArePositiveAndSkipZero) {
  LeaseTable t((uint64_t{1} << 53) - 1);  // the largest token: the next one wraps to 1
  uint64_t a = t.Acquire("a", 10, kT0).token;
  uint64_t b = t.Acquire("b", 10, kT0).token;
  EXPECT_EQ(a, (uint64_t{1} << 53) - 1);
  EXPECT_EQ(b, 1u);
  LeaseTable zero(0);
  EXPECT_EQ(zero.Acquire("a", 10, kT0).token, 1u);
}

TEST(LeaseTableTest, ReleaseNeedsTheLiveTokenAndWakesWaitersOnce) {
  LeaseTable t(1);
  uint64_t token = t.Acquire("k", 1000, kT0).token;
  t.AddWaiter("k");
  bool wake = true;
  EXPECT_FALSE(t.Release("k", token + 1, kT0, &wake));
  EXPECT_FALSE(wake);
  EXPECT_TRUE(t.IsLive("k", token, kT0));
  EXPECT_TRUE(t.Release("k", token, kT0, &wake));
  EXPECT_TRUE(wake);
  EXPECT_EQ(t.size(), 0u);  // nothing left to keep
  EXPECT_FALSE(t.Release("k", token, kT0, &wake));
  EXPECT_FALSE(wake);
  EXPECT_TRUE(t.Acquire("k", 1000, kT0).won);
  // No waiter: nothing to wake.
  uint64_t t2 = t.Acquire("j", 1000, kT0).token;
  EXPECT_TRUE(t.Release("j", t2, kT0, &wake));
  EXPECT_FALSE(wake);
}

TEST(LeaseTableTest, InvalidateKeepsTheValueStaleForTheNextWinner) {
  LeaseTable t(1);
  EXPECT_FALSE(t.Invalidate("k", std::string_view("old"), 5000, kT0));
  LeaseTable::Acquired win = t.Acquire("k", 1000, kT0 + 10);
  EXPECT_TRUE(win.won);
  ASSERT_TRUE(win.stale.has_value());
  EXPECT_EQ(*win.stale, "old");
  LeaseTable::Acquired other = t.Acquire("k", 1000, kT0 + 20);
  EXPECT_FALSE(other.won);
  ASSERT_TRUE(other.stale.has_value());
  EXPECT_EQ(*other.stale, "old");
  EXPECT_EQ(other.remaining_ms, 990);
  // The winner gives up: the stale value stays for the next one.
  bool wake;
  EXPECT_TRUE(t.Release("k", win.token, kT0 + 30, &wake));
  LeaseTable::Acquired next = t.Acquire("k", 1000, kT0 + 40);
  EXPECT_TRUE(next.won);
  ASSERT_TRUE(next.stale.has_value());
  // Past its stale time the value is gone.
  LeaseTable::Acquired late = t.Acquire("k", 1000, kT0 + 5000);
  EXPECT_TRUE(late.won);  // `next`'s lease ran out at kT0 + 1040
  EXPECT_FALSE(late.stale.has_value());
}

TEST(LeaseTableTest, InvalidateRevokesALiveLease) {
  LeaseTable t(1);
  uint64_t token = t.Acquire("k", 10'000, kT0).token;
  t.AddWaiter("k");
  EXPECT_TRUE(t.Invalidate("k", std::nullopt, 0, kT0 + 1));  // waiters: wake them
  EXPECT_FALSE(t.IsLive("k", token, kT0 + 2));
  EXPECT_EQ(t.size(), 0u);
  // Without a value or a stale time there is nothing to keep.
  EXPECT_FALSE(t.Invalidate("k", std::string_view("v"), 0, kT0));
  EXPECT_EQ(t.size(), 0u);
  EXPECT_FALSE(t.Invalidate("k", std::nullopt, 1000, kT0));
  EXPECT_EQ(t.size(), 0u);
}

TEST(LeaseTableTest, ForgetAndClearReportWaiters) {
  LeaseTable t(1);
  t.Acquire("a", 1000, kT0);
  t.Acquire("b", 1000, kT0);
  t.Acquire("c", 1000, kT0);
  t.AddWaiter("a");
  t.AddWaiter("c");
  EXPECT_TRUE(t.Forget("a"));
  EXPECT_FALSE(t.Forget("a"));
  EXPECT_FALSE(t.Forget("b"));
  std::vector<std::string> woken;
  t.Clear([&](std::string_view k) { woken.emplace_back(k); });
  EXPECT_THAT(woken, ::testing::ElementsAre("c"));
  EXPECT_EQ(t.size(), 0u);
}

TEST(LeaseTableTest, SweepDropsOnlyWhatExpired) {
  LeaseTable t(1);
  t.Acquire("short", 100, kT0);
  t.Acquire("long", 10'000, kT0);
  t.Invalidate("stale", std::string_view("v"), 500, kT0);
  uint64_t renewed = t.Acquire("renewed", 100, kT0).token;
  (void)renewed;
  EXPECT_EQ(t.Sweep(kT0 + 50, 100), 0u);
  EXPECT_EQ(t.size(), 4u);
  t.Acquire("renewed", 1000, kT0 + 100);   // expired, won again: lives on past the first due
  EXPECT_EQ(t.Sweep(kT0 + 200, 100), 1u);  // "short"
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.Sweep(kT0 + 600, 100), 1u);   // "stale"
  EXPECT_EQ(t.Sweep(kT0 + 1100, 100), 1u);  // "renewed"
  EXPECT_EQ(t.Sweep(kT0 + 20'000, 1), 1u);  // "long", within a budget of one
  EXPECT_EQ(t.size(), 0u);
}

TEST(LeaseTableTest, MemoryIsCounted) {
  int64_t before = StoreAllocatedBytes();
  {
    LeaseTable t(1);
    for (int i = 0; i < 100; ++i) {
      t.Invalidate("key" + std::to_string(i), std::string_view(std::string(1000, 'x')), 1000, kT0);
    }
    EXPECT_GT(StoreAllocatedBytes() - before, 100 * 1000);
    t.Clear([](std::string_view) {});
    EXPECT_LT(StoreAllocatedBytes() - before, 1000);
  }
  EXPECT_EQ(StoreAllocatedBytes(), before);
}

// --- The Db's side: lease state follows the key's events. ----------------------------------

class DbLeaseTest : public ::testing::Test {
 protected:
  int64_t now_ = kT0;
  std::vector<ReadyKey> ready_;
  Db db_{&now_, 0, &ready_};

  std::vector<std::string> ReadyKeys() {
    std::vector<std::string> out;
    for (const ReadyKey& r : ready_) out.push_back(r.key);
    ready_.clear();
    return out;
  }
};

TEST_F(DbLeaseTest, AWriteEndsTheLeaseAndWakesWaiters) {
  uint64_t token = db_.leases().Acquire("k", 1000, now_).token;
  db_.leases().AddWaiter("k");
  db_.SetString("k", "v");
  EXPECT_FALSE(db_.leases().IsLive("k", token, now_));
  EXPECT_THAT(ReadyKeys(), ::testing::ElementsAre("k"));
  // Without waiters, a write ends the lease quietly.
  uint64_t t2 = db_.leases().Acquire("j", 1000, now_).token;
  auto w = db_.Write("j", ValueType::kList, /*create=*/true);
  ASSERT_TRUE(w.ok());
  w->Finish();  // an empty container created and dropped: no event, the lease stays
  EXPECT_TRUE(db_.leases().IsLive("j", t2, now_));
  db_.SetString("j", "x");
  EXPECT_FALSE(db_.leases().IsLive("j", t2, now_));
  EXPECT_TRUE(ReadyKeys().empty());
}

TEST_F(DbLeaseTest, DelOfAMissingKeyRevokesItsLease) {
  uint64_t token = db_.leases().Acquire("k", 1000, now_).token;
  db_.leases().AddWaiter("k");
  EXPECT_FALSE(db_.Delete("k"));  // DEL still replies 0
  EXPECT_FALSE(db_.leases().IsLive("k", token, now_));
  EXPECT_THAT(ReadyKeys(), ::testing::ElementsAre("k"));
}

TEST_F(DbLeaseTest, FlushAndSwapForgetEveryLease) {
  Db other(&now_, 1, &ready_);
  uint64_t a = db_.leases().Acquire("a", 1000, now_).token;
  db_.leases().AddWaiter("a");
  uint64_t b = other.leases().Acquire("b", 1000, now_).token;
  other.leases().AddWaiter("b");
  db_.SwapContents(other);
  EXPECT_FALSE(db_.leases().IsLive("a", a, now_));
  EXPECT_FALSE(other.leases().IsLive("b", b, now_));
  EXPECT_THAT(ReadyKeys(), ::testing::UnorderedElementsAre("a", "b"));
  // FLUSHDB of a DB with no keys at all still clears its leases (they are of missing keys).
  uint64_t c = db_.leases().Acquire("c", 1000, now_).token;
  db_.leases().AddWaiter("c");
  ASSERT_EQ(db_.size(), 0u);
  db_.Clear();
  EXPECT_FALSE(db_.leases().IsLive("c", c, now_));
  EXPECT_THAT(ReadyKeys(), ::testing::ElementsAre("c"));
}

TEST_F(DbLeaseTest, TheActiveCycleSweepsExpiredLeases) {
  Keyspace ks(2);
  ks.set_now_ms(kT0);
  ks.db(1).leases().Acquire("k", 100, kT0);
  ks.db(1).leases().Invalidate("s", std::string_view("v"), 10'000, kT0);
  ks.ActiveExpireCycle(1000);
  EXPECT_EQ(ks.db(1).leases().size(), 2u);
  ks.set_now_ms(kT0 + 200);
  ks.ActiveExpireCycle(1000);
  EXPECT_EQ(ks.db(1).leases().size(), 1u);  // the stale value lives on
  ks.set_now_ms(kT0 + 10'000);
  ks.ActiveExpireCycle(1000);
  EXPECT_EQ(ks.db(1).leases().size(), 0u);
}

}  // namespace
}  // namespace omnibus
