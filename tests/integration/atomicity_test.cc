// Invariant 4: multi-key commands are atomic across shards. Concurrent MSET writers and MGET
// readers on the same keys must never observe a mix of two MSETs; concurrent MSETNX on
// overlapping key sets must let exactly one win and never set a key set partially.
#include <atomic>
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

using ::testing::HasSubstr;

int64_t FanoutCommands(redisContext* c) {
  Reply r = Command(c, {"INFO", "stats"});
  auto text = StringOf(r.get());
  if (!text) return -1;
  size_t pos = text->find("fanout_commands:");
  if (pos == std::string::npos) return -1;
  return strtoll(text->c_str() + pos + 16, nullptr, 10);
}

class AtomicityTest : public ShardedServerTest {};

TEST_P(AtomicityTest, MgetNeverSeesAHalfAppliedMset) {
  constexpr int kKeys = 10;
  constexpr int kWriters = 3;
  constexpr int kReaders = 3;
  constexpr int kIterations = 2000;  // per thread
  constexpr int kPipeline = 8;       // commands in flight per connection
  std::vector<std::string> keys = KeysOverAllShards("atom:", kKeys, shards());
  std::set<int> used;
  for (const auto& k : keys) used.insert(KeyShard(k, shards()));
  ASSERT_EQ(static_cast<int>(used.size()), std::min(shards(), kKeys));

  RedisConn admin = server_->Connect();
  ASSERT_TRUE(admin);
  int64_t fanouts_before = FanoutCommands(admin.get());

  std::atomic<int> torn{0}, errors{0}, reads{0};
  std::string first_torn;
  std::mutex first_torn_mu;
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      RedisConn c = server_->Connect();
      if (!c) {
        ++errors;
        return;
      }
      for (int i = 0; i < kIterations; i += kPipeline) {
        for (int j = i; j < i + kPipeline; ++j) {
          std::string value = StrCat("w", w, "-i", j);
          std::vector<std::string_view> args = {"MSET"};
          for (const auto& k : keys) {
            args.push_back(k);
            args.push_back(value);
          }
          AppendCommand(c.get(), args);
        }
        for (int j = i; j < i + kPipeline; ++j) {
          if (!::testing::Matches(IsStatus("OK"))(GetReply(c.get()))) ++errors;
        }
      }
    });
  }
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&] {
      RedisConn c = server_->Connect();
      if (!c) {
        ++errors;
        return;
      }
      std::vector<std::string_view> args = {"MGET"};
      for (const auto& k : keys) args.push_back(k);
      for (int i = 0; i < kIterations; i += kPipeline) {
        for (int j = 0; j < kPipeline; ++j) AppendCommand(c.get(), args);
        for (int j = 0; j < kPipeline; ++j) {
          Reply reply = GetReply(c.get());
          auto values = StringsOf(reply.get());
          if (!values || values->size() != keys.size()) {
            ++errors;
            continue;
          }
          ++reads;
          for (const auto& v : *values) {
            if (v != values->front()) {
              if (++torn == 1) {
                std::lock_guard<std::mutex> lock(first_torn_mu);
                first_torn = Describe(reply);
              }
              break;
            }
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(reads.load(), kReaders * kIterations);
  EXPECT_EQ(torn.load(), 0) << "MGET saw a half-applied MSET, e.g. " << first_torn;
  // The final state is one writer's last MSET, whole.
  std::vector<std::string_view> args = {"MGET"};
  for (const auto& k : keys) args.push_back(k);
  auto final_values = StringsOf(Command(admin, args).get());
  ASSERT_TRUE(final_values);
  EXPECT_THAT(*final_values, ::testing::Each(final_values->front()));
  EXPECT_THAT(final_values->front(), ::testing::EndsWith(StrCat("-i", kIterations - 1)));
  if (shards() > 1) {
    // The commands really were split across shards.
    EXPECT_GE(FanoutCommands(admin.get()) - fanouts_before, kWriters * kIterations);
  }
}

TEST_P(AtomicityTest, MsetnxOnOverlappingKeySetsHasExactlyOneWinner) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 300;
  // Round r's key sets: every thread uses the same shared keys (spread over all shards) plus
  // one key of its own, so the sets overlap without being equal. Once one MSETNX wins, every
  // other one must fail, and a loser's own key must never appear.
  auto shared_keys = [&](int round) {
    return KeysOverAllShards(StrCat("nx", round, ":"), 5, shards());
  };
  auto own_key = [](int round, int t) { return StrCat("nx", round, ":own", t); };
  std::vector<std::vector<int>> won(kThreads, std::vector<int>(kRounds, -1));
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      RedisConn c = server_->Connect();
      if (!c) {
        ++errors;
        return;
      }
      for (int r = 0; r < kRounds; ++r) {
        // Threads go through the rounds in different orders so they collide on each one.
        int round = (t % 2 == 0) ? r : kRounds - 1 - r;
        std::string value = StrCat("t", t, "-r", round);
        std::vector<std::string> keys = shared_keys(round);
        keys.insert(keys.begin() + (t % static_cast<int>(keys.size())), own_key(round, t));
        std::vector<std::string_view> args = {"MSETNX"};
        for (const auto& k : keys) {
          args.push_back(k);
          args.push_back(value);
        }
        Reply reply = Command(c.get(), args);
        if (!reply || reply->type != REDIS_REPLY_INTEGER) {
          ++errors;
          continue;
        }
        won[static_cast<size_t>(t)][static_cast<size_t>(round)] = static_cast<int>(reply->integer);
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(errors.load(), 0);
  RedisConn c = server_->Connect();
  ASSERT_TRUE(c);
  int bad_rounds = 0;
  for (int round = 0; round < kRounds && bad_rounds < 5; ++round) {
    SCOPED_TRACE(StrCat("round ", round));
    std::vector<int> winners;
    for (int t = 0; t < kThreads; ++t) {
      int w = won[static_cast<size_t>(t)][static_cast<size_t>(round)];
      EXPECT_TRUE(w == 0 || w == 1) << "MSETNX returned " << w;
      if (w == 1) winners.push_back(t);
    }
    EXPECT_EQ(winners.size(), 1u);
    if (winners.size() != 1) {
      ++bad_rounds;
      continue;
    }
    std::string value = StrCat("t", winners[0], "-r", round);
    std::vector<std::string_view> args = {"MGET"};
    std::vector<std::string> keys = shared_keys(round);
    for (const auto& k : keys) args.push_back(k);
    auto values = StringsOf(Command(c, args).get());
    ASSERT_TRUE(values);
    EXPECT_THAT(*values, ::testing::Each(value));
    for (int t = 0; t < kThreads; ++t) {
      if (t == winners[0]) {
        EXPECT_THAT(Command(c, {"GET", own_key(round, t)}), IsBulk(value));
      } else {
        EXPECT_THAT(Command(c, {"GET", own_key(round, t)}), IsNil()) << "loser " << t;
      }
    }
  }
  EXPECT_EQ(bad_rounds, 0);
  // Nothing else was written: kRounds * (5 shared + 1 winner's own) keys.
  EXPECT_THAT(Command(c, {"DBSIZE"}), IsInt(kRounds * 6));
}

INSTANTIATE_TEST_SUITE_P(Shards, AtomicityTest, ::testing::Values(1, 2, 4), ShardsName);

}  // namespace
}  // namespace omnibus::testing
