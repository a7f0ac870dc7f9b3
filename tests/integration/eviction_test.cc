// maxmemory and eviction (issue 13, part 2) against the real binary: no eviction below the
// limit, -OOM under noeviction (commands, MULTI, scripts), which keys each policy takes
// (volatile-* only keys with a TTL, volatile-ttl the soonest to expire, LRU the idle ones,
// LFU the rarely used ones), evictions as key events (notifications, WATCH), the budget the
// shards share, and our allkeys-tinylfu's scan resistance. Limits are set relative to the
// server's own used_memory, so the Redis-policy tests also pass against redis-server
// (OMNIBUS_TEST_SERVER=tests/testing/redis_as_omnibus.sh).
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/server_process.h"

namespace omnibus::testing {
namespace {

constexpr char kOom[] = "OOM command not allowed when used memory > 'maxmemory'.";

class EvictionTest : public ShardedServerTest {
 protected:
  void SetUp() override {
    ShardedServerTest::SetUp();
    if (HasFatalFailure()) return;
    conn_ = server_->Connect();
    ASSERT_TRUE(conn_);
  }

  // What maxmemory is compared with, in Redis and here: used_memory less what is not counted
  // for eviction (Omnibus: the client buffers; Redis: replication and AOF buffers).
  int64_t Used() {
    std::vector<int64_t> v =
        InfoInts(conn_.get(), "memory", {"used_memory", "mem_not_counted_for_evict"});
    return v[0] - v[1];
  }
  int64_t Evicted() { return InfoField(conn_.get(), "stats", "evicted_keys"); }
  int64_t DbSize() {
    Reply r = Command(conn_, {"DBSIZE"});
    return r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
  }
  void Config(std::string_view name, std::string_view value) {
    ASSERT_THAT(Command(conn_, {"CONFIG", "SET", name, value}), IsStatus("OK")) << name;
  }
  // maxmemory = what the server uses now + `room`.
  void LimitTo(int64_t room) { Config("maxmemory", std::to_string(Used() + room)); }

  // SETs prefix0..prefix{n-1} with `size`-byte values (and a TTL of ttl_s seconds when > 0),
  // pipelined; returns how many were answered +OK.
  int Fill(const std::string& prefix, int n, size_t size, int ttl_s = 0) {
    std::string value(size, 'v');
    std::string ttl = std::to_string(ttl_s);
    for (int i = 0; i < n; ++i) {
      std::string key = prefix + std::to_string(i);
      if (ttl_s > 0) {
        AppendCommand(conn_.get(), {"SET", key, value, "EX", ttl});
      } else {
        AppendCommand(conn_.get(), {"SET", key, value});
      }
    }
    int ok = 0;
    for (int i = 0; i < n; ++i) {
      Reply r = GetReply(conn_.get());
      if (r && r->type == REDIS_REPLY_STATUS) ++ok;
    }
    return ok;
  }
  int CountExisting(const std::string& prefix, int n) {
    int found = 0;
    for (int i = 0; i < n; ++i) AppendCommand(conn_.get(), {"EXISTS", prefix + std::to_string(i)});
    for (int i = 0; i < n; ++i) {
      Reply r = GetReply(conn_.get());
      if (r && r->type == REDIS_REPLY_INTEGER) found += static_cast<int>(r->integer);
    }
    return found;
  }
  // Reads every key prefix0..prefix{n-1} `times` times (pipelined).
  void Read(const std::string& prefix, int n, int times = 1) {
    for (int t = 0; t < times; ++t) {
      for (int i = 0; i < n; ++i) AppendCommand(conn_.get(), {"GET", prefix + std::to_string(i)});
      for (int i = 0; i < n; ++i) GetReply(conn_.get());
    }
  }
  // Waits until the server's LRU clock has moved past the stamp of `key` (its resolution is a
  // second, in Redis and here).
  bool WaitIdle(const std::string& key) {
    return PollUntil(
        [&] {
          Reply r = Command(conn_, {"OBJECT", "IDLETIME", key});
          return r && r->type == REDIS_REPLY_INTEGER && r->integer >= 1;
        },
        milliseconds(5000));
  }

  RedisConn conn_;
};

TEST_P(EvictionTest, NothingIsEvictedBelowMaxmemory) {
  Config("maxmemory-policy", "allkeys-lru");
  LimitTo(20 << 20);
  EXPECT_EQ(Fill("k", 2000, 1000), 2000);
  EXPECT_EQ(DbSize(), 2000);
  EXPECT_EQ(Evicted(), 0);
}

TEST_P(EvictionTest, NoevictionRefusesWritesAndKeepsServingReads) {
  ASSERT_EQ(Fill("k", 100, 1000), 100);
  Config("maxmemory", "1");  // below anything
  EXPECT_THAT(Command(conn_, {"SET", "x", "y"}), IsError(kOom));
  EXPECT_THAT(Command(conn_, {"LPUSH", "l", "a"}), IsError(kOom));
  EXPECT_THAT(Command(conn_, {"INCR", "k1"}), IsError(kOom));
  // Reads and commands that only free memory still run.
  EXPECT_THAT(Command(conn_, {"GET", "k1"}), IsBulk(std::string(1000, 'v')));
  EXPECT_THAT(Command(conn_, {"DEL", "k2"}), IsInt(1));
  EXPECT_THAT(Command(conn_, {"EXPIRE", "k3", "100"}), IsInt(1));
  // MULTI refuses to queue anything and EXEC aborts.
  EXPECT_THAT(Command(conn_, {"MULTI"}), IsStatus("OK"));
  EXPECT_THAT(Command(conn_, {"GET", "k1"}), IsError(kOom));
  EXPECT_THAT(Command(conn_, {"EXEC"}),
              IsError("EXECABORT Transaction discarded because of previous errors."));
  // Scripts: a compat script runs, its deny-oom calls fail; one with flags that may write is
  // refused before it runs; no-writes and allow-oom run.
  Reply r = Command(conn_, {"EVAL", "return redis.call('set','a','b')", "0"});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->type, REDIS_REPLY_ERROR);
  EXPECT_THAT(std::string(r->str), ::testing::StartsWith(kOom));
  EXPECT_THAT(Command(conn_, {"EVAL", "return redis.call('get','k1')", "0"}),
              IsBulk(std::string(1000, 'v')));
  EXPECT_THAT(Command(conn_, {"EVAL", "#!lua\nreturn 1", "0"}), IsError(kOom));
  EXPECT_THAT(Command(conn_, {"EVAL", "#!lua flags=no-writes\nreturn 1", "0"}), IsInt(1));
  EXPECT_THAT(
      Command(conn_, {"EVAL", "#!lua flags=allow-oom\nreturn redis.call('set','a','b')", "0"}),
      IsStatus("OK"));
  EXPECT_EQ(Evicted(), 0);
  EXPECT_EQ(DbSize(), 100);  // 100 - k2 + a
  Config("maxmemory", "0");
  EXPECT_THAT(Command(conn_, {"SET", "x", "y"}), IsStatus("OK"));
}

TEST_P(EvictionTest, AllkeysLruKeepsWhatWasUsedRecently) {
  Config("maxmemory-policy", "allkeys-lru");
  Config("maxmemory-samples", "10");
  ASSERT_EQ(Fill("cold", 1000, 1000), 1000);
  ASSERT_EQ(Fill("hot", 100, 1000), 100);
  // Every cold key's stamp (the last one written included) is a second old: the hot keys
  // read now are younger than all of them.
  ASSERT_TRUE(WaitIdle("cold999"));
  Read("hot", 100);
  LimitTo(0);
  ASSERT_EQ(Fill("new", 300, 1000), 300);  // every SET must make room
  EXPECT_GT(Evicted(), 100);
  EXPECT_EQ(CountExisting("hot", 100), 100);
  EXPECT_LT(CountExisting("cold", 1000), 1000 - 100);
}

TEST_P(EvictionTest, AllkeysLfuKeepsWhatIsUsedOften) {
  Config("maxmemory-policy", "allkeys-lfu");
  // No decay: a wall-clock minute turning over mid-test takes one off every counter (as in
  // Redis), which can bring a barely-read key down to a new key's and make the test flaky.
  Config("lfu-decay-time", "0");
  ASSERT_EQ(Fill("rare", 1000, 1000), 1000);
  ASSERT_EQ(Fill("often", 100, 1000), 100);
  Read("often", 100, 20);
  Reply f = Command(conn_, {"OBJECT", "FREQ", "often1"});
  ASSERT_TRUE(f && f->type == REDIS_REPLY_INTEGER) << Describe(f);
  EXPECT_GT(f->integer, 5);  // LFU_INIT_VAL, raised by the reads
  LimitTo(0);
  ASSERT_EQ(Fill("new", 300, 1000), 300);
  EXPECT_GT(Evicted(), 100);
  EXPECT_EQ(CountExisting("often", 100), 100);
}

TEST_P(EvictionTest, VolatilePoliciesOnlyEvictKeysWithATtl) {
  for (const char* policy : {"volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"}) {
    SCOPED_TRACE(policy);
    ASSERT_THAT(Command(conn_, {"FLUSHALL"}), IsStatus("OK"));
    Config("maxmemory", "0");
    Config("maxmemory-policy", policy);
    ASSERT_EQ(Fill("keep", 500, 1000), 500);
    ASSERT_EQ(Fill("ttl", 200, 1000, 1000), 200);
    LimitTo(0);
    // Writes take room from keys with a TTL until there are none left, then fail.
    int ok = Fill("new", 400, 1000);
    EXPECT_GT(ok, 100);
    EXPECT_LT(ok, 400);
    EXPECT_EQ(CountExisting("keep", 500), 500);
    EXPECT_LT(CountExisting("ttl", 200), 20);
    EXPECT_THAT(Command(conn_, {"SET", "more", std::string(1000, 'v')}), IsError(kOom));
  }
}

TEST_P(EvictionTest, VolatileTtlTakesTheSoonestToExpire) {
  Config("maxmemory-policy", "volatile-ttl");
  Config("maxmemory-samples", "10");
  ASSERT_EQ(Fill("soon", 200, 1000, 1000), 200);
  ASSERT_EQ(Fill("late", 200, 1000, 100000), 200);
  LimitTo(0);
  ASSERT_EQ(Fill("new", 150, 1000), 150);
  // Sampled, so approximate (redis-server too takes the odd late key); and each shard evicts
  // its own keys: one whose soon-to-expire keys ran out takes its own later ones before
  // another shard's sooner ones.
  EXPECT_GE(CountExisting("late", 200), 190);
  EXPECT_LT(CountExisting("soon", 200), 200 - 100);
}

TEST_P(EvictionTest, AllkeysRandomHoldsTheLimit) {
  Config("maxmemory-policy", "allkeys-random");
  ASSERT_EQ(Fill("a", 1000, 1000), 1000);
  LimitTo(0);
  const int64_t limit = Used();
  ASSERT_EQ(Fill("b", 1000, 1000), 1000);
  EXPECT_GT(Evicted(), 500);
  // Room is made before each write: used memory ends near the limit, never far above (with
  // several shards, one below its share writes while those above theirs evict).
  EXPECT_TRUE(PollUntil([&] { return Used() < limit + 64 * 1024; }, milliseconds(5000)))
      << Used() << " " << limit;
}

TEST_P(EvictionTest, EvictionIsAKeyEvent) {
  Config("maxmemory-policy", "allkeys-random");
  Config("notify-keyspace-events", "Ee");
  RedisConn sub = server_->Connect();
  ASSERT_TRUE(sub);
  ASSERT_TRUE(Command(sub, {"SUBSCRIBE", "__keyevent@0__:evicted"}));
  ASSERT_EQ(Fill("k", 50, 1000), 50);
  // A WATCHed key that is evicted aborts the transaction.
  RedisConn watcher = server_->Connect();
  ASSERT_TRUE(watcher);
  for (int i = 0; i < 50; ++i) {
    ASSERT_THAT(Command(watcher, {"WATCH", "k" + std::to_string(i)}), IsStatus("OK"));
  }
  LimitTo(0);
  ASSERT_EQ(Fill("new", 100, 1000), 100);
  const int64_t evicted = Evicted();
  ASSERT_GT(evicted, 0);
  // One "evicted" message per evicted key.
  std::vector<std::string> keys;
  for (int64_t i = 0; i < evicted; ++i) {
    Reply m = GetReply(sub.get());
    ASSERT_TRUE(m && m->type == REDIS_REPLY_ARRAY && m->elements == 3) << Describe(m);
    keys.emplace_back(m->element[2]->str, m->element[2]->len);
  }
  int evicted_watched = 0;
  for (const std::string& k : keys) {
    if (k.size() > 1 && k[0] == 'k') ++evicted_watched;
    EXPECT_THAT(Command(conn_, {"EXISTS", k}), IsInt(0)) << k;
  }
  Config("maxmemory", "0");  // MULTI must not be refused for memory now
  ASSERT_THAT(Command(watcher, {"MULTI"}), IsStatus("OK"));
  ASSERT_THAT(Command(watcher, {"PING"}), IsStatus("QUEUED"));
  Reply exec = Command(watcher, {"EXEC"});
  if (evicted_watched > 0) {
    EXPECT_THAT(exec, IsNil());
  } else {
    EXPECT_TRUE(exec && exec->type == REDIS_REPLY_ARRAY);
  }
}

TEST_P(EvictionTest, ConfigNamesAndErrorsAsRedis) {
  EXPECT_THAT(Command(conn_, {"CONFIG", "SET", "maxmemory-policy", "bogus"}),
              IsErrorStartingWith("ERR CONFIG SET failed (possibly related to argument "
                                  "'maxmemory-policy') - argument(s) must be one of the "
                                  "following: volatile-lru, volatile-lfu, volatile-random, "
                                  "volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, "
                                  "noeviction"));
  EXPECT_THAT(Command(conn_, {"CONFIG", "SET", "maxmemory-samples", "0"}),
              IsError("ERR CONFIG SET failed (possibly related to argument 'maxmemory-samples') "
                      "- argument must be between 1 and 2147483647 inclusive"));
  EXPECT_THAT(Command(conn_, {"CONFIG", "SET", "maxmemory", "-1"}),
              IsError("ERR CONFIG SET failed (possibly related to argument 'maxmemory') - "
                      "argument must be a memory value"));
  Config("maxmemory", "100mb");
  Reply r = Command(conn_, {"CONFIG", "GET", "maxmemory"});
  ASSERT_TRUE(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
  EXPECT_STREQ(r->element[1]->str, "104857600");
  EXPECT_EQ(InfoField(conn_.get(), "memory", "maxmemory"), 104857600);
  Config("maxmemory-policy", "ALLKEYS-LFU");
  r = Command(conn_, {"CONFIG", "GET", "maxmemory-policy"});
  ASSERT_TRUE(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
  EXPECT_STREQ(r->element[1]->str, "allkeys-lfu");
  // OBJECT IDLETIME and FREQ answer by policy.
  ASSERT_THAT(Command(conn_, {"SET", "k", "v"}), IsStatus("OK"));
  EXPECT_THAT(
      Command(conn_, {"OBJECT", "IDLETIME", "k"}),
      IsErrorStartingWith("ERR An LFU maxmemory policy is selected, idle time not tracked."));
  Config("maxmemory-policy", "allkeys-lru");
  EXPECT_THAT(Command(conn_, {"OBJECT", "FREQ", "k"}),
              IsErrorStartingWith("ERR An LFU maxmemory policy is not selected"));
}

INSTANTIATE_TEST_SUITE_P(Shards, EvictionTest, ::testing::Values(1, 3), ShardsName);

// Ours only: the budget is shared, so one busy shard may use what the others leave, and
// allkeys-tinylfu keeps popular keys through a scan.
class OmnibusEvictionTest : public EvictionTest {};

TEST_P(OmnibusEvictionTest, OneBusyShardUsesTheWholeBudget) {
  Config("maxmemory-policy", "allkeys-lru");
  const int64_t limit = 4 << 20;
  Config("maxmemory", std::to_string(limit));
  // Every key on one shard ({tag}): with a fixed share per shard it could hold only 1/N.
  for (int round = 0; round < 10; ++round) {
    ASSERT_EQ(Fill("{one}k" + std::to_string(round) + "_", 1000, 1000), 1000);
  }
  EXPECT_GT(Evicted(), 0);
  EXPECT_GT(Used(), limit * 3 / 4);
  EXPECT_LE(Used(), limit + 64 * 1024);
}

class SharedBudgetTest : public EvictionTest {};

TEST_P(SharedBudgetTest, ShardsOverTheirShareMakeRoomForOthers) {
  Config("maxmemory-policy", "allkeys-lru");
  const int64_t limit = 4 << 20;
  Config("maxmemory", std::to_string(limit));
  // One shard fills the whole budget...
  for (int round = 0; round < 6; ++round) {
    ASSERT_EQ(Fill("{one}k" + std::to_string(round) + "_", 1000, 1000), 1000);
  }
  // ...then writes to the other shards take room from it, not from themselves.
  const int keys = 1200;  // well within the other shards' shares
  std::vector<std::string> others;
  for (int i = 0; others.size() < keys; ++i) {
    std::string k = "other" + std::to_string(i);
    if (KeyShard(k, shards()) != KeyShard("{one}", shards())) others.push_back(k);
  }
  std::string value(1000, 'v');
  for (const std::string& k : others) AppendCommand(conn_.get(), {"SET", k, value});
  for (size_t i = 0; i < others.size(); ++i) {
    Reply r = GetReply(conn_.get());
    ASSERT_THAT(r, IsStatus("OK"));
  }
  ASSERT_TRUE(PollUntil([&] { return Used() <= limit + 64 * 1024; }, milliseconds(5000))) << Used();
  int kept = 0;
  for (const std::string& k : others) {
    Reply r = Command(conn_, {"EXISTS", k});
    if (r && r->integer == 1) ++kept;
  }
  // The others stay within their share (limit / shards) and keep nearly all of their keys.
  EXPECT_GT(kept, keys * 9 / 10);
}

INSTANTIATE_TEST_SUITE_P(Shards, SharedBudgetTest, ::testing::Values(2, 3), ShardsName);

TEST_P(OmnibusEvictionTest, TinyLfuKeepsPopularKeysThroughAScan) {
  Config("maxmemory-policy", "allkeys-tinylfu");
  ASSERT_EQ(Fill("hot", 500, 1000), 500);
  LimitTo(600 * 1100);  // room for the hot set and a little more
  Read("hot", 500, 5);
  // A scan of one-time keys, cache-aside: GET (miss), then SET.
  for (int i = 0; i < 3000; ++i) {
    std::string k = "scan" + std::to_string(i);
    AppendCommand(conn_.get(), {"GET", k});
    AppendCommand(conn_.get(), {"SET", k, std::string(1000, 'v')});
  }
  for (int i = 0; i < 6000; ++i) GetReply(conn_.get());
  EXPECT_GT(Evicted(), 2000);
  EXPECT_GT(CountExisting("hot", 500), 450);
  // The same with allkeys-lru loses most of the hot set (what the policy is for).
  Config("maxmemory-policy", "allkeys-lru");
  for (int i = 3000; i < 6000; ++i) {
    std::string k = "scan" + std::to_string(i);
    AppendCommand(conn_.get(), {"SET", k, std::string(1000, 'v')});
  }
  for (int i = 3000; i < 6000; ++i) GetReply(conn_.get());
  EXPECT_LT(CountExisting("hot", 500), 250);
}

INSTANTIATE_TEST_SUITE_P(Shards, OmnibusEvictionTest, ::testing::Values(1, 3), ShardsName);

}  // namespace
}  // namespace omnibus::testing
