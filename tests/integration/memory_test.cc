// MEMORY (USAGE, STATS, DOCTOR, MALLOC-STATS, PURGE, HELP), counted memory as INFO and MEMORY
// report it, and lazy free (UNLINK, FLUSHALL/FLUSHDB ASYNC, lazyfree-lazy-*), against the real
// binary. Every test here but the ones named *Counted* also passes against redis-server
// (OMNIBUS_TEST_SERVER=tests/testing/redis_as_omnibus.sh): they check reply types, shapes,
// error texts and what INFO's lazyfree fields say, not allocator-dependent values.
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "omnibus/base/str_cat.h"
#include "testing/server_process.h"

namespace omnibus::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Omnibus says so in INFO server (redis-server, run by redis_as_omnibus.sh, does not).
bool IsOmnibusServer(const RedisConn& c) {
  Reply r = Command(c, {"INFO", "server"});
  return r != nullptr && r->type != REDIS_REPLY_ERROR &&
         std::string_view(r->str, r->len).find("omnibus_version:") != std::string_view::npos;
}

int64_t Info(const RedisConn& c, std::string_view section, std::string_view field) {
  std::optional<int64_t> v = InfoInt(c.get(), section, field);
  EXPECT_TRUE(v.has_value()) << field;
  return v.value_or(-1);
}

// used_memory without the client buffers (mem_clients_normal), which move with every
// request and reply: what the keyspace holds.
int64_t KeyspaceBytes(const RedisConn& c) {
  std::vector<int64_t> v = InfoInts(c.get(), "memory", {"used_memory", "mem_clients_normal"});
  return v[0] - v[1];
}

// Adds `n` members to the set `key`, pipelined in commands of 1,000 members.
void FillSet(const RedisConn& c, const std::string& key, int n) {
  int sent = 0;
  for (int i = 0; i < n; i += 1000) {
    std::vector<std::string> args = {"SADD", key};
    for (int j = i; j < std::min(n, i + 1000); ++j) args.push_back(StrCat("member:", j));
    std::vector<std::string_view> views(args.begin(), args.end());
    AppendCommand(c.get(), views);
    ++sent;
  }
  for (int i = 0; i < sent; ++i) ASSERT_NE(GetReply(c.get()), nullptr);
}

// Polls INFO until the lazyfree thread has nothing pending (true) or 20 s pass (false).
bool WaitLazyFreeIdle(const RedisConn& c) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (Info(c, "memory", "lazyfree_pending_objects") != 0) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

class MemoryTest : public ::testing::Test {
 protected:
  MemoryTest() : server_({"--shards", "3"}), c_(server_.Connect()) {}
  void SetUp() override {
    ASSERT_TRUE(server_.ok()) << server_.error();
    ASSERT_NE(c_, nullptr);
  }
  Reply Cmd(const std::vector<std::string_view>& args) { return Command(c_, args); }

  ServerProcess server_;
  RedisConn c_;
};

TEST_F(MemoryTest, UsageOfEveryTypeAndItsErrors) {
  Cmd({"SET", "str", "hello"});
  Cmd({"RPUSH", "list", "a", "b"});
  Cmd({"SADD", "set", "1", "2"});
  Cmd({"HSET", "hash", "f", "v"});
  Cmd({"ZADD", "zset", "1", "m"});
  for (std::string_view key : {"str", "list", "set", "hash", "zset"}) {
    Reply r = Cmd({"MEMORY", "USAGE", key});
    ASSERT_EQ(r->type, REDIS_REPLY_INTEGER) << key;
    EXPECT_GT(r->integer, 0) << key;
    EXPECT_EQ(Cmd({"MEMORY", "USAGE", key, "SAMPLES", "0"})->type, REDIS_REPLY_INTEGER);
  }
  EXPECT_THAT(Cmd({"MEMORY", "USAGE", "missing"}), IsNil());
  EXPECT_THAT(Cmd({"MEMORY", "USAGE", "missing", "SAMPLES", "2"}), IsNil());
  EXPECT_THAT(Cmd({"MEMORY", "USAGE", "str", "SAMPLES"}), IsError("ERR syntax error"));
  EXPECT_THAT(Cmd({"MEMORY", "USAGE", "str", "SAMPLES", "-1"}), IsError("ERR syntax error"));
  EXPECT_THAT(Cmd({"MEMORY", "USAGE", "str", "SAMPLES", "x"}),
              IsError("ERR value is not an integer or out of range"));
  EXPECT_THAT(Cmd({"MEMORY", "USAGE", "str", "FOO", "1"}), IsError("ERR syntax error"));
  EXPECT_THAT(Cmd({"MEMORY", "USAGE"}),
              IsError("ERR wrong number of arguments for 'memory|usage' command"));
  EXPECT_THAT(Cmd({"MEMORY"}), IsError("ERR wrong number of arguments for 'memory' command"));
  EXPECT_THAT(Cmd({"MEMORY", "FOO"}), IsError("ERR unknown subcommand 'FOO'. Try MEMORY HELP."));
  for (std::string_view sub : {"stats", "doctor", "purge", "malloc-stats", "help"}) {
    std::string upper(sub);
    EXPECT_THAT(Cmd({"MEMORY", upper, "x"}),
                IsError(StrCat("ERR wrong number of arguments for 'memory|", sub, "' command")));
  }
}

TEST_F(MemoryTest, UsageGrowsWithTheValueAndSamplesEstimateIt) {
  Cmd({"SET", "small", "x"});
  Cmd({"SET", "big", std::string(10000, 'x')});
  EXPECT_GT(Cmd({"MEMORY", "USAGE", "big"})->integer,
            Cmd({"MEMORY", "USAGE", "small"})->integer + 9000);
  // A large hash: every field counted vs five sampled, both about 1000 fields' worth.
  for (int i = 0; i < 1000; ++i) Cmd({"HSET", "h", StrCat("field:", i), "value-value"});
  int64_t all = Cmd({"MEMORY", "USAGE", "h", "SAMPLES", "0"})->integer;
  int64_t five = Cmd({"MEMORY", "USAGE", "h"})->integer;
  EXPECT_GT(all, 1000 * 20);
  EXPECT_NEAR(static_cast<double>(five), static_cast<double>(all), all * 0.25);
}

TEST_F(MemoryTest, StatsHasRedisFieldsInRedisOrder) {
  Cmd({"SET", "a", "1"});
  Cmd({"PEXPIRE", "a", "100000"});
  Reply r = Cmd({"MEMORY", "STATS"});
  ASSERT_EQ(r->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(r->elements % 2, 0u);
  std::vector<std::string> names;
  for (size_t i = 0; i < r->elements; i += 2) {
    ASSERT_EQ(r->element[i]->type, REDIS_REPLY_STRING);
    names.emplace_back(r->element[i]->str, r->element[i]->len);
    const redisReply* v = r->element[i + 1];
    if (names.back() == "db.0") {
      ASSERT_EQ(v->type, REDIS_REPLY_ARRAY);
      ASSERT_EQ(v->elements, 6u);
      EXPECT_EQ(std::string(v->element[0]->str), "overhead.hashtable.main");
      EXPECT_EQ(std::string(v->element[2]->str), "overhead.hashtable.expires");
      EXPECT_EQ(std::string(v->element[4]->str), "overhead.hashtable.slot-to-keys");
      EXPECT_GT(v->element[3]->integer, 0);  // one key has an expiry
    } else if (names.back().find("percentage") != std::string::npos ||
               names.back().find("ratio") != std::string::npos || names.back() == "fragmentation") {
      EXPECT_EQ(v->type, REDIS_REPLY_STRING) << names.back();  // a double, in RESP2
    } else {
      EXPECT_EQ(v->type, REDIS_REPLY_INTEGER) << names.back();
    }
  }
  EXPECT_THAT(names, ElementsAre("peak.allocated", "total.allocated", "startup.allocated",
                                 "replication.backlog", "clients.slaves", "clients.normal",
                                 "cluster.links", "aof.buffer", "lua.caches", "functions.caches",
                                 "db.0", "overhead.total", "keys.count", "keys.bytes-per-key",
                                 "dataset.bytes", "dataset.percentage", "peak.percentage",
                                 "allocator.allocated", "allocator.active", "allocator.resident",
                                 "allocator-fragmentation.ratio", "allocator-fragmentation.bytes",
                                 "allocator-rss.ratio", "allocator-rss.bytes", "rss-overhead.ratio",
                                 "rss-overhead.bytes", "fragmentation", "fragmentation.bytes"));
  EXPECT_EQ(r->element[25]->integer, 1);                      // keys.count
  EXPECT_GE(r->element[1]->integer, r->element[3]->integer);  // peak >= total
}

TEST_F(MemoryTest, DoctorPurgeMallocStatsHelp) {
  // A small instance: Redis's text for "too little memory to diagnose".
  EXPECT_THAT(Cmd({"MEMORY", "DOCTOR"}),
              IsBulk("Hi Sam, this instance is empty or is using very little memory, my issues "
                     "detector can't be used in these conditions. Please, leave for your mission "
                     "on Earth and fill it with some data. The new Sam and I will be back to our "
                     "programming as soon as I finished rebooting.\n"));
  EXPECT_THAT(Cmd({"MEMORY", "PURGE"}), IsStatus("OK"));
  Reply stats = Cmd({"MEMORY", "MALLOC-STATS"});
  ASSERT_EQ(stats->type, REDIS_REPLY_STRING);
  EXPECT_GT(stats->len, 0u);
  Reply help = Cmd({"MEMORY", "HELP"});
  ASSERT_EQ(help->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(help->elements, 14u);
  EXPECT_EQ(std::string(help->element[0]->str),
            "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
  EXPECT_EQ(std::string(help->element[13]->str), "    Prints this help.");
}

TEST_F(MemoryTest, DoctorFindsAPeakAfterABigDataSetIsGone) {
  if (!IsOmnibusServer(c_))
    GTEST_SKIP() << "redis-server's allocator keeps pages: not a fair check";
  // 40 MB of values, then most of it deleted: the peak is over 150% of what is used.
  for (int i = 0; i < 400; ++i) Cmd({"SET", StrCat("big:", i), std::string(100'000, 'x')});
  KeyspaceBytes(c_);  // INFO notes the peak
  for (int i = 0; i < 300; ++i) Cmd({"DEL", StrCat("big:", i)});
  Reply r = Cmd({"MEMORY", "DOCTOR"});
  ASSERT_EQ(r->type, REDIS_REPLY_STRING);
  std::string text(r->str, r->len);
  EXPECT_THAT(text, StartsWith("Sam, I detected a few issues in this Redis instance memory "
                               "implants:\n\n * Peak memory: In the past this instance used more "
                               "than 150% the memory that is currently using."));
  EXPECT_THAT(text, HasSubstr("I'm here to keep you safe, Sam. I want to help you.\n"));
}

TEST_F(MemoryTest, CountedMemoryReturnsToItsBaselineAndKeepsThePeak) {
  if (!IsOmnibusServer(c_)) GTEST_SKIP() << "exact counts are ours";
  int64_t base = KeyspaceBytes(c_);
  for (int i = 0; i < 1000; ++i) Cmd({"SET", StrCat("k:", i), std::string(1000, 'v')});
  FillSet(c_, "set", 5000);
  int64_t full = KeyspaceBytes(c_);
  EXPECT_GT(full - base, 1000 * 1000 + 5000 * 16);
  // MEMORY USAGE of every key adds up to what the keys added (record and container blocks;
  // the tables' bucket arrays are the rest).
  int64_t sum = Cmd({"MEMORY", "USAGE", "set", "SAMPLES", "0"})->integer;
  for (int i = 0; i < 1000; ++i) sum += Cmd({"MEMORY", "USAGE", StrCat("k:", i)})->integer;
  EXPECT_LE(sum, full - base);
  EXPECT_GT(sum, (full - base) * 9 / 10);
  EXPECT_THAT(Cmd({"FLUSHALL"}), IsStatus("OK"));
  EXPECT_EQ(KeyspaceBytes(c_), base);
  Reply stats = Cmd({"MEMORY", "STATS"});
  EXPECT_GE(stats->element[1]->integer, full);  // peak.allocated
}

TEST_F(MemoryTest, UnlinkFreesABigSetOnTheLazyFreeThread) {
  ASSERT_TRUE(WaitLazyFreeIdle(c_));
  Cmd({"SET", "anchor", "1"});
  int64_t freed0 = Info(c_, "memory", "lazyfreed_objects");
  int64_t base = KeyspaceBytes(c_);
  FillSet(c_, "{s}big", 1'000'000);
  FillSet(c_, "{s}small", 10);
  EXPECT_GT(KeyspaceBytes(c_) - base, 1'000'000 * 16);

  // A small value is freed at once, even by UNLINK.
  EXPECT_THAT(Cmd({"UNLINK", "{s}small"}), IsInt(1));
  EXPECT_EQ(Info(c_, "memory", "lazyfreed_objects"), freed0);
  auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(Cmd({"UNLINK", "{s}big"}), IsInt(1));
  auto took = std::chrono::steady_clock::now() - start;
  // The shard keeps serving while the set is freed.
  EXPECT_THAT(Cmd({"SET", "{s}after", "v"}), IsStatus("OK"));
  EXPECT_THAT(Cmd({"EXISTS", "{s}big"}), IsInt(0));
  ASSERT_TRUE(WaitLazyFreeIdle(c_));
  EXPECT_EQ(Info(c_, "memory", "lazyfreed_objects"), freed0 + 1);
  // Loose (a shared, possibly sanitized machine): the hand-off is a pointer. The proof that
  // the set was freed elsewhere is lazyfreed_objects, which only the background thread moves.
  EXPECT_LT(took, std::chrono::milliseconds(250));
  Cmd({"DEL", "{s}after"});
  int64_t after = KeyspaceBytes(c_);
  // Back to the baseline (redis-server's own buffers move a little; ours is exact).
  if (IsOmnibusServer(c_)) {
    EXPECT_EQ(after, base);
  } else {
    EXPECT_NEAR(static_cast<double>(after), static_cast<double>(base), 256 * 1024);
  }
}

TEST_F(MemoryTest, DelIsLazyOnlyUnderLazyfreeLazyUserDel) {
  ASSERT_TRUE(WaitLazyFreeIdle(c_));
  int64_t freed0 = Info(c_, "memory", "lazyfreed_objects");
  FillSet(c_, "a", 10'000);
  EXPECT_THAT(Cmd({"DEL", "a"}), IsInt(1));
  EXPECT_EQ(Info(c_, "memory", "lazyfreed_objects"), freed0);
  EXPECT_THAT(Cmd({"CONFIG", "SET", "lazyfree-lazy-user-del", "yes"}), IsStatus("OK"));
  EXPECT_THAT(Cmd({"CONFIG", "GET", "lazyfree-lazy-user-del"}),
              IsArray(ElementsAre("lazyfree-lazy-user-del", "yes")));
  FillSet(c_, "a", 10'000);
  EXPECT_THAT(Cmd({"DEL", "a"}), IsInt(1));
  ASSERT_TRUE(WaitLazyFreeIdle(c_));
  EXPECT_EQ(Info(c_, "memory", "lazyfreed_objects"), freed0 + 1);
  EXPECT_THAT(Cmd({"CONFIG", "SET", "lazyfree-lazy-user-del", "maybe"}),
              IsError("ERR CONFIG SET failed (possibly related to argument "
                      "'lazyfree-lazy-user-del') - argument must be 'yes' or 'no'"));
}

TEST_F(MemoryTest, OverwritesAreLazyUnderLazyfreeLazyServerDel) {
  ASSERT_TRUE(WaitLazyFreeIdle(c_));
  int64_t freed0 = Info(c_, "memory", "lazyfreed_objects");
  FillSet(c_, "{o}a", 10'000);
  EXPECT_THAT(Cmd({"SET", "{o}a", "v"}), IsStatus("OK"));  // freed at once by default
  EXPECT_EQ(Info(c_, "memory", "lazyfreed_objects"), freed0);
  EXPECT_THAT(Cmd({"CONFIG", "SET", "lazyfree-lazy-server-del", "yes"}), IsStatus("OK"));
  FillSet(c_, "{o}s", 10'000);
  EXPECT_THAT(Cmd({"SET", "{o}s", "v"}), IsStatus("OK"));  // an overwrite
  FillSet(c_, "{o}b", 10'000);
  FillSet(c_, "{o}c", 20'000);
  EXPECT_THAT(Cmd({"RENAME", "{o}b", "{o}c"}), IsStatus("OK"));  // the old {o}c goes
  FillSet(c_, "{o}d", 10'000);
  EXPECT_THAT(Cmd({"COPY", "{o}c", "{o}d", "REPLACE"}), IsInt(1));  // the old {o}d goes
  FillSet(c_, "{o}e", 10'000);
  EXPECT_THAT(Cmd({"SINTERSTORE", "{o}e", "{o}c", "{o}missing"}), IsInt(0));  // {o}e emptied
  ASSERT_TRUE(WaitLazyFreeIdle(c_));
  EXPECT_EQ(Info(c_, "memory", "lazyfreed_objects"), freed0 + 4);
  EXPECT_THAT(Cmd({"SCARD", "{o}c"}), IsInt(10'000));
  EXPECT_THAT(Cmd({"SCARD", "{o}d"}), IsInt(10'000));
}

TEST_F(MemoryTest, ExpiryIsLazyUnderLazyfreeLazyExpire) {
  ASSERT_TRUE(WaitLazyFreeIdle(c_));
  EXPECT_THAT(Cmd({"CONFIG", "SET", "lazyfree-lazy-expire", "yes"}), IsStatus("OK"));
  int64_t freed0 = Info(c_, "memory", "lazyfreed_objects");
  FillSet(c_, "e", 10'000);
  EXPECT_THAT(Cmd({"PEXPIRE", "e", "1"}), IsInt(1));
  // Gone on the next access at the latest (or by the active expire cycle).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (Cmd({"EXISTS", "e"})->integer != 0 && std::chrono::steady_clock::now() < deadline) {
  }
  ASSERT_TRUE(WaitLazyFreeIdle(c_));
  EXPECT_EQ(Info(c_, "memory", "lazyfreed_objects"), freed0 + 1);
}

TEST_F(MemoryTest, FlushAllAndFlushDbAsync) {
  ASSERT_TRUE(WaitLazyFreeIdle(c_));
  int64_t base = KeyspaceBytes(c_);
  int64_t freed0 = Info(c_, "memory", "lazyfreed_objects");
  for (int i = 0; i < 300; ++i) Cmd({"SET", StrCat("k", i), "v"});
  EXPECT_THAT(Cmd({"FLUSHALL", "ASYNC"}), IsStatus("OK"));
  EXPECT_THAT(Cmd({"DBSIZE"}), IsInt(0));
  ASSERT_TRUE(WaitLazyFreeIdle(c_));
  // Redis counts a flushed table as the keys it held.
  EXPECT_EQ(Info(c_, "memory", "lazyfreed_objects"), freed0 + 300);
  if (IsOmnibusServer(c_)) {
    EXPECT_LE(KeyspaceBytes(c_), base);
  }

  for (int i = 0; i < 50; ++i) Cmd({"SET", StrCat("k", i), "v"});
  EXPECT_THAT(Cmd({"FLUSHDB", "ASYNC"}), IsStatus("OK"));
  EXPECT_THAT(Cmd({"DBSIZE"}), IsInt(0));
  ASSERT_TRUE(WaitLazyFreeIdle(c_));
  EXPECT_EQ(Info(c_, "memory", "lazyfreed_objects"), freed0 + 350);

  // FLUSHALL SYNC and a plain FLUSHALL (lazyfree-lazy-user-flush no) free at once.
  for (int i = 0; i < 50; ++i) Cmd({"SET", StrCat("k", i), "v"});
  EXPECT_THAT(Cmd({"FLUSHALL", "SYNC"}), IsStatus("OK"));
  for (int i = 0; i < 50; ++i) Cmd({"SET", StrCat("k", i), "v"});
  EXPECT_THAT(Cmd({"FLUSHALL"}), IsStatus("OK"));
  EXPECT_EQ(Info(c_, "memory", "lazyfreed_objects"), freed0 + 350);
  // ... unless lazyfree-lazy-user-flush says otherwise.
  EXPECT_THAT(Cmd({"CONFIG", "SET", "lazyfree-lazy-user-flush", "yes"}), IsStatus("OK"));
  for (int i = 0; i < 50; ++i) Cmd({"SET", StrCat("k", i), "v"});
  EXPECT_THAT(Cmd({"FLUSHALL"}), IsStatus("OK"));
  ASSERT_TRUE(WaitLazyFreeIdle(c_));
  EXPECT_EQ(Info(c_, "memory", "lazyfreed_objects"), freed0 + 400);
  EXPECT_THAT(Cmd({"FLUSHALL", "FOO"}), IsError("ERR syntax error"));
}

TEST_F(MemoryTest, ResetStatClearsLazyfreedObjects) {
  FillSet(c_, "r", 1000);
  Cmd({"UNLINK", "r"});
  ASSERT_TRUE(WaitLazyFreeIdle(c_));
  EXPECT_GE(Info(c_, "memory", "lazyfreed_objects"), 1);
  EXPECT_THAT(Cmd({"CONFIG", "RESETSTAT"}), IsStatus("OK"));
  EXPECT_EQ(Info(c_, "memory", "lazyfreed_objects"), 0);
}

}  // namespace
}  // namespace omnibus::testing
