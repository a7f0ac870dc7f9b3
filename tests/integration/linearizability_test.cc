// Issue 11, part 8: histories from many concurrent clients against the real binary, checked
// for linearizability key by key (tests/lincheck), and pipelined read-your-writes while other
// clients hammer the same key. These are what prove the singleflight front (DESIGN §5,
// invariant 5) correct: many identical GETs of a hot key in flight at once, some joining a
// flight, none ever returning a value older than a write that completed before it was sent.
//
// Parameterized on shard count and on `CONFIG SET singleflight yes|no`: the "no" variant is
// skipped where the parameter is unknown (before singleflight, or against redis-server). Both
// tests pass against redis-server too:
//   OMNIBUS_TEST_SERVER=$PWD/tests/testing/redis_as_omnibus.sh
//       build/tests/integration_tests --gtest_filter='*Linearizability*'
#include <atomic>
#include <chrono>
#include <latch>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lincheck/lincheck.h"
#include "testing/server_process.h"

namespace omnibus::testing {
namespace {

using lincheck::CheckResult;
using lincheck::Operation;
using lincheck::OpKind;
using lincheck::Outcome;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// What a reply says about the operation. An error other than INCR's "not an integer" (a shed
// request, say) tells nothing certain: the operation counts as pending (it may or may not
// have happened), which only ever widens what the checker accepts for the others.
Outcome OutcomeOf(OpKind kind, const redisReply* r, int* unexpected_errors) {
  if (r == nullptr) return Outcome::Pending();
  switch (r->type) {
    case REDIS_REPLY_STATUS:
      return std::string_view(r->str, r->len) == "OK" ? Outcome::Ok() : Outcome::Pending();
    case REDIS_REPLY_NIL:
      return Outcome::Nil();
    case REDIS_REPLY_STRING:
      return Outcome::Bulk(std::string(r->str, r->len));
    case REDIS_REPLY_INTEGER:
      return Outcome::Int(r->integer);
    case REDIS_REPLY_ERROR: {
      std::string text(r->str, r->len);
      if (kind == OpKind::kIncr && text == "ERR value is not an integer or out of range") {
        return Outcome::Error(text);
      }
      ++*unexpected_errors;
      return Outcome::Pending();
    }
    default:
      ++*unexpected_errors;
      return Outcome::Pending();
  }
}

std::vector<std::string_view> ArgvOf(const Operation& op) {
  switch (op.kind) {
    case OpKind::kSet:
      return {"SET", op.key, op.value};
    case OpKind::kGet:
      return {"GET", op.key};
    case OpKind::kIncr:
      return {"INCR", op.key};
    case OpKind::kDel:
      return {"DEL", op.key};
  }
  return {};
}

// Sends `batch` as one pipeline (invoke time: before it is written) and fills in each
// operation's outcome and completion time as its reply is read. False if the connection
// failed (the operations without a reply stay pending). `argvs`, if given, are the commands
// sent instead of ArgvOf (e.g. an MSET that is a SET of the key to the checker).
bool RunPipeline(redisContext* c, std::vector<Operation>& batch, int* unexpected_errors,
                 const std::vector<std::vector<std::string>>* argvs = nullptr) {
  int64_t invoke = NowNs();
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i].invoke_ns = invoke;
    if (argvs != nullptr && !(*argvs)[i].empty()) {
      AppendCommand(c, std::vector<std::string_view>((*argvs)[i].begin(), (*argvs)[i].end()));
    } else {
      AppendCommand(c, ArgvOf(batch[i]));
    }
  }
  for (Operation& op : batch) {
    Reply r = GetReply(c);
    op.complete_ns = NowNs();
    if (!r) return false;
    op.outcome = OutcomeOf(op.kind, r.get(), unexpected_errors);
  }
  return true;
}

// Turns singleflight on or off; false if the server has no such parameter.
bool SetSingleflight(redisContext* c, bool on) {
  Reply r = Command(c, {"CONFIG", "SET", "singleflight", on ? "yes" : "no"});
  return r && r->type == REDIS_REPLY_STATUS;
}

using Param = std::tuple<int, bool>;  // shards, singleflight

class LinearizabilityTest : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServerProcess>(
        std::vector<std::string>{"--shards", std::to_string(shards())});
    ASSERT_TRUE(server_->ok()) << server_->error();
    RedisConn c = server_->Connect();
    ASSERT_TRUE(c);
    if (!SetSingleflight(c.get(), singleflight()) && !singleflight()) {
      GTEST_SKIP() << "CONFIG SET singleflight is not supported";
    }
  }
  int shards() const { return std::get<0>(GetParam()); }
  bool singleflight() const { return std::get<1>(GetParam()); }

  // Checks every key's history; a violation fails the test with its witness.
  void ExpectLinearizable(const std::vector<Operation>& history) {
    auto start = std::chrono::steady_clock::now();
    std::vector<CheckResult> results = lincheck::CheckPerKey(history);
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    size_t configurations = 0;
    for (const CheckResult& r : results) {
      EXPECT_TRUE(r.ok()) << r.witness;
      configurations += r.configurations;
    }
    RecordProperty("operations", static_cast<int>(history.size()));
    RecordProperty("check_ms", static_cast<int>(seconds * 1000));
    RecordProperty("configurations", static_cast<int>(configurations));
  }

  void RunHotKeys(int num_keys);

  std::unique_ptr<ServerProcess> server_;
};

// 8 clients (two sending one command at a time, six pipelining 1 to 16) run 2,000 random
// SET/GET/INCR/DEL each on `num_keys` hot keys; every key's history must be linearizable.
void LinearizabilityTest::RunHotKeys(int num_keys) {
  constexpr int kClients = 8;
  constexpr int kOpsPerClient = 2000;
  const std::vector<std::string> keys = KeysOverAllShards("lin:", num_keys, shards());

  std::vector<RedisConn> conns;
  for (int i = 0; i < kClients; ++i) {
    conns.push_back(server_->Connect());
    ASSERT_TRUE(conns.back());
  }
  const int64_t joins_before = InfoField(conns[0].get(), "stats", "singleflight_joins");
  std::vector<std::vector<Operation>> histories(kClients);
  std::atomic<int> unexpected_errors{0}, broken{0};
  std::latch start(kClients);
  std::vector<std::thread> threads;
  for (int id = 0; id < kClients; ++id) {
    threads.emplace_back([&, id] {
      std::mt19937_64 rng(1000 * shards() + 10 * singleflight() + id);
      std::vector<Operation>& history = histories[id];
      int errors = 0;
      int sets = 0;
      int64_t seq = 0;  // program order: the checker holds each client to it
      start.arrive_and_wait();
      while (static_cast<int>(history.size()) < kOpsPerClient) {
        // Two clients send one command at a time, the others pipelines of 1 to 16.
        int depth = id < 2 ? 1 : 1 + static_cast<int>(rng() % 16);
        std::vector<Operation> batch(depth);
        for (Operation& op : batch) {
          op.client = id;
          op.seq = seq++;
          op.key = keys[rng() % keys.size()];
          // Mostly reads, as on a hot key: they are what singleflight coalesces. (Blind
          // writes are what makes checking expensive: see lincheck_test.cc.)
          int r = static_cast<int>(rng() % 100);
          op.kind = r < 70   ? OpKind::kGet
                    : r < 82 ? OpKind::kSet
                    : r < 97 ? OpKind::kIncr
                             : OpKind::kDel;
          // Unique numbers: INCR works on them, and a read names the write it saw.
          if (op.kind == OpKind::kSet)
            op.value = std::to_string((id + 1) * 1'000'000'000LL + 1000LL * ++sets);
        }
        bool ok = RunPipeline(conns[id].get(), batch, &errors);
        history.insert(history.end(), batch.begin(), batch.end());
        if (!ok) {
          ++broken;
          break;
        }
      }
      unexpected_errors += errors;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(broken.load(), 0);
  EXPECT_EQ(unexpected_errors.load(), 0);

  std::vector<Operation> history;
  std::set<std::string> seen_across;  // values read by a client other than their writer
  for (const auto& h : histories) history.insert(history.end(), h.begin(), h.end());
  for (const Operation& op : history) {
    if (op.kind == OpKind::kGet && op.outcome.kind == Outcome::Kind::kBulk &&
        op.outcome.text.size() >= 10 && op.outcome.text[0] - '1' != op.client) {
      seen_across.insert(op.outcome.text);
    }
  }
  // The clients really did share the keys, and with singleflight reads shared flights.
  EXPECT_GT(seen_across.size(), 10u);
  const int64_t joins = InfoField(conns[0].get(), "stats", "singleflight_joins");
  RecordProperty("singleflight_joins", static_cast<int>(joins - joins_before));
  if (joins >= 0 && singleflight()) {
    EXPECT_GT(joins, joins_before);
  } else if (joins >= 0) {
    EXPECT_EQ(joins, joins_before);
  }
  ExpectLinearizable(history);
}

TEST_P(LinearizabilityTest, HotKeyHistoriesAreLinearizable) { RunHotKeys(3); }

// Every client on one key: the most in-flight duplicates for singleflight to coalesce.
TEST_P(LinearizabilityTest, OneHotKeyHistoryIsLinearizable) { RunHotKeys(1); }

TEST_P(LinearizabilityTest, PipelinedSetThenGetReadsItsOwnWrite) {
  constexpr int kHammers = 6;
  constexpr int kHammerDepth = 16;
  constexpr int kRounds = 600;
  const std::string key = "ryw:hot";

  RedisConn writer = server_->Connect();
  ASSERT_TRUE(writer);
  std::vector<RedisConn> conns;
  for (int i = 0; i < kHammers; ++i) {
    conns.push_back(server_->Connect());
    ASSERT_TRUE(conns.back());
  }
  std::vector<std::vector<Operation>> histories(kHammers + 1);
  Operation initial;  // part of the history: the checker starts from an absent key
  initial.key = key;
  initial.seq = 0;
  initial.kind = OpKind::kSet;
  initial.value = "v0";
  initial.invoke_ns = NowNs();
  ASSERT_THAT(Command(writer, {"SET", key, "v0"}), IsStatus("OK"));
  initial.complete_ns = NowNs();
  initial.outcome = Outcome::Ok();
  histories[0].push_back(initial);

  std::atomic<bool> done{false};
  std::atomic<int> unexpected_errors{0}, broken{0};
  std::latch start(kHammers + 1);
  std::vector<std::thread> threads;
  for (int id = 0; id < kHammers; ++id) {
    threads.emplace_back([&, id] {
      std::vector<Operation>& history = histories[id + 1];
      int errors = 0;
      int64_t seq = 0;
      start.arrive_and_wait();
      while (!done.load(std::memory_order_relaxed)) {
        std::vector<Operation> batch(kHammerDepth);
        for (Operation& op : batch) {
          op.client = id + 1;
          op.seq = seq++;
          op.key = key;
          op.kind = OpKind::kGet;
        }
        bool ok = RunPipeline(conns[id].get(), batch, &errors);
        history.insert(history.end(), batch.begin(), batch.end());
        if (!ok) {
          ++broken;
          break;
        }
      }
      unexpected_errors += errors;
    });
  }

  // Half the writes are an MSET of the key and one on another shard (a fan-out).
  std::string other = "ryw:other";
  for (const std::string& k : KeysOverAllShards("ryw:other", shards(), shards())) {
    if (KeyShard(k, shards()) != KeyShard(key, shards())) other = k;
  }
  RedisConn admin = server_->Connect();
  ASSERT_TRUE(admin);
  const int64_t joins_before = InfoField(admin.get(), "stats", "singleflight_joins");
  const int64_t refused_before =
      InfoField(admin.get(), "stats", "singleflight_joins_refused_own_writes");

  // The writer: SET k v_i; GET k in one pipeline, sometimes two or three such pairs.
  std::mt19937_64 rng(77 * shards() + singleflight());
  std::vector<Operation>& mine = histories[0];
  int errors = 0, own_write_missed = 0, value = 0;
  int64_t seq = 1;
  std::string first_miss;
  start.arrive_and_wait();
  for (int round = 0; round < kRounds; ++round) {
    int pairs = 1 + static_cast<int>(rng() % 3);
    std::vector<Operation> batch;
    std::vector<std::vector<std::string>> argvs;
    for (int p = 0; p < pairs; ++p) {
      Operation set;
      set.client = 0;
      set.seq = seq++;
      set.key = key;
      set.kind = OpKind::kSet;
      set.value = "v" + std::to_string(++value);
      Operation get = set;
      get.kind = OpKind::kGet;
      get.value.clear();
      get.seq = seq++;
      if (rng() % 2 == 0) {
        argvs.push_back({"MSET", key, set.value, other, set.value});
      } else {
        argvs.push_back({});
      }
      argvs.push_back({});
      batch.push_back(set);
      batch.push_back(get);
    }
    if (!RunPipeline(writer.get(), batch, &errors, &argvs)) {
      ++broken;
      break;
    }
    for (size_t i = 0; i + 1 < batch.size(); i += 2) {
      const Outcome& got = batch[i + 1].outcome;
      if (got.kind != Outcome::Kind::kBulk || got.text != batch[i].value) {
        if (own_write_missed++ == 0) {
          first_miss = "round " + std::to_string(round) + ": SET " + batch[i].value +
                       " then GET returned " + lincheck::Describe(batch[i + 1]);
        }
      }
    }
    mine.insert(mine.end(), batch.begin(), batch.end());
  }
  done = true;
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(own_write_missed, 0) << first_miss;
  EXPECT_EQ(broken.load(), 0);
  EXPECT_EQ(errors + unexpected_errors.load(), 0);

  // The hammering was real: the readers had many GETs in flight and saw the writer's values.
  std::vector<Operation> history;
  std::set<std::string> hammers_saw;
  for (const auto& h : histories) history.insert(history.end(), h.begin(), h.end());
  for (const Operation& op : history) {
    if (op.client != 0 && op.outcome.kind == Outcome::Kind::kBulk) {
      hammers_saw.insert(op.outcome.text);
    }
  }
  EXPECT_GT(history.size() - mine.size(), static_cast<size_t>(kRounds));
  EXPECT_GT(hammers_saw.size(), 10u);
  // With singleflight, the hammers' GETs shared flights, and every one of the writer's GETs
  // was kept out of the flights it could have joined. (-1: no such INFO field.)
  const int64_t joins = InfoField(admin.get(), "stats", "singleflight_joins");
  const int64_t refused = InfoField(admin.get(), "stats", "singleflight_joins_refused_own_writes");
  RecordProperty("singleflight_joins", static_cast<int>(joins - joins_before));
  if (joins >= 0 && singleflight()) {
    EXPECT_GT(joins, joins_before);
    // Each round's GETs follow a write in their group (unless the pipeline happened to arrive
    // in two reads, which loopback makes rare): most were refused.
    EXPECT_GE(refused - refused_before, kRounds / 2);
  } else if (joins >= 0) {
    EXPECT_EQ(joins, joins_before);
  }
  // The whole key's history (the writer's values are unique) is linearizable too.
  ExpectLinearizable(history);
}

std::string ParamName(const ::testing::TestParamInfo<Param>& info) {
  return "Shards" + std::to_string(std::get<0>(info.param)) + "_Singleflight" +
         (std::get<1>(info.param) ? "On" : "Off");
}

INSTANTIATE_TEST_SUITE_P(ShardsAndSingleflight, LinearizabilityTest,
                         ::testing::Combine(::testing::Values(1, 2, 3), ::testing::Bool()),
                         ParamName);

}  // namespace
}  // namespace omnibus::testing
