// Scripts (EVAL/EVALSHA) run atomically over every shard: concurrent transfer scripts between
// counters on different shards keep the sum, and readers never see a half-applied script;
// EVALSHA after SCRIPT LOAD (or after an EVAL of the same body) works whichever shard the
// keys live on, as client libraries' script objects expect.
#include <algorithm>
#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/server_process.h"

namespace omnibus::testing {
namespace {

constexpr std::string_view kTransfer =
    "local a = tonumber(redis.call('get', KEYS[1])) "
    "if a < tonumber(ARGV[1]) then return 0 end "
    "redis.call('decrby', KEYS[1], ARGV[1]) "
    "redis.call('incrby', KEYS[2], ARGV[1]) "
    "return 1";

constexpr std::string_view kSum =
    "local s = 0 for i, k in ipairs(KEYS) do s = s + tonumber(redis.call('get', k)) end "
    "return s";

class ScriptingTest : public ShardedServerTest {};

TEST_P(ScriptingTest, ConcurrentTransferScriptsKeepTheSum) {
  constexpr int kCounters = 8;
  constexpr int kWriters = 6;
  constexpr int kTransfers = 300;
  std::vector<std::string> keys = KeysOverAllShards("acct", kCounters, shards());
  RedisConn admin = server_->Connect();
  ASSERT_TRUE(admin);
  for (const std::string& k : keys) ASSERT_THAT(Command(admin, {"SET", k, "100"}), IsStatus("OK"));
  Reply loaded = Command(admin, {"SCRIPT", "LOAD", kTransfer});
  auto sha = StringOf(loaded.get());
  ASSERT_TRUE(sha && sha->size() == 40) << Describe(loaded);

  std::atomic<int> errors{0}, moved{0}, sums{0}, torn{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      RedisConn c = server_->Connect();
      if (!c) return void(++errors);
      std::mt19937 rng(static_cast<unsigned>(w) + 11u);
      for (int t = 0; t < kTransfers; ++t) {
        size_t from = rng() % kCounters;
        size_t to = (from + 1 + rng() % (kCounters - 1)) % kCounters;
        std::string amount = std::to_string(1 + rng() % 10);
        // Half by EVALSHA of the loaded script, half by EVAL of the body.
        Reply r = t % 2 == 0 ? Command(c, {"EVALSHA", *sha, "2", keys[from], keys[to], amount})
                             : Command(c, {"EVAL", kTransfer, "2", keys[from], keys[to], amount});
        if (!r || r->type != REDIS_REPLY_INTEGER) return void(++errors);
        moved += static_cast<int>(r->integer);
      }
    });
  }
  threads.emplace_back([&] {
    RedisConn c = server_->Connect();
    if (!c) return void(++errors);
    std::string n = std::to_string(kCounters);
    std::vector<std::string_view> args = {"EVAL", kSum, n};
    for (const std::string& k : keys) args.push_back(k);
    while (!done.load()) {
      Reply r = Command(c, args);
      if (!r || r->type != REDIS_REPLY_INTEGER) return void(++errors);
      ++sums;
      if (r->integer != 100 * kCounters) ++torn;
    }
  });
  for (int w = 0; w < kWriters; ++w) threads[static_cast<size_t>(w)].join();
  done = true;
  threads.back().join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(torn.load(), 0) << "of " << sums.load() << " sums read by a script";
  EXPECT_GT(moved.load(), 0);
  int64_t total = 0;
  for (const std::string& k : keys) {
    Reply r = Command(admin, {"GET", k});
    auto s = StringOf(r.get());
    ASSERT_TRUE(s);
    total += std::stoll(*s);
  }
  EXPECT_EQ(total, 100 * kCounters);
}

TEST_P(ScriptingTest, EvalCachesTheScriptForEvalsha) {
  RedisConn c = server_->Connect();
  ASSERT_TRUE(c);
  std::string body = "return redis.call('incr', KEYS[1])";
  Reply sha1 = Command(c, {"EVAL", "return redis.sha1hex(ARGV[1])", "0", body});
  auto sha = StringOf(sha1.get());
  ASSERT_TRUE(sha);
  EXPECT_THAT(Command(c, {"EVALSHA", *sha, "1", "x"}),
              IsErrorStartingWith("NOSCRIPT No matching script"));
  std::vector<std::string> keys = KeysOverAllShards("ctr", shards(), shards());
  for (const std::string& k : keys) EXPECT_THAT(Command(c, {"EVAL", body, "1", k}), IsInt(1));
  for (const std::string& k : keys) EXPECT_THAT(Command(c, {"EVALSHA", *sha, "1", k}), IsInt(2));
  Reply exists = Command(c, {"SCRIPT", "EXISTS", *sha});
  ASSERT_TRUE(exists && exists->type == REDIS_REPLY_ARRAY && exists->elements == 1)
      << Describe(exists);
  EXPECT_THAT(exists->element[0], IsInt(1));
  EXPECT_EQ(InfoField(c.get(), "memory", "number_of_cached_scripts"), 2);  // + sha1hex's
  EXPECT_GT(InfoField(c.get(), "memory", "used_memory_lua"), 0);
  EXPECT_THAT(Command(c, {"SCRIPT", "FLUSH"}), IsStatus("OK"));
  EXPECT_EQ(InfoField(c.get(), "memory", "number_of_cached_scripts"), 0);
  // Every shard's interpreter had compiled it; the flush reaches them all.
  for (const std::string& k : keys) {
    EXPECT_THAT(Command(c, {"EVALSHA", *sha, "1", k}),
                IsErrorStartingWith("NOSCRIPT No matching script"));
  }
  // SCRIPT LOAD (on one shard) makes it runnable on every shard.
  EXPECT_THAT(Command(c, {"SCRIPT", "LOAD", body}), IsBulk(*sha));
  for (const std::string& k : keys) EXPECT_THAT(Command(c, {"EVALSHA", *sha, "1", k}), IsInt(3));
}

// Undeclared keys (allowed outside cluster mode): a script runs on its declared keys' shard
// and, when it reaches another shard's key, runs again parked over every shard with what it
// changed undone, so its writes happen once.
TEST_P(ScriptingTest, UndeclaredKeysOnOtherShardsWorkAndWritesHappenOnce) {
  RedisConn c = server_->Connect();
  ASSERT_TRUE(c);
  std::vector<std::string> keys = KeysOverAllShards("u", std::max(2, shards()), shards());
  const std::string& far = keys.back();
  ASSERT_THAT(Command(c, {"SET", far, "far-value"}), IsStatus("OK"));
  // Writes a declared key, a new one and a list (created, pushed) on its own shard, then
  // reads a key it did not declare.
  constexpr std::string_view kScript =
      "redis.call('incr', KEYS[1]) "
      "redis.call('rpush', KEYS[1] .. '{l}', 'x') "
      "return {redis.call('get', KEYS[1]), redis.call('get', ARGV[1])}";
  for (int round = 1; round <= 3; ++round) {
    Reply r = Command(c, {"EVAL", kScript, "1", keys[0], far});
    ASSERT_TRUE(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) << Describe(r);
    EXPECT_THAT(r->element[0], IsBulk(std::to_string(round)));
    EXPECT_THAT(r->element[1], IsBulk("far-value"));
  }
  EXPECT_THAT(Command(c, {"LLEN", keys[0] + "{l}"}), IsInt(3));
  // Declaring no key at all: the same.
  EXPECT_THAT(Command(c, {"EVAL", "return redis.call('incr', ARGV[1])", "0", keys[0]}), IsInt(4));
  EXPECT_THAT(Command(c, {"EVAL", "return redis.call('incr', ARGV[1])", "0", far}),
              IsErrorStartingWith("ERR value is not an integer"));
}

// A change too big to undo (a list of thousands of elements) and then a key of another
// shard: the script fails there, as a script that raises an error does (what it did stays),
// and from then on the same script runs parked and works.
TEST_P(ScriptingTest, ReachingOutAfterABigChangeFailsOnceThenRunsParked) {
  if (shards() == 1) GTEST_SKIP() << "needs keys on two shards";
  RedisConn c = server_->Connect();
  ASSERT_TRUE(c);
  std::vector<std::string> keys = KeysOverAllShards("b", shards(), shards());
  std::vector<std::string_view> push = {"RPUSH", keys[0]};
  for (int i = 0; i < 2000; ++i) push.push_back("e");
  ASSERT_THAT(Command(c, push), IsInt(2000));
  constexpr std::string_view kScript =
      "redis.call('rpush', KEYS[1], 'f') return redis.call('incr', ARGV[1])";
  EXPECT_THAT(Command(c, {"EVAL", kScript, "1", keys[0], keys[1]}),
              IsErrorStartingWith("ERR Script reached a key of another shard"));
  EXPECT_THAT(Command(c, {"LLEN", keys[0]}), IsInt(2001));
  EXPECT_THAT(Command(c, {"EVAL", kScript, "1", keys[0], keys[1]}), IsInt(1));
  EXPECT_THAT(Command(c, {"LLEN", keys[0]}), IsInt(2002));
}

// Scripts that move amounts between keys they never declare, concurrently with readers of
// the same undeclared keys: every run that reaches out is undone and run again parked, so
// the sum never changes and no reader sees half a transfer.
TEST_P(ScriptingTest, UndeclaredTransfersKeepTheSum) {
  constexpr int kCounters = 6;
  std::vector<std::string> keys = KeysOverAllShards("und", kCounters, shards());
  RedisConn admin = server_->Connect();
  ASSERT_TRUE(admin);
  for (const std::string& k : keys) ASSERT_THAT(Command(admin, {"SET", k, "50"}), IsStatus("OK"));
  constexpr std::string_view kMove =
      "redis.call('decrby', ARGV[1], ARGV[3]) redis.call('incrby', ARGV[2], ARGV[3]) return 1";
  std::string sum_script =
      "local s = 0 for i, k in ipairs(ARGV) do "
      "s = s + tonumber(redis.call('get', k)) end return s";
  std::atomic<int> errors{0}, torn{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&, w] {
      RedisConn c = server_->Connect();
      if (!c) return void(++errors);
      std::mt19937 rng(static_cast<unsigned>(w) + 5u);
      for (int t = 0; t < 200; ++t) {
        size_t from = rng() % kCounters;
        size_t to = (from + 1 + rng() % (kCounters - 1)) % kCounters;
        Reply r = Command(c, {"EVAL", kMove, "0", keys[from], keys[to], "3"});
        if (!r || r->type != REDIS_REPLY_INTEGER) return void(++errors);
      }
    });
  }
  threads.emplace_back([&] {
    RedisConn c = server_->Connect();
    if (!c) return void(++errors);
    std::vector<std::string_view> args = {"EVAL", sum_script, "0"};
    for (const std::string& k : keys) args.push_back(k);
    while (!done.load()) {
      Reply r = Command(c, args);
      if (!r || r->type != REDIS_REPLY_INTEGER) return void(++errors);
      if (r->integer != 50 * kCounters) ++torn;
    }
  });
  for (int w = 0; w < 4; ++w) threads[static_cast<size_t>(w)].join();
  done = true;
  threads.back().join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(torn.load(), 0);
  int64_t total = 0;
  for (const std::string& k : keys) {
    auto s = StringOf(Command(admin, {"GET", k}).get());
    ASSERT_TRUE(s);
    total += std::stoll(*s);
  }
  EXPECT_EQ(total, 50 * kCounters);
}

// SCRIPT KILL stops a script that runs past busy-reply-threshold and has not written, with
// Redis's texts. SCRIPT KILL is answered by the reactor, so polling it never waits behind
// the looping script (a command queued on that shard before the threshold would: see
// docs/architecture.md, busy scripts).
TEST_P(ScriptingTest, BusyScriptIsKilled) {
  RedisConn admin = server_->Connect();
  ASSERT_TRUE(admin);
  ASSERT_THAT(Command(admin, {"CONFIG", "SET", "busy-reply-threshold", "50"}), IsStatus("OK"));
  EXPECT_THAT(Command(admin, {"CONFIG", "GET", "lua-time-limit"}),
              ::testing::Truly([](const Reply& r) {
                return r && r->elements == 2 && std::string(r->element[1]->str) == "50";
              }));
  EXPECT_THAT(Command(admin, {"SCRIPT", "KILL"}),
              IsError("NOTBUSY No scripts in execution right now."));
  Reply looped;
  std::thread runner([&] {
    RedisConn c = server_->Connect();
    if (c) looped = Command(c, {"EVAL", "local i = 0 while true do i = i + 1 end", "1", "k"});
  });
  Reply kill;
  ASSERT_TRUE(PollUntil(
      [&] {
        kill = Command(admin, {"SCRIPT", "KILL"});
        return !kill || kill->type != REDIS_REPLY_ERROR;
      },
      milliseconds(10000)));
  EXPECT_THAT(kill, IsStatus("OK"));
  runner.join();
  EXPECT_THAT(looped, IsErrorStartingWith("ERR Script killed by user with SCRIPT KILL..."));
  EXPECT_THAT(Command(admin, {"SET", "k", "after"}), IsStatus("OK"));
}

// A busy script that wrote cannot be killed (UNKILLABLE); meanwhile commands that need its
// shard get -BUSY, commands of other shards and those the reactor answers (PING) are
// served; it ends on its own.
TEST_P(ScriptingTest, BusyScriptThatWroteIsUnkillableAndOtherShardsAreServed) {
  RedisConn admin = server_->Connect();
  ASSERT_TRUE(admin);
  ASSERT_THAT(Command(admin, {"CONFIG", "SET", "busy-reply-threshold", "50"}), IsStatus("OK"));
  std::vector<std::string> keys = KeysOverAllShards("busy", std::max(2, shards()), shards());
  // Writes, then spins for 3 s of its own clock.
  constexpr std::string_view kScript =
      "redis.call('set', KEYS[1], 'written') "
      "local t = redis.call('time') local start = t[1] * 1000000 + t[2] "
      "while true do t = redis.call('time') "
      "if t[1] * 1000000 + t[2] - start > 3000000 then break end end "
      "return 'done'";
  Reply ran;
  std::thread runner([&] {
    RedisConn c = server_->Connect();
    if (c) ran = Command(c, {"EVAL", kScript, "1", keys[0]});
  });
  Reply kill;
  ASSERT_TRUE(PollUntil(
      [&] {
        kill = Command(admin, {"SCRIPT", "KILL"});
        return !kill || kill->type != REDIS_REPLY_ERROR ||
               std::string(kill->str) != "NOTBUSY No scripts in execution right now.";
      },
      milliseconds(10000)));
  EXPECT_THAT(kill, IsErrorStartingWith("UNKILLABLE Sorry the script already executed write "
                                        "commands against the dataset."));
  EXPECT_THAT(Command(admin, {"GET", keys[0]}),
              IsError("BUSY Redis is busy running a script. You can only call SCRIPT KILL or "
                      "SHUTDOWN NOSAVE."));
  EXPECT_THAT(Command(admin, {"PING"}), IsStatus("PONG"));
  if (shards() > 1) {
    EXPECT_THAT(Command(admin, {"SET", keys[1], "v"}), IsStatus("OK"));  // another shard
    EXPECT_THAT(Command(admin, {"GET", keys[1]}), IsBulk("v"));
  }
  runner.join();
  EXPECT_THAT(ran, IsBulk("done"));
  EXPECT_THAT(Command(admin, {"GET", keys[0]}), IsBulk("written"));
}

INSTANTIATE_TEST_SUITE_P(Shards, ScriptingTest, ::testing::Values(1, 3), ShardsName);

}  // namespace
}  // namespace omnibus::testing
