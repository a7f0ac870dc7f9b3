// Shard: work staged by the "reactor" (this test's thread) runs on the shard thread in order
// and comes back through the completion ring; a ParkGroup stops several shards at one fence
// and runs its command exactly once while all of them are parked.

#include "omnibus/shard/shard.h"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "omnibus/base/str_cat.h"
#include "omnibus/shard/router.h"

namespace omnibus {
namespace {

class CountingNotifier : public Notifier {
 public:
  void Notify() override { count.fetch_add(1, std::memory_order_relaxed); }
  std::atomic<int> count{0};
};

ShardOptions SmallOptions() {
  ShardOptions o;
  o.num_dbs = 4;
  o.queue_capacity = 256;
  return o;
}

// Drains `shard` until `want` completions arrived or 20 s passed (polling, no sleeps).
std::vector<Work*> AwaitCompletions(Shard& shard, size_t want) {
  std::vector<Work*> done;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (done.size() < want && std::chrono::steady_clock::now() < deadline) {
    if (shard.DrainCompletions([&](Work* w) { done.push_back(w); }) == 0) {
      std::this_thread::yield();
    }
  }
  return done;
}

// Handlers are plain function pointers, so what they observe goes through these.
std::atomic<std::thread::id> g_handler_thread;

void EchoHandler(ExecContext& ctx) {
  g_handler_thread.store(std::this_thread::get_id());
  ctx.reply->Bulk(ctx.args[0]);
}

void SetHandler(ExecContext& ctx) {
  ctx.DbFor(ctx.args[0]).SetString(ctx.args[0], ctx.args[1]);
  ctx.reply->Ok();
}

void GetHandler(ExecContext& ctx) {
  Db::Entry e = ctx.DbFor(ctx.args[0]).Find(ctx.args[0]);
  if (e) {
    ctx.reply->Bulk(e->value());
  } else {
    ctx.reply->Null();
  }
}

TEST(ShardTest, RunsWorkInOrderAndHandsItBack) {
  CountingNotifier notifier;
  Shard shard(0, 1, SmallOptions(), &notifier);
  EXPECT_EQ(shard.index(), 0);
  EXPECT_EQ(shard.queue_capacity(), 256u);
  shard.Start();

  constexpr int kItems = 200;
  std::vector<std::string> payloads;
  for (int i = 0; i < kItems; ++i) payloads.push_back(StrCat("item-", i));
  std::vector<Work> works(kItems);
  size_t next = 0;
  std::vector<Work*> done;
  // Several batches, each made visible by one PostToShard.
  while (next < works.size()) {
    for (int b = 0; b < 37 && next < works.size(); ++b, ++next) {
      Work& w = works[next];
      w.handler = EchoHandler;
      w.args = {payloads[next]};
      w.reply = "stale";  // the shard clears it before running the handler
      ASSERT_TRUE(shard.Stage(&w));
    }
    shard.PostToShard();
    // Drain whatever is already back while later batches are still being staged.
    shard.DrainCompletions([&](Work* w) { done.push_back(w); });
  }
  std::vector<Work*> rest = AwaitCompletions(shard, kItems - done.size());
  done.insert(done.end(), rest.begin(), rest.end());

  ASSERT_EQ(done.size(), static_cast<size_t>(kItems));
  for (int i = 0; i < kItems; ++i) {
    ASSERT_EQ(done[i], &works[i]) << "completion " << i << " out of order";
    EXPECT_EQ(done[i]->reply, StrCat("$", payloads[i].size(), "\r\n", payloads[i], "\r\n"));
  }
  EXPECT_NE(g_handler_thread.load(), std::this_thread::get_id());
  EXPECT_GE(notifier.count.load(), 1);
  EXPECT_LE(notifier.count.load(), kItems);
  EXPECT_EQ(shard.processed(), static_cast<uint64_t>(kItems));
  EXPECT_FALSE(shard.HasCompletions());
  shard.Stop();
}

TEST(ShardTest, StageFailsWhenTheQueueIsFull) {
  CountingNotifier notifier;
  Shard shard(0, 1, SmallOptions(), &notifier);  // not started: nothing drains the queue
  std::vector<Work> works(257);
  for (size_t i = 0; i < 256; ++i) {
    works[i].handler = EchoHandler;
    ASSERT_TRUE(shard.Stage(&works[i])) << i;
  }
  EXPECT_FALSE(shard.Stage(&works[256]));
  shard.PostToShard();
  EXPECT_EQ(shard.ring_depth(), 256u);
  EXPECT_EQ(notifier.count.load(), 0);
}

TEST(ShardTest, HandlersSeeTheShardKeyspaceAndDb) {
  CountingNotifier notifier;
  Shard shard(0, 1, SmallOptions(), &notifier);
  shard.Start();
  std::string key = "k", value = "v1";
  Work set, get_db0, get_db2;
  set.handler = SetHandler;
  set.db = 2;
  set.args = {key, value};
  get_db2.handler = GetHandler;
  get_db2.db = 2;
  get_db2.args = {key};
  get_db0.handler = GetHandler;
  get_db0.db = 0;
  get_db0.resp = 3;
  get_db0.args = {key};
  ASSERT_TRUE(shard.Stage(&set));
  ASSERT_TRUE(shard.Stage(&get_db2));
  ASSERT_TRUE(shard.Stage(&get_db0));
  shard.PostToShard();
  std::vector<Work*> done = AwaitCompletions(shard, 3);
  ASSERT_EQ(done.size(), 3u);
  EXPECT_EQ(set.reply, "+OK\r\n");
  EXPECT_EQ(get_db2.reply, "$2\r\nv1\r\n");
  EXPECT_EQ(get_db0.reply, "_\r\n");  // other DB, and RESP3 null
  EXPECT_GT(get_db0.exec_ns, 0);
  shard.Stop();
  // Stopped: the test thread may look at the keyspace now.
  ASSERT_NE(shard.keyspace()->db_if_exists(2), nullptr);
  EXPECT_TRUE(shard.keyspace()->db(2).Find("k"));
}

// --- ParkGroup ---

constexpr int kParkShards = 3;
std::atomic<int> g_seq{0};
std::atomic<int> g_park_runs{0};
std::atomic<int> g_park_seq{-1};
std::atomic<bool> g_others_ran_early{false};
std::array<Shard*, kParkShards> g_shards{};
std::array<std::string, kParkShards> g_shard_keys;  // one key owned by each shard

void SeqHandler(ExecContext& ctx) { ctx.reply->Integer(g_seq.fetch_add(1)); }

void ParkedHandler(ExecContext& ctx) {
  g_park_runs.fetch_add(1);
  g_park_seq.store(g_seq.fetch_add(1));
  // Every shard is stuck in its parked Work, so none has published a completion for it.
  for (Shard* s : g_shards) {
    if (s->HasCompletions()) g_others_ran_early = true;
  }
  if (ctx.all == nullptr || ctx.num_shards != kParkShards) {
    ctx.reply->Error("ERR not parked");
    return;
  }
  for (const std::string& k : g_shard_keys) {
    std::string value = StrCat("from-", ctx.shard_index);
    ctx.DbFor(k).SetString(k, value);
  }
  ctx.reply->Ok();
}

TEST(ShardTest, ParkGroupRunsOnceWhileAllShardsAreParked) {
  for (int i = 0, found = 0; found < kParkShards; ++i) {
    std::string k = StrCat("key", i);
    int s = ShardForKey(k, kParkShards);
    if (g_shard_keys[s].empty()) {
      g_shard_keys[s] = k;
      ++found;
    }
  }
  CountingNotifier notifier;
  std::vector<std::unique_ptr<Shard>> shards;
  std::array<Keyspace*, kParkShards> keyspaces{};
  for (int i = 0; i < kParkShards; ++i) {
    shards.push_back(std::make_unique<Shard>(i, kParkShards, SmallOptions(), &notifier));
    g_shards[i] = shards[i].get();
    keyspaces[i] = shards[i]->keyspace();
    shards[i]->Start();
  }

  constexpr int kRounds = 50;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(StrCat("round ", round));
    g_park_runs = 0;
    g_others_ran_early = false;
    Work cmd;
    cmd.handler = ParkedHandler;
    ParkGroup group;
    group.work = &cmd;
    group.all = keyspaces.data();
    group.num_shards = kParkShards;
    group.waiting = kParkShards;
    std::array<Work, kParkShards> before, parked, after;
    // Stage in a varying order so different shards arrive last.
    for (int j = 0; j < kParkShards; ++j) {
      int i = (j + round) % kParkShards;
      before[i].handler = SeqHandler;
      parked[i].park = &group;
      after[i].handler = SeqHandler;
      ASSERT_TRUE(shards[i]->Stage(&before[i]));
      shards[i]->PostToShard();
      ASSERT_EQ(AwaitCompletions(*shards[i], 1).size(), 1u);
      ASSERT_TRUE(shards[i]->Stage(&parked[i]));
      ASSERT_TRUE(shards[i]->Stage(&after[i]));
    }
    for (auto& s : shards) s->PostToShard();
    for (int i = 0; i < kParkShards; ++i) {
      std::vector<Work*> done = AwaitCompletions(*shards[i], 2);
      ASSERT_EQ(done.size(), 2u) << "shard " << i;
      EXPECT_EQ(done[0], &parked[i]);
      EXPECT_EQ(done[1], &after[i]);
      EXPECT_EQ(parked[i].reply, "");  // the parked slot itself replies nothing
    }
    EXPECT_EQ(g_park_runs.load(), 1);
    EXPECT_FALSE(g_others_ran_early.load());
    EXPECT_EQ(cmd.reply, "+OK\r\n");
    EXPECT_EQ(group.waiting.load(), 0);
    // The fence: everything staged after the parked work ran after the command.
    for (int i = 0; i < kParkShards; ++i) {
      int64_t after_seq = std::stoll(after[i].reply.substr(1));
      int64_t before_seq = std::stoll(before[i].reply.substr(1));
      EXPECT_GT(after_seq, g_park_seq.load()) << "shard " << i;
      EXPECT_LT(before_seq, g_park_seq.load()) << "shard " << i;
    }
  }
  for (auto& s : shards) s->Stop();
  // Each key landed in the keyspace of the shard that owns it.
  for (int i = 0; i < kParkShards; ++i) {
    Db::Entry e = shards[i]->keyspace()->db(0).Find(g_shard_keys[i]);
    ASSERT_TRUE(e) << g_shard_keys[i];
    EXPECT_EQ(e->value().substr(0, 5), "from-");
    for (int j = 0; j < kParkShards; ++j) {
      if (j == i) continue;
      EXPECT_FALSE(shards[j]->keyspace()->db(0).Find(g_shard_keys[i]));
    }
  }
}

TEST(ShardTest, StopReleasesAShardParkedForASiblingThatNeverArrives) {
  // Shard 0 reaches a fence whose other part (for shard 1) was never sent: it waits there.
  // Stopping the server must still end its thread (DESIGN §6, issue 9's shutdown rule).
  CountingNotifier notifier;
  std::vector<std::unique_ptr<Shard>> shards;
  for (int i = 0; i < 2; ++i)
    shards.push_back(std::make_unique<Shard>(i, 2, SmallOptions(), &notifier));
  for (auto& s : shards) s->Start();
  Keyspace* all[] = {shards[0]->keyspace(), shards[1]->keyspace()};
  Work cmd;
  cmd.handler = SetHandler;
  std::string key = "k", value = "v";
  cmd.args = {key, value};
  ParkGroup group;
  group.work = &cmd;
  group.all = all;
  group.num_shards = 2;
  group.waiting.store(2);
  Work part;
  part.park = &group;
  ASSERT_TRUE(shards[0]->Stage(&part));
  shards[0]->PostToShard();
  // Wait until shard 0 has taken the part (it is then parked at the fence).
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (group.waiting.load() == 2 && std::chrono::steady_clock::now() < until) {
    std::this_thread::yield();
  }
  ASSERT_EQ(group.waiting.load(), 1);
  for (auto& s : shards) s->RequestStop();
  for (auto& s : shards) s->Stop();                      // returns: the parked shard was released
  EXPECT_EQ(group.released.load(), 2u);                  // released by the stop, not by a runner
  EXPECT_FALSE(shards[0]->keyspace()->db(0).Find("k"));  // the command never ran
}

}  // namespace
}  // namespace omnibus
