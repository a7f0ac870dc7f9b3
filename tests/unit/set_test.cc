// store/set: the intset, the three set forms and every conversion at its threshold (exactly at
// the limit and one past), and the set family's handlers run in-process over Keyspaces, so
// every change is seen at the Db's key-event choke point (one keyspace, and three "shards"
// the way a parked command sees them).

#include "omnibus/store/set.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "omnibus/base/str_cat.h"
#include "omnibus/commands/command_table.h"
#include "omnibus/shard/router.h"
#include "omnibus/shard/work.h"
#include "omnibus/store/db.h"
#include "omnibus/store/intset.h"
#include "omnibus/store/keyspace.h"
#include "omnibus/store/memory.h"
#include "omnibus/store/object.h"

namespace omnibus {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::UnorderedElementsAreArray;

std::vector<std::string> Members(const ObjectRef& obj) {
  std::vector<std::string> out;
  SetForEach(obj, [&](std::string_view m) { out.emplace_back(m); });
  return out;
}

// ---- IntSet ---------------------------------------------------------------------------------

TEST(IntSetTest, SortedWithWidthUpgrades) {
  IntSet is = IntSet::Create();
  EXPECT_EQ(is.width(), 2u);
  EXPECT_TRUE(is.Add(5));
  EXPECT_TRUE(is.Add(-3));
  EXPECT_FALSE(is.Add(5));
  EXPECT_EQ(is.width(), 2u);
  EXPECT_TRUE(is.Add(70000));  // int32, last
  EXPECT_EQ(is.width(), 4u);
  EXPECT_TRUE(is.Add(-5'000'000'000));  // int64, first
  EXPECT_EQ(is.width(), 8u);
  EXPECT_TRUE(is.Add(INT64_MAX));
  EXPECT_TRUE(is.Add(INT64_MIN));
  EXPECT_TRUE(is.Add(0));
  std::vector<int64_t> got;
  for (uint32_t i = 0; i < is.size(); ++i) got.push_back(is.At(i));
  EXPECT_THAT(got, ElementsAre(INT64_MIN, -5'000'000'000, -3, 0, 5, 70000, INT64_MAX));
  EXPECT_TRUE(is.Contains(70000));
  EXPECT_FALSE(is.Contains(70001));
  EXPECT_TRUE(is.Remove(70000));
  EXPECT_FALSE(is.Remove(70000));
  EXPECT_TRUE(is.Remove(INT64_MIN));
  EXPECT_EQ(is.size(), 5u);
  EXPECT_EQ(is.width(), 8u);  // never narrows, as in Redis
  EXPECT_EQ(is.bytes(), 4u + 5 * 8);
  IntSet copy = is.Copy();
  EXPECT_EQ(copy.size(), 5u);
  EXPECT_TRUE(copy.Contains(INT64_MAX));
  copy.Free();
  is.Free();
}

TEST(IntSetTest, FiveSmallNumbersFitSixteenBytes) {
  // The memory target (a million 5-member sets) counts on this.
  IntSet is = IntSet::Create();
  for (int v : {1, 2, 3, 4, 5}) is.Add(v);
  EXPECT_EQ(is.bytes(), 14u);
  EXPECT_LE(StoreBlockSize(is.data()), 16u);
  is.Free();
}

TEST(IntSetTest, MatchesStdSetUnderRandomOps) {
  std::mt19937_64 rng(7);
  IntSet is = IntSet::Create();
  std::set<int64_t> model;
  const int64_t ranges[] = {100, 40000, 3'000'000'000LL};
  for (int i = 0; i < 20000; ++i) {
    int64_t r = ranges[rng() % 3];
    int64_t v = static_cast<int64_t>(rng() % static_cast<uint64_t>(2 * r)) - r;
    if (rng() % 3 == 0) {
      ASSERT_EQ(is.Remove(v), model.erase(v) > 0);
    } else {
      ASSERT_EQ(is.Add(v), model.insert(v).second);
    }
    ASSERT_EQ(is.size(), model.size());
  }
  std::vector<int64_t> got;
  for (uint32_t i = 0; i < is.size(); ++i) got.push_back(is.At(i));
  EXPECT_THAT(got, ElementsAreArray(model.begin(), model.end()));
  is.Free();
}

// ---- Forms and conversions ------------------------------------------------------------------

struct SetOwner {
  ObjectRef obj = NewSetObject();
  ~SetOwner() { FreeSet(obj); }
};

TEST(SetFormTest, IntsetUpToItsLimitThenHashtable) {
  SetLimits limits;  // Redis's defaults: 512 / 128 / 64
  SetOwner s;
  for (int i = 0; i < 512; ++i) ASSERT_TRUE(SetAdd(&s.obj, std::to_string(511 - i), limits));
  EXPECT_EQ(s.obj.enc, Encoding::kIntset);  // exactly at the limit
  EXPECT_FALSE(SetAdd(&s.obj, "7", limits));
  EXPECT_EQ(s.obj.enc, Encoding::kIntset);
  std::vector<std::string> members = Members(s.obj);
  EXPECT_EQ(members.front(), "0");
  EXPECT_EQ(members.back(), "511");
  ASSERT_TRUE(SetAdd(&s.obj, "512", limits));  // one past: 513 > 128, so a hashtable
  EXPECT_EQ(s.obj.enc, Encoding::kHashtable);
  EXPECT_EQ(SetLength(s.obj), 513u);
  EXPECT_TRUE(SetContains(s.obj, "0"));
  EXPECT_TRUE(SetContains(s.obj, "512"));
  // No conversion back, however small it gets.
  for (int i = 0; i < 512; ++i) ASSERT_TRUE(SetRemove(&s.obj, std::to_string(i)));
  EXPECT_EQ(s.obj.enc, Encoding::kHashtable);
  EXPECT_THAT(Members(s.obj), ElementsAre("512"));
}

TEST(SetFormTest, IntsetPastItsLimitBecomesListpackWhenThatFits) {
  SetLimits limits{4, 8, 64};
  SetOwner s;
  for (const char* m : {"4", "3", "2", "1"}) ASSERT_TRUE(SetAdd(&s.obj, m, limits));
  EXPECT_EQ(s.obj.enc, Encoding::kIntset);
  ASSERT_TRUE(SetAdd(&s.obj, "5", limits));
  EXPECT_EQ(s.obj.enc, Encoding::kListpack);
  EXPECT_THAT(Members(s.obj), ElementsAre("1", "2", "3", "4", "5"));
}

TEST(SetFormTest, NonIntegerMovesIntsetToListpackOrHashtable) {
  SetLimits limits{512, 4, 8};
  {
    SetOwner s;
    for (const char* m : {"1", "2", "3"}) SetAdd(&s.obj, m, limits);
    ASSERT_TRUE(SetAdd(&s.obj, "x", limits));  // 4 members: exactly the listpack limit
    EXPECT_EQ(s.obj.enc, Encoding::kListpack);
    EXPECT_THAT(Members(s.obj), ElementsAre("1", "2", "3", "x"));
  }
  {
    SetOwner s;
    for (const char* m : {"1", "2", "3", "4"}) SetAdd(&s.obj, m, limits);
    ASSERT_TRUE(SetAdd(&s.obj, "x", limits));  // 5 > 4
    EXPECT_EQ(s.obj.enc, Encoding::kHashtable);
    EXPECT_THAT(Members(s.obj), UnorderedElementsAreArray({"1", "2", "3", "4", "x"}));
  }
  {
    SetOwner s;
    SetAdd(&s.obj, "1", limits);
    ASSERT_TRUE(SetAdd(&s.obj, "xxxxxxxx", limits));  // 8 bytes: exactly the value limit
    EXPECT_EQ(s.obj.enc, Encoding::kListpack);
  }
  {
    SetOwner s;
    SetAdd(&s.obj, "1", limits);
    ASSERT_TRUE(SetAdd(&s.obj, "xxxxxxxxx", limits));  // 9 bytes
    EXPECT_EQ(s.obj.enc, Encoding::kHashtable);
  }
  {
    // A member of the intset itself too long for a listpack value ("-123456789" is 10 bytes).
    SetOwner s;
    SetAdd(&s.obj, "-123456789", limits);
    ASSERT_TRUE(SetAdd(&s.obj, "x", limits));
    EXPECT_EQ(s.obj.enc, Encoding::kHashtable);
  }
  {
    // Non-canonical integers are strings.
    SetOwner s;
    for (const char* m : {"01", "+1", " 1", "1 ", "9223372036854775808"}) {
      SetOwner t;
      ASSERT_TRUE(SetAdd(&t.obj, m, limits));
      EXPECT_NE(t.obj.enc, Encoding::kIntset) << m;
    }
    ASSERT_TRUE(SetAdd(&s.obj, "-9223372036854775808", SetLimits{}));
    EXPECT_EQ(s.obj.enc, Encoding::kIntset);
  }
}

TEST(SetFormTest, ListpackAtItsLimitsThenHashtable) {
  SetLimits limits{512, 4, 8};
  SetOwner s;
  for (const char* m : {"a", "b", "c", "d"}) ASSERT_TRUE(SetAdd(&s.obj, m, limits));
  EXPECT_EQ(s.obj.enc, Encoding::kListpack);  // exactly 4
  EXPECT_FALSE(SetAdd(&s.obj, "a", limits));
  EXPECT_EQ(s.obj.enc, Encoding::kListpack);
  EXPECT_THAT(Members(s.obj), ElementsAre("a", "b", "c", "d"));
  ASSERT_TRUE(SetAdd(&s.obj, "e", limits));
  EXPECT_EQ(s.obj.enc, Encoding::kHashtable);
  EXPECT_THAT(Members(s.obj), UnorderedElementsAreArray({"a", "b", "c", "d", "e"}));

  SetOwner v;
  ASSERT_TRUE(SetAdd(&v.obj, "12345678", limits));
  EXPECT_EQ(v.obj.enc, Encoding::kIntset);
  ASSERT_TRUE(SetAdd(&v.obj, "abcdefgh", limits));  // exactly 8 bytes
  EXPECT_EQ(v.obj.enc, Encoding::kListpack);
  ASSERT_TRUE(SetAdd(&v.obj, "abcdefghi", limits));  // 9
  EXPECT_EQ(v.obj.enc, Encoding::kHashtable);
  EXPECT_TRUE(SetContains(v.obj, "12345678"));
  EXPECT_FALSE(SetAdd(&v.obj, "12345678", limits));
}

TEST(SetFormTest, OperationsAgreeInEveryForm) {
  // The same members in each form: contains, remove, random, copy, scan.
  SetLimits as_intset{512, 128, 64};
  SetLimits as_listpack{0, 128, 64};
  SetLimits as_hashtable{0, 0, 0};
  for (const SetLimits& limits : {as_intset, as_listpack, as_hashtable}) {
    SetOwner s;
    std::set<std::string> model;
    for (int i = 0; i < 40; ++i) {
      SetAdd(&s.obj, std::to_string(i * 7), limits);
      model.insert(std::to_string(i * 7));
    }
    SCOPED_TRACE(EncodingName(s.obj.enc));
    EXPECT_EQ(SetLength(s.obj), 40u);
    EXPECT_TRUE(SetContains(s.obj, "14"));
    EXPECT_FALSE(SetContains(s.obj, "15"));
    EXPECT_FALSE(SetContains(s.obj, "x"));
    EXPECT_FALSE(SetRemove(&s.obj, "x"));
    EXPECT_TRUE(SetRemove(&s.obj, "14"));
    model.erase("14");
    EXPECT_THAT(Members(s.obj), UnorderedElementsAreArray(model));
    std::mt19937_64 rng(1);
    std::set<std::string> drawn;
    for (int i = 0; i < 2000; ++i) {
      std::string m = SetRandomMember(s.obj, [&] { return rng(); });
      ASSERT_TRUE(model.contains(m)) << m;
      drawn.insert(m);
    }
    EXPECT_EQ(drawn, model);  // every member comes up
    ObjectRef copy = CopySet(s.obj);
    EXPECT_EQ(copy.enc, s.obj.enc);
    EXPECT_THAT(Members(copy), UnorderedElementsAreArray(model));
    FreeSet(copy);
    std::multiset<std::string> scanned;
    uint64_t cursor = 0;
    do {
      cursor = SetScan(s.obj, cursor, 3, [&](std::string_view m) { scanned.emplace(m); });
    } while (cursor != 0);
    EXPECT_EQ(std::set<std::string>(scanned.begin(), scanned.end()), model);
  }
}

TEST(SetFormTest, HashtableScanReturnsEveryStayingMemberThroughResizes) {
  SetLimits limits{0, 0, 0};  // always a hashtable
  SetOwner s;
  for (int i = 0; i < 300; ++i) SetAdd(&s.obj, StrCat("m", i), limits);
  ASSERT_EQ(s.obj.enc, Encoding::kHashtable);
  std::set<std::string> seen;
  std::vector<std::string> extra;
  uint64_t cursor = 0;
  int step = 0;
  do {
    cursor = SetScan(s.obj, cursor, 7, [&](std::string_view m) { seen.emplace(m); });
    // Grow a lot, then shrink back, between calls: the table resizes under the cursor.
    if (step % 6 < 3) {
      for (int j = 0; j < 200; ++j) {
        extra.push_back(StrCat("n", step, "_", j));
        SetAdd(&s.obj, extra.back(), limits);
      }
    } else {
      for (const std::string& m : extra) SetRemove(&s.obj, m);
      extra.clear();
    }
    ++step;
    ASSERT_LT(step, 100000);
  } while (cursor != 0);
  for (int i = 0; i < 300; ++i) EXPECT_TRUE(seen.contains(StrCat("m", i))) << i;
}

TEST(SetFormTest, MemoryIsCountedAndReturned) {
  int64_t before = StoreAllocatedBytes();
  {
    SetLimits limits{16, 16, 64};
    SetOwner s;
    for (int i = 0; i < 1000; ++i) SetAdd(&s.obj, StrCat("member:", i), limits);
    EXPECT_GT(StoreAllocatedBytes(), before);
  }
  EXPECT_EQ(StoreAllocatedBytes(), before);
}

// ---- The family's handlers over Keyspaces: events at the choke point ---------------------

class SetCommandsTest : public ::testing::Test {
 protected:
  explicit SetCommandsTest(int shards = 1) {
    for (int i = 0; i < shards; ++i) {
      keyspaces_.push_back(std::make_unique<Keyspace>(1, &limits_));
      all_.push_back(keyspaces_.back().get());
      keyspaces_.back()->db(0).TEST_on_event = [this](std::string_view key, KeyEvent e) {
        events_.emplace_back(std::string(key), e);
      };
    }
  }

  // Runs one command as the shard would (parked over every keyspace when there are several).
  std::string Run(std::vector<std::string> args, int resp = 2) {
    const CommandSpec* spec = table_.Find(args[0]);
    EXPECT_NE(spec, nullptr) << args[0];
    std::vector<std::string_view> views(args.begin(), args.end());
    std::string out;
    ReplyBuilder rb(&out, resp);
    ExecContext ctx{all_[0],
                    all_.size() > 1 ? all_.data() : nullptr,
                    static_cast<int>(all_.size()),
                    0,
                    0,
                    views,
                    &rb};
    spec->shard(ctx);
    return out;
  }

  Db& DbFor(std::string_view key) {
    return all_[static_cast<size_t>(ShardForKey(key, static_cast<int>(all_.size())))]->db(0);
  }
  Encoding EncodingOf(std::string_view key) {
    Db::Entry e = DbFor(key).Peek(key);
    return e ? e->enc() : Encoding::kRaw;
  }
  bool Exists(std::string_view key) { return static_cast<bool>(DbFor(key).Peek(key)); }
  std::vector<std::pair<std::string, KeyEvent>> TakeEvents() { return std::exchange(events_, {}); }

  using Events = std::vector<std::pair<std::string, KeyEvent>>;

  ContainerLimits limits_;
  CommandTable table_;
  std::vector<std::unique_ptr<Keyspace>> keyspaces_;
  std::vector<Keyspace*> all_;
  Events events_;
};

TEST_F(SetCommandsTest, SaddSremEvents) {
  EXPECT_EQ(Run({"sadd", "s", "a", "b"}), ":2\r\n");
  EXPECT_EQ(TakeEvents(), (Events{{"s", KeyEvent::kWritten}}));
  EXPECT_EQ(Run({"sadd", "s", "c"}), ":1\r\n");
  EXPECT_EQ(TakeEvents(), (Events{{"s", KeyEvent::kUpdated}}));
  EXPECT_EQ(Run({"sadd", "s", "a"}), ":0\r\n");
  EXPECT_EQ(TakeEvents(), Events{});
  EXPECT_EQ(Run({"srem", "s", "zz"}), ":0\r\n");
  EXPECT_EQ(TakeEvents(), Events{});
  EXPECT_EQ(Run({"srem", "missing", "zz"}), ":0\r\n");
  EXPECT_EQ(TakeEvents(), Events{});
  EXPECT_EQ(Run({"srem", "s", "a", "zz"}), ":1\r\n");
  EXPECT_EQ(TakeEvents(), (Events{{"s", KeyEvent::kUpdated}}));
  EXPECT_EQ(Run({"srem", "s", "b", "c"}), ":2\r\n");
  EXPECT_EQ(TakeEvents(), (Events{{"s", KeyEvent::kDeleted}}));
  EXPECT_FALSE(Exists("s"));
  EXPECT_EQ(Run({"scard", "s"}), ":0\r\n");
  // WRONGTYPE changes nothing and reports nothing.
  Run({"set", "str", "x"});
  TakeEvents();
  EXPECT_EQ(Run({"sadd", "str", "a"}),
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
  EXPECT_EQ(TakeEvents(), Events{});
}

TEST_F(SetCommandsTest, SpopEventsAndWholeSet) {
  Run({"sadd", "s", "3", "1", "2"});
  TakeEvents();
  EXPECT_EQ(Run({"spop", "s", "0"}), "*0\r\n");
  EXPECT_EQ(TakeEvents(), Events{});
  std::string one = Run({"spop", "s"});
  EXPECT_EQ(TakeEvents(), (Events{{"s", KeyEvent::kUpdated}}));
  EXPECT_EQ(Run({"scard", "s"}), ":2\r\n");
  Run({"sadd", "s", "1", "2", "3"});
  TakeEvents();
  EXPECT_EQ(Run({"spop", "s", "10"}, 3), "~3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n");
  EXPECT_EQ(TakeEvents(), (Events{{"s", KeyEvent::kDeleted}}));
  EXPECT_FALSE(Exists("s"));
}

TEST_F(SetCommandsTest, SpopRestStartsSmall) {
  // SPOP taking most of a hashtable set rebuilds the rest in the smallest form.
  std::vector<std::string> args = {"sadd", "big"};
  for (int i = 0; i < 600; ++i) args.push_back(std::to_string(i));
  Run(args);
  EXPECT_EQ(EncodingOf("big"), Encoding::kHashtable);
  Run({"spop", "big", "590"});
  EXPECT_EQ(Run({"scard", "big"}), ":10\r\n");
  EXPECT_EQ(EncodingOf("big"), Encoding::kIntset);
}

TEST_F(SetCommandsTest, StoreBuildsSmallestFormAndReportsWritten) {
  limits_.set_max_listpack_entries = 4;
  Run({"sadd", "a", "x", "y", "z", "w", "v"});  // 5 > 4: hashtable
  EXPECT_EQ(EncodingOf("a"), Encoding::kHashtable);
  Run({"sadd", "b", "x", "y", "1"});
  TakeEvents();
  EXPECT_EQ(Run({"sinterstore", "d", "a", "b"}), ":2\r\n");
  EXPECT_EQ(TakeEvents(), (Events{{"d", KeyEvent::kWritten}}));
  EXPECT_EQ(EncodingOf("d"), Encoding::kListpack);
  EXPECT_EQ(Run({"sdiffstore", "d", "b", "a"}), ":1\r\n");
  EXPECT_EQ(EncodingOf("d"), Encoding::kIntset);
  TakeEvents();
  EXPECT_EQ(Run({"sinterstore", "d", "a", "missing"}), ":0\r\n");
  EXPECT_EQ(TakeEvents(), (Events{{"d", KeyEvent::kDeleted}}));
  EXPECT_EQ(Run({"sunionstore", "d", "a", "b"}), ":6\r\n");
  EXPECT_EQ(EncodingOf("d"), Encoding::kHashtable);
}

TEST_F(SetCommandsTest, SmoveSameKeyAndEvents) {
  Run({"sadd", "s", "a", "b"});
  TakeEvents();
  EXPECT_EQ(Run({"smove", "s", "s", "a"}), ":1\r\n");
  EXPECT_EQ(Run({"smove", "s", "s", "zz"}), ":0\r\n");
  EXPECT_EQ(TakeEvents(), Events{});
  EXPECT_EQ(Run({"smove", "s", "t", "a"}), ":1\r\n");
  EXPECT_EQ(TakeEvents(), (Events{{"s", KeyEvent::kUpdated}, {"t", KeyEvent::kWritten}}));
  Run({"sadd", "t", "b"});
  TakeEvents();
  EXPECT_EQ(Run({"smove", "s", "t", "b"}), ":1\r\n");  // already in t: t unchanged
  EXPECT_EQ(TakeEvents(), (Events{{"s", KeyEvent::kDeleted}}));
  EXPECT_FALSE(Exists("s"));
}

TEST_F(SetCommandsTest, ConfiguredIntsetLimitApplies) {
  limits_.set_max_intset_entries = 3;
  Run({"sadd", "s", "1", "2", "3"});
  EXPECT_EQ(EncodingOf("s"), Encoding::kIntset);
  Run({"sadd", "s", "4"});
  EXPECT_EQ(EncodingOf("s"), Encoding::kListpack);  // 4 <= 128 short members
  limits_.set_max_listpack_value = 2;
  Run({"sadd", "s2", "1", "22", "333"});
  EXPECT_EQ(EncodingOf("s2"), Encoding::kIntset);
  Run({"sadd", "s2", "x"});
  EXPECT_EQ(EncodingOf("s2"), Encoding::kHashtable);  // "333" is longer than 2 bytes
}

class SetParkedTest : public SetCommandsTest {
 protected:
  SetParkedTest() : SetCommandsTest(3) {}
};

TEST_F(SetParkedTest, MultiKeyCommandsReachEveryShard) {
  // Keys on three different shards.
  std::vector<std::string> keys;
  std::set<int> shards;
  for (int i = 0; keys.size() < 3; ++i) {
    std::string k = StrCat("k", i);
    if (shards.insert(ShardForKey(k, 3)).second) keys.push_back(k);
  }
  Run({"sadd", keys[0], "1", "2", "3"});
  Run({"sadd", keys[1], "2", "3", "4"});
  TakeEvents();
  EXPECT_EQ(Run({"sinterstore", keys[2], keys[0], keys[1]}), ":2\r\n");
  EXPECT_EQ(TakeEvents(), (Events{{keys[2], KeyEvent::kWritten}}));
  EXPECT_EQ(Run({"sintercard", "2", keys[0], keys[2]}), ":2\r\n");
  EXPECT_EQ(Run({"sintercard", "2", keys[0], keys[2], "LIMIT", "1"}), ":1\r\n");
  EXPECT_EQ(Run({"smove", keys[0], keys[1], "1"}), ":1\r\n");
  EXPECT_EQ(TakeEvents(), (Events{{keys[0], KeyEvent::kUpdated}, {keys[1], KeyEvent::kUpdated}}));
  EXPECT_EQ(Run({"sismember", keys[1], "1"}), ":1\r\n");
  EXPECT_EQ(Run({"sismember", keys[0], "1"}), ":0\r\n");
  EXPECT_EQ(Run({"sdiff", keys[1], keys[0]}), "*2\r\n$1\r\n1\r\n$1\r\n4\r\n");
  EXPECT_EQ(Run({"sunion", keys[0], keys[1], keys[2]}, 3),
            "~4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n");
  EXPECT_EQ(Run({"smove", keys[1], keys[2], "1"}), ":1\r\n");
  EXPECT_EQ(Run({"smembers", keys[2]}), "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n");
  Run({"set", "str", "x"});
  EXPECT_EQ(Run({"sunion", keys[0], "str"}),
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
}

}  // namespace
}  // namespace omnibus
