// SLOWLOG, LATENCY and INFO latencystats against the real binary (issue 12 part 5): entries
// with Redis 7.0's six fields (trimmed arguments, ids, client address and name) and ours, the
// time waited in the shard's queue; limits, RESET and CONFIG SET at run time; which commands
// are never logged; the queue-wait latency event; per-command histograms and percentiles.
// Most of these also pass against redis-server (OMNIBUS_TEST_SERVER=.../redis_as_omnibus.sh),
// except where a test reads our 7th field or the queue-wait event (named *QueueWait*).
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/server_process.h"

namespace omnibus::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class SlowlogTest : public ShardedServerTest {
 protected:
  void SetUp() override {
    ShardedServerTest::SetUp();
    c_ = server_->Connect();
    ASSERT_NE(c_, nullptr);
  }
  // Every command from here on is an entry.
  void LogEverything() {
    ASSERT_THAT(Command(c_, {"CONFIG", "SET", "slowlog-log-slower-than", "0"}), IsStatus("OK"));
    ASSERT_THAT(Command(c_, {"SLOWLOG", "RESET"}), IsStatus("OK"));
  }
  // The entries' argument lists, newest first.
  std::vector<std::vector<std::string>> LoggedArgs(const redisReply* r) {
    std::vector<std::vector<std::string>> out;
    for (size_t i = 0; i < r->elements; ++i) {
      const redisReply* args = r->element[i]->element[3];
      std::vector<std::string> one;
      for (size_t j = 0; j < args->elements; ++j) one.emplace_back(args->element[j]->str);
      out.push_back(one);
    }
    return out;
  }
  RedisConn c_;
};

using Args = std::vector<std::string>;

TEST_P(SlowlogTest, AnEntryHasRedisFieldsThenTheQueueWait) {
  LogEverything();
  ASSERT_THAT(Command(c_, {"CLIENT", "SETNAME", "worker-1"}), IsStatus("OK"));
  ASSERT_THAT(Command(c_, {"SET", "k", "v"}), IsStatus("OK"));
  int64_t before = std::time(nullptr);
  Reply r = Command(c_, {"SLOWLOG", "GET", "1"});
  ASSERT_EQ(r->type, REDIS_REPLY_ARRAY) << Describe(r);
  ASSERT_EQ(r->elements, 1u);
  const redisReply* e = r->element[0];
  ASSERT_EQ(e->elements, 7u) << Describe(r);
  EXPECT_EQ(e->element[0]->type, REDIS_REPLY_INTEGER);
  EXPECT_EQ(e->element[0]->integer, 3);  // CONFIG SET 0, RESET 1, SETNAME 2
  EXPECT_NEAR(static_cast<double>(e->element[1]->integer), static_cast<double>(before), 2);
  EXPECT_GE(e->element[2]->integer, 0);
  EXPECT_THAT(e->element[3], IsArray(ElementsAre("SET", "k", "v")));
  EXPECT_THAT(std::string(e->element[4]->str), ::testing::StartsWith("127.0.0.1:"));
  EXPECT_EQ(std::string(e->element[5]->str), "worker-1");
  EXPECT_EQ(e->element[6]->type, REDIS_REPLY_INTEGER);  // ours: µs waited in the queue
  EXPECT_GE(e->element[6]->integer, 0);
  // The entry names the client as CLIENT LIST does.
  Reply info = Command(c_, {"CLIENT", "INFO"});
  EXPECT_THAT(*StringOf(info.get()), HasSubstr("addr=" + std::string(e->element[4]->str) + " "));
}

TEST_P(SlowlogTest, ArgumentsAreTrimmedAsRedisTrimsThem) {
  LogEverything();
  std::vector<std::string> storage = {"RPUSH", "list"};
  for (int i = 0; i < 40; ++i) storage.push_back(std::to_string(i));
  storage[2] = std::string(300, 'x');
  std::vector<std::string_view> argv(storage.begin(), storage.end());
  ASSERT_THAT(Command(c_, argv), IsInt(40));
  Reply r = Command(c_, {"SLOWLOG", "GET", "1"});
  ASSERT_EQ(r->elements, 1u) << Describe(r);
  const redisReply* args = r->element[0]->element[3];
  ASSERT_EQ(args->elements, 32u);
  EXPECT_EQ(std::string(args->element[0]->str), "RPUSH");
  EXPECT_EQ(std::string(args->element[2]->str), std::string(128, 'x') + "... (172 more bytes)");
  EXPECT_EQ(std::string(args->element[30]->str), "28");
  EXPECT_EQ(std::string(args->element[31]->str), "... (11 more arguments)");
}

TEST_P(SlowlogTest, CountLenResetAndMaxLen) {
  LogEverything();
  for (int i = 0; i < 12; ++i) ASSERT_THAT(Command(c_, {"PING"}), IsStatus("PONG"));
  EXPECT_THAT(Command(c_, {"SLOWLOG", "LEN"}), IsInt(13));    // RESET + 12 PINGs
  EXPECT_EQ(Command(c_, {"SLOWLOG", "GET"})->elements, 10u);  // the default count
  Reply all = Command(c_, {"SLOWLOG", "GET", "-1"});
  EXPECT_EQ(all->elements, 15u);                        // and the LEN and GET just run
  EXPECT_EQ(all->element[0]->element[0]->integer, 15);  // newest first
  EXPECT_EQ(all->element[14]->element[0]->integer, 1);
  EXPECT_EQ(Command(c_, {"SLOWLOG", "GET", "0"})->elements, 0u);
  EXPECT_THAT(Command(c_, {"SLOWLOG", "GET", "-2"}),
              IsError("ERR count should be greater than or equal to -1"));
  EXPECT_THAT(Command(c_, {"SLOWLOG", "GET", "x"}),
              IsError("ERR count should be greater than or equal to -1"));
  EXPECT_THAT(Command(c_, {"SLOWLOG", "GET", "1", "2"}),
              IsError("ERR unknown subcommand or wrong number of arguments for 'GET'. Try "
                      "SLOWLOG HELP."));
  EXPECT_THAT(Command(c_, {"SLOWLOG", "LEN", "x"}),
              IsError("ERR wrong number of arguments for 'slowlog|len' command"));
  // slowlog-max-len applies at once, from the next entry.
  ASSERT_THAT(Command(c_, {"CONFIG", "SET", "slowlog-max-len", "3"}), IsStatus("OK"));
  ASSERT_THAT(Command(c_, {"PING"}), IsStatus("PONG"));
  EXPECT_THAT(Command(c_, {"SLOWLOG", "LEN"}), IsInt(3));
  ASSERT_THAT(Command(c_, {"SLOWLOG", "RESET"}), IsStatus("OK"));
  Reply r = Command(c_, {"SLOWLOG", "GET"});
  ASSERT_EQ(r->elements, 1u);  // RESET itself, with the next id (ids are never reused)
  EXPECT_GT(r->element[0]->element[0]->integer, 14);
  EXPECT_THAT(Command(c_, {"CONFIG", "SET", "slowlog-max-len", "-1"}),
              IsError("ERR CONFIG SET failed (possibly related to argument 'slowlog-max-len') - "
                      "argument must be between 0 and 9223372036854775807 inclusive"));
}

TEST_P(SlowlogTest, ThresholdAtRunTime) {
  LogEverything();
  ASSERT_THAT(Command(c_, {"CONFIG", "SET", "slowlog-log-slower-than", "-1"}), IsStatus("OK"));
  ASSERT_THAT(Command(c_, {"SET", "a", "1"}), IsStatus("OK"));
  // Only RESET: the threshold is read after a command ran (so not even the CONFIG SET).
  EXPECT_THAT(Command(c_, {"SLOWLOG", "LEN"}), IsInt(1));
  ASSERT_THAT(Command(c_, {"CONFIG", "SET", "slowlog-log-slower-than", "60000000"}),
              IsStatus("OK"));
  ASSERT_THAT(Command(c_, {"SET", "a", "2"}), IsStatus("OK"));
  EXPECT_THAT(Command(c_, {"SLOWLOG", "LEN"}), IsInt(1));
  EXPECT_THAT(Command(c_, {"CONFIG", "GET", "slowlog-log-slower-than"}),
              IsArray(ElementsAre("slowlog-log-slower-than", "60000000")));
  EXPECT_THAT(Command(c_, {"CONFIG", "SET", "slowlog-log-slower-than", "-2"}),
              IsError("ERR CONFIG SET failed (possibly related to argument "
                      "'slowlog-log-slower-than') - argument must be between -1 and "
                      "9223372036854775807 inclusive"));
}

TEST_P(SlowlogTest, ExecIsNotLoggedItsCommandsAreAndSecretsAreRedacted) {
  LogEverything();
  ASSERT_THAT(Command(c_, {"MULTI"}), IsStatus("OK"));
  ASSERT_THAT(Command(c_, {"SET", "{t}a", "1"}), IsStatus("QUEUED"));
  ASSERT_THAT(Command(c_, {"INCR", "{t}a"}), IsStatus("QUEUED"));
  Reply exec = Command(c_, {"EXEC"});
  ASSERT_EQ(exec->type, REDIS_REPLY_ARRAY) << Describe(exec);
  Command(c_, {"AUTH", "nobody", "secret"});             // fails; logged, redacted
  Command(c_, {"HELLO", "2", "AUTH", "default", "pw"});  // no requirepass: it succeeds
  Command(c_, {"GET"});                                  // rejected before it runs: never logged
  Reply r = Command(c_, {"SLOWLOG", "GET"});
  EXPECT_EQ(LoggedArgs(r.get()),
            (std::vector<Args>{{"HELLO", "2", "AUTH", "(redacted)", "(redacted)"},
                               {"AUTH", "(redacted)", "(redacted)"},
                               {"INCR", "{t}a"},
                               {"SET", "{t}a", "1"},
                               {"MULTI"},
                               {"SLOWLOG", "RESET"}}));
}

TEST_P(SlowlogTest, QueueWaitIsShownForACommandQueuedBehindASlowOne) {
  // A big SORT and a GET of the same shard in one pipeline: both go to that shard in one
  // batch, so the GET waits there while the SORT runs.
  ASSERT_THAT(Command(c_, {"EVAL",
                           "for i = 1, 300000 do redis.call('rpush', KEYS[1], 300000 - i) end "
                           "return 1",
                           "1", "{q}list"}),
              IsInt(1));
  ASSERT_THAT(Command(c_, {"CONFIG", "SET", "slowlog-log-slower-than", "5000"}), IsStatus("OK"));
  ASSERT_THAT(Command(c_, {"CONFIG", "SET", "latency-monitor-threshold", "5"}), IsStatus("OK"));
  ASSERT_THAT(Command(c_, {"SLOWLOG", "RESET"}), IsStatus("OK"));
  RawClient raw(server_->ConnectRaw());
  ASSERT_TRUE(raw.Send("SORT {q}list LIMIT 0 1\r\nGET {q}other\r\n"));
  EXPECT_EQ(raw.ReadExactly(16), "*1\r\n$1\r\n0\r\n$-1\r\n");
  Reply r = Command(c_, {"SLOWLOG", "GET"});
  // The SORT for its execution, the GET for its wait (a loaded machine may log more).
  const redisReply* get = nullptr;
  const redisReply* sort = nullptr;
  for (size_t i = 0; i < r->elements; ++i) {
    std::string name = r->element[i]->element[3]->element[0]->str;
    if (name == "GET") get = r->element[i];
    if (name == "SORT") sort = r->element[i];
  }
  ASSERT_NE(get, nullptr) << Describe(r);
  ASSERT_NE(sort, nullptr) << Describe(r);
  ASSERT_EQ(get->elements, 7u);
  EXPECT_THAT(get->element[3], IsArray(ElementsAre("GET", "{q}other")));
  EXPECT_THAT(sort->element[3], IsArray(ElementsAre("SORT", "{q}list", "LIMIT", "0", "1")));
  EXPECT_GT(get->element[0]->integer, sort->element[0]->integer);
  int64_t sort_us = sort->element[2]->integer;
  int64_t get_us = get->element[2]->integer;
  int64_t get_wait_us = get->element[6]->integer;
  EXPECT_GE(sort_us, 5000);
  EXPECT_LT(get_us, sort_us);  // logged for its wait, not its execution
  // It waited at least for the SORT to run (µs rounding aside).
  EXPECT_GE(get_wait_us, sort_us - 1) << "sort " << sort_us << " get wait " << get_wait_us;
  // LATENCY: the SORT is a `command` spike, the GET's wait a `queue-wait` one.
  Reply latest = Command(c_, {"LATENCY", "LATEST"});
  std::vector<std::string> events;
  for (size_t i = 0; i < latest->elements; ++i) {
    const redisReply* row = latest->element[i];
    ASSERT_EQ(row->elements, 4u);
    events.emplace_back(row->element[0]->str);
    EXPECT_NEAR(static_cast<double>(row->element[1]->integer),
                static_cast<double>(std::time(nullptr)), 5);
    EXPECT_GE(row->element[2]->integer, 5);
    EXPECT_GE(row->element[3]->integer, row->element[2]->integer);
  }
  // (A loaded machine may add other spikes; these two must be there.)
  EXPECT_THAT(events, ::testing::IsSupersetOf({"command", "queue-wait"}));
  Reply history = Command(c_, {"LATENCY", "HISTORY", "queue-wait"});
  ASSERT_EQ(history->elements, 1u);
  EXPECT_GE(history->element[0]->element[1]->integer, sort_us / 1000 - 1);
  auto graph = StringOf(Command(c_, {"LATENCY", "GRAPH", "queue-wait"}).get());
  ASSERT_TRUE(graph.has_value());
  EXPECT_THAT(*graph, ::testing::StartsWith("queue-wait - high "));
  auto doctor = StringOf(Command(c_, {"LATENCY", "DOCTOR"}).get());
  EXPECT_THAT(*doctor, HasSubstr(". queue-wait: 1 latency spikes"));
  EXPECT_THAT(Command(c_, {"LATENCY", "RESET", "queue-wait", "nosuch"}), IsInt(1));
  EXPECT_GE(Command(c_, {"LATENCY", "RESET"})->integer, 1);
  EXPECT_EQ(Command(c_, {"LATENCY", "LATEST"})->elements, 0u);
}

TEST_P(SlowlogTest, LatencyRepliesWithNoEvents) {
  EXPECT_EQ(Command(c_, {"LATENCY", "LATEST"})->elements, 0u);
  EXPECT_EQ(Command(c_, {"LATENCY", "HISTORY", "command"})->elements, 0u);
  EXPECT_THAT(Command(c_, {"LATENCY", "RESET"}), IsInt(0));
  EXPECT_THAT(Command(c_, {"LATENCY", "GRAPH", "command"}),
              IsError("ERR No samples available for event 'command'"));
  auto doctor = StringOf(Command(c_, {"LATENCY", "DOCTOR"}).get());
  ASSERT_TRUE(doctor.has_value());
  EXPECT_THAT(*doctor, ::testing::StartsWith("I'm sorry, Dave, I can't do that."));
  EXPECT_THAT(Command(c_, {"LATENCY", "NOSUCH"}),
              IsError("ERR unknown subcommand 'NOSUCH'. Try LATENCY HELP."));
}

TEST_P(SlowlogTest, LatencyHistogramCountsCalls) {
  for (int i = 0; i < 5; ++i) ASSERT_THAT(Command(c_, {"SET", "k", "v"}), IsStatus("OK"));
  ASSERT_THAT(Command(c_, {"CONFIG", "GET", "maxclients"})->type, REDIS_REPLY_ARRAY);
  Reply r = Command(c_, {"LATENCY", "HISTOGRAM", "set", "nosuch", "config"});
  // RESP2: a flat map, {name: {calls: n, histogram_usec: {bucket: cumulative}}}.
  ASSERT_EQ(r->type, REDIS_REPLY_ARRAY) << Describe(r);
  ASSERT_EQ(r->elements, 4u) << Describe(r);
  EXPECT_EQ(std::string(r->element[0]->str), "set");
  const redisReply* set = r->element[1];
  ASSERT_EQ(set->elements, 4u);
  EXPECT_EQ(std::string(set->element[0]->str), "calls");
  EXPECT_EQ(set->element[1]->integer, 5);
  EXPECT_EQ(std::string(set->element[2]->str), "histogram_usec");
  const redisReply* buckets = set->element[3];
  ASSERT_GE(buckets->elements, 2u);
  int64_t last_bound = 0, last_count = 0;
  for (size_t i = 0; i + 1 < buckets->elements; i += 2) {
    EXPECT_GT(buckets->element[i]->integer, last_bound);
    EXPECT_GT(buckets->element[i + 1]->integer, last_count);
    last_bound = buckets->element[i]->integer;
    last_count = buckets->element[i + 1]->integer;
  }
  EXPECT_EQ(last_count, 5);
  EXPECT_EQ(std::string(r->element[2]->str), "config|get");  // a container's subcommands
  // RESP3: maps (read raw: this hiredis predates RESP3).
  RawClient raw(server_->ConnectRaw());
  ASSERT_TRUE(raw.Send("HELLO 3\r\nPING\r\n"));
  ASSERT_THAT(raw.ReadUntil("+PONG\r\n"), ::testing::EndsWith("+PONG\r\n"));
  ASSERT_TRUE(raw.Send("LATENCY HISTOGRAM set\r\nPING\r\n"));
  EXPECT_THAT(raw.ReadUntil("+PONG\r\n"),
              ::testing::StartsWith("%1\r\n$3\r\nset\r\n%2\r\n$5\r\ncalls\r\n:5\r\n"
                                    "$14\r\nhistogram_usec\r\n%"));
}

// The last value of `line` after "name=".
double PercentileOf(const std::string& line, const std::string& name) {
  size_t at = line.find(name + "=");
  if (at == std::string::npos) return -1;
  return std::strtod(line.c_str() + at + name.size() + 1, nullptr);
}

TEST_P(SlowlogTest, InfoLatencystatsPercentiles) {
  for (int i = 0; i < 20; ++i) Command(c_, {"GET", "k"});
  auto text = StringOf(Command(c_, {"INFO", "latencystats"}).get());
  ASSERT_TRUE(text.has_value());
  EXPECT_THAT(*text, ::testing::StartsWith("# Latencystats\r\n"));
  size_t at = text->find("latency_percentiles_usec_get:p50=");
  ASSERT_NE(at, std::string::npos) << *text;
  std::string line = text->substr(at, text->find("\r\n", at) - at);
  double p50 = PercentileOf(line, "p50"), p99 = PercentileOf(line, "p99"),
         p999 = PercentileOf(line, "p99.9");
  EXPECT_GT(p50, 0);
  EXPECT_LE(p50, p99);
  EXPECT_LE(p99, p999);
  EXPECT_LT(p999, 1'000'000);  // a GET under a second
  EXPECT_THAT(line, ::testing::MatchesRegex(
                        "latency_percentiles_usec_get:p50=[0-9]+\\.[0-9]{3},p99=[0-9]+\\.[0-9]{3},"
                        "p99\\.9=[0-9]+\\.[0-9]{3}"));
  // In INFO everything, not in the default sections.
  EXPECT_THAT(*StringOf(Command(c_, {"INFO", "everything"}).get()), HasSubstr("# Latencystats"));
  EXPECT_THAT(*StringOf(Command(c_, {"INFO"}).get()), ::testing::Not(HasSubstr("# Latencystats")));
  // The percentiles shown, set at run time.
  ASSERT_THAT(Command(c_, {"CONFIG", "SET", "latency-tracking-info-percentiles", "0 99.99 100"}),
              IsStatus("OK"));
  EXPECT_THAT(Command(c_, {"CONFIG", "GET", "latency-tracking-info-percentiles"}),
              IsArray(ElementsAre("latency-tracking-info-percentiles", "0 99.99 100")));
  text = StringOf(Command(c_, {"INFO", "latencystats"}).get());
  EXPECT_THAT(*text, ::testing::ContainsRegex("latency_percentiles_usec_get:p0=[0-9.]+,p99\\.99="
                                              "[0-9.]+,p100=[0-9.]+\r\n"));
  EXPECT_THAT(Command(c_, {"CONFIG", "SET", "latency-tracking-info-percentiles", "50 101"}),
              IsError("ERR CONFIG SET failed (possibly related to argument "
                      "'latency-tracking-info-percentiles') - latency-tracking-info-percentiles "
                      "parameters should sit between [0.0,100.0]"));
  // CONFIG RESETSTAT forgets the histograms; latency-tracking no stops feeding them.
  ASSERT_THAT(Command(c_, {"CONFIG", "SET", "latency-tracking", "no"}), IsStatus("OK"));
  ASSERT_THAT(Command(c_, {"CONFIG", "RESETSTAT"}), IsStatus("OK"));
  Command(c_, {"GET", "k"});
  text = StringOf(Command(c_, {"INFO", "latencystats"}).get());
  EXPECT_EQ(*text, "# Latencystats\r\n");
}

INSTANTIATE_TEST_SUITE_P(Shards, SlowlogTest, ::testing::Values(1, 3), ShardsName);

}  // namespace
}  // namespace omnibus::testing
