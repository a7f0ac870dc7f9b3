// Leases against miss stampedes (LEASE.*, an Omnibus extension; docs/leases.md) on the real
// binary: one winner per miss however many clients miss at once, waiters served by the
// winner's LEASE.SET, a waiter taking over when the winner's lease runs out or is released,
// stale values, token checks, what plain commands do to a leased key, MULTI, errors.
//
// No sleeps as synchronization: a test waits until INFO clients shows its clients as blocked
// (`blocked_clients`) before it acts.
#include <hiredis/hiredis.h>
#include <poll.h>

#include <atomic>
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

using Clock = std::chrono::steady_clock;

// A LEASE.GET reply: [status, value|nil, token|nil, ms].
struct Lease {
  std::string status;
  std::optional<std::string> value;
  int64_t token = 0;  // 0: nil
  int64_t ms = 0;
};

// Parses a LEASE.GET reply, checking each element's RESP type.
::testing::AssertionResult ParseLease(const redisReply* r, Lease* out) {
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements != 4) {
    return ::testing::AssertionFailure() << "not a 4-element array: " << Describe(r);
  }
  const redisReply* const* e = r->element;
  if (e[0]->type != REDIS_REPLY_STATUS) return ::testing::AssertionFailure() << Describe(r);
  out->status.assign(e[0]->str, e[0]->len);
  if (e[1]->type == REDIS_REPLY_STRING) {
    out->value.emplace(e[1]->str, e[1]->len);
  } else if (e[1]->type != REDIS_REPLY_NIL) {
    return ::testing::AssertionFailure() << "value: " << Describe(r);
  }
  if (e[2]->type == REDIS_REPLY_INTEGER && e[2]->integer > 0) {
    out->token = e[2]->integer;
  } else if (e[2]->type != REDIS_REPLY_NIL) {
    return ::testing::AssertionFailure() << "token: " << Describe(r);
  }
  if (e[3]->type != REDIS_REPLY_INTEGER) return ::testing::AssertionFailure() << Describe(r);
  out->ms = e[3]->integer;
  return ::testing::AssertionSuccess();
}

// A key named prefix<i> on `shard` (of `shards`).
std::string KeyOnShard(const std::string& prefix, int shard, int shards) {
  for (int i = 0;; ++i) {
    std::string key = StrCat(prefix, i);
    if (KeyShard(key, shards) == shard) return key;
  }
}

Lease MustLease(const Reply& r) {
  Lease l;
  EXPECT_TRUE(ParseLease(r.get(), &l));
  return l;
}

bool Send(redisContext* c, const std::vector<std::string_view>& args) {
  AppendCommand(c, args);
  int done = 0;
  while (done == 0) {
    if (redisBufferWrite(c, &done) != REDIS_OK) return false;
  }
  return true;
}

bool Readable(redisContext* c, std::chrono::milliseconds deadline) {
  pollfd p = {c->fd, POLLIN, 0};
  return poll(&p, 1, static_cast<int>(deadline.count())) > 0;
}

int64_t ElapsedMs(Clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count();
}

class LeaseTest : public ShardedServerTest {
 protected:
  void SetUp() override {
    ShardedServerTest::SetUp();
    if (HasFatalFailure()) return;
    admin_ = server_->Connect();
    ASSERT_TRUE(admin_);
  }

  std::optional<int64_t> Blocked() { return InfoInt(admin_.get(), "clients", "blocked_clients"); }
  ::testing::AssertionResult WaitBlocked(int64_t n) {
    if (PollUntil([&] { return Blocked() == n; }, std::chrono::milliseconds(5000))) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure()
           << "blocked_clients is " << Blocked().value_or(-1) << ", not " << n;
  }
  // A new connection that sent `args` and is now blocked (the `blocked_after`th).
  RedisConn BlockOn(const std::vector<std::string_view>& args, int64_t blocked_after) {
    RedisConn c = server_->Connect();
    EXPECT_TRUE(c);
    if (!c) return c;
    EXPECT_TRUE(Send(c.get(), args));
    EXPECT_TRUE(WaitBlocked(blocked_after));
    EXPECT_FALSE(Readable(c.get(), std::chrono::milliseconds(0))) << "answered instead";
    return c;
  }
  Lease Get(std::string_view key, std::string_view lease_ms = "10000") {
    return MustLease(Command(admin_, {"LEASE.GET", key, lease_ms}));
  }

  RedisConn admin_;
};

TEST_P(LeaseTest, FirstMissWinsThenSetServesEveryone) {
  Lease win = Get("k", "10000");
  EXPECT_EQ(win.status, "win");
  EXPECT_FALSE(win.value);
  EXPECT_GT(win.token, 0);
  EXPECT_EQ(win.ms, 10000);
  // Someone else misses while the lease is held: no WAIT, so a retry hint at once.
  RedisConn other = server_->Connect();
  Lease retry = MustLease(Command(other, {"LEASE.GET", "k", "5000"}));
  EXPECT_EQ(retry.status, "retry");
  EXPECT_FALSE(retry.value);
  EXPECT_EQ(retry.token, 0);
  EXPECT_GT(retry.ms, 0);
  EXPECT_LE(retry.ms, 10000);  // the holder's lease, not the asker's 5000
  // Only the live token stores.
  std::string token = std::to_string(win.token);
  std::string wrong = std::to_string(win.token + 1);
  EXPECT_THAT(Command(admin_, {"LEASE.SET", "k", wrong, "v"}), IsInt(0));
  EXPECT_THAT(Command(admin_, {"EXISTS", "k"}), IsInt(0));
  EXPECT_THAT(Command(admin_, {"LEASE.SET", "k", token, "v", "PX", "60000"}), IsInt(1));
  EXPECT_THAT(Command(admin_, {"GET", "k"}), IsBulk("v"));
  EXPECT_THAT(Command(admin_, {"LEASE.SET", "k", token, "again"}), IsInt(0));  // used up
  EXPECT_THAT(Command(admin_, {"GET", "k"}), IsBulk("v"));
  Lease hit = Get("k");
  EXPECT_EQ(hit.status, "hit");
  EXPECT_EQ(hit.value, "v");
  EXPECT_EQ(hit.token, 0);
  EXPECT_GT(hit.ms, 59000);  // the key's TTL
  EXPECT_LE(hit.ms, 60000);
  ASSERT_THAT(Command(admin_, {"SET", "plain", "x"}), IsStatus("OK"));
  EXPECT_EQ(Get("plain").ms, -1);  // no TTL
  // EX in seconds.
  Lease w2 = Get("k2");
  ASSERT_EQ(w2.status, "win");
  EXPECT_THAT(Command(admin_, {"LEASE.SET", "k2", std::to_string(w2.token), "v2", "ex", "100"}),
              IsInt(1));
  EXPECT_THAT(Command(admin_, {"TTL", "k2"}), IsInt(100));
}

TEST_P(LeaseTest, RepliesInResp2AndResp3) {
  RawClient raw(server_->ConnectRaw());
  ASSERT_TRUE(raw.ok());
  ASSERT_THAT(Command(admin_, {"SET", "h", "val"}), IsStatus("OK"));
  ASSERT_EQ(Get("held").status, "win");
  ASSERT_TRUE(raw.Send("LEASE.GET h 100\r\n"));
  EXPECT_EQ(raw.ReadExactly(29), "*4\r\n+hit\r\n$3\r\nval\r\n$-1\r\n:-1\r\n");
  ASSERT_TRUE(raw.Send("LEASE.GET held 100\r\nPING\r\n"));
  std::string retry = raw.ReadUntil("+PONG\r\n");
  EXPECT_THAT(retry, ::testing::MatchesRegex(
                         "\\*4\r\n\\+retry\r\n\\$-1\r\n\\$-1\r\n:[0-9]+\r\n\\+PONG\r\n"));
  ASSERT_TRUE(raw.Send("HELLO 3\r\nPING\r\n"));
  raw.ReadUntil("+PONG\r\n");
  ASSERT_TRUE(raw.Send("LEASE.GET h 100\r\n"));
  EXPECT_EQ(raw.ReadExactly(27), "*4\r\n+hit\r\n$3\r\nval\r\n_\r\n:-1\r\n");
  ASSERT_TRUE(raw.Send("LEASE.GET held 100\r\nPING\r\n"));
  retry = raw.ReadUntil("+PONG\r\n");
  EXPECT_THAT(retry,
              ::testing::MatchesRegex("\\*4\r\n\\+retry\r\n_\r\n_\r\n:[0-9]+\r\n\\+PONG\r\n"));
  ASSERT_TRUE(raw.Send("LEASE.GET new 1234\r\nPING\r\n"));
  EXPECT_THAT(raw.ReadUntil("+PONG\r\n"),
              ::testing::MatchesRegex("\\*4\r\n\\+win\r\n_\r\n:[0-9]+\r\n:1234\r\n\\+PONG\r\n"));
}

// 50 clients miss the same key at once: exactly one wins and computes; the 49 others wait and
// get the value the moment the winner sets it.
TEST_P(LeaseTest, StampedeOfFiftyMissersHasOneWinner) {
  constexpr int kClients = 50;
  std::vector<RedisConn> conns;
  for (int i = 0; i < kClients; ++i) {
    conns.push_back(server_->Connect());
    ASSERT_TRUE(conns.back());
  }
  auto start = Clock::now();
  for (auto& c : conns) ASSERT_TRUE(Send(c.get(), {"LEASE.GET", "hot", "10000", "WAIT", "10000"}));
  // The winner is answered at once; every other client waits.
  ASSERT_TRUE(WaitBlocked(kClients - 1));
  int winner = -1;
  Lease win;
  for (int i = 0; i < kClients; ++i) {
    if (!Readable(conns[static_cast<size_t>(i)].get(), std::chrono::milliseconds(0))) continue;
    EXPECT_EQ(winner, -1) << "a second client was answered: " << i;
    winner = i;
    ASSERT_TRUE(ParseLease(GetReply(conns[static_cast<size_t>(i)].get()).get(), &win));
  }
  ASSERT_NE(winner, -1);
  EXPECT_EQ(win.status, "win");
  // The winner "computes" and stores; every waiter is served by that one SET.
  EXPECT_THAT(Command(conns[static_cast<size_t>(winner)],
                      {"LEASE.SET", "hot", std::to_string(win.token), "computed"}),
              IsInt(1));
  for (int i = 0; i < kClients; ++i) {
    if (i == winner) continue;
    Lease got = MustLease(GetReply(conns[static_cast<size_t>(i)].get()));
    EXPECT_EQ(got.status, "hit") << "client " << i;
    EXPECT_EQ(got.value, "computed") << "client " << i;
  }
  EXPECT_LT(ElapsedMs(start), 10000);  // within the wait, not at its end
  EXPECT_TRUE(WaitBlocked(0));
}

// The same stampede from many threads running the cache-aside loop: one computation.
TEST_P(LeaseTest, ConcurrentCacheAsideComputesOnce) {
  constexpr int kThreads = 20;
  std::atomic<int> computed{0};
  std::atomic<int> served{0};
  std::atomic<int> blocked_seen{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      RedisConn c = server_->Connect();
      if (!c) return;
      for (int attempt = 0; attempt < 5; ++attempt) {
        Lease l;
        if (!ParseLease(Command(c, {"LEASE.GET", "page", "5000", "WAIT", "5000"}).get(), &l)) {
          return;
        }
        if (l.status == "hit") {
          if (l.value == "rendered") ++served;
          return;
        }
        if (l.status == "win") {
          ++computed;
          // Hold the lease until the other clients wait (so they really are a stampede).
          RedisConn probe = server_->Connect();
          PollUntil(
              [&] { return InfoInt(probe.get(), "clients", "blocked_clients") == kThreads - 1; },
              std::chrono::milliseconds(5000));
          ++blocked_seen;
          Reply r = Command(c, {"LEASE.SET", "page", std::to_string(l.token), "rendered"});
          if (r && r->type == REDIS_REPLY_INTEGER && r->integer == 1) ++served;
          return;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(computed.load(), 1);
  EXPECT_EQ(served.load(), kThreads);
  EXPECT_EQ(blocked_seen.load(), 1);
}

// The winner never sets (it died): when its lease runs out one waiter becomes the winner, the
// others keep waiting for that one.
TEST_P(LeaseTest, AWaiterTakesOverWhenTheWinnersLeaseRunsOut) {
  Lease dead;
  {
    RedisConn winner = server_->Connect();
    dead = MustLease(Command(winner, {"LEASE.GET", "k", "300"}));
    ASSERT_EQ(dead.status, "win");
  }  // gone without a LEASE.SET
  auto start = Clock::now();
  RedisConn a = BlockOn({"LEASE.GET", "k", "10000", "WAIT", "10000"}, 1);
  RedisConn b = BlockOn({"LEASE.GET", "k", "10000", "WAIT", "10000"}, 2);
  RedisConn c = BlockOn({"LEASE.GET", "k", "10000", "WAIT", "10000"}, 3);
  ASSERT_TRUE(a && b && c);
  // One of them wins once the 300 ms are up; the other two block on.
  ASSERT_TRUE(PollUntil(
      [&] {
        return Readable(a.get(), std::chrono::milliseconds(0)) ||
               Readable(b.get(), std::chrono::milliseconds(0)) ||
               Readable(c.get(), std::chrono::milliseconds(0));
      },
      std::chrono::milliseconds(5000)));
  EXPECT_GE(ElapsedMs(start), 250);
  EXPECT_TRUE(WaitBlocked(2));
  std::vector<redisContext*> all = {a.get(), b.get(), c.get()};
  redisContext* next = nullptr;
  Lease taken;
  for (redisContext* x : all) {
    if (!Readable(x, std::chrono::milliseconds(0))) continue;
    ASSERT_EQ(next, nullptr) << "two winners";
    next = x;
    ASSERT_TRUE(ParseLease(GetReply(x).get(), &taken));
  }
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(taken.status, "win");
  EXPECT_NE(taken.token, dead.token);
  EXPECT_EQ(next, a.get()) << "the first to wait should take over";
  // The dead winner's token no longer stores; the new one does and serves the others.
  EXPECT_THAT(Command(admin_, {"LEASE.SET", "k", std::to_string(dead.token), "old"}), IsInt(0));
  EXPECT_THAT(Command(next, {"LEASE.SET", "k", std::to_string(taken.token), "new"}), IsInt(1));
  for (redisContext* x : all) {
    if (x == next) continue;
    Lease got = MustLease(GetReply(x));
    EXPECT_EQ(got.status, "hit");
    EXPECT_EQ(got.value, "new");
  }
  EXPECT_LT(ElapsedMs(start), 10000);
}

TEST_P(LeaseTest, ReleaseHandsTheLeaseToAWaiter) {
  Lease win = Get("k", "60000");
  ASSERT_EQ(win.status, "win");
  RedisConn w = BlockOn({"LEASE.GET", "k", "1000", "WAIT", "20000"}, 1);
  ASSERT_TRUE(w);
  std::string token = std::to_string(win.token);
  EXPECT_THAT(Command(admin_, {"LEASE.RELEASE", "k", std::to_string(win.token + 1)}), IsInt(0));
  EXPECT_FALSE(Readable(w.get(), std::chrono::milliseconds(0)));
  auto start = Clock::now();
  EXPECT_THAT(Command(admin_, {"LEASE.RELEASE", "k", token}), IsInt(1));
  Lease next = MustLease(GetReply(w.get()));
  EXPECT_EQ(next.status, "win");
  EXPECT_EQ(next.ms, 1000);
  EXPECT_LT(ElapsedMs(start), 5000);
  EXPECT_THAT(Command(admin_, {"LEASE.RELEASE", "k", token}), IsInt(0));
  EXPECT_THAT(Command(admin_, {"LEASE.SET", "k", token, "v"}), IsInt(0));
}

TEST_P(LeaseTest, AWaitThatTimesOutGetsARetryHint) {
  ASSERT_EQ(Get("k", "30000").status, "win");
  auto start = Clock::now();
  Lease r = MustLease(Command(admin_, {"LEASE.GET", "k", "1000", "WAIT", "150"}));
  EXPECT_GE(ElapsedMs(start), 140);
  EXPECT_EQ(r.status, "retry");
  EXPECT_GT(r.ms, 25000);
  EXPECT_LE(r.ms, 30000);
  EXPECT_TRUE(WaitBlocked(0));
  // WAIT 0 does not wait at all.
  EXPECT_EQ(MustLease(Command(admin_, {"LEASE.GET", "k", "1000", "WAIT", "0"})).status, "retry");
}

TEST_P(LeaseTest, InvalidateServesTheStaleValueWhileTheWinnerRecomputes) {
  ASSERT_THAT(Command(admin_, {"SET", "k", "old"}), IsStatus("OK"));
  EXPECT_THAT(Command(admin_, {"LEASE.INVALIDATE", "k", "60000"}), IsInt(1));
  EXPECT_THAT(Command(admin_, {"GET", "k"}), IsNil());
  EXPECT_THAT(Command(admin_, {"EXISTS", "k"}), IsInt(0));
  Lease win = Get("k", "10000");
  EXPECT_EQ(win.status, "win");
  EXPECT_EQ(win.value, "old");  // may be served while recomputing
  EXPECT_GT(win.token, 0);
  // Others get the stale value at once, even when they would wait.
  auto start = Clock::now();
  Lease stale = MustLease(Command(admin_, {"LEASE.GET", "k", "10000", "WAIT", "5000"}));
  EXPECT_LT(ElapsedMs(start), 2000);
  EXPECT_EQ(stale.status, "stale");
  EXPECT_EQ(stale.value, "old");
  EXPECT_EQ(stale.token, 0);
  EXPECT_GT(stale.ms, 0);
  EXPECT_THAT(Command(admin_, {"LEASE.SET", "k", std::to_string(win.token), "new"}), IsInt(1));
  Lease hit = Get("k");
  EXPECT_EQ(hit.status, "hit");
  EXPECT_EQ(hit.value, "new");
  // Without a stale time the value is simply gone; a missing key answers 0.
  EXPECT_THAT(Command(admin_, {"LEASE.INVALIDATE", "k"}), IsInt(1));
  Lease bare = Get("k");
  EXPECT_EQ(bare.status, "win");
  EXPECT_FALSE(bare.value);
  EXPECT_THAT(Command(admin_, {"LEASE.INVALIDATE", "never"}), IsInt(0));
  EXPECT_THAT(Command(admin_, {"LEASE.INVALIDATE", "never", "1000"}), IsInt(0));
}

// The data changed while the winner computed: invalidating revokes its lease (its SET would
// store a value computed from old data) and a waiter wins a fresh one.
TEST_P(LeaseTest, InvalidateRevokesTheLiveLease) {
  Lease win = Get("k", "60000");
  ASSERT_EQ(win.status, "win");
  RedisConn w = BlockOn({"LEASE.GET", "k", "1000", "WAIT", "20000"}, 1);
  ASSERT_TRUE(w);
  EXPECT_THAT(Command(admin_, {"LEASE.INVALIDATE", "k"}), IsInt(0));
  Lease fresh = MustLease(GetReply(w.get()));
  EXPECT_EQ(fresh.status, "win");
  EXPECT_THAT(Command(admin_, {"LEASE.SET", "k", std::to_string(win.token), "computed-from-old"}),
              IsInt(0));
  EXPECT_THAT(Command(w, {"LEASE.SET", "k", std::to_string(fresh.token), "fresh"}), IsInt(1));
  EXPECT_THAT(Command(admin_, {"GET", "k"}), IsBulk("fresh"));
}

TEST_P(LeaseTest, PlainWritesEndTheLease) {
  // A plain SET serves the waiters and ends the lease.
  Lease win = Get("k", "60000");
  ASSERT_EQ(win.status, "win");
  RedisConn w = BlockOn({"LEASE.GET", "k", "1000", "WAIT", "20000"}, 1);
  ASSERT_TRUE(w);
  ASSERT_THAT(Command(admin_, {"SET", "k", "plain"}), IsStatus("OK"));
  Lease got = MustLease(GetReply(w.get()));
  EXPECT_EQ(got.status, "hit");
  EXPECT_EQ(got.value, "plain");
  EXPECT_THAT(Command(admin_, {"LEASE.SET", "k", std::to_string(win.token), "mine"}), IsInt(0));
  EXPECT_THAT(Command(admin_, {"GET", "k"}), IsBulk("plain"));

  // DEL of the (missing) leased key answers 0, as Redis does, but revokes the lease.
  Lease w2 = Get("j", "60000");
  ASSERT_EQ(w2.status, "win");
  EXPECT_THAT(Command(admin_, {"DEL", "j"}), IsInt(0));
  EXPECT_THAT(Command(admin_, {"LEASE.SET", "j", std::to_string(w2.token), "x"}), IsInt(0));
  EXPECT_EQ(Get("j").status, "win");

  // A write of another type ends it too; a waiter then sees WRONGTYPE.
  Lease w3 = Get("l", "60000");
  ASSERT_EQ(w3.status, "win");
  RedisConn wl = BlockOn({"LEASE.GET", "l", "1000", "WAIT", "20000"}, 1);
  ASSERT_TRUE(wl);
  ASSERT_THAT(Command(admin_, {"RPUSH", "l", "a"}), IsInt(1));
  EXPECT_THAT(GetReply(wl.get()),
              IsError("WRONGTYPE Operation against a key holding the wrong kind of value"));
  EXPECT_THAT(Command(admin_, {"LEASE.SET", "l", std::to_string(w3.token), "x"}), IsInt(0));
  EXPECT_THAT(Command(admin_, {"LEASE.INVALIDATE", "l", "1000"}),
              IsError("WRONGTYPE Operation against a key holding the wrong kind of value"));
  EXPECT_THAT(Command(admin_, {"TYPE", "l"}), IsStatus("list"));
}

TEST_P(LeaseTest, FlushForgetsLeasesAndWakesWaiters) {
  // Only leases, no keys at all: FLUSHDB still clears them.
  ASSERT_THAT(Command(admin_, {"DBSIZE"}), IsInt(0));
  Lease win = Get("k", "60000");
  ASSERT_EQ(win.status, "win");
  RedisConn w = BlockOn({"LEASE.GET", "k", "1000", "WAIT", "20000"}, 1);
  ASSERT_TRUE(w);
  ASSERT_THAT(Command(admin_, {"FLUSHDB"}), IsStatus("OK"));
  EXPECT_EQ(MustLease(GetReply(w.get())).status, "win");
  EXPECT_THAT(Command(admin_, {"LEASE.SET", "k", std::to_string(win.token), "x"}), IsInt(0));
  // FLUSHALL too, and leases are per DB.
  ASSERT_THAT(Command(admin_, {"SELECT", "2"}), IsStatus("OK"));
  Lease in2 = Get("k", "60000");
  EXPECT_EQ(in2.status, "win");  // DB 2 has its own lease on "k"
  ASSERT_THAT(Command(admin_, {"FLUSHALL"}), IsStatus("OK"));
  EXPECT_THAT(Command(admin_, {"LEASE.SET", "k", std::to_string(in2.token), "x"}), IsInt(0));
}

TEST_P(LeaseTest, InsideMultiItNeverWaits) {
  ASSERT_EQ(Get("k", "60000").status, "win");
  ASSERT_THAT(Command(admin_, {"MULTI"}), IsStatus("OK"));
  ASSERT_THAT(Command(admin_, {"LEASE.GET", "k", "1000", "WAIT", "20000"}), IsStatus("QUEUED"));
  ASSERT_THAT(Command(admin_, {"LEASE.GET", "fresh", "1000", "WAIT", "20000"}), IsStatus("QUEUED"));
  auto start = Clock::now();
  Reply exec = Command(admin_, {"EXEC"});
  EXPECT_LT(ElapsedMs(start), 5000);
  ASSERT_TRUE(exec && exec->type == REDIS_REPLY_ARRAY && exec->elements == 2) << Describe(exec);
  Lease a, b;
  ASSERT_TRUE(ParseLease(exec->element[0], &a));
  ASSERT_TRUE(ParseLease(exec->element[1], &b));
  EXPECT_EQ(a.status, "retry");
  EXPECT_EQ(b.status, "win");
  // A transaction sets with its token like anyone else.
  ASSERT_THAT(Command(admin_, {"MULTI"}), IsStatus("OK"));
  ASSERT_THAT(Command(admin_, {"LEASE.SET", "fresh", std::to_string(b.token), "v"}),
              IsStatus("QUEUED"));
  ASSERT_THAT(Command(admin_, {"GET", "fresh"}), IsStatus("QUEUED"));
  Reply exec2 = Command(admin_, {"EXEC"});
  ASSERT_TRUE(exec2 && exec2->type == REDIS_REPLY_ARRAY && exec2->elements == 2);
  EXPECT_THAT(exec2->element[0], IsInt(1));
  EXPECT_THAT(exec2->element[1], IsBulk("v"));
}

// Taking or releasing a lease is not a change of the key; storing or invalidating it is.
TEST_P(LeaseTest, WatchSeesLeaseSetButNotLeaseGet) {
  RedisConn other = server_->Connect();
  ASSERT_THAT(Command(admin_, {"WATCH", "k"}), IsStatus("OK"));
  Lease win = MustLease(Command(other, {"LEASE.GET", "k", "60000"}));
  ASSERT_EQ(win.status, "win");
  ASSERT_THAT(Command(admin_, {"MULTI"}), IsStatus("OK"));
  ASSERT_THAT(Command(admin_, {"PING"}), IsStatus("QUEUED"));
  Reply ran = Command(admin_, {"EXEC"});
  ASSERT_TRUE(ran && ran->type == REDIS_REPLY_ARRAY && ran->elements == 1) << Describe(ran);

  ASSERT_THAT(Command(admin_, {"WATCH", "k"}), IsStatus("OK"));
  EXPECT_THAT(Command(other, {"LEASE.SET", "k", std::to_string(win.token), "v"}), IsInt(1));
  ASSERT_THAT(Command(admin_, {"MULTI"}), IsStatus("OK"));
  ASSERT_THAT(Command(admin_, {"PING"}), IsStatus("QUEUED"));
  EXPECT_THAT(Command(admin_, {"EXEC"}), IsNil());  // aborted: the key changed

  ASSERT_THAT(Command(admin_, {"WATCH", "k"}), IsStatus("OK"));
  EXPECT_THAT(Command(other, {"LEASE.INVALIDATE", "k", "1000"}), IsInt(1));
  ASSERT_THAT(Command(admin_, {"MULTI"}), IsStatus("OK"));
  ASSERT_THAT(Command(admin_, {"PING"}), IsStatus("QUEUED"));
  EXPECT_THAT(Command(admin_, {"EXEC"}), IsNil());
}

TEST_P(LeaseTest, InAScriptItNeverWaits) {
  ASSERT_EQ(Get("k", "60000").status, "win");
  auto start = Clock::now();
  Reply r = Command(
      admin_, {"EVAL", "return redis.call('lease.get', KEYS[1], 1000, 'WAIT', 20000)", "1", "k"});
  EXPECT_LT(ElapsedMs(start), 5000);
  ASSERT_TRUE(r && r->type == REDIS_REPLY_ARRAY && r->elements == 4) << Describe(r);
  EXPECT_THAT(r->element[0], IsStatus("retry"));
  // A token a script wins is exact (a Lua number is a double) and works outside it, also when
  // the script reached another shard and ran again parked.
  std::string other = KeyOnShard("other", shards() - 1, shards());
  std::string mine = KeyOnShard("mine", 0, shards());
  Reply won = Command(admin_, {"EVAL",
                               "local r = redis.call('lease.get', KEYS[1], 60000) "
                               "redis.call('get', ARGV[1]) return r",
                               "1", mine, other});
  ASSERT_TRUE(won && won->type == REDIS_REPLY_ARRAY && won->elements == 4) << Describe(won);
  EXPECT_THAT(won->element[0], IsStatus("win"));
  ASSERT_EQ(won->element[2]->type, REDIS_REPLY_INTEGER);
  EXPECT_THAT(Command(admin_, {"LEASE.SET", mine, std::to_string(won->element[2]->integer), "v"}),
              IsInt(1));
  EXPECT_THAT(Command(admin_, {"GET", mine}), IsBulk("v"));
}

TEST_P(LeaseTest, ClientUnblockEndsTheWait) {
  ASSERT_EQ(Get("k", "60000").status, "win");
  RedisConn w = server_->Connect();
  ASSERT_TRUE(w);
  Reply id = Command(w, {"CLIENT", "ID"});
  ASSERT_TRUE(id && id->type == REDIS_REPLY_INTEGER);
  std::string wid = std::to_string(id->integer);
  // UNBLOCK (TIMEOUT): the wait ends with one more look, answered as a retry.
  ASSERT_TRUE(Send(w.get(), {"LEASE.GET", "k", "1000", "WAIT", "20000"}));
  ASSERT_TRUE(WaitBlocked(1));
  EXPECT_THAT(Command(admin_, {"CLIENT", "UNBLOCK", wid}), IsInt(1));
  EXPECT_EQ(MustLease(GetReply(w.get())).status, "retry");
  // UNBLOCK ERROR: Redis's error.
  ASSERT_TRUE(Send(w.get(), {"LEASE.GET", "k", "1000", "WAIT", "20000"}));
  ASSERT_TRUE(WaitBlocked(1));
  EXPECT_THAT(Command(admin_, {"CLIENT", "UNBLOCK", wid, "ERROR"}), IsInt(1));
  EXPECT_THAT(GetReply(w.get()), IsError("UNBLOCKED client unblocked via CLIENT UNBLOCK"));
  // A waiter that goes away leaves nothing behind.
  {
    RedisConn gone = BlockOn({"LEASE.GET", "k", "1000", "WAIT", "20000"}, 1);
    ASSERT_TRUE(gone);
  }
  EXPECT_TRUE(WaitBlocked(0));
  EXPECT_THAT(Command(admin_, {"PING"}), IsStatus("PONG"));
}

// The largest lease and wait: no deadline overflows; the wait still ends when the lease does.
TEST_P(LeaseTest, ExtremeTimes) {
  constexpr std::string_view kMax = "9223372036854775807";
  Lease win = Get("k", kMax);
  ASSERT_EQ(win.status, "win");
  EXPECT_EQ(win.ms, 9223372036854775807);
  EXPECT_EQ(MustLease(Command(admin_, {"LEASE.GET", "k", "1"})).status, "retry");
  RedisConn w = BlockOn({"LEASE.GET", "k", kMax, "WAIT", kMax}, 1);
  ASSERT_TRUE(w);
  EXPECT_THAT(Command(admin_, {"LEASE.SET", "k", std::to_string(win.token), "v", "PX", kMax}),
              IsError("ERR invalid expire time in 'lease.set' command"));
  EXPECT_THAT(
      Command(admin_, {"LEASE.SET", "k", std::to_string(win.token), "v", "EX", "9223372036854775"}),
      IsError("ERR invalid expire time in 'lease.set' command"));
  EXPECT_THAT(Command(admin_, {"LEASE.RELEASE", "k", std::to_string(win.token)}), IsInt(1));
  Lease next = MustLease(GetReply(w.get()));
  EXPECT_EQ(next.status, "win");
  EXPECT_THAT(Command(w, {"LEASE.SET", "k", std::to_string(next.token), "v", "EX", "1000000"}),
              IsInt(1));
  EXPECT_EQ(Get("k").status, "hit");
}

TEST_P(LeaseTest, ErrorsAndArity) {
  for (std::string_view cmd : {"lease.get", "lease.set", "lease.release", "lease.invalidate"}) {
    EXPECT_THAT(Command(admin_, {cmd}),
                IsError(StrCat("ERR wrong number of arguments for '", cmd, "' command")));
  }
  EXPECT_THAT(Command(admin_, {"LEASE.GET", "k"}),
              IsError("ERR wrong number of arguments for 'lease.get' command"));
  EXPECT_THAT(Command(admin_, {"LEASE.SET", "k", "1"}),
              IsError("ERR wrong number of arguments for 'lease.set' command"));
  EXPECT_THAT(Command(admin_, {"LEASE.RELEASE", "k", "1", "2"}),
              IsError("ERR wrong number of arguments for 'lease.release' command"));
  EXPECT_THAT(Command(admin_, {"LEASE.GET", "k", "abc"}),
              IsError("ERR value is not an integer or out of range"));
  EXPECT_THAT(Command(admin_, {"LEASE.GET", "k", "0"}),
              IsError("ERR invalid lease time in 'lease.get' command"));
  EXPECT_THAT(Command(admin_, {"LEASE.GET", "k", "-5"}),
              IsError("ERR invalid lease time in 'lease.get' command"));
  EXPECT_THAT(Command(admin_, {"LEASE.GET", "k", "100", "WAIT"}), IsError("ERR syntax error"));
  EXPECT_THAT(Command(admin_, {"LEASE.GET", "k", "100", "NOPE", "1"}), IsError("ERR syntax error"));
  EXPECT_THAT(Command(admin_, {"LEASE.GET", "k", "100", "WAIT", "x"}),
              IsError("ERR value is not an integer or out of range"));
  EXPECT_THAT(Command(admin_, {"LEASE.GET", "k", "100", "WAIT", "-1"}),
              IsError("ERR timeout is negative"));
  EXPECT_THAT(Command(admin_, {"LEASE.SET", "k", "x", "v"}), IsError("ERR invalid lease token"));
  EXPECT_THAT(Command(admin_, {"LEASE.SET", "k", "0", "v"}), IsError("ERR invalid lease token"));
  EXPECT_THAT(Command(admin_, {"LEASE.SET", "k", "1", "v", "EX"}), IsError("ERR syntax error"));
  EXPECT_THAT(Command(admin_, {"LEASE.SET", "k", "1", "v", "EX", "1", "PX", "1"}),
              IsError("ERR syntax error"));
  EXPECT_THAT(Command(admin_, {"LEASE.SET", "k", "1", "v", "KEEPTTL"}),
              IsError("ERR syntax error"));
  EXPECT_THAT(Command(admin_, {"LEASE.SET", "k", "1", "v", "PX", "0"}),
              IsError("ERR invalid expire time in 'lease.set' command"));
  EXPECT_THAT(Command(admin_, {"LEASE.SET", "k", "1", "v", "EX", "x"}),
              IsError("ERR value is not an integer or out of range"));
  EXPECT_THAT(Command(admin_, {"LEASE.RELEASE", "k", "-3"}), IsError("ERR invalid lease token"));
  EXPECT_THAT(Command(admin_, {"LEASE.INVALIDATE", "k", "x"}),
              IsError("ERR value is not an integer or out of range"));
  EXPECT_THAT(Command(admin_, {"LEASE.INVALIDATE", "k", "-1"}),
              IsError("ERR invalid stale time in 'lease.invalidate' command"));
  EXPECT_THAT(Command(admin_, {"LEASE.INVALIDATE", "k", "1", "2"}), IsError("ERR syntax error"));
  ASSERT_THAT(Command(admin_, {"RPUSH", "list", "a"}), IsInt(1));
  EXPECT_THAT(Command(admin_, {"LEASE.GET", "list", "100"}),
              IsError("WRONGTYPE Operation against a key holding the wrong kind of value"));
  // Nothing of the above took a lease.
  EXPECT_EQ(Get("k").status, "win");
  // COMMAND INFO knows them.
  Reply info = Command(admin_, {"COMMAND", "INFO", "lease.get"});
  ASSERT_TRUE(info && info->type == REDIS_REPLY_ARRAY && info->elements == 1) << Describe(info);
  ASSERT_EQ(info->element[0]->type, REDIS_REPLY_ARRAY);
}

INSTANTIATE_TEST_SUITE_P(Shards, LeaseTest, ::testing::Values(1, 3), ShardsName);

}  // namespace
}  // namespace omnibus::testing
