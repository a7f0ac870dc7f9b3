// The sorted set storage (listpack and skiplist forms, conversions) and the zset commands'
// use of the key-event choke point.
#include "omnibus/store/zset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "omnibus/base/str_cat.h"
#include "omnibus/commands/command_table.h"
#include "omnibus/shard/router.h"
#include "omnibus/store/db.h"
#include "omnibus/store/keyspace.h"
#include "omnibus/store/object.h"

namespace omnibus {
namespace {

using Model = std::set<std::pair<double, std::string>>;

std::vector<ZEntry> All(const ObjectRef& o) {
  std::vector<ZEntry> out;
  ZSetForEach(o, [&](std::string_view m, double s) { out.emplace_back(std::string(m), s); });
  return out;
}

std::vector<ZEntry> ModelAll(const Model& m) {
  std::vector<ZEntry> out;
  for (const auto& [s, mem] : m) out.emplace_back(mem, s);
  return out;
}

TEST(ZSetStore, ListpackBasics) {
  ObjectRef o = NewZSet();
  EXPECT_EQ(o.enc, Encoding::kListpack);
  double ns;
  EXPECT_EQ(ZSetAdd(&o, "b", 2, 0, &ns, 128, 64), kZAddAdded);
  EXPECT_EQ(ZSetAdd(&o, "a", 2, 0, &ns, 128, 64), kZAddAdded);
  EXPECT_EQ(ZSetAdd(&o, "c", 1, 0, &ns, 128, 64), kZAddAdded);
  EXPECT_EQ(ZSetAdd(&o, "c", 1, 0, &ns, 128, 64), 0);  // same score: nothing to do
  EXPECT_EQ(ZSetAdd(&o, "c", 3, kZAddNx, &ns, 128, 64), kZAddNop);
  EXPECT_EQ(ZSetAdd(&o, "d", 3, kZAddXx, &ns, 128, 64), kZAddNop);
  EXPECT_EQ(ZSetAdd(&o, "c", 0, kZAddGt, &ns, 128, 64), kZAddNop);
  EXPECT_EQ(ZSetAdd(&o, "c", 5, kZAddIncr, &ns, 128, 64), kZAddUpdated);
  EXPECT_EQ(ns, 6);
  EXPECT_EQ(ZSetAdd(&o, "c", -INFINITY, kZAddIncr, &ns, 128, 64), kZAddUpdated);
  EXPECT_EQ(ZSetAdd(&o, "c", INFINITY, kZAddIncr, &ns, 128, 64), kZAddNaN);
  EXPECT_EQ(o.enc, Encoding::kListpack);
  EXPECT_THAT(All(o),
              ::testing::ElementsAre(ZEntry{"c", -INFINITY}, ZEntry{"a", 2}, ZEntry{"b", 2}));
  EXPECT_EQ(ZSetRank(o, "b"), 2);
  EXPECT_EQ(ZSetRank(o, "x"), -1);
  EXPECT_EQ(ZSetCountScoreBelow(o, 2, false), 1u);
  EXPECT_EQ(ZSetCountScoreBelow(o, 2, true), 3u);
  EXPECT_TRUE(ZSetRemove(&o, "a"));
  EXPECT_FALSE(ZSetRemove(&o, "a"));
  EXPECT_EQ(ZSetLength(o), 2u);
  EXPECT_TRUE(ZSetTEST_Verify(o));
  FreeZSet(o);
}

// Exactly at the limit stays small; one past converts, by entries and by member length.
TEST(ZSetStore, ConversionThresholds) {
  ObjectRef o = NewZSet();
  for (int i = 0; i < 4; ++i) ZSetAdd(&o, StrCat("m", i), i, 0, nullptr, 4, 64);
  EXPECT_EQ(o.enc, Encoding::kListpack);
  ZSetAdd(&o, "m0", 10, 0, nullptr, 4, 64);  // an update is not a new entry
  EXPECT_EQ(o.enc, Encoding::kListpack);
  ZSetAdd(&o, "m4", 4, 0, nullptr, 4, 64);
  EXPECT_EQ(o.enc, Encoding::kSkiplist);
  EXPECT_THAT(All(o), ::testing::ElementsAre(ZEntry{"m1", 1}, ZEntry{"m2", 2}, ZEntry{"m3", 3},
                                             ZEntry{"m4", 4}, ZEntry{"m0", 10}));
  // Never converted back by removals (Redis 7.0).
  for (int i = 0; i < 4; ++i) ZSetRemove(&o, StrCat("m", i));
  EXPECT_EQ(o.enc, Encoding::kSkiplist);
  EXPECT_TRUE(ZSetTEST_Verify(o));
  FreeZSet(o);

  o = NewZSet();
  ZSetAdd(&o, std::string(64, 'x'), 1, 0, nullptr, 128, 64);
  EXPECT_EQ(o.enc, Encoding::kListpack);
  ZSetAdd(&o, std::string(65, 'y'), 1, 0, nullptr, 128, 64);
  EXPECT_EQ(o.enc, Encoding::kSkiplist);
  EXPECT_EQ(ZSetLength(o), 2u);
  FreeZSet(o);

  // Zero entries allowed: skiplist from the first member.
  o = NewZSet();
  ZSetAdd(&o, "a", 1, 0, nullptr, 0, 64);
  EXPECT_EQ(o.enc, Encoding::kSkiplist);
  FreeZSet(o);
}

TEST(ZSetStore, BuildPicksSmallestForm) {
  std::vector<ZEntry> e = {{"b", 2}, {"a", 1}, {"c", 3}, {"d", 4}};
  ObjectRef o = ZSetBuild(e, 4, 64);
  EXPECT_EQ(o.enc, Encoding::kListpack);
  EXPECT_THAT(All(o), ::testing::ElementsAre(ZEntry{"a", 1}, ZEntry{"b", 2}, ZEntry{"c", 3},
                                             ZEntry{"d", 4}));
  FreeZSet(o);
  o = ZSetBuild(e, 3, 64);
  EXPECT_EQ(o.enc, Encoding::kSkiplist);
  EXPECT_EQ(ZSetLength(o), 4u);
  EXPECT_TRUE(ZSetTEST_Verify(o));
  FreeZSet(o);
  o = ZSetBuild({{std::string(65, 'z'), 1}}, 128, 64);
  EXPECT_EQ(o.enc, Encoding::kSkiplist);
  FreeZSet(o);
}

// Random adds, updates, removals and range removals on a large skiplist (and a listpack) vs a
// std::set model: order, ranks, counts and ranges.
void RunRandomModel(size_t max_entries, int ops, int members, uint32_t seed) {
  std::mt19937 rng(seed);
  ObjectRef o = NewZSet();
  Model model;
  std::map<std::string, double> scores;
  auto check = [&] {
    ASSERT_EQ(ZSetLength(o), model.size());
    ASSERT_TRUE(ZSetTEST_Verify(o));
    ASSERT_EQ(All(o), ModelAll(model));
  };
  for (int i = 0; i < ops; ++i) {
    int op = static_cast<int>(rng() % 10);
    std::string m = StrCat("m", rng() % static_cast<uint32_t>(members));
    double s = static_cast<double>(rng() % 50) / 2;
    if (op < 6) {
      double ns;
      int out = ZSetAdd(&o, m, s, 0, &ns, max_entries, 64);
      auto it = scores.find(m);
      if (it == scores.end()) {
        ASSERT_EQ(out, kZAddAdded);
        scores[m] = s;
        model.insert({s, m});
      } else if (it->second != s) {
        ASSERT_EQ(out, kZAddUpdated);
        model.erase({it->second, m});
        model.insert({s, m});
        it->second = s;
      } else {
        ASSERT_EQ(out, 0);
      }
    } else if (op < 8) {
      bool removed = ZSetRemove(&o, m);
      auto it = scores.find(m);
      ASSERT_EQ(removed, it != scores.end());
      if (it != scores.end()) {
        model.erase({it->second, m});
        scores.erase(it);
      }
    } else if (op == 8 && !model.empty()) {
      size_t a = rng() % model.size(), b = rng() % model.size();
      if (a > b) std::swap(a, b);
      b = std::min(b, a + 5);
      ASSERT_EQ(ZSetRemoveRankRange(&o, a, b), b - a + 1);
      auto it = std::next(model.begin(), static_cast<long>(a));
      for (size_t k = a; k <= b; ++k) {
        scores.erase(it->second);
        it = model.erase(it);
      }
    } else {
      // Queries: rank of a member, counts below a score, a reversed window.
      auto it = scores.find(m);
      int64_t rank = ZSetRank(o, m);
      if (it == scores.end()) {
        ASSERT_EQ(rank, -1);
      } else {
        ASSERT_EQ(rank, std::distance(model.begin(), model.find({it->second, m})));
      }
      size_t below = 0, below_eq = 0;
      for (const auto& [ms, mm] : model) {
        below += ms < s;
        below_eq += ms <= s;
      }
      ASSERT_EQ(ZSetCountScoreBelow(o, s, false), below);
      ASSERT_EQ(ZSetCountScoreBelow(o, s, true), below_eq);
      if (!model.empty()) {
        size_t a = rng() % model.size(), b = rng() % model.size();
        if (a > b) std::swap(a, b);
        std::vector<ZEntry> got, want;
        ZSetRangeByRank(o, a, b, true, [&](std::string_view mm, double ss) {
          got.emplace_back(std::string(mm), ss);
          return true;
        });
        auto all = ModelAll(model);
        for (size_t k = b + 1; k-- > a;) want.push_back(all[k]);
        ASSERT_EQ(got, want);
      }
    }
    if (i % 2000 == 0) check();
  }
  check();
  ObjectRef copy = CopyZSet(o);
  EXPECT_EQ(copy.enc, o.enc);
  EXPECT_EQ(All(copy), All(o));
  FreeZSet(copy);
  FreeZSet(o);
}

TEST(ZSetStore, RandomSkiplistVsModel) { RunRandomModel(0, 60000, 20000, 1); }
TEST(ZSetStore, RandomListpackVsModel) { RunRandomModel(1 << 20, 3000, 60, 2); }
TEST(ZSetStore, RandomMixedVsModel) { RunRandomModel(16, 5000, 40, 3); }

TEST(ZSetStore, LexCounts) {
  for (size_t limit : {size_t{128}, size_t{0}}) {
    ObjectRef o = NewZSet();
    for (std::string_view m : {"a", "b", "bb", "c", ""}) ZSetAdd(&o, m, 0, 0, nullptr, limit, 64);
    EXPECT_EQ(ZSetCountLexBelow(o, "b", false), 2u);  // "", "a"
    EXPECT_EQ(ZSetCountLexBelow(o, "b", true), 3u);
    EXPECT_EQ(ZSetCountLexBelow(o, "bc", false), 4u);
    EXPECT_EQ(ZSetCountLexBelow(o, "", false), 0u);
    FreeZSet(o);
  }
}

// Every member present for the whole scan is returned even though the member table grows and
// shrinks between calls.
TEST(ZSetStore, ScanSurvivesResize) {
  ObjectRef o = NewZSet();
  for (int i = 0; i < 1000; ++i) ZSetAdd(&o, StrCat("keep", i), i, 0, nullptr, 0, 64);
  std::set<std::string> seen;
  uint64_t cursor = 0;
  int step = 0;
  do {
    cursor = ZSetScan(o, cursor, 10, [&](std::string_view m, double) { seen.emplace(m); });
    ++step;
    if (step == 5) {
      for (int i = 0; i < 5000; ++i) ZSetAdd(&o, StrCat("tmp", i), i, 0, nullptr, 0, 64);
    }
    if (step == 40) {
      for (int i = 0; i < 5000; ++i) ZSetRemove(&o, StrCat("tmp", i));
    }
  } while (cursor != 0);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(seen.count(StrCat("keep", i))) << i;
  EXPECT_TRUE(ZSetTEST_Verify(o));
  FreeZSet(o);

  // Members come and go at every call, so calls land in the middle of incremental resizes
  // (both growing and shrinking).
  o = NewZSet();
  for (int i = 0; i < 300; ++i) ZSetAdd(&o, StrCat("keep", i), i, 0, nullptr, 0, 64);
  seen.clear();
  cursor = 0;
  step = 0;
  int rehashing_calls = 0;
  do {
    rehashing_calls += ZSetTEST_Rehashing(o);
    cursor = ZSetScan(o, cursor, 5, [&](std::string_view m, double) { seen.emplace(m); });
    ++step;
    for (int i = 0; i < 40; ++i) {
      if (step < 30) {
        ZSetAdd(&o, StrCat("tmp", step, "-", i), i, 0, nullptr, 0, 64);
      } else {
        ZSetRemove(&o, StrCat("tmp", step - 29, "-", i));
      }
    }
    ASSERT_TRUE(ZSetTEST_Verify(o));
  } while (cursor != 0);
  for (int i = 0; i < 300; ++i) EXPECT_TRUE(seen.count(StrCat("keep", i))) << i;
  EXPECT_GT(rehashing_calls, 0);
  FreeZSet(o);

  // A listpack comes back whole with cursor 0.
  o = NewZSet();
  ZSetAdd(&o, "a", 1, 0, nullptr, 128, 64);
  ZSetAdd(&o, "b", 2, 0, nullptr, 128, 64);
  seen.clear();
  EXPECT_EQ(ZSetScan(o, 0, 1, [&](std::string_view m, double) { seen.emplace(m); }), 0u);
  EXPECT_EQ(seen.size(), 2u);
  FreeZSet(o);
}

TEST(ZSetStore, ScoreToString) {
  EXPECT_EQ(ZScoreToString(1), "1");
  EXPECT_EQ(ZScoreToString(-0.0), "-0");
  EXPECT_EQ(ZScoreToString(0.1), "0.10000000000000001");
  EXPECT_EQ(ZScoreToString(1e20), "1e+20");
  EXPECT_EQ(ZScoreToString(INFINITY), "inf");
  EXPECT_EQ(ZScoreToString(-INFINITY), "-inf");
  EXPECT_EQ(ZScoreToString(4503599627370495.0), "4503599627370495");
}

// ---- Commands through the choke point ---------------------------------------------------

class ZSetCommandTest : public ::testing::Test {
 protected:
  ZSetCommandTest() {
    db_ = &ks_.db(0);
    db_->TEST_on_event = [this](std::string_view key, KeyEvent e) {
      events_.emplace_back(std::string(key), e);
    };
  }

  std::string Run(std::vector<std::string_view> args) {
    const CommandSpec* spec = table_.Find(args[0]);
    EXPECT_NE(spec, nullptr) << args[0];
    std::string out;
    ReplyBuilder rb(&out, 2);
    ExecContext ctx{&ks_};
    ctx.args = args;
    ctx.reply = &rb;
    spec->shard(ctx);
    return out;
  }

  ObjectRef Obj(std::string_view key) { return db_->Find(key)->object(); }

  ContainerLimits limits_;
  Keyspace ks_{1, &limits_};
  CommandTable table_;
  Db* db_;
  std::vector<std::pair<std::string, KeyEvent>> events_;
};

using E = std::pair<std::string, KeyEvent>;

TEST_F(ZSetCommandTest, EventsForWritesAndNoOps) {
  EXPECT_EQ(Run({"zadd", "z", "1", "a"}), ":1\r\n");
  EXPECT_EQ(Run({"zadd", "z", "2", "b"}), ":1\r\n");
  EXPECT_EQ(Run({"zadd", "z", "2", "b"}), ":0\r\n");        // no change: no event
  EXPECT_EQ(Run({"zadd", "z", "XX", "1", "c"}), ":0\r\n");  // nothing added
  EXPECT_EQ(Run({"zadd", "nokey", "XX", "1", "c"}), ":0\r\n");
  EXPECT_FALSE(db_->Find("nokey"));
  EXPECT_EQ(Run({"zincrby", "z", "1", "a"}), "$1\r\n2\r\n");
  EXPECT_EQ(Run({"zrem", "z", "nosuch"}), ":0\r\n");
  EXPECT_THAT(events_,
              ::testing::ElementsAre(E{"z", KeyEvent::kWritten}, E{"z", KeyEvent::kUpdated},
                                     E{"z", KeyEvent::kUpdated}));
  events_.clear();
  EXPECT_EQ(Run({"zrem", "z", "a", "b"}), ":2\r\n");
  EXPECT_THAT(events_, ::testing::ElementsAre(E{"z", KeyEvent::kDeleted}));
  EXPECT_FALSE(db_->Find("z"));
}

TEST_F(ZSetCommandTest, PopsRangesAndStores) {
  Run({"zadd", "z", "1", "a", "2", "b", "3", "c"});
  events_.clear();
  EXPECT_EQ(Run({"zpopmin", "z"}), "*2\r\n$1\r\na\r\n$1\r\n1\r\n");
  EXPECT_EQ(Run({"zremrangebyscore", "z", "10", "20"}), ":0\r\n");
  EXPECT_EQ(Run({"zunionstore", "d", "1", "z"}), ":2\r\n");
  EXPECT_EQ(Run({"zremrangebyrank", "z", "0", "-1"}), ":2\r\n");
  EXPECT_EQ(Run({"zinterstore", "d", "1", "nosuch"}), ":0\r\n");
  EXPECT_THAT(events_,
              ::testing::ElementsAre(E{"z", KeyEvent::kUpdated}, E{"d", KeyEvent::kWritten},
                                     E{"z", KeyEvent::kDeleted}, E{"d", KeyEvent::kDeleted}));
}

TEST_F(ZSetCommandTest, ConversionFollowsConfig) {
  limits_.zset_max_listpack_entries = 2;
  Run({"zadd", "z", "1", "a", "2", "b"});
  EXPECT_EQ(Obj("z").enc, Encoding::kListpack);
  Run({"zadd", "z", "3", "c"});
  EXPECT_EQ(Obj("z").enc, Encoding::kSkiplist);
  // Results are built in the smallest form that fits.
  Run({"zrangestore", "d", "z", "0", "1"});
  EXPECT_EQ(Obj("d").enc, Encoding::kListpack);
  Run({"zunionstore", "d", "1", "z"});
  EXPECT_EQ(Obj("d").enc, Encoding::kSkiplist);
  EXPECT_EQ(Run({"zrange", "d", "0", "-1", "WITHSCORES"}),
            "*6\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n");
  EXPECT_EQ(Run({"zadd", "s", "1", "a"}), ":1\r\n");
  EXPECT_EQ(Obj("s").enc, Encoding::kListpack);
  limits_.zset_max_listpack_value = 1;
  Run({"zadd", "s", "1", "bb"});
  EXPECT_EQ(Obj("s").enc, Encoding::kSkiplist);
}

// Parked over three shards (§6): every key is reached in its own shard's Db, and the events
// land there.
TEST(ZSetParkedTest, MultiKeyCommandsReachEveryShard) {
  constexpr int kShards = 3;
  Keyspace ks0(1), ks1(1), ks2(1);
  Keyspace* all[kShards] = {&ks0, &ks1, &ks2};
  // Keys on three different shards.
  std::vector<std::string> keys;
  for (int i = 0; keys.size() < 3 && i < 1000; ++i) {
    std::string k = StrCat("key", i);
    bool taken = false;
    for (const auto& other : keys) taken |= ShardForKey(other, kShards) == ShardForKey(k, kShards);
    if (!taken) keys.push_back(k);
  }
  ASSERT_EQ(keys.size(), 3u);
  std::vector<std::pair<int, E>> events;
  for (int s = 0; s < kShards; ++s) {
    all[s]->db(0).TEST_on_event = [&events, s](std::string_view key, KeyEvent e) {
      events.push_back({s, E{std::string(key), e}});
    };
  }
  CommandTable table;
  auto run = [&](std::vector<std::string_view> args) {
    std::string out;
    ReplyBuilder rb(&out, 2);
    ExecContext ctx{&ks0, all, kShards};
    ctx.args = args;
    ctx.reply = &rb;
    table.Find(args[0])->shard(ctx);
    return out;
  };
  const std::string &a = keys[0], &b = keys[1], &d = keys[2];
  EXPECT_EQ(run({"zadd", a, "1", "x", "2", "y"}), ":2\r\n");
  EXPECT_EQ(run({"zadd", b, "10", "y", "20", "z"}), ":2\r\n");
  EXPECT_EQ(run({"zunionstore", d, "2", a, b}), ":3\r\n");
  EXPECT_EQ(run({"zrange", d, "0", "-1", "WITHSCORES"}),
            "*6\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$2\r\n12\r\n$1\r\nz\r\n$2\r\n20\r\n");
  EXPECT_EQ(run({"zinterstore", d, "2", a, b, "AGGREGATE", "MAX"}), ":1\r\n");
  EXPECT_EQ(run({"zrangestore", a, d, "0", "-1"}), ":1\r\n");
  EXPECT_EQ(run({"zmpop", "2", d, b, "MIN", "COUNT", "5"}),
            "*2\r\n$" + std::to_string(d.size()) + "\r\n" + d +
                "\r\n*1\r\n*2\r\n$1\r\ny\r\n$2\r\n10\r\n");
  int sa = ShardForKey(a, kShards), sb = ShardForKey(b, kShards), sd = ShardForKey(d, kShards);
  EXPECT_THAT(events, ::testing::ElementsAre(std::pair<int, E>{sa, E{a, KeyEvent::kWritten}},
                                             std::pair<int, E>{sb, E{b, KeyEvent::kWritten}},
                                             std::pair<int, E>{sd, E{d, KeyEvent::kWritten}},
                                             std::pair<int, E>{sd, E{d, KeyEvent::kWritten}},
                                             std::pair<int, E>{sa, E{a, KeyEvent::kWritten}},
                                             std::pair<int, E>{sd, E{d, KeyEvent::kDeleted}}));
  EXPECT_FALSE(all[sd]->db(0).Find(d));
  EXPECT_TRUE(all[sb]->db(0).Find(b));
}

TEST_F(ZSetCommandTest, SortExport) {
  Run({"zadd", "z", "2", "b", "1", "a"});
  std::vector<ZEntry> got;
  ZSetForEach(Obj("z"), [&](std::string_view m, double s) { got.emplace_back(std::string(m), s); });
  EXPECT_THAT(got, ::testing::ElementsAre(ZEntry{"a", 1}, ZEntry{"b", 2}));
}

}  // namespace
}  // namespace omnibus
