// The shard's adaptive FIFO/LIFO queue with CoDel shedding (DESIGN §4), on scripted arrival
// patterns with a fake clock: mode switches, LIFO between fences, per-connection order,
// shedding, deadlines, priority items and recovery to FIFO.
#include "omnibus/shard/shard_queue.h"

#include <deque>
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace omnibus {
namespace {

constexpr int64_t kMs = 1'000'000;

class ShardQueueTest : public ::testing::Test {
 protected:
  explicit ShardQueueTest(size_t bound = 1000) : queue_(bound, &options_, &stats_) {}

  // A client command of connection `conn` (1, 2, ...), named for the assertions.
  Work* Cmd(int conn, const std::string& name) {
    Work* w = &works_.emplace_back();
    w->owner = reinterpret_cast<void*>(static_cast<uintptr_t>(conn) * 64);
    names_[w] = name;
    return w;
  }
  // A part of a multi-shard command.
  Work* Fence(const std::string& name) {
    Work* w = &works_.emplace_back();
    w->is_part = true;
    names_[w] = name;
    return w;
  }
  void Push(Work* w, int64_t at_ns) {
    w->enqueue_ns = at_ns;
    queue_.Push(w, at_ns);
  }
  // Serves everything at `now`; "name" for a run item, "!name" for a shed one, "~name" for
  // a missed deadline.
  std::vector<std::string> ServeAll(int64_t now) {
    std::vector<std::string> out;
    while (ShardQueue::Pick p = queue_.Next(now)) {
      std::string prefix = p.action == ShardQueue::Action::kShed       ? "!"
                           : p.action == ShardQueue::Action::kDeadline ? "~"
                                                                       : "";
      out.push_back(prefix + names_[p.work]);
    }
    return out;
  }
  std::string NextName(int64_t now) {
    ShardQueue::Pick p = queue_.Next(now);
    return p ? names_[p.work] : "<empty>";
  }

  QueuePolicyOptions options_;
  QueueStats stats_;
  ShardQueue queue_;
  std::deque<Work> works_;
  std::map<Work*, std::string> names_;
};

using V = std::vector<std::string>;

TEST_F(ShardQueueTest, FifoWhileHealthy) {
  Push(Cmd(1, "a1"), 0);
  Push(Cmd(1, "a2"), 0);
  Push(Cmd(2, "b1"), 0);
  Push(Cmd(3, "c1"), 1 * kMs);
  EXPECT_EQ(ServeAll(2 * kMs), (V{"a1", "a2", "b1", "c1"}));
  EXPECT_FALSE(queue_.overloaded());
  EXPECT_EQ(stats_.mode_switches.load(), 0u);
  EXPECT_EQ(stats_.served.load(), 4u);
}

TEST_F(ShardQueueTest, AStandingQueueTurnsLifoAndBackToFifoWhenItDrains) {
  // The queue is never empty from t=0 on; items arrive every 10 ms and are served slowly.
  Push(Cmd(1, "a"), 0);
  Push(Cmd(2, "b"), 0);
  // 50 ms in: the oldest waited 50 ms (> target 5) but the queue has stood only 50 ms
  // (< interval 100): still FIFO.
  EXPECT_EQ(NextName(50 * kMs), "a");
  EXPECT_FALSE(queue_.overloaded());
  Push(Cmd(3, "c"), 60 * kMs);
  Push(Cmd(4, "d"), 90 * kMs);
  // 101 ms: standing for more than 100 ms and the oldest (b) waited 101 ms: overloaded,
  // newest first... but b waited more than queue-shed-ms (50): it is shed first.
  ShardQueue::Pick shed = queue_.Next(101 * kMs);
  ASSERT_TRUE(shed);
  EXPECT_EQ(names_[shed.work], "b");
  EXPECT_EQ(shed.action, ShardQueue::Action::kShed);
  EXPECT_EQ(NextName(101 * kMs), "d");
  EXPECT_TRUE(queue_.overloaded());
  EXPECT_EQ(NextName(102 * kMs), "c");
  EXPECT_EQ(stats_.shed.load(), 1u);
  EXPECT_EQ(stats_.mode_switches.load(), 1u);
  // Empty again: the next pick finds it healthy.
  EXPECT_EQ(NextName(103 * kMs), "<empty>");
  EXPECT_FALSE(queue_.overloaded());
  EXPECT_EQ(stats_.mode_switches.load(), 2u);
  EXPECT_EQ(stats_.lifo_us.load(), 2000u);
  Push(Cmd(5, "e"), 103 * kMs);
  Push(Cmd(6, "f"), 103 * kMs);
  EXPECT_EQ(ServeAll(104 * kMs), (V{"e", "f"}));
}

TEST_F(ShardQueueTest, LifoKeepsEachConnectionsOrderAndNeverCrossesAFence) {
  options_.shed_ms = 1'000'000;  // no shedding in this test
  Push(Cmd(1, "a1"), 0);
  Push(Cmd(1, "a2"), 0);
  Push(Cmd(1, "a3"), 0);
  Push(Cmd(2, "b1"), 1 * kMs);
  Push(Cmd(2, "b2"), 1 * kMs);
  Push(Fence("F"), 2 * kMs);
  Push(Cmd(3, "c1"), 3 * kMs);
  Push(Cmd(4, "d1"), 4 * kMs);
  Push(Cmd(4, "d2"), 4 * kMs);
  // Overloaded at 200 ms (standing queue, old head). Newest run first, each run in order;
  // the fence waits for everything before it and nothing after it passes it.
  EXPECT_EQ(ServeAll(200 * kMs), (V{"b1", "b2", "a1", "a2", "a3", "F", "d1", "d2", "c1"}));
}

TEST_F(ShardQueueTest, AStartedRunIsServedToItsEndAndNeverShed) {
  Push(Cmd(1, "a1"), 0);
  Push(Cmd(1, "a2"), 0);
  Push(Cmd(1, "a3"), 0);
  EXPECT_EQ(NextName(0), "a1");  // a's run has started
  Push(Cmd(2, "b1"), 1 * kMs);
  Push(Cmd(3, "c1"), 150 * kMs);
  // 200 ms: overloaded (standing since 0, b waited 199 ms), and a2/a3 are older still, but
  // their run goes on; then b, past queue-shed-ms, is shed, and c (50 ms) is served.
  EXPECT_EQ(ServeAll(200 * kMs), (V{"a2", "a3", "!b1", "c1"}));
}

TEST_F(ShardQueueTest, ARunThatFollowsItsConnectionsEarlierRunWaitsForIt) {
  options_.shed_ms = 1'000'000;
  Push(Cmd(1, "a1"), 0);
  Push(Cmd(2, "b1"), 0);
  Work* a2 = Cmd(1, "a2");  // dispatched after its group's barrier
  a2->follows_own = true;
  Push(a2, 1 * kMs);
  Push(Cmd(3, "c1"), 2 * kMs);
  // LIFO: c1 (newest); then a2 is the newest but must follow a1.
  EXPECT_EQ(ServeAll(200 * kMs), (V{"c1", "a1", "a2", "b1"}));
}

TEST_F(ShardQueueTest, OverloadShedsOldItemsButNeverFencesOrOptedOutClients) {
  Push(Cmd(1, "a"), 0);
  Work* admin = Cmd(2, "admin");
  admin->no_shed = true;
  Push(admin, 0);
  Push(Fence("F"), 0);
  Push(Cmd(3, "c"), 0);
  Push(Cmd(4, "d"), 190 * kMs);
  // At 200 ms: a is shed; the admin client's command is not (and is served); the fence is
  // served, never shed; then c (200 ms old) is shed and d served.
  EXPECT_EQ(ServeAll(200 * kMs), (V{"!a", "admin", "F", "!c", "d"}));
  EXPECT_EQ(stats_.shed.load(), 2u);
}

TEST_F(ShardQueueTest, DepthAlone80PercentOfTheBoundMeansOverload) {
  ShardQueue small(10, &options_, &stats_);
  int64_t now = 0;
  for (int i = 0; i < 8; ++i) {
    Work* w = Cmd(i + 1, "w" + std::to_string(i));
    w->enqueue_ns = now;
    small.Push(w, now);
  }
  ShardQueue::Pick p = small.Next(now);  // fresh items, but 8 of 10 slots taken
  ASSERT_TRUE(p);
  EXPECT_TRUE(small.overloaded());
  EXPECT_EQ(names_[p.work], "w7");
  p = small.Next(now);  // 6 left: below 80%, FIFO again
  EXPECT_FALSE(small.overloaded());
  EXPECT_EQ(names_[p.work], "w0");
}

TEST_F(ShardQueueTest, FifoPolicyNeverReordersOrSheds) {
  options_.adaptive = false;
  Push(Cmd(1, "a"), 0);
  Push(Cmd(2, "b"), 0);
  Push(Cmd(3, "c"), 10 * kMs);
  EXPECT_EQ(ServeAll(10'000 * kMs), (V{"a", "b", "c"}));
  EXPECT_EQ(stats_.mode_switches.load(), 0u);
}

TEST_F(ShardQueueTest, MissedDeadlinesAreRefusedAndPriorityItemsJumpTheQueue) {
  Work* late = Cmd(1, "late");
  late->deadline_ns = 5 * kMs;
  Push(late, 0);
  Work* in_time = Cmd(2, "in_time");
  in_time->deadline_ns = 50 * kMs;
  Push(in_time, 0);
  Work* info = Fence("info");
  info->priority = true;
  Push(info, 9 * kMs);
  EXPECT_EQ(ServeAll(10 * kMs), (V{"info", "~late", "in_time"}));
  EXPECT_EQ(stats_.deadlines_missed.load(), 1u);
}

TEST_F(ShardQueueTest, TakeLeadingStopsAtTheFirstFence) {
  Push(Cmd(1, "a"), 0);
  Push(Cmd(2, "b"), 0);
  Push(Fence("F"), 0);
  Push(Cmd(3, "c"), 0);
  V taken;
  queue_.TakeLeading([](Work*) { return true; }, [&](Work* w) { taken.push_back(names_[w]); });
  EXPECT_EQ(taken, (V{"a", "b"}));
  EXPECT_EQ(ServeAll(1 * kMs), (V{"F", "c"}));
}

TEST(QueueStatsTest, SojournPercentiles) {
  QueueStats s;
  EXPECT_EQ(QueueStats::BucketOf(0), 0);
  for (uint64_t us : {1u, 2u, 3u, 5u, 100u, 1000u, 123456u}) {
    int b = QueueStats::BucketOf(us);
    EXPECT_LE(us, QueueStats::BucketUpperUs(b)) << us;
    EXPECT_GT(us, b > 1 ? QueueStats::BucketUpperUs(b - 1) : 0) << us;
  }
  for (int i = 0; i < 99; ++i) s.sojourn[static_cast<size_t>(QueueStats::BucketOf(10))]++;
  s.sojourn[static_cast<size_t>(QueueStats::BucketOf(5000))]++;
  EXPECT_EQ(s.Percentile(0.5), QueueStats::BucketUpperUs(QueueStats::BucketOf(10)));
  EXPECT_EQ(s.Percentile(0.99), QueueStats::BucketUpperUs(QueueStats::BucketOf(10)));
  EXPECT_EQ(s.Percentile(1.0), QueueStats::BucketUpperUs(QueueStats::BucketOf(5000)));
}

}  // namespace
}  // namespace omnibus
