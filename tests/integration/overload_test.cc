// Overload control (DESIGN §4, issue 12) against the real binary: a script that holds its
// shard for a while builds a standing queue behind it; then shed commands answer the
// documented error in their own reply slots and are never applied, commands answered OK
// are, connections that opted out (CLIENT NO-SHED) are never shed, client deadlines
// (CLIENT DEADLINE) refuse what waited too long, `queue-policy fifo` never sheds, and INFO
// overload counts all of it.
#include <regex>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/server_process.h"

namespace omnibus::testing {
namespace {

// Holds its shard (one shard: every key's) for `ms` milliseconds.
std::string SpinScript(int ms) {
  return "local t0 = redis.call('TIME') repeat local t = redis.call('TIME') until "
         "(t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) > " +
         std::to_string(ms * 1000) + " return 1";
}

std::string Resp(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const std::string& a : args) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return out;
}

class OverloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServerProcess>(
        std::vector<std::string>{"--shards", "1", "--queue-shed-ms", "20"});
    ASSERT_TRUE(server_->ok()) << server_->error();
    admin_ = server_->Connect();
    ASSERT_TRUE(admin_ != nullptr);
  }

  // Starts the spinning script on its own connection, and returns once it is queued on the
  // shard: `probe` saw a reply from the reactor sent after the script was (the reactor reads
  // and dispatches the script first, and posts its batch before it writes that reply).
  std::unique_ptr<RawClient> StartSpin(int ms, RawClient& probe) {
    auto spin = std::make_unique<RawClient>(server_->ConnectRaw());
    EXPECT_TRUE(spin->Send(Resp({"EVAL", SpinScript(ms), "0"})));
    EXPECT_TRUE(probe.Send("PING\r\n"));
    EXPECT_EQ(probe.ReadExactly(7), "+PONG\r\n");
    return spin;
  }

  // Reads `n` replies of one line each (+OK, -ERR...).
  static std::vector<std::string> ReadLines(RawClient& c, int n) {
    std::vector<std::string> lines;
    std::string buf;
    while (static_cast<int>(lines.size()) < n) {
      std::string part = c.ReadUntil("\r\n");
      if (part.empty()) break;
      buf += part;
      size_t pos;
      while ((pos = buf.find("\r\n")) != std::string::npos) {
        lines.push_back(buf.substr(0, pos));
        buf.erase(0, pos + 2);
      }
    }
    return lines;
  }

  int64_t Overload(std::string_view field) { return InfoField(admin_.get(), "overload", field); }

  std::unique_ptr<ServerProcess> server_;
  RedisConn admin_;
};

const std::regex kShedError(
    R"(-BUSY server overloaded, request shed after \d+ ms in queue, retry in \d+ ms)");

TEST_F(OverloadTest, ShedCommandsKeepTheirSlotsAndAreNeverApplied) {
  RawClient client(server_->ConnectRaw());
  auto spin = StartSpin(300, client);
  // Queued behind the script: 300 ms later they have waited far past queue-shed-ms.
  std::string pipeline;
  for (int i = 0; i < 40; ++i) pipeline += Resp({"SET", "shed:" + std::to_string(i), "v"});
  pipeline += "PING\r\n";  // answered on the reactor, in its slot
  ASSERT_TRUE(client.Send(pipeline));
  std::vector<std::string> replies = ReadLines(client, 41);
  ASSERT_EQ(replies.size(), 41u);
  int shed = 0;
  for (int i = 0; i < 40; ++i) {
    const std::string& r = replies[static_cast<size_t>(i)];
    std::string key = "shed:" + std::to_string(i);
    if (r == "+OK") {
      EXPECT_THAT(Command(admin_, {"GET", key}), IsBulk("v")) << key;
    } else {
      ++shed;
      EXPECT_TRUE(std::regex_match(r, kShedError)) << r;
      EXPECT_THAT(Command(admin_, {"EXISTS", key}), IsInt(0)) << key << " was shed but applied";
    }
  }
  EXPECT_EQ(replies[40], "+PONG");
  EXPECT_GT(shed, 0);
  EXPECT_EQ(spin->ReadExactly(4), ":1\r\n");
  // Once the queue is healthy again nothing is shed.
  ASSERT_TRUE(client.Send(Resp({"SET", "after", "1"}) + Resp({"GET", "after"})));
  EXPECT_EQ(client.ReadExactly(5 + 7), "+OK\r\n$1\r\n1\r\n");
  EXPECT_EQ(Overload("shed_total"), shed);
  EXPECT_GE(Overload("shed_total"), 1);
  auto errors = StringOf(Command(admin_, {"INFO", "errorstats"}).get());
  ASSERT_TRUE(errors.has_value());
  EXPECT_THAT(*errors, ::testing::HasSubstr("errorstat_BUSY:count=" + std::to_string(shed)));
}

TEST_F(OverloadTest, NoShedConnectionsAndFifoPolicyAreNeverShed) {
  RawClient admin(server_->ConnectRaw());
  ASSERT_TRUE(admin.Send("CLIENT NO-SHED ON\r\n"));
  ASSERT_EQ(admin.ReadExactly(5), "+OK\r\n");
  RawClient client(server_->ConnectRaw());
  auto spin = StartSpin(200, client);
  // Health checks and admin commands are answered on the reactor while the shard is held:
  // their replies come while the script still runs.
  EXPECT_THAT(Command(admin_, {"PING"}), IsStatus("PONG"));
  EXPECT_THAT(Command(admin_, {"CONFIG", "GET", "queue-target-ms"}),
              IsArray(::testing::ElementsAre("queue-target-ms", "5")));
  EXPECT_THAT(Command(admin_, {"CLIENT", "ID"}), ::testing::NotNull());
  EXPECT_EQ(spin->ReadExactly(4, milliseconds(1)), "") << "the script ended before them";
  std::string pipeline;
  for (int i = 0; i < 20; ++i) pipeline += Resp({"SET", "admin:" + std::to_string(i), "v"});
  ASSERT_TRUE(admin.Send(pipeline));
  std::vector<std::string> replies = ReadLines(admin, 20);
  EXPECT_THAT(replies, ::testing::Each(::testing::Eq("+OK")));
  EXPECT_EQ(spin->ReadExactly(4), ":1\r\n");

  ASSERT_THAT(Command(admin_, {"CONFIG", "SET", "queue-policy", "fifo"}), IsStatus("OK"));
  EXPECT_THAT(Command(admin_, {"CONFIG", "GET", "queue-policy"}),
              IsArray(::testing::ElementsAre("queue-policy", "fifo")));
  int64_t shed_before = Overload("shed_total");
  spin = StartSpin(200, client);
  pipeline.clear();
  for (int i = 0; i < 20; ++i) pipeline += Resp({"SET", "fifo:" + std::to_string(i), "v"});
  ASSERT_TRUE(client.Send(pipeline));
  replies = ReadLines(client, 20);
  EXPECT_THAT(replies, ::testing::Each(::testing::Eq("+OK")));
  EXPECT_EQ(spin->ReadExactly(4), ":1\r\n");
  EXPECT_EQ(Overload("shed_total"), shed_before);
  EXPECT_THAT(Command(admin_, {"CONFIG", "SET", "queue-policy", "lifo"}),
              IsErrorStartingWith("ERR CONFIG SET failed (possibly related to argument "
                                  "'queue-policy') - argument(s) must be one of the following: "
                                  "adaptive, fifo"));
}

TEST_F(OverloadTest, ClientDeadlinesRefuseWhatWaitedTooLong) {
  ASSERT_THAT(Command(admin_, {"CONFIG", "SET", "queue-policy", "fifo"}), IsStatus("OK"));
  RawClient client(server_->ConnectRaw());
  ASSERT_TRUE(client.Send("CLIENT DEADLINE 50\r\n"));
  ASSERT_EQ(client.ReadExactly(5), "+OK\r\n");
  // No backlog: within the deadline.
  ASSERT_TRUE(client.Send(Resp({"SET", "fast", "1"})));
  EXPECT_EQ(client.ReadExactly(5), "+OK\r\n");
  auto spin = StartSpin(200, client);
  ASSERT_TRUE(client.Send(Resp({"SET", "late", "1"}) + "PING\r\n"));
  std::vector<std::string> replies = ReadLines(client, 2);
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_TRUE(std::regex_match(
      replies[0],
      std::regex(R"(-TIMEOUT request deadline passed after \d+ ms in queue, not executed)")))
      << replies[0];
  EXPECT_EQ(replies[1], "+PONG");
  EXPECT_EQ(spin->ReadExactly(4), ":1\r\n");
  EXPECT_THAT(Command(admin_, {"EXISTS", "late"}), IsInt(0));
  EXPECT_EQ(Overload("deadlines_missed_total"), 1);
  ASSERT_TRUE(client.Send("CLIENT DEADLINE 0\r\n"));
  EXPECT_EQ(client.ReadExactly(5), "+OK\r\n");
  EXPECT_THAT(Command(admin_, {"CLIENT", "DEADLINE", "-1"}),
              IsError("ERR deadline is not an integer or out of range"));
  EXPECT_THAT(Command(admin_, {"CLIENT", "NO-SHED", "maybe"}), IsError("ERR syntax error"));
}

TEST_F(OverloadTest, InfoOverloadShowsEveryShard) {
  auto text = StringOf(Command(admin_, {"INFO", "overload"}).get());
  ASSERT_TRUE(text.has_value());
  EXPECT_THAT(*text, ::testing::HasSubstr("# Overload\r\nqueue_policy:adaptive\r\n"));
  EXPECT_THAT(*text, ::testing::HasSubstr("queue_target_ms:5\r\n"));
  EXPECT_THAT(*text, ::testing::HasSubstr("queue_shed_ms:20\r\n"));
  EXPECT_THAT(*text, ::testing::ContainsRegex("shard0:mode=fifo,depth=[0-9]+,"));
  ASSERT_THAT(Command(admin_, {"CONFIG", "SET", "queue-target-ms", "7", "queue-interval-ms", "50"}),
              IsStatus("OK"));
  EXPECT_EQ(Overload("queue_target_ms"), 7);
  EXPECT_EQ(Overload("queue_interval_ms"), 50);
}

}  // namespace
}  // namespace omnibus::testing
