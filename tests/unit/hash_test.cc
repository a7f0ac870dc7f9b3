// store/hash: both encodings, the conversions at hash-max-listpack-entries/-value (exactly at
// the limit and one past it), Redis's listpack order, HSCAN over a table that is resized
// between calls; and the hash commands run through the command table against a Keyspace,
// checking that every change passes the Db's choke point with the right event.

#include "omnibus/store/hash.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "omnibus/base/str_cat.h"
#include "omnibus/commands/command_table.h"
#include "omnibus/store/db.h"
#include "omnibus/store/keyspace.h"
#include "omnibus/store/memory.h"
#include "omnibus/store/object.h"

namespace omnibus {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::Pair;
using ::testing::UnorderedElementsAreArray;

using Pairs = std::vector<std::pair<std::string, std::string>>;

Pairs All(const ObjectRef& obj) {
  Pairs out;
  HashForEach(obj, [&](std::string_view f, std::string_view v) {
    out.emplace_back(std::string(f), std::string(v));
  });
  return out;
}

// Owns one hash for a test.
struct Hash {
  ObjectRef obj = NewHash();
  HashLimits limits;
  ~Hash() { FreeHash(obj); }
  bool Set(std::string_view f, std::string_view v) { return HashSet(&obj, f, v, limits); }
  bool Del(std::string_view f) { return HashDelete(&obj, f); }
  std::optional<std::string> Get(std::string_view f) {
    std::string out;
    if (!HashGetField(obj, f, &out)) return std::nullopt;
    return out;
  }
};

TEST(HashStore, ListpackKeepsRedisOrder) {
  Hash h;
  EXPECT_TRUE(h.Set("a", "1"));
  EXPECT_TRUE(h.Set("b", "2"));
  EXPECT_TRUE(h.Set("c", "3"));
  EXPECT_FALSE(h.Set("a", "a much longer value"));  // in place, not moved to the end
  EXPECT_TRUE(h.Del("b"));
  EXPECT_FALSE(h.Del("b"));
  EXPECT_TRUE(h.Set("b", "again"));  // appended
  EXPECT_TRUE(h.Set("", ""));
  EXPECT_EQ(h.obj.enc, Encoding::kListpack);
  EXPECT_THAT(All(h.obj), ElementsAre(Pair("a", "a much longer value"), Pair("c", "3"),
                                      Pair("b", "again"), Pair("", "")));
  EXPECT_EQ(HashLength(h.obj), 4u);
  EXPECT_EQ(h.Get("c"), "3");
  EXPECT_EQ(h.Get(""), "");
  EXPECT_EQ(h.Get("zz"), std::nullopt);
  // A value equal to a field name must not be found as a field.
  EXPECT_TRUE(h.Set("x", "c2"));
  EXPECT_TRUE(h.Set("c2", "y"));
  EXPECT_EQ(h.Get("c2"), "y");
  EXPECT_TRUE(h.Del("c2"));
  EXPECT_EQ(h.Get("x"), "c2");
}

// Entries of 254 bytes and more take the small form's long length encoding (only with a raised
// hash-max-listpack-value); replacing values across that boundary keeps every other pair.
TEST(HashStore, ListpackLongEntries) {
  Hash h;
  h.limits.max_value = 100000;
  std::vector<std::string> sizes = {std::string(253, 'a'), std::string(254, 'b'),
                                    std::string(70000, 'c'), ""};
  for (size_t i = 0; i < sizes.size(); ++i) h.Set(sizes[i], StrCat("v", i));
  h.Set("x", "short");
  for (const std::string& v : {sizes[2], sizes[0], sizes[1], std::string("s"), sizes[2]}) {
    EXPECT_FALSE(h.Set("x", v));
    EXPECT_FALSE(h.Set(sizes[1], v));
    EXPECT_EQ(h.Get("x"), v);
    EXPECT_EQ(h.Get(sizes[1]), v);
    EXPECT_EQ(h.Get(sizes[2]), "v2");
    EXPECT_EQ(h.Get(""), "v3");
  }
  EXPECT_EQ(h.obj.enc, Encoding::kListpack);
  EXPECT_TRUE(h.Del(sizes[1]));
  EXPECT_THAT(All(h.obj), ElementsAre(Pair(sizes[0], "v0"), Pair(sizes[2], "v2"), Pair("", "v3"),
                                      Pair("x", sizes[2])));
  EXPECT_EQ(HashLength(h.obj), 4u);
}

TEST(HashStore, ConvertsOnlyPastTheEntryLimit) {
  Hash h;
  h.limits.max_entries = 4;
  for (int i = 0; i < 4; ++i) h.Set(StrCat("f", i), StrCat("v", i));
  EXPECT_EQ(h.obj.enc, Encoding::kListpack);  // exactly at the limit
  h.Set("f0", "updated");                     // an update does not add an entry
  EXPECT_EQ(h.obj.enc, Encoding::kListpack);
  h.Set("f4", "v4");  // one past it
  EXPECT_EQ(h.obj.enc, Encoding::kHashtable);
  EXPECT_EQ(HashLength(h.obj), 5u);
  EXPECT_EQ(h.Get("f0"), "updated");
  EXPECT_EQ(h.Get("f4"), "v4");
  // Never back, even when it shrinks to one field.
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(h.Del(StrCat("f", i)));
  EXPECT_EQ(h.obj.enc, Encoding::kHashtable);
  EXPECT_THAT(All(h.obj), ElementsAre(Pair("f4", "v4")));
}

TEST(HashStore, ConvertsOnlyPastTheValueLimit) {
  const std::string at(64, 'x'), past(65, 'x');
  {
    Hash h;
    h.Set("f", at);
    h.Set(at, "v");
    EXPECT_EQ(h.obj.enc, Encoding::kListpack);
    h.Set("g", past);
    EXPECT_EQ(h.obj.enc, Encoding::kHashtable);
    EXPECT_THAT(All(h.obj), UnorderedElementsAreArray(Pairs{{"f", at}, {at, "v"}, {"g", past}}));
  }
  {
    Hash h;
    h.Set(past, "v");  // a long field converts too
    EXPECT_EQ(h.obj.enc, Encoding::kHashtable);
    EXPECT_EQ(h.Get(past), "v");
  }
  {
    Hash h;
    h.Set("f", "v");
    std::vector<std::string_view> args = {"f", at, "g", "1"};
    HashTryConvert(&h.obj, args, h.limits);
    EXPECT_EQ(h.obj.enc, Encoding::kListpack);
    args[1] = past;
    HashTryConvert(&h.obj, args, h.limits);
    EXPECT_EQ(h.obj.enc, Encoding::kHashtable);
    EXPECT_EQ(h.Get("f"), "v");
  }
}

TEST(HashStore, ZeroEntryLimitMakesEveryHashATable) {
  Hash h;
  h.limits.max_entries = 0;
  h.Set("a", "1");
  EXPECT_EQ(h.obj.enc, Encoding::kHashtable);
}

TEST(HashStore, TableFormOperationsAndCopy) {
  Hash h;
  h.limits.max_entries = 2;
  std::map<std::string, std::string> model;
  std::mt19937 rng(7);
  for (int i = 0; i < 3000; ++i) {
    std::string f = StrCat("f", rng() % 300);
    if (rng() % 3 == 0) {
      EXPECT_EQ(h.Del(f), model.erase(f) == 1);
    } else {
      std::string v = StrCat("v", rng());
      EXPECT_EQ(h.Set(f, v), model.count(f) == 0);
      model[f] = v;
    }
  }
  ASSERT_EQ(h.obj.enc, Encoding::kHashtable);
  EXPECT_EQ(HashLength(h.obj), model.size());
  Pairs expected(model.begin(), model.end());
  EXPECT_THAT(All(h.obj), UnorderedElementsAreArray(expected));
  ObjectRef copy = CopyHash(h.obj);
  EXPECT_EQ(copy.enc, Encoding::kHashtable);
  h.Set("only-in-original", "1");
  EXPECT_THAT(All(copy), UnorderedElementsAreArray(expected));
  FreeHash(copy);
}

TEST(HashStore, CopyOfListpackIsIndependent) {
  Hash h;
  h.Set("a", "1");
  ObjectRef copy = CopyHash(h.obj);
  h.Set("a", "2");
  EXPECT_THAT(All(copy), ElementsAre(Pair("a", "1")));
  FreeHash(copy);
}

TEST(HashStore, FreeReturnsAllMemory) {
  int64_t before = StoreAllocatedBytes();
  {
    Hash h;
    h.limits.max_entries = 8;
    for (int i = 0; i < 100; ++i) h.Set(StrCat("f", i), std::string(i, 'v'));
    for (int i = 0; i < 50; ++i) h.Del(StrCat("f", i));
  }
  EXPECT_EQ(StoreAllocatedBytes(), before);
}

TEST(HashStore, ScanOfListpackIsWholeWithCursorZero) {
  Hash h;
  h.Set("a", "1");
  h.Set("b", "2");
  Pairs seen;
  uint64_t next = HashScan(h.obj, 12345, 1, [&](std::string_view f, std::string_view v) {
    seen.emplace_back(std::string(f), std::string(v));
  });
  EXPECT_EQ(next, 0u);
  EXPECT_THAT(seen, ElementsAre(Pair("a", "1"), Pair("b", "2")));
}

// Every field present for a whole scan is returned, even when the table grows or shrinks
// between calls.
TEST(HashStore, ScanOfTableSurvivesResizes) {
  Hash h;
  h.limits.max_entries = 0;
  for (int i = 0; i < 200; ++i) h.Set(StrCat("keep", i), "v");
  std::set<std::string> seen;
  uint64_t cursor = 0;
  int step = 0;
  do {
    cursor =
        HashScan(h.obj, cursor, 4, [&](std::string_view f, std::string_view) { seen.emplace(f); });
    ++step;
    if (step == 3) {
      for (int i = 0; i < 2000; ++i) h.Set(StrCat("grow", i), "v");
    } else if (step == 8) {
      for (int i = 0; i < 2000; ++i) h.Del(StrCat("grow", i));
    }
  } while (cursor != 0);
  for (int i = 0; i < 200; ++i) EXPECT_TRUE(seen.count(StrCat("keep", i))) << i;
}

TEST(HashStore, RandomCoversEveryFieldInBothForms) {
  for (int64_t max_entries : {512, 0}) {
    Hash h;
    h.limits.max_entries = max_entries;
    for (int i = 0; i < 10; ++i) h.Set(StrCat("f", i), StrCat("v", i));
    std::mt19937_64 rng(1);
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
      auto [f, v] = HashRandom(h.obj, [&] { return rng(); });
      EXPECT_EQ(h.Get(f), std::string(v));
      seen.emplace(f);
    }
    EXPECT_EQ(seen.size(), 10u) << max_entries;
  }
}

// ---- Commands through the table, against one Keyspace ------------------------------------

class HashCommands : public ::testing::Test {
 protected:
  HashCommands() : ks_(1, &limits_) {
    db().TEST_on_event = [this](std::string_view key, KeyEvent e) {
      events_.emplace_back(std::string(key), e);
    };
  }

  Db& db() { return ks_.db(0); }

  // Runs one command; returns its RESP2 reply.
  std::string Run(std::vector<std::string_view> args, int resp = 2) {
    const CommandSpec* spec = table_.Find(args[0]);
    EXPECT_NE(spec, nullptr) << args[0];
    if (spec == nullptr) return "";
    std::string out;
    ReplyBuilder rb(&out, resp);
    ExecContext ctx{&ks_};
    ctx.args = args;
    ctx.reply = &rb;
    spec->shard(ctx);
    return out;
  }

  ObjectRef Obj(std::string_view key) {
    Db::Entry e = db().Peek(key);
    EXPECT_TRUE(e);
    return e->object();
  }

  std::vector<std::pair<std::string, KeyEvent>> TakeEvents() { return std::exchange(events_, {}); }

  ContainerLimits limits_;
  Keyspace ks_;
  CommandTable table_;
  std::vector<std::pair<std::string, KeyEvent>> events_;
};

TEST_F(HashCommands, EventsForEveryChange) {
  EXPECT_EQ(Run({"hset", "h", "a", "1", "b", "2"}), ":2\r\n");
  EXPECT_THAT(TakeEvents(), ElementsAre(Pair("h", KeyEvent::kWritten)));
  EXPECT_EQ(Run({"hset", "h", "a", "9"}), ":0\r\n");
  EXPECT_THAT(TakeEvents(), ElementsAre(Pair("h", KeyEvent::kUpdated)));
  EXPECT_EQ(Run({"hmset", "h", "c", "3"}), "+OK\r\n");
  EXPECT_THAT(TakeEvents(), ElementsAre(Pair("h", KeyEvent::kUpdated)));
  EXPECT_EQ(Run({"hsetnx", "h", "a", "x"}), ":0\r\n");
  EXPECT_THAT(TakeEvents(), ElementsAre());
  EXPECT_EQ(Run({"hsetnx", "h", "d", "4"}), ":1\r\n");
  EXPECT_THAT(TakeEvents(), ElementsAre(Pair("h", KeyEvent::kUpdated)));
  EXPECT_EQ(Run({"hincrby", "h", "d", "1"}), ":5\r\n");
  EXPECT_THAT(TakeEvents(), ElementsAre(Pair("h", KeyEvent::kUpdated)));
  EXPECT_EQ(Run({"hincrbyfloat", "h", "d", "0.5"}), "$3\r\n5.5\r\n");
  EXPECT_THAT(TakeEvents(), ElementsAre(Pair("h", KeyEvent::kUpdated)));
  EXPECT_EQ(Run({"hincrby", "h", "d", "1"}), "-ERR hash value is not an integer\r\n");
  EXPECT_EQ(Run({"hincrby", "h", "b", "9223372036854775807"}),
            "-ERR increment or decrement would overflow\r\n");
  EXPECT_EQ(Run({"hset", "h", "s", "abc"}), ":1\r\n");
  TakeEvents();
  EXPECT_EQ(Run({"hincrbyfloat", "h", "s", "1"}), "-ERR hash value is not a float\r\n");
  EXPECT_THAT(TakeEvents(), ElementsAre());  // errors change nothing
  EXPECT_EQ(Run({"hdel", "h", "nosuch"}), ":0\r\n");
  EXPECT_THAT(TakeEvents(), ElementsAre());
  EXPECT_EQ(Run({"hdel", "h", "a", "b"}), ":2\r\n");
  EXPECT_THAT(TakeEvents(), ElementsAre(Pair("h", KeyEvent::kUpdated)));
  EXPECT_EQ(Run({"hdel", "h", "c", "d", "s", "zz"}), ":3\r\n");
  EXPECT_THAT(TakeEvents(), ElementsAre(Pair("h", KeyEvent::kDeleted)));
  EXPECT_FALSE(db().Peek("h"));
  // Reads report nothing; failed writes to a missing key leave no key behind.
  EXPECT_EQ(Run({"hget", "h", "a"}), "$-1\r\n");
  EXPECT_EQ(Run({"hincrby", "n", "f", "x"}), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(Run({"hincrbyfloat", "n", "f", "inf"}), "-ERR value is NaN or Infinity\r\n");
  EXPECT_THAT(TakeEvents(), ElementsAre());
  EXPECT_FALSE(db().Peek("n"));
}

TEST_F(HashCommands, WrongTypeChangesNothing) {
  db().SetString("s", "v");
  TakeEvents();
  for (auto args : std::vector<std::vector<std::string_view>>{{"hset", "s", "f", "v"},
                                                              {"hsetnx", "s", "f", "v"},
                                                              {"hdel", "s", "f"},
                                                              {"hincrby", "s", "f", "1"},
                                                              {"hincrbyfloat", "s", "f", "1"},
                                                              {"hget", "s", "f"},
                                                              {"hgetall", "s"},
                                                              {"hscan", "s", "0"},
                                                              {"hrandfield", "s", "1"}}) {
    EXPECT_EQ(Run(args), "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n")
        << args[0];
  }
  EXPECT_THAT(TakeEvents(), ElementsAre());
}

TEST_F(HashCommands, ConversionsFollowTheConfig) {
  limits_.hash_max_listpack_entries = 3;
  limits_.hash_max_listpack_value = 4;
  Run({"hset", "h", "a", "1", "b", "2", "c", "3"});
  EXPECT_EQ(Obj("h").enc, Encoding::kListpack);
  Run({"hset", "h", "d", "4"});
  EXPECT_EQ(Obj("h").enc, Encoding::kHashtable);

  // HSET converts for a long value even when it only updates a field (hashTypeTryConversion).
  Run({"hset", "u", "a", "1"});
  Run({"hset", "u", "a", "12345"});
  EXPECT_EQ(Obj("u").enc, Encoding::kHashtable);

  // HSETNX of an existing field does not convert; of a new field it does.
  Run({"hset", "n", "a", "1"});
  EXPECT_EQ(Run({"hsetnx", "n", "a", "12345"}), ":0\r\n");
  EXPECT_EQ(Obj("n").enc, Encoding::kListpack);
  EXPECT_EQ(Run({"hsetnx", "n", "b", "12345"}), ":1\r\n");
  EXPECT_EQ(Obj("n").enc, Encoding::kHashtable);

  // HINCRBY with a long field, HINCRBYFLOAT with a long result.
  Run({"hset", "i", "a", "1"});
  Run({"hincrby", "i", "longf", "1"});
  EXPECT_EQ(Obj("i").enc, Encoding::kHashtable);
  Run({"hset", "j", "a", "1"});
  EXPECT_EQ(Run({"hincrbyfloat", "j", "a", "0.25"}), "$4\r\n1.25\r\n");
  EXPECT_EQ(Obj("j").enc, Encoding::kListpack);
  EXPECT_EQ(Run({"hincrbyfloat", "j", "a", "0.125"}), "$5\r\n1.375\r\n");
  EXPECT_EQ(Obj("j").enc, Encoding::kHashtable);

  // A lowered limit converts an existing listpack on its next write, even an update.
  limits_.hash_max_listpack_entries = 3;
  Run({"hset", "k", "a", "1", "b", "2", "c", "3"});
  limits_.hash_max_listpack_entries = 2;
  EXPECT_EQ(Run({"hget", "k", "a"}), "$1\r\n1\r\n");
  EXPECT_EQ(Obj("k").enc, Encoding::kListpack);
  EXPECT_EQ(Run({"hset", "k", "a", "9"}), ":0\r\n");
  EXPECT_EQ(Obj("k").enc, Encoding::kHashtable);

  // SORT's export sees both forms.
  std::string v;
  EXPECT_TRUE(HashGetField(Obj("h"), "d", &v));
  EXPECT_EQ(v, "4");
  EXPECT_TRUE(HashGetField(Obj("n"), "a", &v));
  EXPECT_EQ(v, "1");
  EXPECT_FALSE(HashGetField(Obj("n"), "zz", &v));
}

TEST_F(HashCommands, ReplyShapes) {
  Run({"hset", "h", "a", "1", "b", "2"});
  EXPECT_EQ(Run({"hgetall", "h"}), "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n");
  EXPECT_EQ(Run({"hgetall", "h"}, 3), "%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n");
  EXPECT_EQ(Run({"hgetall", "none"}, 3), "%0\r\n");
  EXPECT_EQ(Run({"hrandfield", "h", "5", "withvalues"}),
            "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n");
  EXPECT_EQ(Run({"hrandfield", "h", "5", "withvalues"}, 3),
            "*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n");
  std::string neg = Run({"hrandfield", "h", "-3", "withvalues"}, 3);
  EXPECT_EQ(neg.substr(0, 8), "*3\r\n*2\r\n");
  EXPECT_EQ(Run({"hscan", "h", "7"}),
            "*2\r\n$1\r\n0\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n");
}

// HRANDFIELD with a positive count returns distinct fields, with a negative one any fields;
// both forms, every path (count >= size, listpack sampling, large part and small part of a
// table).
TEST_F(HashCommands, RandFieldCounts) {
  limits_.hash_max_listpack_entries = 8;
  std::vector<std::string_view> small = {"hset", "small"}, large = {"hset", "large"};
  std::vector<std::string> names;
  for (int i = 0; i < 100; ++i) names.push_back(StrCat("f", i));
  for (int i = 0; i < 6; ++i) small.insert(small.end(), {names[i], "v"});
  for (int i = 0; i < 100; ++i) large.insert(large.end(), {names[i], "v"});
  Run(small);
  Run(large);
  ASSERT_EQ(Obj("small").enc, Encoding::kListpack);
  ASSERT_EQ(Obj("large").enc, Encoding::kHashtable);
  auto count_fields = [](const std::string& reply) {
    std::vector<std::string> fields;
    size_t pos = reply.find("\r\n") + 2;
    while (pos < reply.size()) {
      size_t end = reply.find("\r\n", pos);
      size_t len = std::stoul(reply.substr(pos + 1, end - pos - 1));
      fields.push_back(reply.substr(end + 2, len));
      pos = end + 2 + len + 2;
    }
    return fields;
  };
  for (const char* key : {"small", "large"}) {
    for (std::string_view n : {"1", "3", "5", "20", "40", "99", "100", "1000"}) {
      auto fields = count_fields(Run({"hrandfield", key, n}));
      size_t want = std::min<size_t>(std::stoul(std::string(n)), key[0] == 's' ? 6 : 100);
      EXPECT_EQ(fields.size(), want) << key << " " << n;
      EXPECT_EQ(std::set<std::string>(fields.begin(), fields.end()).size(), want)
          << key << " " << n;
    }
    auto fields = count_fields(Run({"hrandfield", key, "-300"}));
    EXPECT_EQ(fields.size(), 300u);
  }
}

}  // namespace
}  // namespace omnibus
