// Blocking pops served by other clients (DESIGN.md §10.5: waiters live on the reactor, are
// served in the order they blocked, exactly once across shards; CLIENT KILL, CLIENT UNBLOCK
// and timeouts remove a waiter at once). What one connection sees on its own is in
// tests/differential/blocking.txt.
//
// No sleeps as synchronization: a test waits until INFO clients shows a client as blocked
// (`blocked_clients`) before it pushes.
#include <hiredis/hiredis.h>
#include <poll.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
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
using Clock = std::chrono::steady_clock;

// A key named prefix<i> on `shard` (of `shards`).
std::string KeyOnShard(const std::string& prefix, int shard, int shards) {
  for (int i = 0;; ++i) {
    std::string key = StrCat(prefix, i);
    if (KeyShard(key, shards) == shard) return key;
  }
}

// Sends a command without reading its reply (the reply comes when the client is served).
bool Send(redisContext* c, const std::vector<std::string_view>& args) {
  AppendCommand(c, args);
  int done = 0;
  while (done == 0) {
    if (redisBufferWrite(c, &done) != REDIS_OK) return false;
  }
  return true;
}

// True once `c` has a reply to read (or its connection closed) within `deadline`.
bool Readable(redisContext* c, milliseconds deadline) {
  pollfd p = {c->fd, POLLIN, 0};
  return poll(&p, 1, static_cast<int>(deadline.count())) > 0;
}

int64_t ClientId(redisContext* c) {
  Reply r = Command(c, {"CLIENT", "ID"});
  return r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
}

class BlockingTest : public ShardedServerTest {
 protected:
  void SetUp() override {
    ShardedServerTest::SetUp();
    if (HasFatalFailure()) return;
    admin_ = server_->Connect();
    ASSERT_TRUE(admin_);
  }

  std::optional<int64_t> Blocked() { return InfoInt(admin_.get(), "clients", "blocked_clients"); }
  // Waits until exactly `n` clients are blocked. With a `sender` (a client that just sent a
  // blocking command), fails at once if that client gets a reply instead of blocking.
  ::testing::AssertionResult WaitBlocked(int64_t n, redisContext* sender = nullptr) {
    bool answered = false;
    bool ok = PollUntil(
        [&] {
          if (sender != nullptr) {
            pollfd p = {sender->fd, POLLIN, 0};
            if (poll(&p, 1, 0) > 0) return answered = true;
          }
          return Blocked() == n;
        },
        milliseconds(5000));
    if (answered) {
      return ::testing::AssertionFailure()
             << "answered instead of blocking: " << Describe(GetReply(sender));
    }
    if (ok) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "blocked_clients is " << Blocked().value_or(-1) << ", not " << n;
  }
  // Sends a blocking command on `c` and waits until `blocked_after` clients are blocked.
  ::testing::AssertionResult SendAndBlock(redisContext* c,
                                          const std::vector<std::string_view>& args,
                                          int64_t blocked_after) {
    if (!Send(c, args)) return ::testing::AssertionFailure() << "send failed";
    return WaitBlocked(blocked_after, c);
  }
  // A new connection blocked by `args`, or null (after a failure) if it did not block.
  RedisConn BlockOn(const std::vector<std::string_view>& args, int64_t blocked_after) {
    RedisConn c = server_->Connect();
    EXPECT_TRUE(c);
    if (!c) return c;
    auto blocked = SendAndBlock(c.get(), args, blocked_after);
    EXPECT_TRUE(blocked);
    if (!blocked) return nullptr;
    return c;
  }

  RedisConn admin_;
};

TEST_P(BlockingTest, BlpopAndBrpopServedByAnotherClientsPush) {
  RedisConn c = BlockOn({"BLPOP", "list", "0"}, 1);
  ASSERT_TRUE(c);
  // The pusher sees the length its push made; the waiter takes the element right after.
  EXPECT_THAT(Command(admin_, {"LPUSH", "list", "a"}), IsInt(1));
  EXPECT_THAT(GetReply(c.get()), IsArray(ElementsAre("list", "a")));
  EXPECT_THAT(Command(admin_, {"EXISTS", "list"}), IsInt(0));
  EXPECT_TRUE(WaitBlocked(0));

  ASSERT_TRUE(SendAndBlock(c.get(), {"BRPOP", "list", "0"}, 1));
  EXPECT_THAT(Command(admin_, {"RPUSH", "list", "x", "y", "z"}), IsInt(3));
  EXPECT_THAT(GetReply(c.get()), IsArray(ElementsAre("list", "z")));
  EXPECT_THAT(Command(admin_, {"LRANGE", "list", "0", "-1"}), IsArray(ElementsAre("x", "y")));
}

TEST_P(BlockingTest, BlmoveAndBrpoplpushServedAcrossShards) {
  std::string src = KeyOnShard("src", 0, shards());
  std::string dst = KeyOnShard("dst", shards() - 1, shards());
  RedisConn c = BlockOn({"BLMOVE", src, dst, "RIGHT", "LEFT", "0"}, 1);
  ASSERT_TRUE(c);
  EXPECT_THAT(Command(admin_, {"RPUSH", src, "a", "b"}), IsInt(2));
  EXPECT_THAT(GetReply(c.get()), IsBulk("b"));
  EXPECT_THAT(Command(admin_, {"LRANGE", src, "0", "-1"}), IsArray(ElementsAre("a")));
  EXPECT_THAT(Command(admin_, {"LRANGE", dst, "0", "-1"}), IsArray(ElementsAre("b")));

  ASSERT_THAT(Command(admin_, {"DEL", src}), IsInt(1));
  ASSERT_TRUE(SendAndBlock(c.get(), {"BRPOPLPUSH", src, dst, "0"}, 1));
  EXPECT_THAT(Command(admin_, {"LPUSH", src, "c"}), IsInt(1));
  EXPECT_THAT(GetReply(c.get()), IsBulk("c"));
  EXPECT_THAT(Command(admin_, {"LRANGE", dst, "0", "-1"}), IsArray(ElementsAre("c", "b")));
  EXPECT_THAT(Command(admin_, {"EXISTS", src}), IsInt(0));
}

TEST_P(BlockingTest, BlmoveToAWrongTypeDestinationFailsWhenServed) {
  std::string src = KeyOnShard("src", 0, shards());
  std::string dst = KeyOnShard("dst", shards() - 1, shards());
  ASSERT_THAT(Command(admin_, {"SET", dst, "string"}), IsStatus("OK"));
  RedisConn c = BlockOn({"BLMOVE", src, dst, "LEFT", "LEFT", "0"}, 1);
  ASSERT_TRUE(c);
  EXPECT_THAT(Command(admin_, {"RPUSH", src, "a"}), IsInt(1));
  EXPECT_THAT(GetReply(c.get()),
              IsError("WRONGTYPE Operation against a key holding the wrong kind of value"));
  // Nothing was moved.
  EXPECT_THAT(Command(admin_, {"LRANGE", src, "0", "-1"}), IsArray(ElementsAre("a")));
  EXPECT_THAT(Command(admin_, {"GET", dst}), IsBulk("string"));
}

TEST_P(BlockingTest, ZsetPopsServedByZadd) {
  RedisConn c = BlockOn({"BZPOPMIN", "z", "0"}, 1);
  ASSERT_TRUE(c);
  EXPECT_THAT(Command(admin_, {"ZADD", "z", "3", "c", "1", "a", "2", "b"}), IsInt(3));
  EXPECT_THAT(GetReply(c.get()), IsArray(ElementsAre("z", "a", "1")));

  ASSERT_TRUE(Send(c.get(), {"BZPOPMAX", "nothing", "z", "0"}));
  // Served at once: z still has b and c.
  EXPECT_THAT(GetReply(c.get()), IsArray(ElementsAre("z", "c", "3")));
  ASSERT_THAT(Command(admin_, {"DEL", "z"}), IsInt(1));

  ASSERT_TRUE(SendAndBlock(c.get(), {"BZMPOP", "0", "2", "nothing", "z", "MAX", "COUNT", "2"}, 1));
  EXPECT_THAT(Command(admin_, {"ZADD", "z", "1", "a", "2", "b", "3", "c"}), IsInt(3));
  Reply r = GetReply(c.get());
  ASSERT_TRUE(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) << Describe(r);
  EXPECT_THAT(r->element[0], IsBulk("z"));
  ASSERT_EQ(r->element[1]->type, REDIS_REPLY_ARRAY) << Describe(r);
  ASSERT_EQ(r->element[1]->elements, 2u) << Describe(r);
  EXPECT_THAT(r->element[1]->element[0], IsArray(ElementsAre("c", "3")));
  EXPECT_THAT(r->element[1]->element[1], IsArray(ElementsAre("b", "2")));
  EXPECT_THAT(Command(admin_, {"ZRANGE", "z", "0", "-1"}), IsArray(ElementsAre("a")));
}

TEST_P(BlockingTest, BlmpopServedWithCount) {
  RedisConn c = BlockOn({"BLMPOP", "0", "2", "l1", "l2", "RIGHT", "COUNT", "3"}, 1);
  ASSERT_TRUE(c);
  EXPECT_THAT(Command(admin_, {"RPUSH", "l2", "a", "b"}), IsInt(2));
  Reply r = GetReply(c.get());
  ASSERT_TRUE(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) << Describe(r);
  EXPECT_THAT(r->element[0], IsBulk("l2"));
  EXPECT_THAT(r->element[1], IsArray(ElementsAre("b", "a")));
  EXPECT_THAT(Command(admin_, {"EXISTS", "l2"}), IsInt(0));
}

TEST_P(BlockingTest, ServedOnlyAfterATransactionThatPushes) {
  std::string other = KeyOnShard("other", shards() - 1, shards());
  RedisConn c = BlockOn({"BLPOP", "list", "0"}, 1);
  ASSERT_TRUE(c);
  RedisConn tx = server_->Connect();
  ASSERT_TRUE(tx);
  // A transaction that pushes and pops again leaves nothing: the waiter stays blocked.
  ASSERT_THAT(Command(tx, {"MULTI"}), IsStatus("OK"));
  ASSERT_THAT(Command(tx, {"RPUSH", "list", "gone"}), IsStatus("QUEUED"));
  ASSERT_THAT(Command(tx, {"LPOP", "list"}), IsStatus("QUEUED"));
  EXPECT_THAT(Command(tx, {"EXEC"}), IsArray(ElementsAre("1", "gone")));
  EXPECT_EQ(Blocked(), 1);
  // The waiter is served after the whole transaction: it sees the first element, and the
  // transaction's own reads saw everything it pushed.
  ASSERT_THAT(Command(tx, {"MULTI"}), IsStatus("OK"));
  ASSERT_THAT(Command(tx, {"RPUSH", "list", "a", "b"}), IsStatus("QUEUED"));
  ASSERT_THAT(Command(tx, {"SET", other, "x"}), IsStatus("QUEUED"));
  ASSERT_THAT(Command(tx, {"RPUSH", "list", "c"}), IsStatus("QUEUED"));
  ASSERT_THAT(Command(tx, {"LRANGE", "list", "0", "-1"}), IsStatus("QUEUED"));
  Reply exec = Command(tx, {"EXEC"});
  ASSERT_TRUE(exec && exec->type == REDIS_REPLY_ARRAY && exec->elements == 4) << Describe(exec);
  EXPECT_THAT(exec->element[3], IsArray(ElementsAre("a", "b", "c")));
  EXPECT_THAT(GetReply(c.get()), IsArray(ElementsAre("list", "a")));
  EXPECT_THAT(Command(admin_, {"LRANGE", "list", "0", "-1"}), IsArray(ElementsAre("b", "c")));
}

// After a transaction, Redis serves a waiter from the key the transaction made ready first,
// not from the first key in the waiter's argument order.
TEST_P(BlockingTest, AfterATransactionTheKeyReadyFirstServes) {
  std::string k0 = KeyOnShard("ka", 0, shards());
  std::string k1 = KeyOnShard("kb", shards() - 1, shards());
  RedisConn c = BlockOn({"BLPOP", k0, k1, "0"}, 1);
  ASSERT_TRUE(c);
  ASSERT_THAT(Command(admin_, {"MULTI"}), IsStatus("OK"));
  ASSERT_THAT(Command(admin_, {"RPUSH", k1, "x"}), IsStatus("QUEUED"));
  ASSERT_THAT(Command(admin_, {"RPUSH", k0, "y"}), IsStatus("QUEUED"));
  EXPECT_THAT(Command(admin_, {"EXEC"}), IsArray(ElementsAre("1", "1")));
  EXPECT_THAT(GetReply(c.get()), IsArray(ElementsAre(k1, "x")));
  EXPECT_THAT(Command(admin_, {"LRANGE", k0, "0", "-1"}), IsArray(ElementsAre("y")));
}

TEST_P(BlockingTest, RenameCopyMoveAndSwapdbWakeWaiters) {
  std::string src = KeyOnShard("src", 0, shards());
  std::string target = KeyOnShard("target", shards() - 1, shards());
  // RENAME a list onto the key a client waits on.
  {
    ASSERT_THAT(Command(admin_, {"RPUSH", src, "renamed"}), IsInt(1));
    RedisConn c = BlockOn({"BLPOP", target, "0"}, 1);
    ASSERT_TRUE(c);
    ASSERT_THAT(Command(admin_, {"RENAME", src, target}), IsStatus("OK"));
    EXPECT_THAT(GetReply(c.get()), IsArray(ElementsAre(target, "renamed")));
  }
  // COPY.
  {
    ASSERT_THAT(Command(admin_, {"ZADD", src, "5", "copied"}), IsInt(1));
    RedisConn c = BlockOn({"BZPOPMIN", target, "0"}, 1);
    ASSERT_TRUE(c);
    ASSERT_THAT(Command(admin_, {"COPY", src, target}), IsInt(1));
    EXPECT_THAT(GetReply(c.get()), IsArray(ElementsAre(target, "copied", "5")));
    ASSERT_THAT(Command(admin_, {"DEL", src}), IsInt(1));
  }
  // MOVE into the db the client waits in.
  {
    RedisConn c = server_->Connect();
    ASSERT_TRUE(c);
    ASSERT_THAT(Command(c, {"SELECT", "1"}), IsStatus("OK"));
    ASSERT_TRUE(SendAndBlock(c.get(), {"BLPOP", target, "0"}, 1));
    ASSERT_THAT(Command(admin_, {"RPUSH", target, "moved"}), IsInt(1));
    EXPECT_EQ(Blocked(), 1);  // a push in db 0 does not serve a waiter in db 1
    ASSERT_THAT(Command(admin_, {"MOVE", target, "1"}), IsInt(1));
    EXPECT_THAT(GetReply(c.get()), IsArray(ElementsAre(target, "moved")));
  }
  // SWAPDB brings in a db where the key has data.
  {
    RedisConn c = BlockOn({"BLPOP", target, "0"}, 1);
    ASSERT_TRUE(c);
    ASSERT_THAT(Command(admin_, {"SELECT", "2"}), IsStatus("OK"));
    ASSERT_THAT(Command(admin_, {"RPUSH", target, "swapped"}), IsInt(1));
    ASSERT_THAT(Command(admin_, {"SELECT", "0"}), IsStatus("OK"));
    EXPECT_EQ(Blocked(), 1);
    ASSERT_THAT(Command(admin_, {"SWAPDB", "0", "2"}), IsStatus("OK"));
    EXPECT_THAT(GetReply(c.get()), IsArray(ElementsAre(target, "swapped")));
  }
  EXPECT_TRUE(WaitBlocked(0));
}

TEST_P(BlockingTest, WaitersOnOneKeyAreServedInTheOrderTheyBlocked) {
  constexpr int kWaiters = 5;
  std::vector<RedisConn> waiters;
  for (int i = 0; i < kWaiters; ++i) {
    // Alternate commands and extra keys: order is per key, whatever the command.
    if (i % 2 == 0) {
      waiters.push_back(BlockOn({"BLPOP", StrCat("other", i), "list", "0"}, i + 1));
    } else {
      waiters.push_back(BlockOn({"BRPOP", "list", "0"}, i + 1));
    }
    ASSERT_TRUE(waiters.back());
  }
  // One push of five elements serves all five, the first to block getting the first element.
  EXPECT_THAT(Command(admin_, {"RPUSH", "list", "e0", "e1", "e2", "e3", "e4"}), IsInt(kWaiters));
  std::vector<std::string> got;
  for (int i = 0; i < kWaiters; ++i) {
    Reply r = GetReply(waiters[static_cast<size_t>(i)].get());
    auto s = StringsOf(r.get());
    ASSERT_TRUE(s && s->size() == 2) << Describe(r);
    got.push_back((*s)[1]);
  }
  // BLPOP takes from the head, BRPOP from the tail; each served in turn on what remains.
  EXPECT_THAT(got, ElementsAre("e0", "e4", "e1", "e3", "e2"));
  EXPECT_THAT(Command(admin_, {"EXISTS", "list"}), IsInt(0));

  // One element at a time, from pushes of another client: still in blocking order.
  for (int i = 0; i < kWaiters; ++i) {
    ASSERT_TRUE(SendAndBlock(waiters[static_cast<size_t>(i)].get(), {"BLPOP", "list", "0"}, i + 1));
  }
  RedisConn pusher = server_->Connect();
  ASSERT_TRUE(pusher);
  // In Redis each push serves the oldest waiter before the pusher's next command runs, so
  // every push finds the list empty.
  for (int i = 0; i < kWaiters; ++i) {
    EXPECT_THAT(Command(pusher, {"RPUSH", "list", StrCat("f", i)}), IsInt(1)) << "push " << i;
  }
  for (int i = 0; i < kWaiters; ++i) {
    redisContext* w = waiters[static_cast<size_t>(i)].get();
    ASSERT_TRUE(Readable(w, milliseconds(3000)))
        << "waiter " << i << " was never served; the list holds "
        << Describe(Command(admin_, {"LRANGE", "list", "0", "-1"}));
    EXPECT_THAT(GetReply(w), IsArray(ElementsAre("list", StrCat("f", i))));
  }
}

// Several waiters on one key, one push at a time: each push wakes the next waiter (the
// first wake-up must not use up the key's registration for the others).
TEST_P(BlockingTest, EachPushWakesTheNextWaiter) {
  constexpr int kWaiters = 3;
  std::vector<RedisConn> waiters;
  for (int i = 0; i < kWaiters; ++i) {
    waiters.push_back(BlockOn({"BLPOP", "list", "0"}, i + 1));
    ASSERT_TRUE(waiters.back());
  }
  for (int i = 0; i < kWaiters; ++i) {
    SCOPED_TRACE(StrCat("push ", i));
    ASSERT_THAT(Command(admin_, {"RPUSH", "list", StrCat("v", i)}), IsInt(1));
    redisContext* w = waiters[static_cast<size_t>(i)].get();
    ASSERT_TRUE(Readable(w, milliseconds(3000)))
        << "waiter " << i << " was not woken; the list holds "
        << Describe(Command(admin_, {"LRANGE", "list", "0", "-1"})) << " and blocked_clients is "
        << Blocked().value_or(-1);
    EXPECT_THAT(GetReply(w), IsArray(ElementsAre("list", StrCat("v", i))));
    EXPECT_TRUE(WaitBlocked(kWaiters - i - 1));
  }
  EXPECT_THAT(Command(admin_, {"EXISTS", "list"}), IsInt(0));
}

TEST_P(BlockingTest, BlpopOnKeysOfTwoShards) {
  std::string k0 = KeyOnShard("ka", 0, shards());
  std::string k1 = KeyOnShard("kb", shards() - 1, shards());
  RedisConn c = BlockOn({"BLPOP", k0, k1, "0"}, 1);
  ASSERT_TRUE(c);
  EXPECT_THAT(Command(admin_, {"RPUSH", k1, "second"}), IsInt(1));
  EXPECT_THAT(GetReply(c.get()), IsArray(ElementsAre(k1, "second")));
  EXPECT_TRUE(WaitBlocked(0));

  // Pushes to both keys at once (two clients, one per key, and a pipeline touching both):
  // the waiter gets exactly one of the two elements and the other stays in its list.
  RedisConn p0 = server_->Connect();
  RedisConn p1 = server_->Connect();
  ASSERT_TRUE(p0 && p1);
  constexpr int kRounds = 40;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(StrCat("round ", round));
    ASSERT_TRUE(SendAndBlock(c.get(), {"BLPOP", k0, k1, "0"}, 1));
    std::string v0 = StrCat("a", round), v1 = StrCat("b", round);
    if (round % 2 == 0) {
      ASSERT_TRUE(Send(p0.get(), {"RPUSH", k0, v0}));
      ASSERT_TRUE(Send(p1.get(), {"RPUSH", k1, v1}));
      EXPECT_THAT(GetReply(p0.get()), IsInt(1));
      EXPECT_THAT(GetReply(p1.get()), IsInt(1));
    } else {
      AppendCommand(p0.get(), {"RPUSH", k1, v1});
      AppendCommand(p0.get(), {"RPUSH", k0, v0});
      EXPECT_THAT(GetReply(p0.get()), IsInt(1));
      EXPECT_THAT(GetReply(p0.get()), IsInt(1));
    }
    Reply r = GetReply(c.get());
    auto got = StringsOf(r.get());
    ASSERT_TRUE(got && got->size() == 2) << Describe(r);
    Reply rest0 = Command(admin_, {"LRANGE", k0, "0", "-1"});
    Reply rest1 = Command(admin_, {"LRANGE", k1, "0", "-1"});
    if ((*got)[0] == k0) {
      EXPECT_EQ((*got)[1], v0);
      EXPECT_THAT(rest0, IsArray(ElementsAre()));
      EXPECT_THAT(rest1, IsArray(ElementsAre(v1)));
    } else {
      EXPECT_EQ((*got)[0], k1);
      EXPECT_EQ((*got)[1], v1);
      EXPECT_THAT(rest0, IsArray(ElementsAre(v0)));
      EXPECT_THAT(rest1, IsArray(ElementsAre()));
    }
    ASSERT_THAT(Command(admin_, {"DEL", k0, k1}), IsInt(1));
  }
}

TEST_P(BlockingTest, Timeouts) {
  RedisConn c = server_->Connect();
  ASSERT_TRUE(c);
  // A short timeout: nil after roughly that long.
  auto start = Clock::now();
  EXPECT_THAT(Command(c, {"BLPOP", "list", "0.1"}), IsNil());
  auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, milliseconds(80));
  EXPECT_LT(elapsed, milliseconds(3000));
  start = Clock::now();
  EXPECT_THAT(Command(c, {"BZMPOP", "0.1", "1", "z", "MIN"}), IsNil());
  EXPECT_GE(Clock::now() - start, milliseconds(80));
  EXPECT_TRUE(WaitBlocked(0));

  // Negative: an error at once.
  EXPECT_THAT(Command(c, {"BLPOP", "list", "-1"}), IsError("ERR timeout is negative"));
  EXPECT_THAT(Command(c, {"BLMOVE", "list", "d", "LEFT", "LEFT", "-0.5"}),
              IsError("ERR timeout is negative"));

  // Zero waits until served: it is still blocked after a timed-out waiter beside it gave up.
  ASSERT_TRUE(SendAndBlock(c.get(), {"BLPOP", "list", "0"}, 1));
  RedisConn d = server_->Connect();
  ASSERT_TRUE(d);
  EXPECT_THAT(Command(d, {"BLPOP", "list", "0.3"}), IsNil());
  EXPECT_EQ(Blocked(), 1);
  EXPECT_THAT(Command(admin_, {"RPUSH", "list", "late"}), IsInt(1));
  EXPECT_THAT(GetReply(c.get()), IsArray(ElementsAre("list", "late")));
  // A waiter whose timeout passed was removed: a later push stays in the list.
  EXPECT_THAT(Command(admin_, {"RPUSH", "list", "kept"}), IsInt(1));
  EXPECT_THAT(Command(admin_, {"LRANGE", "list", "0", "-1"}), IsArray(ElementsAre("kept")));
}

TEST_P(BlockingTest, ClientUnblock) {
  RedisConn c = server_->Connect();
  ASSERT_TRUE(c);
  int64_t id = ClientId(c.get());
  ASSERT_GT(id, 0);
  std::string ids = std::to_string(id);
  EXPECT_THAT(Command(admin_, {"CLIENT", "UNBLOCK", ids}), IsInt(0));  // not blocked yet

  // Default (TIMEOUT): the waiter gets the null reply of a timeout.
  ASSERT_TRUE(SendAndBlock(c.get(), {"BLPOP", "list", "0"}, 1));
  EXPECT_THAT(Command(admin_, {"CLIENT", "UNBLOCK", ids}), IsInt(1));
  EXPECT_THAT(GetReply(c.get()), IsNil());
  EXPECT_TRUE(WaitBlocked(0));
  EXPECT_THAT(Command(admin_, {"CLIENT", "UNBLOCK", ids}), IsInt(0));

  ASSERT_TRUE(SendAndBlock(c.get(), {"BLMOVE", "list", "dst", "LEFT", "LEFT", "0"}, 1));
  EXPECT_THAT(Command(admin_, {"CLIENT", "UNBLOCK", ids, "TIMEOUT"}), IsInt(1));
  EXPECT_THAT(GetReply(c.get()), IsNil());

  // ERROR: the waiter gets an error.
  ASSERT_TRUE(SendAndBlock(c.get(), {"BZPOPMIN", "z", "0"}, 1));
  EXPECT_THAT(Command(admin_, {"CLIENT", "UNBLOCK", ids, "ERROR"}), IsInt(1));
  EXPECT_THAT(GetReply(c.get()), IsError("UNBLOCKED client unblocked via CLIENT UNBLOCK"));
  EXPECT_TRUE(WaitBlocked(0));

  // The unblocked client is an ordinary client again, and nothing is waiting any more.
  EXPECT_THAT(Command(c, {"PING"}), IsStatus("PONG"));
  EXPECT_THAT(Command(admin_, {"RPUSH", "list", "v"}), IsInt(1));
  EXPECT_THAT(Command(admin_, {"LLEN", "list"}), IsInt(1));
  EXPECT_THAT(Command(admin_, {"EXISTS", "dst"}), IsInt(0));
}

TEST_P(BlockingTest, ClientKillOfAWaiter) {
  RedisConn victim = server_->Connect();
  ASSERT_TRUE(victim);
  int64_t id = ClientId(victim.get());
  ASSERT_TRUE(SendAndBlock(victim.get(), {"BLPOP", "list", "0"}, 1));
  RedisConn other = BlockOn({"BLPOP", "list", "0"}, 2);
  ASSERT_TRUE(other);
  EXPECT_THAT(Command(admin_, {"CLIENT", "KILL", "ID", std::to_string(id)}), IsInt(1));
  EXPECT_TRUE(WaitBlocked(1));
  // The killed client's connection is closed.
  EXPECT_EQ(GetReply(victim.get()), nullptr);
  // The other waiter is served first push, and nothing goes to the dead one.
  EXPECT_THAT(Command(admin_, {"RPUSH", "list", "a", "b"}), IsInt(2));
  EXPECT_THAT(GetReply(other.get()), IsArray(ElementsAre("list", "a")));
  EXPECT_THAT(Command(admin_, {"LRANGE", "list", "0", "-1"}), IsArray(ElementsAre("b")));
  EXPECT_TRUE(WaitBlocked(0));
}

TEST_P(BlockingTest, AWaiterThatDisconnectsLosesNoLaterPush) {
  {
    RedisConn gone = BlockOn({"BLPOP", "list", "0"}, 1);
    ASSERT_TRUE(gone);
    RedisConn gone_too = BlockOn({"BLMOVE", "list", "dst", "LEFT", "LEFT", "0"}, 2);
    ASSERT_TRUE(gone_too);
  }  // both close their sockets
  EXPECT_TRUE(WaitBlocked(0));
  EXPECT_THAT(Command(admin_, {"RPUSH", "list", "kept"}), IsInt(1));
  EXPECT_THAT(Command(admin_, {"LRANGE", "list", "0", "-1"}), IsArray(ElementsAre("kept")));
  EXPECT_THAT(Command(admin_, {"EXISTS", "dst"}), IsInt(0));
  // A live waiter is still served afterwards.
  ASSERT_THAT(Command(admin_, {"DEL", "list"}), IsInt(1));
  RedisConn c = BlockOn({"BLPOP", "list", "0"}, 1);
  ASSERT_TRUE(c);
  EXPECT_THAT(Command(admin_, {"RPUSH", "list", "next"}), IsInt(1));
  EXPECT_THAT(GetReply(c.get()), IsArray(ElementsAre("list", "next")));
}

// Redis serves waiters after each command, so a pipeline that pushes to the second key and
// then to the first serves the waiter from the second key (the first push).
TEST_P(BlockingTest, APipelinedPushServesFromTheKeyReadyFirst) {
  std::string k0 = KeyOnShard("ka", 0, shards());
  std::string k1 = KeyOnShard("kb", shards() - 1, shards());
  RedisConn c = BlockOn({"BLPOP", k0, k1, "0"}, 1);
  ASSERT_TRUE(c);
  AppendCommand(admin_.get(), {"RPUSH", k1, "first"});
  AppendCommand(admin_.get(), {"RPUSH", k0, "second"});
  AppendCommand(admin_.get(), {"LLEN", k1});
  EXPECT_THAT(GetReply(admin_.get()), IsInt(1));
  EXPECT_THAT(GetReply(admin_.get()), IsInt(1));
  // Redis serves the waiter between two commands of the pipeline, so LLEN sees 0. Omnibus
  // serves it after the shard step that ran the pipeline's batch (DESIGN §10.5), so LLEN may
  // still see the element (a documented difference); either way the waiter gets k1's element,
  // the key that became ready first.
  Reply llen = GetReply(admin_.get());
  ASSERT_TRUE(llen && llen->type == REDIS_REPLY_INTEGER) << Describe(llen);
  EXPECT_TRUE(llen->integer == 0 || llen->integer == 1) << Describe(llen);
  if (shards() == 1) {
    EXPECT_THAT(GetReply(c.get()), IsArray(ElementsAre(k1, "first")));
    EXPECT_THAT(Command(admin_, {"LRANGE", k0, "0", "-1"}), IsArray(ElementsAre("second")));
    return;
  }
  // On two shards the pushes run at the same time; which key's readiness the reactor sees
  // first is not the pipeline's order (a documented difference). Still exactly one element
  // is taken and the other stays.
  Reply got = GetReply(c.get());
  auto strings = StringsOf(got.get());
  ASSERT_TRUE(strings && strings->size() == 2) << Describe(got);
  std::string other = (*strings)[0] == k1 ? k0 : k1;
  EXPECT_EQ((*strings)[1], (*strings)[0] == k1 ? "first" : "second");
  EXPECT_THAT(Command(admin_, {"LLEN", other}), IsInt(1));
}

// 50 producers and 50 blocked consumers over 5 lists on different shards: every element is
// delivered exactly once, and each consumer receives a producer's elements in the order
// that producer pushed them.
TEST_P(BlockingTest, ManyProducersAndConsumers) {
  constexpr int kLists = 5;
  constexpr int kPerList = 10;   // producers per list, and consumers per list
  constexpr int kElements = 20;  // per producer
  std::vector<std::string> lists;
  for (int i = 0; i < kLists; ++i)
    lists.push_back(KeyOnShard(StrCat("q", i, "_"), i % shards(), shards()));

  std::atomic<int> errors{0};
  std::mutex mu;
  std::string first_error;
  auto note_error = [&](const std::string& what) {
    std::lock_guard<std::mutex> lock(mu);
    if (errors++ == 0) first_error = what;
  };
  // Per consumer: the elements it received, in order.
  std::vector<std::vector<std::string>> received(kLists * kPerList);
  std::vector<std::thread> consumers;
  for (int i = 0; i < kLists * kPerList; ++i) {
    consumers.emplace_back([&, i] {
      RedisConn c = server_->Connect();
      if (!c) return note_error("connect");
      const std::string& list = lists[static_cast<size_t>(i % kLists)];
      // Until this consumer's stop marker (pushed after every producer finished, so it comes
      // after every element in the list).
      while (true) {
        Reply r = Command(c, {"BLPOP", list, "5"});
        auto s = StringsOf(r.get());
        if (!s || s->size() != 2 || (*s)[0] != list) {
          return note_error(StrCat("consumer ", i, ": ", Describe(r)));
        }
        if ((*s)[1] == "stop") return;
        received[static_cast<size_t>(i)].push_back((*s)[1]);
      }
    });
  }
  EXPECT_TRUE(WaitBlocked(kLists * kPerList));
  std::vector<std::thread> producers;
  for (int p = 0; p < kLists * kPerList; ++p) {
    producers.emplace_back([&, p] {
      RedisConn c = server_->Connect();
      if (!c) return note_error("connect");
      const std::string& list = lists[static_cast<size_t>(p % kLists)];
      for (int e = 0; e < kElements; ++e) {
        Reply r = Command(c, {"RPUSH", list, StrCat("p", p, ":", e)});
        if (!r || r->type != REDIS_REPLY_INTEGER) return note_error(Describe(r));
      }
    });
  }
  for (auto& t : producers) t.join();
  for (const auto& list : lists) {
    std::vector<std::string_view> stop = {"RPUSH", list};
    for (int i = 0; i < kPerList; ++i) stop.push_back("stop");
    Reply r = Command(admin_, stop);
    EXPECT_TRUE(r && r->type == REDIS_REPLY_INTEGER) << Describe(r);
  }
  for (auto& t : consumers) t.join();
  ASSERT_EQ(errors.load(), 0) << first_error;

  std::map<std::string, int> seen;
  for (int i = 0; i < kLists * kPerList; ++i) {
    std::map<int, int> last;  // producer -> last element this consumer got from it
    for (const auto& v : received[static_cast<size_t>(i)]) {
      ++seen[v];
      int producer = 0, element = 0;
      ASSERT_EQ(sscanf(v.c_str(), "p%d:%d", &producer, &element), 2) << v;
      EXPECT_EQ(producer % kLists, i % kLists) << v << " came from the wrong list";
      auto it = last.find(producer);
      EXPECT_TRUE(it == last.end() || it->second < element)
          << "consumer " << i << " got " << v << " after p" << producer << ":" << it->second;
      last[producer] = element;
    }
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kLists * kPerList * kElements));
  for (const auto& [v, n] : seen) EXPECT_EQ(n, 1) << v << " delivered " << n << " times";
  for (const auto& list : lists) EXPECT_THAT(Command(admin_, {"EXISTS", list}), IsInt(0));
  EXPECT_TRUE(WaitBlocked(0));
}

// SIGTERM while clients are blocked and multi-shard commands are queued: a clean exit.
TEST_P(BlockingTest, StopsCleanlyWithWaitersAndQueuedMultiShardCommands) {
  std::vector<RedisConn> waiters;
  for (int i = 0; i < 10; ++i) {
    std::string key = StrCat("w", i);
    if (i % 3 == 0) {
      waiters.push_back(BlockOn({"BLPOP", key, "k2", "0"}, i + 1));
    } else if (i % 3 == 1) {
      waiters.push_back(BlockOn({"BZPOPMIN", key, "0"}, i + 1));
    } else {
      waiters.push_back(BlockOn({"BLMOVE", key, "dst", "LEFT", "RIGHT", "0"}, i + 1));
    }
    ASSERT_TRUE(waiters.back());
  }
  // Busy clients: pipelines of MSET / MGET / transactions over every shard, not read.
  std::vector<RedisConn> busy;
  for (int i = 0; i < 4; ++i) {
    RedisConn c = server_->Connect();
    ASSERT_TRUE(c);
    for (int j = 0; j < 200; ++j) {
      std::vector<std::string> keys;
      for (int s = 0; s < 6; ++s) keys.push_back(StrCat("m", i, "_", s));
      if (j % 3 == 0) {
        AppendCommand(c.get(), {"MSET", keys[0], "v", keys[1], "v", keys[2], "v", keys[3], "v",
                                keys[4], "v", keys[5], "v"});
      } else if (j % 3 == 1) {
        AppendCommand(c.get(), {"MGET", keys[0], keys[1], keys[2], keys[3], keys[4], keys[5]});
      } else {
        AppendCommand(c.get(), {"MULTI"});
        AppendCommand(c.get(), {"INCR", keys[0]});
        AppendCommand(c.get(), {"DEL", keys[1], keys[2], keys[3]});
        AppendCommand(c.get(), {"EXEC"});
      }
    }
    ASSERT_TRUE(Send(c.get(), {"PING"}));
    busy.push_back(std::move(c));
  }
  auto start = Clock::now();
  int status = server_->Stop(milliseconds(5000));
  EXPECT_LT(Clock::now() - start, milliseconds(5000));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "wait status " << status;
}

INSTANTIATE_TEST_SUITE_P(Shards, BlockingTest, ::testing::Values(1, 3), ShardsName);

}  // namespace
}  // namespace omnibus::testing
