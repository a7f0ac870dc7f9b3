// MULTI/EXEC/WATCH between several clients (invariant 4: a transaction is never seen
// half-applied; WATCH sees every change to a watched key, wherever it comes from). What one
// connection sees on its own (queueing, EXECABORT, errors) is in tests/differential/multi.txt.
#include <atomic>
#include <mutex>
#include <random>
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

// A key named prefix<i> on a shard other than `key`'s (when there is more than one shard).
std::string KeyOnAnotherShard(const std::string& prefix, const std::string& key, int shards) {
  for (int i = 0;; ++i) {
    std::string other = StrCat(prefix, i);
    if (shards == 1 || KeyShard(other, shards) != KeyShard(key, shards)) return other;
  }
}

class TransactionTest : public ShardedServerTest {
 protected:
  void SetUp() override {
    ShardedServerTest::SetUp();
    if (HasFatalFailure()) return;
    watcher_ = server_->Connect();
    other_ = server_->Connect();
    ASSERT_TRUE(watcher_ && other_);
  }

  // On watcher_: MULTI, SET `key` "mine", EXEC. Returns EXEC's reply (nil if the WATCH fired).
  Reply SetInTransaction(const std::string& key) {
    EXPECT_THAT(Command(watcher_, {"MULTI"}), IsStatus("OK"));
    EXPECT_THAT(Command(watcher_, {"SET", key, "mine"}), IsStatus("QUEUED"));
    return Command(watcher_, {"EXEC"});
  }

  RedisConn watcher_;  // WATCHes and runs the transaction
  RedisConn other_;    // changes (or only reads) the keyspace in between
};

TEST_P(TransactionTest, WatchFiresOnAnotherClientsWrite) {
  ASSERT_THAT(Command(watcher_, {"SET", "k", "v0"}), IsStatus("OK"));
  ASSERT_THAT(Command(watcher_, {"WATCH", "k"}), IsStatus("OK"));
  ASSERT_THAT(Command(other_, {"SET", "k", "theirs"}), IsStatus("OK"));
  EXPECT_THAT(SetInTransaction("k"), IsNil());
  EXPECT_THAT(Command(other_, {"GET", "k"}), IsBulk("theirs"));
  // EXEC forgot the watch: the next transaction runs.
  EXPECT_THAT(SetInTransaction("k"), IsArray(ElementsAre("OK")));
  EXPECT_THAT(Command(other_, {"GET", "k"}), IsBulk("mine"));
}

TEST_P(TransactionTest, WatchFiresOnAnotherClientsWriteToAnyOfSeveralKeys) {
  std::vector<std::string> keys = KeysOverAllShards("wk", 6, shards());
  for (size_t changed = 0; changed < keys.size(); ++changed) {
    SCOPED_TRACE(keys[changed]);
    std::vector<std::string_view> watch = {"WATCH"};
    for (const auto& k : keys) watch.push_back(k);
    ASSERT_THAT(Command(watcher_, watch), IsStatus("OK"));
    ASSERT_THAT(Command(other_, {"INCR", keys[changed]}), IsInt(1));
    EXPECT_THAT(Command(watcher_, {"MULTI"}), IsStatus("OK"));
    for (const auto& k : keys) EXPECT_THAT(Command(watcher_, {"INCR", k}), IsStatus("QUEUED"));
    EXPECT_THAT(Command(watcher_, {"EXEC"}), IsNil());
    ASSERT_THAT(Command(other_, {"DEL", keys[changed]}), IsInt(1));
  }
  // Nothing of the failed transactions was applied.
  std::vector<std::string_view> exists = {"EXISTS"};
  for (const auto& k : keys) exists.push_back(k);
  EXPECT_THAT(Command(other_, exists), IsInt(0));
}

TEST_P(TransactionTest, WatchFiresWhenTheKeyExpires) {
  ASSERT_THAT(Command(watcher_, {"SET", "k", "v", "PX", "50"}), IsStatus("OK"));
  ASSERT_THAT(Command(watcher_, {"WATCH", "k"}), IsStatus("OK"));
  EXPECT_TRUE(PollUntil(
      [&] {
        return ::testing::Matches(IsInt(0))(Command(other_, {"EXISTS", "k"}));
      },
      milliseconds(5000)));
  EXPECT_THAT(SetInTransaction("k"), IsNil());
  EXPECT_THAT(Command(other_, {"EXISTS", "k"}), IsInt(0));
}

TEST_P(TransactionTest, WatchFiresWhenTheKeyExpiresUnseen) {
  // Nobody touches the key after it expired: EXEC itself must notice.
  ASSERT_THAT(Command(watcher_, {"SET", "k", "v", "PX", "30"}), IsStatus("OK"));
  ASSERT_THAT(Command(watcher_, {"WATCH", "k"}), IsStatus("OK"));
  // A blocking pop that times out is the pause (it waits on the server's clock).
  ASSERT_THAT(Command(other_, {"BLPOP", "nolist", "0.2"}), IsNil());
  EXPECT_THAT(SetInTransaction("k"), IsNil());
}

TEST_P(TransactionTest, WatchFiresOnDelOfTheKey) {
  ASSERT_THAT(Command(watcher_, {"SET", "k", "v"}), IsStatus("OK"));
  ASSERT_THAT(Command(watcher_, {"WATCH", "k"}), IsStatus("OK"));
  ASSERT_THAT(Command(other_, {"DEL", "k", "k2"}), IsInt(1));
  EXPECT_THAT(SetInTransaction("k"), IsNil());
  EXPECT_THAT(Command(other_, {"EXISTS", "k"}), IsInt(0));
}

TEST_P(TransactionTest, WatchFiresOnFlushdbAndFlushall) {
  for (const char* flush : {"FLUSHDB", "FLUSHALL"}) {
    SCOPED_TRACE(flush);
    ASSERT_THAT(Command(watcher_, {"SET", "k", "v"}), IsStatus("OK"));
    ASSERT_THAT(Command(watcher_, {"WATCH", "k"}), IsStatus("OK"));
    ASSERT_THAT(Command(other_, {flush}), IsStatus("OK"));
    EXPECT_THAT(SetInTransaction("k"), IsNil());
  }
  // FLUSHALL issued from another db flushes the watched key's db too.
  ASSERT_THAT(Command(watcher_, {"SET", "k", "v"}), IsStatus("OK"));
  ASSERT_THAT(Command(watcher_, {"WATCH", "k"}), IsStatus("OK"));
  ASSERT_THAT(Command(other_, {"SELECT", "3"}), IsStatus("OK"));
  ASSERT_THAT(Command(other_, {"FLUSHALL"}), IsStatus("OK"));
  EXPECT_THAT(SetInTransaction("k"), IsNil());
}

TEST_P(TransactionTest, FlushOfOtherDbsOrOfAMissingKeyDoesNotFireWatch) {
  // FLUSHDB of another db.
  ASSERT_THAT(Command(watcher_, {"SET", "k", "v"}), IsStatus("OK"));
  ASSERT_THAT(Command(watcher_, {"WATCH", "k"}), IsStatus("OK"));
  ASSERT_THAT(Command(other_, {"SELECT", "1"}), IsStatus("OK"));
  ASSERT_THAT(Command(other_, {"SET", "k", "db1"}), IsStatus("OK"));
  ASSERT_THAT(Command(other_, {"FLUSHDB"}), IsStatus("OK"));
  EXPECT_THAT(SetInTransaction("k"), IsArray(ElementsAre("OK")));
  // Redis only invalidates watched keys that existed in the flushed db.
  ASSERT_THAT(Command(watcher_, {"WATCH", "missing"}), IsStatus("OK"));
  ASSERT_THAT(Command(other_, {"SELECT", "0"}), IsStatus("OK"));
  ASSERT_THAT(Command(other_, {"FLUSHDB"}), IsStatus("OK"));
  EXPECT_THAT(SetInTransaction("missing"), IsArray(ElementsAre("OK")));
}

TEST_P(TransactionTest, WatchFiresOnSwapdb) {
  // The watched key exists in the watched db (db 0).
  ASSERT_THAT(Command(watcher_, {"SET", "k", "v"}), IsStatus("OK"));
  ASSERT_THAT(Command(watcher_, {"WATCH", "k"}), IsStatus("OK"));
  ASSERT_THAT(Command(other_, {"SWAPDB", "0", "1"}), IsStatus("OK"));
  EXPECT_THAT(SetInTransaction("k"), IsNil());
  // The watched key exists only in the db swapped in.
  ASSERT_THAT(Command(watcher_, {"FLUSHALL"}), IsStatus("OK"));
  ASSERT_THAT(Command(other_, {"SELECT", "1"}), IsStatus("OK"));
  ASSERT_THAT(Command(other_, {"SET", "k", "db1"}), IsStatus("OK"));
  ASSERT_THAT(Command(watcher_, {"WATCH", "k"}), IsStatus("OK"));
  ASSERT_THAT(Command(other_, {"SWAPDB", "1", "0"}), IsStatus("OK"));
  EXPECT_THAT(SetInTransaction("k"), IsNil());
  EXPECT_THAT(Command(watcher_, {"GET", "k"}), IsBulk("db1"));
  // In neither: the swap changes nothing for it.
  ASSERT_THAT(Command(watcher_, {"WATCH", "missing"}), IsStatus("OK"));
  ASSERT_THAT(Command(other_, {"SWAPDB", "0", "1"}), IsStatus("OK"));
  EXPECT_THAT(SetInTransaction("missing"), IsArray(ElementsAre("OK")));
}

TEST_P(TransactionTest, WatchFiresOnRenameIntoAndOutOfTheKey) {
  std::string src = KeyOnAnotherShard("src", "k", shards());
  // Into the watched key (which did not exist).
  ASSERT_THAT(Command(other_, {"SET", src, "moved"}), IsStatus("OK"));
  ASSERT_THAT(Command(watcher_, {"WATCH", "k"}), IsStatus("OK"));
  ASSERT_THAT(Command(other_, {"RENAME", src, "k"}), IsStatus("OK"));
  EXPECT_THAT(SetInTransaction("k"), IsNil());
  EXPECT_THAT(Command(other_, {"GET", "k"}), IsBulk("moved"));
  // Out of the watched key.
  ASSERT_THAT(Command(watcher_, {"WATCH", "k"}), IsStatus("OK"));
  ASSERT_THAT(Command(other_, {"RENAME", "k", src}), IsStatus("OK"));
  EXPECT_THAT(SetInTransaction("k"), IsNil());
  EXPECT_THAT(Command(other_, {"EXISTS", "k"}), IsInt(0));
  // Watching the source of a RENAME that overwrites an existing key.
  ASSERT_THAT(Command(other_, {"SET", "k", "old"}), IsStatus("OK"));
  ASSERT_THAT(Command(watcher_, {"WATCH", src}), IsStatus("OK"));
  ASSERT_THAT(Command(other_, {"RENAME", src, "k"}), IsStatus("OK"));
  EXPECT_THAT(SetInTransaction(src), IsNil());
}

TEST_P(TransactionTest, WatchFiresOnCopyAndMoveIntoTheKey) {
  std::string src = KeyOnAnotherShard("src", "k", shards());
  ASSERT_THAT(Command(other_, {"RPUSH", src, "a"}), IsInt(1));
  ASSERT_THAT(Command(watcher_, {"WATCH", "k"}), IsStatus("OK"));
  ASSERT_THAT(Command(other_, {"COPY", src, "k"}), IsInt(1));
  EXPECT_THAT(SetInTransaction("k"), IsNil());
  // MOVE out of the watched key to another db.
  ASSERT_THAT(Command(watcher_, {"WATCH", "k"}), IsStatus("OK"));
  ASSERT_THAT(Command(other_, {"MOVE", "k", "2"}), IsInt(1));
  EXPECT_THAT(SetInTransaction("k"), IsNil());
}

TEST_P(TransactionTest, ReadsAndOtherKeysDoNotFireWatch) {
  std::string near = KeyOnAnotherShard("near", "k", 1);  // any other key
  std::string far = KeyOnAnotherShard("far", "k", shards());
  ASSERT_THAT(Command(watcher_, {"RPUSH", "k", "a", "b"}), IsInt(2));
  ASSERT_THAT(Command(watcher_, {"WATCH", "k"}), IsStatus("OK"));
  // Reads of the watched key.
  EXPECT_THAT(Command(other_, {"LRANGE", "k", "0", "-1"}), IsArray(ElementsAre("a", "b")));
  EXPECT_THAT(Command(other_, {"EXISTS", "k"}), IsInt(1));
  EXPECT_THAT(Command(other_, {"TYPE", "k"}), IsStatus("list"));
  EXPECT_THAT(Command(other_, {"TTL", "k"}), IsInt(-1));
  // Writes to other keys, on this shard and another one.
  EXPECT_THAT(Command(other_, {"SET", near, "x"}), IsStatus("OK"));
  EXPECT_THAT(Command(other_, {"SET", far, "x"}), IsStatus("OK"));
  EXPECT_THAT(Command(other_, {"MSET", near, "y", far, "y"}), IsStatus("OK"));
  // The same name in another db.
  EXPECT_THAT(Command(other_, {"SELECT", "1"}), IsStatus("OK"));
  EXPECT_THAT(Command(other_, {"RPUSH", "k", "other-db"}), IsInt(1));
  EXPECT_THAT(Command(other_, {"DEL", "k"}), IsInt(1));
  // Writes that change nothing.
  EXPECT_THAT(Command(other_, {"SELECT", "0"}), IsStatus("OK"));
  EXPECT_THAT(Command(other_, {"LREM", "k", "0", "nothing"}), IsInt(0));
  EXPECT_THAT(Command(watcher_, {"MULTI"}), IsStatus("OK"));
  EXPECT_THAT(Command(watcher_, {"RPUSH", "k", "c"}), IsStatus("QUEUED"));
  EXPECT_THAT(Command(watcher_, {"EXEC"}), IsArray(ElementsAre("3")));
}

// Invariant 4 under contention: transfers between counters spread over every shard, each a
// WATCH / read / MULTI / DECRBY / INCRBY / EXEC retried until it commits. WATCH must catch
// every conflicting write (a committed transfer's results are exactly what its reads
// predicted), and no reader ever sees a transfer half-applied (the sum never changes).
TEST_P(TransactionTest, ConcurrentTransfersKeepTheSum) {
  constexpr int kCounters = 10;
  constexpr int kWriters = 8;
  constexpr int kTransfers = 300;  // per writer
  constexpr int kReaders = 2;
  constexpr int64_t kInitial = 1000;
  constexpr int64_t kSum = kCounters * kInitial;
  std::vector<std::string> counters = KeysOverAllShards("acct", kCounters, shards());
  {
    std::vector<std::string_view> mset = {"MSET"};
    for (const auto& k : counters) {
      mset.push_back(k);
      mset.push_back("1000");
    }
    ASSERT_THAT(Command(watcher_, mset), IsStatus("OK"));
  }

  std::atomic<int> errors{0}, committed{0}, retries{0}, mispredicted{0}, torn{0}, reads{0};
  std::atomic<bool> writers_done{false};
  std::mutex first_error_mu;
  std::string first_error;
  auto note_error = [&](const std::string& what) {
    if (++errors == 1) {
      std::lock_guard<std::mutex> lock(first_error_mu);
      first_error = what;
    }
  };
  auto parse_int = [](const Reply& r, int64_t* out) {
    auto s = StringOf(r.get());
    if (!s) return false;
    char* end = nullptr;
    *out = strtoll(s->c_str(), &end, 10);
    return end != s->c_str() && *end == '\0';
  };

  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      RedisConn c = server_->Connect();
      if (!c) return note_error("connect");
      std::mt19937 rng(static_cast<unsigned>(w) * 7919u + 1u);
      for (int t = 0; t < kTransfers; ++t) {
        size_t from = rng() % kCounters;
        size_t to = (from + 1 + rng() % (kCounters - 1)) % kCounters;
        std::string amount = std::to_string(1 + rng() % 20);
        int64_t x = std::stoll(amount);
        const std::string& a = counters[from];
        const std::string& b = counters[to];
        while (true) {
          if (!::testing::Matches(IsStatus("OK"))(Command(c, {"WATCH", a, b}))) {
            return note_error("WATCH");
          }
          int64_t va = 0, vb = 0;
          if (!parse_int(Command(c, {"GET", a}), &va) || !parse_int(Command(c, {"GET", b}), &vb)) {
            return note_error("GET");
          }
          // MULTI, two writes and EXEC in one pipeline: four replies to read.
          AppendCommand(c.get(), {"MULTI"});
          AppendCommand(c.get(), {"DECRBY", a, amount});
          AppendCommand(c.get(), {"INCRBY", b, amount});
          AppendCommand(c.get(), {"EXEC"});
          Reply multi = GetReply(c.get());
          Reply q1 = GetReply(c.get());
          Reply q2 = GetReply(c.get());
          Reply exec = GetReply(c.get());
          if (!::testing::Matches(IsStatus("OK"))(multi) ||
              !::testing::Matches(IsStatus("QUEUED"))(q1) ||
              !::testing::Matches(IsStatus("QUEUED"))(q2)) {
            return note_error(
                StrCat("queueing: ", Describe(multi), " ", Describe(q1), " ", Describe(q2)));
          }
          if (exec && exec->type == REDIS_REPLY_NIL) {
            ++retries;
            continue;
          }
          if (!exec || exec->type != REDIS_REPLY_ARRAY || exec->elements != 2 ||
              exec->element[0]->type != REDIS_REPLY_INTEGER ||
              exec->element[1]->type != REDIS_REPLY_INTEGER) {
            return note_error(StrCat("EXEC: ", Describe(exec)));
          }
          if (exec->element[0]->integer != va - x || exec->element[1]->integer != vb + x) {
            ++mispredicted;  // a write slipped in between the WATCH and the EXEC
          }
          ++committed;
          break;
        }
      }
    });
  }
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&, r] {
      RedisConn c = server_->Connect();
      if (!c) return note_error("connect");
      std::vector<std::string_view> mget = {"MGET"};
      for (const auto& k : counters) mget.push_back(k);
      auto sum_of = [&](const redisReply* arr) -> std::optional<int64_t> {
        if (arr == nullptr || arr->type != REDIS_REPLY_ARRAY || arr->elements != counters.size()) {
          return std::nullopt;
        }
        int64_t sum = 0;
        for (size_t i = 0; i < arr->elements; ++i) {
          if (arr->element[i]->type != REDIS_REPLY_STRING) return std::nullopt;
          sum += strtoll(arr->element[i]->str, nullptr, 10);
        }
        return sum;
      };
      while (!writers_done.load()) {
        std::optional<int64_t> sum;
        Reply reply;
        if (r % 2 == 0) {
          // A transaction of GETs, one per counter.
          AppendCommand(c.get(), {"MULTI"});
          for (const auto& k : counters) AppendCommand(c.get(), {"GET", k});
          AppendCommand(c.get(), {"EXEC"});
          for (size_t i = 0; i <= counters.size(); ++i) GetReply(c.get());
          reply = GetReply(c.get());
        } else {
          reply = Command(c, mget);
        }
        sum = sum_of(reply.get());
        if (!sum) return note_error(StrCat("read: ", Describe(reply)));
        ++reads;
        if (*sum != kSum) ++torn;
      }
    });
  }
  for (int i = 0; i < kWriters; ++i) threads[static_cast<size_t>(i)].join();
  writers_done = true;
  for (size_t i = kWriters; i < threads.size(); ++i) threads[i].join();

  EXPECT_EQ(errors.load(), 0) << first_error;
  EXPECT_EQ(committed.load(), kWriters * kTransfers);
  EXPECT_EQ(mispredicted.load(), 0) << "EXEC ran although a watched key had changed";
  EXPECT_EQ(torn.load(), 0) << "a reader saw a transfer half-applied";
  EXPECT_GT(reads.load(), 0);
  std::vector<std::string_view> mget = {"MGET"};
  for (const auto& k : counters) mget.push_back(k);
  auto values = StringsOf(Command(watcher_, mget).get());
  ASSERT_TRUE(values);
  int64_t sum = 0;
  for (const auto& v : *values) sum += std::stoll(v);
  EXPECT_EQ(sum, kSum);
  RecordProperty("retries", retries.load());
}

// Many transactions in flight at once: each client pipelines whole MULTI ... EXEC blocks
// over keys of every shard without waiting for replies. Every transaction increments all the
// counters, so if transactions are serializable every EXEC sees all counters equal.
TEST_P(TransactionTest, PipelinedTransactionsOverSeveralShardsAreIsolated) {
  constexpr int kClients = 6;
  constexpr int kTransactions = 200;  // per client
  constexpr int kPipeline = 10;       // transactions per pipeline
  std::vector<std::string> counters = KeysOverAllShards("ctr", 6, shards());
  std::atomic<int> errors{0}, uneven{0}, execs{0};
  std::mutex first_error_mu;
  std::string first_error;
  auto note = [&](std::atomic<int>& counter, const std::string& what) {
    if (++counter == 1) {
      std::lock_guard<std::mutex> lock(first_error_mu);
      if (first_error.empty()) first_error = what;
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      RedisConn c = server_->Connect();
      if (!c) return note(errors, "connect");
      std::string log = StrCat("log", t);
      for (int i = 0; i < kTransactions; i += kPipeline) {
        for (int j = 0; j < kPipeline; ++j) {
          AppendCommand(c.get(), {"MULTI"});
          for (const auto& k : counters) AppendCommand(c.get(), {"INCR", k});
          AppendCommand(c.get(), {"RPUSH", log, std::to_string(i + j)});
          AppendCommand(c.get(), {"EXEC"});
        }
        for (int j = 0; j < kPipeline; ++j) {
          if (!::testing::Matches(IsStatus("OK"))(GetReply(c.get()))) note(errors, "MULTI");
          for (size_t q = 0; q <= counters.size(); ++q) {
            Reply r = GetReply(c.get());
            if (!::testing::Matches(IsStatus("QUEUED"))(r)) note(errors, Describe(r));
          }
          Reply exec = GetReply(c.get());
          if (!exec || exec->type != REDIS_REPLY_ARRAY || exec->elements != counters.size() + 1) {
            note(errors, StrCat("EXEC: ", Describe(exec)));
            continue;
          }
          ++execs;
          for (size_t q = 0; q < counters.size(); ++q) {
            if (exec->element[q]->type != REDIS_REPLY_INTEGER ||
                exec->element[q]->integer != exec->element[0]->integer) {
              note(uneven, Describe(exec));
              break;
            }
          }
          // The log shows this client's transactions ran in order, whole.
          const redisReply* len = exec->element[counters.size()];
          if (len->type != REDIS_REPLY_INTEGER || len->integer != i + j + 1) {
            note(errors, StrCat("RPUSH in EXEC: ", Describe(exec)));
          }
        }
      }
    });
  }
  // A reader pipelining MGETs meanwhile: all counters are always equal.
  std::atomic<bool> done{false};
  std::thread reader([&] {
    RedisConn c = server_->Connect();
    if (!c) return note(errors, "connect");
    std::vector<std::string_view> mget = {"MGET"};
    for (const auto& k : counters) mget.push_back(k);
    while (!done.load()) {
      for (int j = 0; j < 8; ++j) AppendCommand(c.get(), mget);
      for (int j = 0; j < 8; ++j) {
        Reply r = GetReply(c.get());
        auto values = StringsOf(r.get());
        if (!values) return note(errors, StrCat("MGET: ", Describe(r)));
        for (const auto& v : *values) {
          if (v != values->front()) {
            note(uneven, Describe(r));
            break;
          }
        }
      }
    }
  });
  for (auto& th : threads) th.join();
  done = true;
  reader.join();
  EXPECT_EQ(errors.load(), 0) << first_error;
  EXPECT_EQ(uneven.load(), 0) << "transactions interleaved, e.g. " << first_error;
  EXPECT_EQ(execs.load(), kClients * kTransactions);
  for (const auto& k : counters) {
    EXPECT_THAT(Command(watcher_, {"GET", k}), IsBulk(std::to_string(kClients * kTransactions)));
  }
  for (int t = 0; t < kClients; ++t) {
    EXPECT_THAT(Command(watcher_, {"LLEN", StrCat("log", t)}), IsInt(kTransactions));
  }
}

// A big transaction (thousands of queued commands over every shard, sent as one pipeline)
// runs whole: a reader polling all its keys sees either none or all of its writes.
TEST_P(TransactionTest, BigTransactionIsAppliedAtOnce) {
  constexpr int kKeys = 50;
  constexpr int kCommands = 5000;
  std::vector<std::string> keys = KeysOverAllShards("big", kKeys, shards());
  std::vector<std::string_view> mget = {"MGET"};
  for (const auto& k : keys) mget.push_back(k);
  std::atomic<bool> done{false};
  std::atomic<int> torn{0}, reads{0};
  std::string first_torn;
  std::thread reader([&] {
    RedisConn c = server_->Connect();
    if (!c) return;
    while (!done.load()) {
      Reply r = Command(c, mget);
      auto values = StringsOf(r.get());
      if (!values) break;
      ++reads;
      for (const auto& v : *values) {
        if (v != values->front()) {
          if (++torn == 1) first_torn = Describe(r);
          break;
        }
      }
    }
  });
  AppendCommand(watcher_.get(), {"MULTI"});
  for (int i = 0; i < kCommands; ++i) {
    if (i % 2 == 0) {
      AppendCommand(watcher_.get(), {"INCR", keys[static_cast<size_t>(i / 2 % kKeys)]});
    } else {
      AppendCommand(watcher_.get(), {"RPUSH", "biglog", std::to_string(i)});
    }
  }
  AppendCommand(watcher_.get(), {"EXEC"});
  EXPECT_THAT(GetReply(watcher_.get()), IsStatus("OK"));
  int queued = 0;
  for (int i = 0; i < kCommands; ++i) {
    if (::testing::Matches(IsStatus("QUEUED"))(GetReply(watcher_.get()))) ++queued;
  }
  EXPECT_EQ(queued, kCommands);
  Reply exec = GetReply(watcher_.get());
  done = true;
  reader.join();
  ASSERT_TRUE(exec && exec->type == REDIS_REPLY_ARRAY) << Describe(exec);
  ASSERT_EQ(exec->elements, static_cast<size_t>(kCommands));
  EXPECT_THAT(exec->element[kCommands - 2], IsInt(kCommands / 2 / kKeys));
  EXPECT_THAT(exec->element[kCommands - 1], IsInt(kCommands / 2));
  EXPECT_EQ(torn.load(), 0) << "a reader saw part of the transaction: " << first_torn;
  EXPECT_GT(reads.load(), 0);
  EXPECT_THAT(Command(other_, mget),
              IsArray(::testing::Each(std::to_string(kCommands / 2 / kKeys))));
}

// A client that disconnects in the middle of queueing leaves nothing behind, and one that
// disconnects with a pipelined EXEC in flight gets the whole transaction applied or none.
TEST_P(TransactionTest, DisconnectWhileQueueingAppliesNothing) {
  std::vector<std::string> keys = KeysOverAllShards("dq", 4, shards());
  {
    RedisConn c = server_->Connect();
    ASSERT_TRUE(c);
    ASSERT_THAT(Command(c, {"MULTI"}), IsStatus("OK"));
    for (const auto& k : keys) ASSERT_THAT(Command(c, {"SET", k, "v"}), IsStatus("QUEUED"));
  }
  for (int round = 0; round < 20; ++round) {
    RedisConn c = server_->Connect();
    ASSERT_TRUE(c);
    AppendCommand(c.get(), {"MULTI"});
    for (const auto& k : keys) AppendCommand(c.get(), {"INCR", k});
    AppendCommand(c.get(), {"EXEC"});
    int done = 0;
    while (done == 0) ASSERT_EQ(redisBufferWrite(c.get(), &done), REDIS_OK);
    // Closed without reading a reply.
  }
  // Once the server has closed all 21 connections it has run whatever it will run of them.
  // Every transaction ran whole or not at all and the abandoned queue never ran, so the
  // counters are equal (Redis runs all 20: their bytes arrived before the close).
  EXPECT_TRUE(
      PollUntil([&] { return InfoInt(watcher_.get(), "clients", "connected_clients") == 2; },
                milliseconds(5000)));
  std::vector<std::string_view> mget = {"MGET"};
  for (const auto& k : keys) mget.push_back(k);
  Reply values = Command(watcher_, mget);
  auto strings = StringsOf(values.get());
  ASSERT_TRUE(strings) << Describe(values);
  EXPECT_THAT(*strings, ::testing::Each(strings->front())) << Describe(values);
  int ran = strings->front() == "<nil>" ? 0 : std::stoi(strings->front());
  EXPECT_LE(ran, 20);
}

INSTANTIATE_TEST_SUITE_P(Shards, TransactionTest, ::testing::Values(1, 3), ShardsName);

}  // namespace
}  // namespace omnibus::testing
