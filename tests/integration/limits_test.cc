// DESIGN invariant 6, "bounded everything", driven to each limit against the real binary:
// pipeline-group-max-commands, shard-queue-depth, maxclients, proto-max-bulk-len and
// client-query-buffer-limit (set at run time here; protocol_test.cc covers the flags), and
// the INFO fields that show them. Every test also checks that nothing acknowledged is lost.
// (The output buffer limit is in hostile_test.cc, with the clients that hit it.)
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <optional>
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
using ::testing::HasSubstr;

// One pipelined command and the reply it must get, as Describe() renders it.
struct Step {
  std::vector<std::string> args;
  std::string reply;
};

// A mix of single-shard, multi-shard (MGET) and reactor-only (ECHO) commands whose replies
// depend on the order they ran in.
std::vector<Step> OrderedPipeline(const std::string& tag, int n) {
  std::vector<Step> steps;
  int counter = 0;
  for (int i = 0; i < n; ++i) {
    std::string key = StrCat(tag, ":", i);
    switch (i % 5) {
      case 0:
        steps.push_back({{"SET", key, std::to_string(i)}, "+OK"});
        break;
      case 1:
        steps.push_back({{"GET", StrCat(tag, ":", i - 1)}, StrCat("\"", i - 1, "\"")});
        break;
      case 2:
        steps.push_back({{"INCR", tag + ":counter"}, StrCat("(integer) ", ++counter)});
        break;
      case 3:
        steps.push_back(
            {{"MGET", StrCat(tag, ":", i - 3), key}, StrCat("[\"", i - 3, "\", (nil)]")});
        break;
      default:
        steps.push_back({{"ECHO", key}, StrCat("\"", key, "\"")});
    }
  }
  return steps;
}

void Append(redisContext* c, const std::vector<Step>& steps) {
  for (const Step& s : steps) {
    std::vector<std::string_view> args(s.args.begin(), s.args.end());
    AppendCommand(c, args);
  }
}

// Reads one reply per step; returns the first mismatch, or "" if every reply matched in order.
std::string ReadAndCheck(redisContext* c, const std::vector<Step>& steps) {
  for (size_t i = 0; i < steps.size(); ++i) {
    std::string got = Describe(GetReply(c));
    if (got != steps[i].reply) {
      return StrCat("command ", i, " (", steps[i].args[0], "): expected ", steps[i].reply, ", got ",
                    got);
    }
  }
  return "";
}

// The "shardN:k=v,k=v" lines of INFO `section`, one map per shard, in shard order.
std::vector<std::map<std::string, int64_t>> ShardFields(redisContext* c, std::string_view section) {
  std::vector<std::map<std::string, int64_t>> shards;
  Reply r = Command(c, {"INFO", section});
  std::optional<std::string> text = StringOf(r.get());
  if (!text) return shards;
  size_t pos = 0;
  while (pos < text->size()) {
    size_t end = text->find("\r\n", pos);
    if (end == std::string::npos) end = text->size();
    std::string line = text->substr(pos, end - pos);
    pos = end + 2;
    size_t colon = line.find(':');
    if (!line.starts_with("shard") || colon == std::string::npos || line == "shards" ||
        line.starts_with("shards:")) {
      continue;
    }
    std::map<std::string, int64_t>& fields = shards.emplace_back();
    std::string rest = line.substr(colon + 1);
    size_t at = 0;
    while (at < rest.size()) {
      size_t comma = rest.find(',', at);
      if (comma == std::string::npos) comma = rest.size();
      std::string kv = rest.substr(at, comma - at);
      size_t eq = kv.find('=');
      if (eq != std::string::npos)
        fields[kv.substr(0, eq)] = strtoll(kv.c_str() + eq + 1, nullptr, 10);
      at = comma + 1;
    }
  }
  return shards;
}

class ConfiguredLimitsTest : public ShardedServerTest {};

TEST_P(ConfiguredLimitsTest, PipelineGroupMaxCommands) {
  StartServer({"--pipeline-group-max-commands", "4"});
  Bystander bystander(*server_, "group");
  ASSERT_TRUE(bystander.ok());
  ASSERT_TRUE(bystander.Write());
  EXPECT_THAT(Command(bystander.get(), {"CONFIG", "GET", "pipeline-group-max-commands"}),
              IsArray(ElementsAre("pipeline-group-max-commands", "4")));
  RedisConn a = server_->Connect();
  ASSERT_TRUE(a);
  // 1,000 pipelined commands: all answered, in order, in groups of at most 4. Every group
  // holds a keyed command and a connection's next group waits for the previous one, so
  // there are at least 250 shard batches.
  int64_t batches_before = InfoInt(bystander.get(), "stats", "shard_batches").value();
  std::vector<Step> steps = OrderedPipeline("ga", 1000);
  Append(a.get(), steps);
  EXPECT_EQ(ReadAndCheck(a.get(), steps), "");
  int64_t batches = InfoInt(bystander.get(), "stats", "shard_batches").value() - batches_before;
  EXPECT_GE(batches, 250) << "groups were not limited to 4 commands";
  // Two clients at once, and the limit changed at run time down to 1.
  EXPECT_THAT(Command(bystander.get(), {"CONFIG", "SET", "pipeline-group-max-commands", "1"}),
              IsStatus("OK"));
  RedisConn b = server_->Connect();
  ASSERT_TRUE(b);
  std::vector<Step> steps_a = OrderedPipeline("gb", 1000);
  std::vector<Step> steps_b = OrderedPipeline("gc", 1000);
  Append(a.get(), steps_a);
  Append(b.get(), steps_b);
  EXPECT_EQ(ReadAndCheck(a.get(), steps_a), "");
  EXPECT_EQ(ReadAndCheck(b.get(), steps_b), "");
  EXPECT_TRUE(bystander.Served());
  EXPECT_TRUE(bystander.WritesIntact());
}

TEST_P(ConfiguredLimitsTest, ShardQueueDepth) {
  // The smallest queue the server accepts, with far more work in flight than it holds: the
  // reactor must hold the rest back, in order, and lose nothing.
  // (The test fixture sheds nothing: this is the bound, not the overload policy.)
  StartServer({"--shard-queue-depth", "64"});
  Bystander bystander(*server_, "queue");
  ASSERT_TRUE(bystander.ok());
  ASSERT_TRUE(bystander.Write());
  EXPECT_THAT(Command(bystander.get(), {"CONFIG", "GET", "shard-queue-depth"}),
              IsArray(ElementsAre("shard-queue-depth", "64")));
  constexpr int kClients = 50;
  constexpr int kCommands = 2000;
  std::vector<std::string> errors(kClients);
  std::atomic<int> finished{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      RedisConn c = server_->Connect();
      if (!c) {
        errors[static_cast<size_t>(t)] = "cannot connect";
      } else {
        std::vector<Step> steps = OrderedPipeline(StrCat("q", t), kCommands);
        Append(c.get(), steps);
        errors[static_cast<size_t>(t)] = ReadAndCheck(c.get(), steps);
      }
      ++finished;
    });
  }
  // The bystander keeps being served while the queues are full.
  // (No ASSERT before the join: the threads use this frame.)
  int round_trips = 0;
  bool bystander_ok = true;
  // The bound, watched while it is hit: neither the shard's ring nor its local queue ever
  // holds more than the queue's depth. (Their sum is bounded too, by the reactor's count of
  // work in flight, but INFO reads the two one after the other, not as one snapshot; the
  // consistent figures, max_queue_depth and max_depth, are checked after the run.)
  int64_t deepest = 0;
  while (bystander_ok && finished.load() < kClients) {
    bystander_ok = bystander.Served() && (++round_trips % 50 != 0 || bystander.Write(2));
    if (round_trips % 10 == 0) {
      for (const auto& shard : ShardFields(bystander.get(), "overload")) {
        deepest = std::max({deepest, shard.at("depth"), shard.at("ring_depth")});
      }
    }
  }
  EXPECT_LE(deepest, 64);
  EXPECT_TRUE(bystander_ok) << "bystander not served while the shard queues were full";
  for (auto& th : threads) th.join();
  for (int t = 0; t < kClients; ++t)
    EXPECT_EQ(errors[static_cast<size_t>(t)], "") << "client " << t;
  // Nothing lost: every SET is there (read back on a new connection), and the key count adds
  // up (per client: 400 SETs and one counter).
  RedisConn c = server_->Connect();
  ASSERT_TRUE(c);
  for (int t = 0; t < kClients; ++t) {
    std::vector<std::string> keys;
    std::vector<std::string> expected;
    for (int i = 0; i < kCommands; i += 5) {
      keys.push_back(StrCat("q", t, ":", i));
      expected.push_back(std::to_string(i));
    }
    keys.push_back(StrCat("q", t, ":counter"));
    expected.push_back(std::to_string(kCommands / 5));
    std::vector<std::string_view> args = {"MGET"};
    args.insert(args.end(), keys.begin(), keys.end());
    EXPECT_THAT(Command(c, args), IsArray(::testing::ElementsAreArray(expected))) << "client " << t;
  }
  EXPECT_THAT(Command(c, {"DBSIZE"}),
              IsInt(kClients * (kCommands / 5 + 1) + static_cast<int>(bystander.acknowledged())));
  EXPECT_TRUE(bystander.WritesIntact());
  // The bound was reached and held: a shard's queue filled to its depth, never past it, and
  // the reactor kept the rest back (queue_full_waits) rather than queue more.
  auto shards = ShardFields(c.get(), "shards");
  ASSERT_EQ(shards.size(), static_cast<size_t>(GetParam()));
  int64_t filled = 0, waits = 0;
  for (const auto& shard : shards) {
    EXPECT_LE(shard.at("max_queue_depth"), 64);
    filled = std::max(filled, shard.at("max_queue_depth"));
    waits += shard.at("queue_full_waits");
  }
  EXPECT_EQ(filled, 64) << "no shard queue filled up: the test did not reach the bound";
  EXPECT_GT(waits, 0);
  for (const auto& shard : ShardFields(c.get(), "overload")) {
    EXPECT_LE(shard.at("max_depth"), 64);  // the shard's own view of its queue
  }
}

TEST(ClientLimitsTest, BurstOfConnectsIsAcceptedWhole) {
  // More than one accept turn's worth (1,000) of connections pending at once on the
  // edge-triggered listener: the server is stopped while they connect (the kernel completes
  // their handshakes into the backlog), then resumed. Every one must be served, with no new
  // connection to wake the listener again.
  constexpr int kConns = 1500;
  rlimit rl{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  ASSERT_GE(rl.rlim_max, rlim_t{kConns + 200}) << "RLIMIT_NOFILE hard limit too low";
  rl.rlim_cur = rl.rlim_max;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
  ServerProcess server({"--tcp-backlog", "2048"});
  ASSERT_TRUE(server.ok()) << server.error();
  RedisConn admin = server.Connect();
  ASSERT_TRUE(admin);
  ASSERT_EQ(kill(server.pid(), SIGSTOP), 0);
  std::vector<std::unique_ptr<RawClient>> raws;
  for (int i = 0; i < kConns; ++i) {
    raws.push_back(std::make_unique<RawClient>(server.ConnectRaw()));
    if (!raws.back()->ok() || !raws.back()->Send("PING\r\n")) break;
  }
  ASSERT_EQ(kill(server.pid(), SIGCONT), 0);
  ASSERT_EQ(raws.size(), static_cast<size_t>(kConns));
  ASSERT_TRUE(raws.back()->ok());
  int answered = 0;
  const auto until = std::chrono::steady_clock::now() + milliseconds(10000);
  for (auto& r : raws) {
    auto left = std::chrono::duration_cast<milliseconds>(until - std::chrono::steady_clock::now());
    answered += r->ReadExactly(7, std::max(left, milliseconds(1))) == "+PONG\r\n";
  }
  EXPECT_EQ(answered, kConns);
  EXPECT_EQ(InfoInt(admin.get(), "clients", "connected_clients"), kConns + 1);
}

INSTANTIATE_TEST_SUITE_P(Shards, ConfiguredLimitsTest, ::testing::Values(1, 3), ShardsName);

TEST(ClientLimitsTest, MaxclientsAtRunTimeAndItsInfoFields) {
  ServerProcess server({"--shards", "2"});
  ASSERT_TRUE(server.ok()) << server.error();
  Bystander bystander(server, "maxclients");
  ASSERT_TRUE(bystander.ok());
  ASSERT_TRUE(bystander.Write());
  RedisConn admin = server.Connect();
  ASSERT_TRUE(admin);
  auto info = [&](std::string_view section, std::string_view field) {
    return InfoInt(admin.get(), section, field).value_or(-1);
  };
  // The start-up probe may still be closing: wait for exactly our two.
  ASSERT_TRUE(
      PollUntil([&] { return info("clients", "connected_clients") == 2; }, milliseconds(5000)));
  EXPECT_EQ(info("clients", "maxclients"), 10000);
  EXPECT_EQ(info("stats", "rejected_connections"), 0);
  EXPECT_THAT(Command(admin, {"CONFIG", "SET", "maxclients", "3"}), IsStatus("OK"));
  EXPECT_EQ(info("clients", "maxclients"), 3);
  RedisConn third = server.Connect();
  ASSERT_TRUE(third);
  EXPECT_THAT(Command(third, {"PING"}), IsStatus("PONG"));
  auto expect_refused = [&] {
    RawClient extra(server.ConnectRaw());
    ASSERT_TRUE(extra.ok());
    bool eof = false;
    EXPECT_EQ(extra.ReadToEof(&eof), "-ERR max number of clients reached\r\n");
    EXPECT_TRUE(eof);
  };
  expect_refused();
  EXPECT_EQ(info("stats", "rejected_connections"), 1);
  // Lowering it below the current count disconnects nobody (as in Redis); newcomers wait.
  EXPECT_THAT(Command(admin, {"CONFIG", "SET", "maxclients", "1"}), IsStatus("OK"));
  EXPECT_THAT(Command(third, {"PING"}), IsStatus("PONG"));
  EXPECT_TRUE(bystander.Served());
  EXPECT_EQ(info("clients", "connected_clients"), 3);
  expect_refused();
  EXPECT_EQ(info("stats", "rejected_connections"), 2);
  EXPECT_THAT(Command(admin, {"CONFIG", "SET", "maxclients", "0"}),
              IsError("ERR CONFIG SET failed (possibly related to argument 'maxclients') - "
                      "argument must be between 1 and 4294967295 inclusive"));
  EXPECT_THAT(Command(admin, {"CONFIG", "SET", "maxclients", "10"}), IsStatus("OK"));
  EXPECT_TRUE(bystander.Write());
  EXPECT_TRUE(bystander.WritesIntact());  // a fourth connection: let in again
  EXPECT_GE(info("stats", "total_connections_received"), 6);
}

TEST(ClientLimitsTest, BulkAndQueryBufferLimitsAtRunTime) {
  ServerProcess server({"--shards", "2"});
  ASSERT_TRUE(server.ok()) << server.error();
  Bystander bystander(server, "bulk");
  ASSERT_TRUE(bystander.ok());
  ASSERT_TRUE(bystander.Write());
  redisContext* admin = bystander.get();
  // Redis's minimums.
  EXPECT_THAT(Command(admin, {"CONFIG", "SET", "proto-max-bulk-len", "1000"}),
              IsError("ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') "
                      "- argument must be between 1048576 and 9223372036854775807 inclusive"));
  EXPECT_THAT(
      Command(admin, {"CONFIG", "SET", "client-query-buffer-limit", "1000"}),
      IsError("ERR CONFIG SET failed (possibly related to argument 'client-query-buffer-limit') "
              "- argument must be between 1048576 and 9223372036854775807 inclusive"));
  EXPECT_THAT(Command(admin, {"CONFIG", "SET", "proto-max-bulk-len", "1mb"}), IsStatus("OK"));
  EXPECT_THAT(Command(admin, {"CONFIG", "GET", "proto-max-bulk-len"}),
              IsArray(ElementsAre("proto-max-bulk-len", "1048576")));
  // The new bulk limit applies to the next command.
  std::string at_limit(1024 * 1024, 'L');
  EXPECT_THAT(Command(admin, {"SET", "bulk:at-limit", at_limit}), IsStatus("OK"));
  {
    RawClient raw(server.ConnectRaw());
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE(raw.Send("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$1048577\r\n"));
    bool eof = false;
    EXPECT_EQ(raw.ReadToEof(&eof), "-ERR Protocol error: invalid bulk length\r\n");
    EXPECT_TRUE(eof);
  }
  // And the query buffer limit (both set in one CONFIG SET).
  EXPECT_THAT(Command(admin, {"CONFIG", "SET", "client-query-buffer-limit", "1mb",
                              "proto-max-bulk-len", "8mb"}),
              IsStatus("OK"));
  {
    RawClient raw(server.ConnectRaw());
    ASSERT_TRUE(raw.ok());
    std::string value(2 * 1024 * 1024, 'q');
    raw.Send(StrCat("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$", value.size(), "\r\n", value, "\r\n"));
    bool eof = false;
    EXPECT_EQ(raw.ReadToEof(&eof), "");
    EXPECT_TRUE(eof) << "client past client-query-buffer-limit not closed";
  }
  EXPECT_EQ(InfoInt(admin, "stats", "client_query_buffer_limit_disconnections"), 1);
  EXPECT_THAT(Command(admin, {"EXISTS", "big"}), IsInt(0));
  EXPECT_THAT(Command(admin, {"STRLEN", "bulk:at-limit"}), IsInt(at_limit.size()));
  EXPECT_TRUE(bystander.Write());
  EXPECT_TRUE(bystander.WritesIntact());
}

TEST(ClientLimitsTest, LimitsOutOfRangeAreFatalAtStartup) {
  struct Bad {
    std::vector<std::string> args;
    std::string why;
  };
  const std::vector<Bad> cases = {
      {{"--proto-max-bulk-len", "1000"},
       "argument must be between 1048576 and 9223372036854775807 inclusive"},
      {{"--client-query-buffer-limit", "1kb"},
       "argument must be between 1048576 and 9223372036854775807 inclusive"},
      {{"--maxclients", "0"}, "argument must be between 1 and 4294967295 inclusive"},
      {{"--client-output-buffer-limit", "normal 1mb"},
       "Wrong number of arguments in buffer limit configuration."},
      {{"--client-output-buffer-limit", "bogus 1 2 3"},
       "Invalid client class specified in buffer limit configuration."},
      // Ours.
      {{"--shard-queue-depth", "63"}, "argument must be between 64 and 16777216 inclusive"},
      {{"--pipeline-group-max-commands", "0"}, "argument must be between 1 and 1048576 inclusive"},
  };
  for (const Bad& bad : cases) {
    SCOPED_TRACE(::testing::PrintToString(bad.args));
    std::string output;
    std::optional<int> status = RunServerToExit(bad.args, &output);
    ASSERT_TRUE(status.has_value()) << output;
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1) << "wait status " << *status;
    EXPECT_THAT(output, HasSubstr("*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***"));
    EXPECT_THAT(output, HasSubstr(bad.why));
  }
}

}  // namespace
}  // namespace omnibus::testing

namespace omnibus::testing {
namespace {

TEST(StringLimitsTest, AppendAndSetrangeHonourProtoMaxBulkLen) {
  // Redis's checkStringLength: a string may not grow past proto-max-bulk-len.
  ServerProcess server;
  ASSERT_TRUE(server.ok()) << server.error();
  RedisConn c = server.Connect();
  ASSERT_TRUE(c);
  ASSERT_THAT(Command(c, {"CONFIG", "SET", "proto-max-bulk-len", "1mb"}), IsStatus("OK"));
  constexpr size_t kMax = 1 << 20;
  const std::string kError = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
  ASSERT_THAT(Command(c, {"SET", "s", std::string(kMax - 10, 'x')}), IsStatus("OK"));
  EXPECT_THAT(Command(c, {"APPEND", "s", std::string(11, 'y')}), IsError(kError));
  EXPECT_THAT(Command(c, {"STRLEN", "s"}), IsInt(kMax - 10));                   // unchanged
  EXPECT_THAT(Command(c, {"APPEND", "s", std::string(10, 'y')}), IsInt(kMax));  // to the bound
  EXPECT_THAT(Command(c, {"APPEND", "s", "z"}), IsError(kError));
  EXPECT_THAT(Command(c, {"SETRANGE", "r", StrCat(kMax - 5), "0123456789"}), IsError(kError));
  EXPECT_THAT(Command(c, {"EXISTS", "r"}), IsInt(0));
  EXPECT_THAT(Command(c, {"SETRANGE", "r", StrCat(kMax - 10), "0123456789"}), IsInt(kMax));
  EXPECT_THAT(Command(c, {"SETRANGE", "r", StrCat(kMax), ""}), IsInt(kMax));  // nothing to write
  // A bigger bound lets them grow again.
  ASSERT_THAT(Command(c, {"CONFIG", "SET", "proto-max-bulk-len", "2mb"}), IsStatus("OK"));
  EXPECT_THAT(Command(c, {"APPEND", "s", "z"}), IsInt(kMax + 1));
}

TEST(StringLimitsTest, ProtoMaxBulkLenFitsARecordsLengthField) {
  // Ours: a record's value length is 32 bits (store/record.h), so the bound stops there
  // (Redis 7.0 accepts up to LLONG_MAX).
  ServerProcess server;
  ASSERT_TRUE(server.ok()) << server.error();
  RedisConn c = server.Connect();
  ASSERT_TRUE(c);
  EXPECT_THAT(Command(c, {"CONFIG", "SET", "proto-max-bulk-len", "4294967295"}), IsStatus("OK"));
  EXPECT_THAT(Command(c, {"CONFIG", "SET", "proto-max-bulk-len", "4294967296"}),
              IsError("ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - "
                      "argument must be between 1048576 and 4294967295 inclusive"));
  EXPECT_THAT(Command(c, {"CONFIG", "SET", "proto-max-bulk-len", "8gb"}),
              IsErrorStartingWith("ERR CONFIG SET failed"));
  EXPECT_THAT(Command(c, {"CONFIG", "GET", "proto-max-bulk-len"}),
              IsArray(ElementsAre("proto-max-bulk-len", "4294967295")));
  std::string output;
  std::optional<int> status = RunServerToExit({"--proto-max-bulk-len", "5gb"}, &output);
  ASSERT_TRUE(status.has_value());
  EXPECT_NE(*status, 0);
  EXPECT_THAT(output, HasSubstr("argument must be between 1048576 and 4294967295 inclusive"));
}

}  // namespace
}  // namespace omnibus::testing
