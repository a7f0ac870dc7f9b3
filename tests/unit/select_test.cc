// Select (DESIGN §6): parts go out together, come back in arrival order, a deadline ends the
// wait, and closing early cancels reads not started while writes and parked fences complete.
// Scripted shards (this test decides when each part "arrives") pin the orders; real shard
// threads check the same under ThreadSanitizer and AddressSanitizer.

#include "omnibus/net/select.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "omnibus/net/task.h"
#include "omnibus/shard/shard.h"

namespace omnibus {
namespace {

// A host whose "shards" are a list the test completes in any order it likes.
class ScriptedHost : public SelectHost {
 public:
  int num_shards() const override { return 4; }
  void StageWork(int shard, Work* w) override { staged.emplace_back(shard, w); }
  Work* NewWork() override {
    ++live;
    return new Work;
  }
  void FreeWork(Work* w) override {
    --live;
    delete w;
  }
  TimerQueue& timers() override { return timer_queue; }
  Keyspace* const* keyspaces() override { return nullptr; }

  // The shard ran `w` (unless it was cancelled) and it came back.
  void Complete(Work* w, std::string reply) {
    if (!w->cancelled.load()) {
      w->reply = std::move(reply);
      ++executed;
    }
    Select::PartReturned(this, w);
  }
  Work* StagedFor(int shard) {
    for (auto& [s, w] : staged) {
      if (s == shard) return w;
    }
    return nullptr;
  }

  std::vector<std::pair<int, Work*>> staged;
  TimerQueue timer_queue;
  int live = 0;
  int executed = 0;
};

void NoHandler(ExecContext&) {}

std::vector<std::string_view> Args(std::string_view name) { return {name}; }

// Sends one read part to each of `shards` parts and records replies in arrival order.
Task Gather(SelectHost* host, int parts, int64_t deadline, bool write,
            std::vector<std::string>* got, bool* timed_out, size_t* missing) {
  Select sel(host, deadline);
  Select::PartOptions options;
  options.write = write;
  for (int i = 0; i < parts; ++i) sel.Add(i, NoHandler, Args("get"), options);
  while (Work* w = co_await sel.Next()) got->push_back(w->reply);
  *timed_out = sel.timed_out();
  *missing = sel.missing().size();
}

// Leaves the loop after the first arrival.
Task FirstOnly(SelectHost* host, int parts, bool write, std::string* first) {
  Select sel(host);
  Select::PartOptions options;
  options.write = write;
  for (int i = 0; i < parts; ++i) sel.Add(i, NoHandler, Args("x"), options);
  while (Work* w = co_await sel.Next()) {
    *first = w->reply;
    break;
  }
}

TEST(SelectTest, YieldsPartsInArrivalOrderNotSendOrder) {
  ScriptedHost host;
  std::vector<std::string> got;
  bool timed_out = true;
  size_t missing = 99;
  Task t = Gather(&host, 3, 0, false, &got, &timed_out, &missing);
  ASSERT_EQ(host.staged.size(), 3u);  // all sent at once, before any arrived
  EXPECT_FALSE(t.done());
  host.Complete(host.StagedFor(2), "two");
  host.Complete(host.StagedFor(0), "zero");
  EXPECT_FALSE(t.done());
  host.Complete(host.StagedFor(1), "one");
  EXPECT_TRUE(t.done());
  EXPECT_EQ(got, (std::vector<std::string>{"two", "zero", "one"}));
  EXPECT_FALSE(timed_out);
  EXPECT_EQ(missing, 0u);
  t.Reset();
  EXPECT_EQ(host.live, 0);
}

TEST(SelectTest, DeadlineEndsTheWaitAndNamesTheMissingParts) {
  ScriptedHost host;
  std::vector<std::string> got;
  bool timed_out = false;
  size_t missing = 0;
  Task t = Gather(&host, 3, 1000, false, &got, &timed_out, &missing);
  host.Complete(host.StagedFor(1), "one");
  EXPECT_EQ(host.timer_queue.RunDue(999), 0u);
  EXPECT_FALSE(t.done());
  EXPECT_EQ(host.timer_queue.RunDue(1000), 1u);
  ASSERT_TRUE(t.done());
  EXPECT_TRUE(timed_out);
  EXPECT_EQ(got, std::vector<std::string>{"one"});
  EXPECT_EQ(missing, 2u);
  // The late parts come back after the coroutine finished: ignored, then freed with it.
  host.Complete(host.StagedFor(0), "late");
  t.Reset();
  host.Complete(host.StagedFor(2), "later");  // after the select closed: freed on arrival
  EXPECT_EQ(host.live, 0);
  EXPECT_EQ(host.timer_queue.size(), 0u);
}

TEST(SelectTest, LeavingEarlyCancelsReadsNotStarted) {
  ScriptedHost host;
  std::string first;
  Task t = FirstOnly(&host, 3, /*write=*/false, &first);
  host.Complete(host.StagedFor(1), "one");
  EXPECT_TRUE(t.done());
  EXPECT_EQ(first, "one");
  t.Reset();  // the select closes: parts 0 and 2 are still "in their shards"
  EXPECT_TRUE(host.StagedFor(0)->cancelled.load());
  EXPECT_TRUE(host.StagedFor(2)->cancelled.load());
  host.Complete(host.StagedFor(0), "zero");
  host.Complete(host.StagedFor(2), "two");
  EXPECT_EQ(host.executed, 1);  // only the part that arrived before the close ran
  EXPECT_EQ(host.live, 0);
}

TEST(SelectTest, LeavingEarlyLetsWritesComplete) {
  ScriptedHost host;
  std::string first;
  Task t = FirstOnly(&host, 3, /*write=*/true, &first);
  host.Complete(host.StagedFor(2), "two");
  t.Reset();
  EXPECT_FALSE(host.StagedFor(0)->cancelled.load());
  EXPECT_FALSE(host.StagedFor(1)->cancelled.load());
  host.Complete(host.StagedFor(0), "zero");
  host.Complete(host.StagedFor(1), "one");
  EXPECT_EQ(host.executed, 3);
  EXPECT_EQ(host.live, 0);
}

TEST(SelectTest, ClientGoneBeforeAnyReplyFreesEverythingOnArrival) {
  ScriptedHost host;
  std::vector<std::string> got;
  bool timed_out = false;
  size_t missing = 0;
  Task t = Gather(&host, 4, 5000, false, &got, &timed_out, &missing);
  t.Reset();  // destroyed while suspended: the select's destructor runs in the frame
  EXPECT_EQ(host.timer_queue.size(), 0u);  // its deadline timer is gone too
  for (int i = 0; i < 4; ++i) host.Complete(host.StagedFor(i), "x");
  EXPECT_EQ(host.executed, 0);
  EXPECT_EQ(host.live, 0);
}

Task Parked(SelectHost* host, std::string* reply) {
  Select sel(host);
  int shards[] = {0, 2};
  Work* cmd = sel.AddParked(shards, NoHandler, Args("rename"), {});
  Work* w = co_await sel.Next();
  *reply = w == cmd ? "cmd" : "other";
  EXPECT_EQ(co_await sel.Next(), nullptr);
}

TEST(SelectTest, ParkedGroupArrivesOnceWhenEveryPartIsBack) {
  ScriptedHost host;
  std::string reply;
  Task t = Parked(&host, &reply);
  ASSERT_EQ(host.staged.size(), 2u);
  for (auto& [shard, w] : host.staged) ASSERT_NE(w->park, nullptr);
  host.Complete(host.staged[1].second, "");
  EXPECT_FALSE(t.done());
  host.Complete(host.staged[0].second, "");
  EXPECT_TRUE(t.done());
  EXPECT_EQ(reply, "cmd");
  t.Reset();
  EXPECT_EQ(host.live, 0);
}

TEST(SelectTest, ParkedGroupOutlivesAClosedSelect) {
  ScriptedHost host;
  std::string reply;
  Task t = Parked(&host, &reply);
  host.Complete(host.staged[0].second, "");
  t.Reset();  // fences are never cancelled; the last part back frees the group
  EXPECT_FALSE(host.staged[1].second->cancelled.load());
  host.Complete(host.staged[1].second, "");
  EXPECT_EQ(host.live, 0);
}

// ---- Real shard threads (run under TSan/ASan by scripts/test.sh) -----------------------------

class NullNotifier : public Notifier {
 public:
  void Notify() override {}
};

class ThreadedHost : public SelectHost {
 public:
  explicit ThreadedHost(int n) {
    ShardOptions o;
    o.num_dbs = 1;
    o.queue_capacity = 1024;
    for (int i = 0; i < n; ++i) shards.push_back(std::make_unique<Shard>(i, n, o, &notifier));
    for (auto& s : shards) keyspace_list.push_back(s->keyspace());
    for (auto& s : shards) s->Start();
  }
  ~ThreadedHost() override {
    for (auto& s : shards) s->Stop();
    for (Work* w : pool) delete w;
  }
  int num_shards() const override { return static_cast<int>(shards.size()); }
  void StageWork(int shard, Work* w) override {
    ASSERT_TRUE(shards[static_cast<size_t>(shard)]->Stage(w));
    shards[static_cast<size_t>(shard)]->PostToShard();
    ++in_flight;
  }
  Work* NewWork() override {
    ++live;
    if (pool.empty()) return new Work;
    Work* w = pool.back();
    pool.pop_back();
    return w;
  }
  void FreeWork(Work* w) override {
    --live;
    pool.push_back(w);
  }
  TimerQueue& timers() override { return timer_queue; }
  Keyspace* const* keyspaces() override { return keyspace_list.data(); }
  // The reactor's drain: every completion goes back through PartReturned.
  void Drain() {
    for (auto& s : shards) {
      in_flight -=
          static_cast<int>(s->DrainCompletions([this](Work* w) { Select::PartReturned(this, w); }));
    }
  }
  void DrainAll() {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (in_flight > 0 && std::chrono::steady_clock::now() < until) {
      Drain();
      std::this_thread::yield();
    }
  }

  NullNotifier notifier;
  std::vector<std::unique_ptr<Shard>> shards;
  std::vector<Keyspace*> keyspace_list;
  std::vector<Work*> pool;
  TimerQueue timer_queue;
  int live = 0;
  int in_flight = 0;
};

void SetOnShard(ExecContext& ctx) {
  ctx.DbFor(ctx.args[1]).SetString(ctx.args[1], ctx.args[2]);
  ctx.reply->Ok();
}

void GetOnShard(ExecContext& ctx) {
  Db::Entry e = ctx.DbFor(ctx.args[1]).Find(ctx.args[1]);
  if (e) {
    ctx.reply->Bulk(e->value());
  } else {
    ctx.reply->Null();
  }
}

Task WriteThenMaybeLeave(SelectHost* host, int n, int round, bool leave, int* arrived) {
  Select sel(host);
  Select::PartOptions options;
  options.write = true;
  std::string value = std::to_string(round);
  for (int i = 0; i < n; ++i) {
    std::string key = "k" + std::to_string(i);
    std::string_view args[] = {"set", key, value};
    sel.Add(i, SetOnShard, args, options);
  }
  while (co_await sel.Next() != nullptr) {
    ++*arrived;
    if (leave) break;
  }
}

TEST(SelectThreadedTest, WritesCompleteWhenTheSelectClosesWhileShardsRunThem) {
  constexpr int kShards = 3;
  ThreadedHost host(kShards);
  for (int round = 1; round <= 200; ++round) {
    int arrived = 0;
    Task t = WriteThenMaybeLeave(&host, kShards, round, /*leave=*/round % 2 == 0, &arrived);
    // Close some selects at once, while the shards may be running their parts.
    if (round % 3 == 0) t.Reset();
    while (!t.done() && t.valid()) host.Drain();
    t.Reset();
  }
  host.DrainAll();
  EXPECT_EQ(host.in_flight, 0);
  EXPECT_EQ(host.live, 0);
  // Every write ran, closed select or not: each key holds the last round.
  std::vector<std::string> got;
  bool timed_out = false;
  size_t missing = 0;
  auto read_all = [&]() -> Task {
    Select sel(&host);
    for (int i = 0; i < kShards; ++i) {
      std::string key = "k" + std::to_string(i);
      std::string_view args[] = {"get", key};
      sel.Add(i, GetOnShard, args, {});
    }
    while (Work* w = co_await sel.Next()) got.push_back(w->reply);
    timed_out = sel.timed_out();
    missing = sel.missing().size();
  };
  Task r = read_all();
  while (!r.done()) host.Drain();
  ASSERT_EQ(got.size(), 3u);
  for (const std::string& g : got) EXPECT_EQ(g, "$3\r\n200\r\n");
  r.Reset();
  EXPECT_EQ(host.live, 0);
}

TEST(SelectThreadedTest, ReadsClosedEarlyNeverTouchFreedMemory) {
  constexpr int kShards = 3;
  ThreadedHost host(kShards);
  for (int round = 0; round < 300; ++round) {
    std::vector<std::string> got;
    bool timed_out = false;
    size_t missing = 0;
    auto gather = [&]() -> Task {
      Select sel(&host);
      for (int i = 0; i < kShards; ++i) {
        std::string_view args[] = {"get", "nokey"};
        sel.Add(i, GetOnShard, args, {});
      }
      while (Work* w = co_await sel.Next()) got.push_back(w->reply);
      timed_out = sel.timed_out();
      missing = sel.missing().size();
    };
    Task t = gather();
    if (round % 2 == 0) host.Drain();
    t.Reset();  // usually before every reply arrived
  }
  host.DrainAll();
  EXPECT_EQ(host.in_flight, 0);
  EXPECT_EQ(host.live, 0);
}

TEST(TimerQueueTest, RunsDueTimersInOrderAndSkipsCancelledOnes) {
  TimerQueue q;
  std::vector<int> fired;
  static std::vector<int>* sink;
  sink = &fired;
  auto cb = [](void* arg) { sink->push_back(static_cast<int>(reinterpret_cast<intptr_t>(arg))); };
  q.Add(30, cb, reinterpret_cast<void*>(3));
  TimerQueue::Id two = q.Add(20, cb, reinterpret_cast<void*>(2));
  q.Add(10, cb, reinterpret_cast<void*>(1));
  q.Add(10, cb, reinterpret_cast<void*>(11));
  EXPECT_EQ(q.NextDue(), 10);
  q.Cancel(two);
  EXPECT_EQ(q.RunDue(9), 0u);
  EXPECT_EQ(q.RunDue(25), 2u);
  EXPECT_EQ(fired, (std::vector<int>{1, 11}));
  q.Cancel(two);  // twice: nothing
  EXPECT_EQ(q.RunDue(100), 1u);
  EXPECT_EQ(fired, (std::vector<int>{1, 11, 3}));
  EXPECT_EQ(q.size(), 0u);
}

}  // namespace
}  // namespace omnibus
