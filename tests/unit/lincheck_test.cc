// The linearizability checker (tests/lincheck): hand-made histories it must accept and ones it
// must reject, agreement with a brute-force search on thousands of small random histories, and
// its speed on a few thousand operations of one hot key.

#include "lincheck/lincheck.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "omnibus/base/strings.h"

namespace omnibus::lincheck {
namespace {

using ::testing::HasSubstr;

Operation MakeOp(int client, OpKind kind, std::string value, Outcome outcome, int64_t invoke,
                 int64_t complete) {
  Operation op;
  op.client = client;
  op.key = "k";
  op.kind = kind;
  op.value = std::move(value);
  op.outcome = std::move(outcome);
  op.invoke_ns = invoke;
  op.complete_ns = complete;
  return op;
}
Operation Set(int c, std::string v, int64_t t0, int64_t t1) {
  return MakeOp(c, OpKind::kSet, std::move(v), Outcome::Ok(), t0, t1);
}
Operation SetPending(int c, std::string v, int64_t t0) {
  return MakeOp(c, OpKind::kSet, std::move(v), Outcome::Pending(), t0, 0);
}
Operation Get(int c, std::string v, int64_t t0, int64_t t1) {
  return MakeOp(c, OpKind::kGet, "", Outcome::Bulk(std::move(v)), t0, t1);
}
Operation GetNil(int c, int64_t t0, int64_t t1) {
  return MakeOp(c, OpKind::kGet, "", Outcome::Nil(), t0, t1);
}
Operation Incr(int c, int64_t n, int64_t t0, int64_t t1) {
  return MakeOp(c, OpKind::kIncr, "", Outcome::Int(n), t0, t1);
}
Operation IncrPending(int c, int64_t t0) {
  return MakeOp(c, OpKind::kIncr, "", Outcome::Pending(), t0, 0);
}
Operation IncrError(int c, int64_t t0, int64_t t1) {
  return MakeOp(c, OpKind::kIncr, "", Outcome::Error("ERR value is not an integer or out of range"),
                t0, t1);
}
Operation Del(int c, int64_t n, int64_t t0, int64_t t1) {
  return MakeOp(c, OpKind::kDel, "", Outcome::Int(n), t0, t1);
}

bool Linearizable(const std::vector<Operation>& ops) { return CheckRegister(ops).ok(); }

TEST(LincheckTest, EmptyAndSequentialHistories) {
  EXPECT_TRUE(Linearizable({}));
  EXPECT_TRUE(Linearizable({GetNil(1, 0, 1), Set(1, "a", 2, 3), Get(2, "a", 4, 5),
                            Incr(1, 1, 6, 7)}) == false);  // "a" is not an integer
  EXPECT_TRUE(
      Linearizable({GetNil(1, 0, 1), Set(1, "a", 2, 3), Get(2, "a", 4, 5), IncrError(1, 6, 7),
                    Set(2, "41", 8, 9), Incr(1, 42, 10, 11), Get(3, "42", 12, 13),
                    Del(1, 1, 14, 15), GetNil(2, 16, 17), Del(3, 0, 18, 19), Incr(2, 1, 20, 21)}));
}

TEST(LincheckTest, ConcurrentReadsMaySeeEitherSideOfAWrite) {
  // The write of "b" overlaps both reads: one may see "a", the other "b", in either order
  // of invocation, as long as no later read goes back.
  EXPECT_TRUE(Linearizable(
      {Set(1, "a", 0, 10), Set(1, "b", 20, 60), Get(2, "b", 25, 35), Get(3, "a", 30, 50)}));
  EXPECT_TRUE(Linearizable(
      {Set(1, "a", 0, 10), Set(1, "b", 20, 60), Get(2, "a", 25, 35), Get(3, "b", 30, 50)}));
}

TEST(LincheckTest, RejectsAStaleReadAfterACompletedWrite) {
  std::vector<Operation> ops = {Set(1, "a", 0, 10), Set(1, "b", 20, 30), Get(2, "a", 40, 50)};
  CheckResult r = CheckRegister(ops);
  ASSERT_EQ(r.verdict, CheckResult::Verdict::kViolation);
  EXPECT_EQ(r.culprit, 2u);
  EXPECT_THAT(r.witness, HasSubstr("c2 GET -> \"a\""));
  EXPECT_THAT(r.witness, HasSubstr("the register holds \"b\""));
  EXPECT_THAT(r.witness, HasSubstr("Concurrent with it: nothing"));
  // The same read overlapping the write is fine.
  ops[2] = Get(2, "a", 25, 50);
  EXPECT_TRUE(Linearizable(ops));
}

TEST(LincheckTest, RejectsReadsThatSeeWritesInInvertedOrder) {
  // "a" is written first and done; "b" is written concurrently with both reads. Once a read
  // has returned "b", a read that starts later cannot return "a" again.
  std::vector<Operation> ops = {Set(1, "a", 0, 10), Set(2, "b", 5, 100), Get(3, "b", 20, 30),
                                Get(4, "a", 40, 50)};
  CheckResult r = CheckRegister(ops);
  ASSERT_EQ(r.verdict, CheckResult::Verdict::kViolation) << r.witness;
  EXPECT_THAT(r.witness, HasSubstr("Concurrent with it: c2 SET \"b\""));
  // If the reads overlap each other, either order is possible.
  ops[3] = Get(4, "a", 25, 50);
  EXPECT_TRUE(Linearizable(ops));
}

TEST(LincheckTest, RejectsIncrResultsThatSkip) {
  EXPECT_FALSE(Linearizable({Incr(1, 1, 0, 10), Incr(2, 3, 20, 30)}));
  EXPECT_FALSE(Linearizable({Incr(1, 1, 0, 10), Incr(2, 1, 20, 30)}));  // one was lost
  // Two concurrent INCRs each return a different number, in any order.
  EXPECT_TRUE(Linearizable({Incr(1, 2, 0, 10), Incr(2, 1, 5, 30)}));
  EXPECT_FALSE(Linearizable({Incr(1, 2, 0, 10), Incr(2, 2, 5, 30)}));
  // A pending INCR in between may explain the gap...
  EXPECT_TRUE(Linearizable({Incr(1, 1, 0, 10), IncrPending(3, 15), Incr(2, 3, 20, 30)}));
  // ...but not if it was sent after the INCR that saw the gap had returned.
  EXPECT_FALSE(Linearizable({Incr(1, 1, 0, 10), Incr(2, 3, 20, 30), IncrPending(3, 35)}));
}

TEST(LincheckTest, PendingWritesMayOrMayNotAppear) {
  const Operation a = Set(1, "a", 0, 10), b = SetPending(2, "b", 20);
  EXPECT_TRUE(Linearizable({a, b, Get(3, "a", 30, 40)}));                       // not (yet) applied
  EXPECT_TRUE(Linearizable({a, b, Get(3, "b", 30, 40)}));                       // applied
  EXPECT_TRUE(Linearizable({a, b, Get(3, "a", 30, 40), Get(3, "b", 50, 60)}));  // applied late
  // Once seen, it stays.
  EXPECT_FALSE(Linearizable({a, b, Get(3, "b", 30, 40), Get(3, "a", 50, 60)}));
  // A read cannot see a write sent after the read returned.
  EXPECT_FALSE(Linearizable({a, Get(3, "b", 12, 18), b}));
}

TEST(LincheckTest, DelMakesTheRegisterNil) {
  EXPECT_TRUE(Linearizable({Set(1, "a", 0, 10), Del(2, 1, 20, 30), GetNil(3, 40, 50)}));
  EXPECT_FALSE(Linearizable({Set(1, "a", 0, 10), Del(2, 1, 20, 30), Get(3, "a", 40, 50)}));
  EXPECT_FALSE(Linearizable({Del(2, 1, 0, 10)}));  // nothing to delete
  EXPECT_FALSE(Linearizable({Set(1, "a", 0, 10), Del(2, 0, 20, 30)}));
  EXPECT_FALSE(Linearizable({Set(1, "a", 0, 10), GetNil(3, 40, 50)}));
}

TEST(LincheckTest, IncrErrorsOnlyOnNonIntegers) {
  EXPECT_TRUE(Linearizable({Set(1, "x", 0, 10), IncrError(2, 20, 30)}));
  EXPECT_FALSE(Linearizable({Set(1, "7", 0, 10), IncrError(2, 20, 30)}));
  EXPECT_TRUE(Linearizable({Set(1, "9223372036854775807", 0, 10), IncrError(2, 20, 30)}));
  EXPECT_TRUE(Linearizable({Set(1, "007", 0, 10), IncrError(2, 20, 30)}));  // as string2ll
  EXPECT_TRUE(Linearizable({Set(1, "-2", 0, 10), Incr(2, -1, 20, 30), Get(3, "-1", 40, 50)}));
}

TEST(LincheckTest, InitialValue) {
  std::vector<Operation> ops = {Get(1, "v0", 0, 10), Incr(2, 1, 20, 30)};
  EXPECT_FALSE(CheckRegister(ops).ok());
  EXPECT_FALSE(CheckRegister(ops, "v0").ok());  // INCR of "v0" fails
  ops[1] = IncrError(2, 20, 30);
  EXPECT_TRUE(CheckRegister(ops, "v0").ok());
}

TEST(LincheckTest, CheckPerKeySplitsByKey) {
  std::vector<Operation> ops = {Set(1, "a", 0, 10), Set(1, "b", 20, 30), Get(2, "a", 40, 50)};
  ops[1].key = "other";  // then the read of "a" on k is fine
  std::vector<CheckResult> results = CheckPerKey(ops);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].key, "k");
  EXPECT_TRUE(results[0].ok());
  EXPECT_EQ(results[1].key, "other");
  EXPECT_TRUE(results[1].ok());
  ops[1].key = "k";
  results = CheckPerKey(ops);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_FALSE(results[0].ok());
}

// An independent, exhaustive search: tries every order of the operations that respects
// real time, leaving out any subset of the pending ones.
bool BruteForce(const std::vector<Operation>& ops) {
  const size_t n = ops.size();
  std::vector<bool> used(n, false);
  auto done_before = [&](const Operation& y, const Operation& x) {
    if (y.client == x.client && y.seq >= 0 && x.seq >= 0 && y.seq < x.seq) return true;
    return y.outcome.kind != Outcome::Kind::kPending && y.complete_ns < x.invoke_ns;
  };
  std::function<bool(std::optional<std::string>)> search = [&](std::optional<std::string> s) {
    bool all_completed_used = true;
    for (size_t i = 0; i < n; ++i) {
      if (!used[i] && ops[i].outcome.kind != Outcome::Kind::kPending) all_completed_used = false;
    }
    if (all_completed_used) return true;
    for (size_t i = 0; i < n; ++i) {
      if (used[i]) continue;
      bool ready = true;
      for (size_t j = 0; j < n; ++j) {
        if (!used[j] && j != i && done_before(ops[j], ops[i])) ready = false;
      }
      if (!ready) continue;
      const Operation& op = ops[i];
      const Outcome& o = op.outcome;
      bool pending = o.kind == Outcome::Kind::kPending;
      std::optional<std::string> after = s;
      bool valid = true;
      switch (op.kind) {
        case OpKind::kSet:
          after = op.value;
          break;
        case OpKind::kGet:
          valid = pending || (s ? o.kind == Outcome::Kind::kBulk && o.text == *s
                                : o.kind == Outcome::Kind::kNil);
          break;
        case OpKind::kDel:
          after.reset();
          valid = pending || (o.kind == Outcome::Kind::kInt && o.integer == (s ? 1 : 0));
          break;
        case OpKind::kIncr: {
          int64_t v = 0;
          bool number = !s || (ParseInt64(*s, &v) && v < INT64_MAX);
          if (number) after = std::to_string(v + 1);
          valid = pending || (number ? o.kind == Outcome::Kind::kInt && o.integer == v + 1
                                     : o.kind == Outcome::Kind::kError);
          break;
        }
      }
      if (!valid) continue;
      used[i] = true;
      bool ok = search(after);
      used[i] = false;
      if (ok) return true;
    }
    return false;
  };
  return search(std::nullopt);
}

// A random history from clients that each run one operation at a time: every operation takes
// effect at a random point of its interval (pending ones maybe never), outcomes are what the
// register answered at that point; then, half the time, one outcome is changed.
// With `unique`, every SET writes a number no other SET writes (as the integration tests do).
// With `pipelines`, half the operations are sent with the one before (same invocation time,
// a later reply, a later point) and every operation carries its place in its client's program.
std::vector<Operation> RandomHistory(std::mt19937_64& rng, int clients, int ops_per_client,
                                     int64_t max_gap, bool perturb, bool unique = false,
                                     bool pipelines = false) {
  struct Timed {
    Operation op;
    int64_t point;
    bool applies;
    bool pending;
  };
  std::vector<Timed> timed;
  for (int c = 0; c < clients; ++c) {
    int64_t t = static_cast<int64_t>(rng() % max_gap);
    int depth = 1;
    for (int i = 0; i < ops_per_client; ++i) {
      Timed x;
      x.op.client = c;
      x.op.key = "k";
      int r = static_cast<int>(rng() % 10);
      x.op.kind = r < 4   ? OpKind::kGet
                  : r < 7 ? OpKind::kSet
                  : r < 9 ? OpKind::kIncr
                          : OpKind::kDel;
      if (x.op.kind == OpKind::kSet && unique) {
        x.op.value = std::to_string(1'000'000 * (c + 1) + 1000 * i);
      } else if (x.op.kind == OpKind::kSet) {
        x.op.value = rng() % 4 == 0 ? "s" + std::to_string(rng() % 3) : std::to_string(rng() % 4);
      }
      x.op.invoke_ns = t;
      x.op.complete_ns = t + 1 + static_cast<int64_t>(rng() % max_gap);
      x.point = x.op.invoke_ns + static_cast<int64_t>(rng() % (x.op.complete_ns - t + 1));
      if (pipelines) {
        x.op.seq = i;
        // Pipelines of up to 4; each reply comes a little after the one before.
        if (i > 0 && depth < 4 && rng() % 2 == 0) {
          ++depth;
          const Timed& before = timed.back();
          x.op.invoke_ns = before.op.invoke_ns;
          x.op.complete_ns =
              before.op.complete_ns + 1 + static_cast<int64_t>(rng() % (max_gap / 4 + 1));
          x.point =
              before.point + 1 +
              static_cast<int64_t>(rng() % static_cast<uint64_t>(x.op.complete_ns - before.point));
        }
      }
      x.applies = true;
      x.pending = false;
      t = x.op.complete_ns + 1 + static_cast<int64_t>(rng() % max_gap);
      bool pending = i == ops_per_client - 1 && rng() % 3 == 0;  // a client's last op
      if (pending) {
        x.pending = true;
        x.applies = rng() % 2 == 0;
      }
      timed.push_back(std::move(x));
    }
  }
  std::vector<size_t> order(timed.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return timed[a].point < timed[b].point; });
  std::optional<std::string> s;
  for (size_t i : order) {
    Timed& x = timed[i];
    if (!x.applies) continue;
    Outcome o;
    switch (x.op.kind) {
      case OpKind::kSet:
        s = x.op.value;
        o = Outcome::Ok();
        break;
      case OpKind::kGet:
        o = s ? Outcome::Bulk(*s) : Outcome::Nil();
        break;
      case OpKind::kDel:
        o = Outcome::Int(s ? 1 : 0);
        s.reset();
        break;
      case OpKind::kIncr: {
        int64_t v = 0;
        if (!s || ParseInt64(*s, &v)) {
          s = std::to_string(v + 1);
          o = Outcome::Int(v + 1);
        } else {
          o = Outcome::Error("ERR value is not an integer or out of range");
        }
        break;
      }
    }
    if (!x.pending) x.op.outcome = o;
  }
  std::vector<Operation> ops;
  for (Timed& x : timed) ops.push_back(std::move(x.op));
  if (perturb) {
    Operation& victim = ops[rng() % ops.size()];
    switch (victim.outcome.kind) {
      case Outcome::Kind::kBulk:
        victim.outcome = rng() % 2 ? Outcome::Nil() : Outcome::Bulk(std::to_string(rng() % 4));
        break;
      case Outcome::Kind::kNil:
        victim.outcome = Outcome::Bulk("0");
        break;
      case Outcome::Kind::kInt:
        victim.outcome.integer += rng() % 2 ? 1 : -1;
        break;
      default:
        break;
    }
  }
  std::shuffle(ops.begin(), ops.end(), rng);  // the checker must not rely on input order
  return ops;
}

TEST(LincheckTest, ClientOrderCatchesAPipelinedStaleRead) {
  // c2 pipelines SET b; GET: both sent at 20. As windows alone, the GET may come first and
  // read "a"; in the client's order it cannot.
  std::vector<Operation> ops = {Set(1, "a", 0, 10), Set(2, "b", 20, 30), Get(2, "a", 20, 31)};
  EXPECT_TRUE(Linearizable(ops));
  ops[1].seq = 7;
  ops[2].seq = 8;
  CheckResult r = CheckRegister(ops);
  ASSERT_EQ(r.verdict, CheckResult::Verdict::kViolation);
  EXPECT_EQ(r.culprit, 2u);
  // Reading its own write is fine, and so is another client's read of "a".
  ops[2] = Get(2, "b", 20, 31);
  ops[2].seq = 8;
  ops.push_back(Get(3, "a", 20, 31));
  ops.back().seq = 0;
  EXPECT_TRUE(Linearizable(ops));
}

TEST(LincheckTest, AgreesWithBruteForceOnSmallRandomHistories) {
  std::mt19937_64 rng(11);
  int violations = 0, checked = 0;
  for (int round = 0; round < 4000; ++round) {
    int clients = 2 + static_cast<int>(rng() % 3);
    int per_client = clients == 4 ? 2 : 3;
    bool pipelines = round % 4 >= 2;
    std::vector<Operation> ops =
        RandomHistory(rng, clients, per_client, 6, round % 2 == 1, false, pipelines);
    bool expected = BruteForce(ops);
    CheckResult r = CheckRegister(ops);
    ASSERT_NE(r.verdict, CheckResult::Verdict::kGaveUp);
    ASSERT_EQ(r.ok(), expected) << "round " << round << ": " << r.witness;
    if (!expected) {
      ++violations;
      EXPECT_TRUE(r.culprit.has_value());
    }
    ++checked;
  }
  // Both kinds of history were exercised.
  EXPECT_GT(violations, checked / 10);
  EXPECT_LT(violations, checked / 2);
}

#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
constexpr bool kTimed = true;
#else
constexpr bool kTimed = false;
#endif

// A hot key: 16 clients, 4000 operations, each overlapping about 8 others. (With 32 clients
// and about 16 concurrent writes a linearizable history takes millions of configurations: the
// search is exponential in the concurrency, as every WGL-style checker is; the integration
// tests keep their concurrency per key near this one.)
constexpr int kHotClients = 16;
std::vector<Operation> HotKeyHistory(uint64_t seed, bool unique, bool pipelines = false) {
  std::mt19937_64 rng(seed);
  return RandomHistory(rng, kHotClients, 4000 / kHotClients, 2000, false, unique, pipelines);
}

TEST(LincheckTest, FastOnThousandsOfOperations) {
  for (int variant = 0; variant < 3; ++variant) {
    bool unique = variant != 1, pipelines = variant == 2;
    std::vector<Operation> ops = HotKeyHistory(5, unique, pipelines);
    ASSERT_EQ(ops.size(), 4000u);
    auto start = std::chrono::steady_clock::now();
    CheckResult r = CheckRegister(ops);
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_TRUE(r.ok()) << r.witness;
    printf("unique values %d, pipelines %d: %.3f s, %zu configurations\n", unique, pipelines,
           seconds, r.configurations);
    // The search's size is deterministic (seeded histories); its time is checked only in
    // optimized builds without sanitizers, and generously (a loaded CI machine).
    EXPECT_LT(r.configurations, 100'000u);
    if (kTimed) {
      EXPECT_LT(seconds, 2.0) << r.configurations << " configurations";
    }
  }
}

TEST(LincheckTest, FindsOneBadReadAmongThousands) {
  std::vector<Operation> ops = HotKeyHistory(6, true);
  // After everything, one stale read: it returns the value a write that completed before the
  // read's invocation had overwritten. The search must exhaust the whole history first.
  int64_t end = 0;
  for (const Operation& op : ops) end = std::max(end, op.complete_ns);
  ops.push_back(Set(99, "old", end + 1, end + 2));
  ops.push_back(Set(99, "new", end + 3, end + 4));
  ops.push_back(Get(98, "old", end + 5, end + 6));
  ops.push_back(Set(99, "after", end + 7, end + 8));
  auto start = std::chrono::steady_clock::now();
  CheckResult r = CheckRegister(ops);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(r.verdict, CheckResult::Verdict::kViolation);
  EXPECT_THAT(r.witness, HasSubstr("c98 GET -> \"old\""));
  printf("%.3f s, %zu configurations\n", seconds, r.configurations);
  EXPECT_LT(r.configurations, 500'000u);
  if (kTimed) {
    EXPECT_LT(seconds, 2.0);
  }

  // With too small a budget the search gives up, and says where it got furthest.
  CheckOptions small;
  small.max_configurations = 1000;
  r = CheckRegister(ops, std::nullopt, small);
  EXPECT_EQ(r.verdict, CheckResult::Verdict::kGaveUp);
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.witness, HasSubstr("gave up after 1001 configurations; the deepest point"));
}

}  // namespace
}  // namespace omnibus::lincheck
