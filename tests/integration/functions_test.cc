// Functions (FUNCTION LOAD/DUMP/RESTORE, FCALL) through the real server: libraries are on
// every shard; FUNCTION DUMP payloads go both ways between omnibus and a real redis-server
// 7.0 (Redis LZF-compresses the code, we do not; each reads the other's); concurrent
// transfer functions between counters on different shards keep the sum, and readers never
// see half of one.
#include <stdlib.h>

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

using ::testing::UnorderedElementsAre;

constexpr std::string_view kBank =
    "#!lua name=bank\n"
    "redis.register_function('transfer', function(keys, args)\n"
    "  local a = tonumber(redis.call('get', keys[1]))\n"
    "  if a < tonumber(args[1]) then return 0 end\n"
    "  redis.call('decrby', keys[1], args[1])\n"
    "  redis.call('incrby', keys[2], args[1])\n"
    "  return 1\n"
    "end)\n"
    "redis.register_function{function_name='sum', flags={'no-writes'}, callback=function(keys)\n"
    "  local s = 0\n"
    "  for _, k in ipairs(keys) do s = s + tonumber(redis.call('get', k)) end\n"
    "  return s\n"
    "end}\n";

class FunctionsTest : public ShardedServerTest {};

// Starts Debian's redis-server (the contract) through ServerProcess, or null when absent.
std::unique_ptr<ServerProcess> StartRedis() {
  const char* redis = "/usr/bin/redis-server";
  if (access(redis, X_OK) != 0) return nullptr;
  const char* before = getenv("OMNIBUS_TEST_SERVER");
  std::string saved = before != nullptr ? before : "";
  setenv("OMNIBUS_TEST_SERVER", redis, 1);
  auto server = std::make_unique<ServerProcess>(
      std::vector<std::string>{"--save", "", "--appendonly", "no", "--daemonize", "no"});
  if (before != nullptr) {
    setenv("OMNIBUS_TEST_SERVER", saved.c_str(), 1);
  } else {
    unsetenv("OMNIBUS_TEST_SERVER");
  }
  return server;
}

// The library names FUNCTION LIST reports.
std::vector<std::string> LibraryNames(const RedisConn& c) {
  std::vector<std::string> names;
  Reply r = Command(c, {"FUNCTION", "LIST"});
  if (!r || r->type != REDIS_REPLY_ARRAY) return {"<bad reply: " + Describe(r) + ">"};
  for (size_t i = 0; i < r->elements; ++i) {
    const redisReply* lib = r->element[i];
    if (lib->type != REDIS_REPLY_ARRAY || lib->elements < 2) return {"<bad library>"};
    names.emplace_back(lib->element[1]->str, lib->element[1]->len);
  }
  return names;
}

TEST_P(FunctionsTest, LibrariesAreOnEveryShard) {
  RedisConn c = server_->Connect();
  ASSERT_TRUE(c);
  EXPECT_EQ(InfoInt(c.get(), "memory", "number_of_functions"), 0);
  EXPECT_THAT(Command(c, {"FUNCTION", "LOAD", kBank}), IsBulk("bank"));
  EXPECT_EQ(InfoInt(c.get(), "memory", "number_of_functions"), 2);
  EXPECT_EQ(InfoInt(c.get(), "memory", "number_of_libraries"), 1);
  EXPECT_GT(InfoInt(c.get(), "memory", "used_memory_functions").value_or(0),
            static_cast<int64_t>(kBank.size()));
  std::vector<std::string> keys = KeysOverAllShards("acct", shards(), shards());
  for (const std::string& k : keys) ASSERT_THAT(Command(c, {"SET", k, "10"}), IsStatus("OK"));
  // One declared key on each shard: the function runs wherever that is.
  for (const std::string& k : keys) EXPECT_THAT(Command(c, {"FCALL_RO", "sum", "1", k}), IsInt(10));
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::string& next = keys[(i + 1) % keys.size()];
    EXPECT_THAT(Command(c, {"FCALL", "transfer", "2", keys[i], next, "3"}), IsInt(1));
  }
  std::string n = std::to_string(keys.size());
  std::vector<std::string_view> sum_all = {"FCALL", "sum", n};
  for (const std::string& k : keys) sum_all.push_back(k);
  EXPECT_THAT(Command(c, sum_all), IsInt(10 * static_cast<int64_t>(keys.size())));
  EXPECT_THAT(Command(c, {"FCALL_RO", "transfer", "2", keys[0], keys[0], "1"}),
              IsError("ERR Can not execute a script with write flag using *_ro command."));
  // SCRIPT FLUSH leaves libraries alone, FUNCTION FLUSH leaves scripts alone.
  Reply sha = Command(c, {"SCRIPT", "LOAD", "return 1"});
  ASSERT_TRUE(StringOf(sha.get()));
  EXPECT_THAT(Command(c, {"SCRIPT", "FLUSH"}), IsStatus("OK"));
  EXPECT_THAT(Command(c, sum_all), IsInt(10 * static_cast<int64_t>(keys.size())));
  ASSERT_THAT(Command(c, {"SCRIPT", "LOAD", "return 1"}), IsBulk(*StringOf(sha.get())));
  EXPECT_THAT(Command(c, {"FUNCTION", "FLUSH"}), IsStatus("OK"));
  Reply exists = Command(c, {"SCRIPT", "EXISTS", *StringOf(sha.get())});
  ASSERT_TRUE(exists && exists->type == REDIS_REPLY_ARRAY && exists->elements == 1);
  EXPECT_THAT(exists->element[0], IsInt(1));
  for (const std::string& k : keys) {
    EXPECT_THAT(Command(c, {"FCALL", "sum", "1", k}), IsError("ERR Function not found"));
  }
  EXPECT_EQ(InfoInt(c.get(), "memory", "number_of_functions"), 0);
  Reply stats = Command(c, {"FUNCTION", "STATS"});
  ASSERT_TRUE(stats && stats->type == REDIS_REPLY_ARRAY && stats->elements == 4) << Describe(stats);
  EXPECT_THAT(stats->element[1], IsNil());
  EXPECT_EQ(Describe(stats->element[3]),
            "[\"LUA\", [\"libraries_count\", (integer) 0, \"functions_count\", (integer) 0]]");
}

// A function that changes its declared key and then reaches a key of another shard is undone
// and run again over every shard: its change happens once.
TEST_P(FunctionsTest, ReachingAnUndeclaredKeyRunsOnce) {
  RedisConn c = server_->Connect();
  ASSERT_TRUE(c);
  ASSERT_THAT(Command(c, {"FUNCTION", "LOAD",
                          "#!lua name=reach\n"
                          "redis.register_function('reach', function(keys, args)\n"
                          "  local n = redis.call('incr', keys[1])\n"
                          "  local other = redis.call('get', args[1])\n"
                          "  return {n, other}\n"
                          "end)"}),
              IsBulk("reach"));
  // For each shard: a declared key there and an undeclared one on the next shard.
  auto key_on = [](int shard, int n, const std::string& prefix) {
    for (int i = 0;; ++i) {
      std::string k = prefix + std::to_string(i);
      if (KeyShard(k, n) == shard) return k;
    }
  };
  for (int sh = 0; sh < shards(); ++sh) {
    std::string declared = key_on(sh, shards(), "declared");
    std::string other = key_on((sh + 1) % shards(), shards(), "other");
    ASSERT_THAT(Command(c, {"SET", other, "there"}), IsStatus("OK"));
    for (int round = 1; round <= 3; ++round) {
      EXPECT_THAT(Command(c, {"FCALL", "reach", "1", declared, other}),
                  IsArray(::testing::ElementsAre(std::to_string(round), "there")));
    }
    EXPECT_THAT(Command(c, {"GET", declared}), IsBulk("3"));
  }
}

TEST_P(FunctionsTest, DumpAndRestoreBothWaysWithRedis) {
  std::unique_ptr<ServerProcess> redis = StartRedis();
  if (redis == nullptr) GTEST_SKIP() << "no /usr/bin/redis-server";
  ASSERT_TRUE(redis->ok()) << redis->error();
  RedisConn r = redis->Connect();
  RedisConn o = server_->Connect();
  ASSERT_TRUE(r && o);

  // Ours to Redis: plain strings, one of them over 64 bytes (two-byte RDB length).
  std::string big = "#!lua name=big\n";
  for (int i = 0; i < 40; ++i) {
    big += "redis.register_function('big" + std::to_string(i) + "', function(keys, args) return " +
           std::to_string(i) + " end)\n";
  }
  ASSERT_THAT(Command(o, {"FUNCTION", "LOAD", kBank}), IsBulk("bank"));
  ASSERT_THAT(Command(o, {"FUNCTION", "LOAD", big}), IsBulk("big"));
  Reply ours = Command(o, {"FUNCTION", "DUMP"});
  auto our_payload = StringOf(ours.get());
  ASSERT_TRUE(our_payload) << Describe(ours);
  EXPECT_THAT(Command(r, {"FUNCTION", "RESTORE", *our_payload}), IsStatus("OK"));
  EXPECT_THAT(LibraryNames(r), UnorderedElementsAre("bank", "big"));
  EXPECT_THAT(Command(r, {"FCALL", "big39", "0"}), IsInt(39));
  ASSERT_THAT(Command(r, {"SET", "a", "5"}), IsStatus("OK"));
  EXPECT_THAT(Command(r, {"FCALL", "sum", "1", "a"}), IsInt(5));

  // Redis's to ours: its payload has LZF-compressed code.
  ASSERT_THAT(Command(r, {"FUNCTION", "LOAD",
                          "#!lua name=fromredis\nredis.register_function('fromredis', "
                          "function(keys, args) return 'from redis ' .. #keys end)"}),
              IsBulk("fromredis"));
  Reply theirs = Command(r, {"FUNCTION", "DUMP"});
  auto their_payload = StringOf(theirs.get());
  ASSERT_TRUE(their_payload) << Describe(theirs);
  EXPECT_THAT(Command(o, {"FUNCTION", "RESTORE", *their_payload}),
              IsError("ERR Library bank already exists"));
  EXPECT_THAT(Command(o, {"FUNCTION", "RESTORE", *their_payload, "FLUSH"}), IsStatus("OK"));
  EXPECT_THAT(LibraryNames(o), UnorderedElementsAre("bank", "big", "fromredis"));
  std::vector<std::string> keys = KeysOverAllShards("k", shards(), shards());
  for (const std::string& k : keys) {
    EXPECT_THAT(Command(o, {"FCALL", "fromredis", "1", k}), IsBulk("from redis 1"));
    EXPECT_THAT(Command(o, {"FCALL", "big0", "1", k}), IsInt(0));
  }
  // And back again: Redis restores what we dump of what it dumped.
  Reply again = Command(o, {"FUNCTION", "DUMP"});
  auto again_payload = StringOf(again.get());
  ASSERT_TRUE(again_payload);
  EXPECT_THAT(Command(r, {"FUNCTION", "RESTORE", *again_payload, "REPLACE"}), IsStatus("OK"));
  EXPECT_THAT(Command(r, {"FCALL", "fromredis", "0"}), IsBulk("from redis 0"));
}

TEST_P(FunctionsTest, ConcurrentTransferFunctionsKeepTheSum) {
  constexpr int kCounters = 8;
  constexpr int kWriters = 6;
  constexpr int kTransfers = 300;
  std::vector<std::string> keys = KeysOverAllShards("acct", kCounters, shards());
  RedisConn admin = server_->Connect();
  ASSERT_TRUE(admin);
  ASSERT_THAT(Command(admin, {"FUNCTION", "LOAD", kBank}), IsBulk("bank"));
  for (const std::string& k : keys) ASSERT_THAT(Command(admin, {"SET", k, "100"}), IsStatus("OK"));

  std::atomic<int> errors{0}, moved{0}, sums{0}, torn{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      RedisConn c = server_->Connect();
      if (!c) return void(++errors);
      std::mt19937 rng(static_cast<unsigned>(w) + 29u);
      for (int t = 0; t < kTransfers; ++t) {
        size_t from = rng() % kCounters;
        size_t to = (from + 1 + rng() % (kCounters - 1)) % kCounters;
        std::string amount = std::to_string(1 + rng() % 10);
        Reply r = Command(c, {"FCALL", "transfer", "2", keys[from], keys[to], amount});
        if (!r || r->type != REDIS_REPLY_INTEGER) return void(++errors);
        moved += static_cast<int>(r->integer);
      }
    });
  }
  threads.emplace_back([&] {
    RedisConn c = server_->Connect();
    if (!c) return void(++errors);
    std::string n = std::to_string(kCounters);
    std::vector<std::string_view> args = {"FCALL_RO", "sum", n};
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
  EXPECT_EQ(torn.load(), 0) << "of " << sums.load() << " sums read by a function";
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

INSTANTIATE_TEST_SUITE_P(Shards, FunctionsTest, ::testing::Values(1, 3), ShardsName);

}  // namespace
}  // namespace omnibus::testing
