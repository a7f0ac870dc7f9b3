// The wire protocol and connection limits, over raw sockets: protocol errors (exact Redis
// text, then close, only for the offender), inline commands, byte-by-byte input,
// proto-max-bulk-len, client-query-buffer-limit, maxclients and timeout.
#include <chrono>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "omnibus/base/str_cat.h"
#include "testing/server_process.h"

namespace omnibus::testing {
namespace {

using ::testing::HasSubstr;

class ProtocolTest : public ShardedServerTest {};

struct BadInput {
  std::string bytes;
  std::string error;  // the exact reply line
};

TEST_P(ProtocolTest, ProtocolErrorClosesOnlyTheOffender) {
  RedisConn good = server_->Connect();
  ASSERT_TRUE(good);
  EXPECT_THAT(Command(good, {"SET", "survivor", "intact"}), IsStatus("OK"));
  const std::vector<BadInput> cases = {
      {"*abc\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
      {"*1\r\n$-5\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
      {"*1\r\n$abc\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
      {"*1\r\nfoo\r\n", "-ERR Protocol error: expected '$', got 'f'\r\n"},
      {"*2\r\n$3\r\nGET\r\n:1\r\n", "-ERR Protocol error: expected '$', got ':'\r\n"},
      {"*99999999999\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
      {"SET \"unbalanced\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"},
  };
  for (const BadInput& bad : cases) {
    SCOPED_TRACE(::testing::PrintToString(bad.bytes));
    RawClient raw(server_->ConnectRaw());
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE(raw.Send(bad.bytes));
    bool eof = false;
    std::string got = raw.ReadToEof(&eof);
    EXPECT_EQ(got, bad.error);
    EXPECT_TRUE(eof) << "connection not closed after a protocol error";
    // The well-behaved client keeps working and its data is intact.
    EXPECT_THAT(Command(good, {"GET", "survivor"}), IsBulk("intact"));
  }
  EXPECT_THAT(Command(good, {"INCR", "after"}), IsInt(1));
}

TEST_P(ProtocolTest, CommandsBeforeTheBadBytesAreAnsweredFirst) {
  RawClient raw(server_->ConnectRaw());
  ASSERT_TRUE(raw.ok());
  // Three good commands (multibulk and inline), the garbage, then a command that must never
  // run because the connection is closed at the error.
  std::string input =
      "*3\r\n$3\r\nSET\r\n$2\r\npa\r\n$1\r\n1\r\n"
      "*2\r\n$4\r\nINCR\r\n$2\r\npa\r\n"
      "PING\r\n"
      "*x\r\n"
      "*3\r\n$3\r\nSET\r\n$2\r\npb\r\n$1\r\n1\r\n";
  ASSERT_TRUE(raw.Send(input));
  bool eof = false;
  EXPECT_EQ(raw.ReadToEof(&eof),
            "+OK\r\n:2\r\n+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n");
  EXPECT_TRUE(eof);
  RedisConn c = server_->Connect();
  ASSERT_TRUE(c);
  EXPECT_THAT(Command(c, {"GET", "pa"}), IsBulk("2"));
  EXPECT_THAT(Command(c, {"EXISTS", "pb"}), IsInt(0));
}

TEST_P(ProtocolTest, InlineCommands) {
  RawClient raw(server_->ConnectRaw());
  ASSERT_TRUE(raw.ok());
  ASSERT_TRUE(raw.Send("PING\r\n"));
  EXPECT_EQ(raw.ReadExactly(7), "+PONG\r\n");
  ASSERT_TRUE(raw.Send("SET a b\r\nGET a\r\n"));
  EXPECT_EQ(raw.ReadExactly(12), "+OK\r\n$1\r\nb\r\n");
  // Quoting: double quotes with escapes, single quotes, and a bare \n as the terminator.
  ASSERT_TRUE(raw.Send(
      "SET \"q k\" \"v\\x41\\n\\t\"\r\nSET 'single q' 'it\\'s'\nGET \"q k\"\nGET 'single q'\r\n"));
  std::string quoted = "+OK\r\n+OK\r\n$4\r\nvA\n\t\r\n$4\r\nit's\r\n";
  EXPECT_EQ(raw.ReadExactly(quoted.size()), quoted);
  ASSERT_TRUE(raw.Send("SET 'single q' 'v w'\r\n   \r\n\r\nGET 'single q'\r\n"));
  EXPECT_EQ(raw.ReadExactly(5 + 9), "+OK\r\n$3\r\nv w\r\n");
  ASSERT_TRUE(raw.Send("NOSUCHCMD x y\r\n"));
  EXPECT_EQ(raw.ReadUntil("\r\n"),
            "-ERR unknown command 'NOSUCHCMD', with args beginning with: 'x' 'y' \r\n");
  RedisConn c = server_->Connect();
  ASSERT_TRUE(c);
  EXPECT_THAT(Command(c, {"GET", "q k"}), IsBulk("vA\n\t"));
  EXPECT_THAT(Command(c, {"GET", "single q"}), IsBulk("v w"));
}

TEST_P(ProtocolTest, CommandSplitByteByByte) {
  RawClient raw(server_->ConnectRaw());
  ASSERT_TRUE(raw.ok());
  std::string value("v\r\n\0x", 5);
  std::string input = "*3\r\n$3\r\nSET\r\n$5\r\nsplit\r\n$5\r\n" + value +
                      "\r\n"
                      "GET split\r\n"
                      "*2\r\n$6\r\nSTRLEN\r\n$5\r\nsplit\r\n";
  for (char ch : input) ASSERT_TRUE(raw.Send(std::string_view(&ch, 1)));
  std::string expected = "+OK\r\n$5\r\n" + value + "\r\n:5\r\n";
  EXPECT_EQ(raw.ReadExactly(expected.size()), expected);
  // A reply only comes once a command is complete: half a command gets no answer, the rest
  // of it does.
  ASSERT_TRUE(raw.Send("*2\r\n$4\r\nECHO\r\n$3\r\nab"));
  ASSERT_TRUE(raw.Send("c\r\n"));
  EXPECT_EQ(raw.ReadExactly(9), "$3\r\nabc\r\n");
}

TEST_P(ProtocolTest, ProtoMaxBulkLen) {
  StartServer({"--proto-max-bulk-len", "1mb"});
  RedisConn good = server_->Connect();
  ASSERT_TRUE(good);
  // Exactly the limit is allowed.
  std::string at_limit(1024 * 1024, 'L');
  EXPECT_THAT(Command(good, {"SET", "at-limit", at_limit}), IsStatus("OK"));
  EXPECT_THAT(Command(good, {"STRLEN", "at-limit"}), IsInt(at_limit.size()));

  RawClient raw(server_->ConnectRaw());
  ASSERT_TRUE(raw.ok());
  ASSERT_TRUE(raw.Send("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$2000000\r\n"));
  bool eof = false;
  EXPECT_EQ(raw.ReadToEof(&eof), "-ERR Protocol error: invalid bulk length\r\n");
  EXPECT_TRUE(eof);
  EXPECT_THAT(Command(good, {"EXISTS", "big"}), IsInt(0));
  EXPECT_THAT(Command(good, {"STRLEN", "at-limit"}), IsInt(at_limit.size()));
}

TEST_P(ProtocolTest, ClientQueryBufferLimitClosesTheConnection) {
  StartServer({"--client-query-buffer-limit", "1mb", "--proto-max-bulk-len", "8mb"});
  RedisConn good = server_->Connect();
  ASSERT_TRUE(good);
  EXPECT_THAT(Command(good, {"SET", "survivor", "intact"}), IsStatus("OK"));
  RawClient raw(server_->ConnectRaw());
  ASSERT_TRUE(raw.ok());
  std::string value(2 * 1024 * 1024, 'q');
  // The send may fail part-way once the server closes: that is the expected outcome.
  raw.Send(StrCat("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$", value.size(), "\r\n", value, "\r\n"));
  bool eof = false;
  std::string got = raw.ReadToEof(&eof);
  EXPECT_TRUE(eof) << "connection over client-query-buffer-limit not closed";
  EXPECT_EQ(got, "");  // Redis closes without a reply
  EXPECT_THAT(Command(good, {"EXISTS", "big"}), IsInt(0));
  EXPECT_THAT(Command(good, {"GET", "survivor"}), IsBulk("intact"));
  EXPECT_THAT(server_->Log(), HasSubstr("max query buffer length"));
  // A value under the limit still goes through on a new connection.
  std::string small(512 * 1024, 's');
  RedisConn other = server_->Connect();
  ASSERT_TRUE(other);
  EXPECT_THAT(Command(other, {"SET", "small", small}), IsStatus("OK"));
  EXPECT_THAT(Command(good, {"STRLEN", "small"}), IsInt(small.size()));
}

INSTANTIATE_TEST_SUITE_P(Shards, ProtocolTest, ::testing::Values(1, 2, 4), ShardsName);

// Connection limits do not depend on the shard count: one server each.
TEST(LimitsTest, MaxClients) {
  ServerProcess server({"--maxclients", "5", "--shards", "2"});
  ASSERT_TRUE(server.ok()) << server.error();
  std::vector<RedisConn> held;
  for (int i = 0; i < 5; ++i) {
    held.push_back(server.Connect());
    ASSERT_TRUE(held.back());
    ASSERT_THAT(Command(held.back(), {"PING"}), IsStatus("PONG")) << "connection " << i;
  }
  // The server may still be closing the probe connection ServerProcess used to wait for the
  // port: wait until exactly our five are counted.
  ASSERT_TRUE(PollUntil(
      [&] {
        Reply r = Command(held[0], {"CLIENT", "LIST"});
        auto text = StringOf(r.get());
        return text && std::count(text->begin(), text->end(), '\n') == 5;
      },
      milliseconds(5000)));
  {
    RawClient sixth(server.ConnectRaw());
    ASSERT_TRUE(sixth.ok());
    bool eof = false;
    EXPECT_EQ(sixth.ReadToEof(&eof), "-ERR max number of clients reached\r\n");
    EXPECT_TRUE(eof);
  }
  for (auto& c : held) EXPECT_THAT(Command(c, {"PING"}), IsStatus("PONG"));
  // Once one leaves, a new client gets in.
  held.pop_back();
  ASSERT_TRUE(PollUntil(
      [&] {
        Reply r = Command(held[0], {"CLIENT", "LIST"});
        auto text = StringOf(r.get());
        return text && std::count(text->begin(), text->end(), '\n') == 4;
      },
      milliseconds(5000)));
  RedisConn c = server.Connect();
  ASSERT_TRUE(c);
  EXPECT_THAT(Command(c, {"PING"}), IsStatus("PONG"));
  Reply info = Command(c, {"INFO", "stats"});
  ASSERT_TRUE(StringOf(info.get())) << Describe(info);
  EXPECT_THAT(*StringOf(info.get()), HasSubstr("rejected_connections:1\r\n"));
}

TEST(LimitsTest, IdleTimeoutClosesIdleClientsOnly) {
  ServerProcess server({"--timeout", "1", "--shards", "2"});
  ASSERT_TRUE(server.ok()) << server.error();
  auto start = std::chrono::steady_clock::now();
  RawClient idle(server.ConnectRaw());
  ASSERT_TRUE(idle.ok());
  RedisConn busy = server.Connect();
  ASSERT_TRUE(busy);
  // Keep one client busy while the other idles; only the idle one is closed.
  bool idle_closed = PollUntil(
      [&] {
        EXPECT_THAT(Command(busy, {"PING"}), IsStatus("PONG"));
        bool eof = false;
        idle.ReadToEof(&eof, milliseconds(50));
        return eof;
      },
      milliseconds(5000));
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(idle_closed) << "idle client not closed within 5 s with --timeout 1";
  EXPECT_GE(elapsed, milliseconds(900)) << "idle client closed before the 1 s timeout";
  EXPECT_THAT(Command(busy, {"PING"}), IsStatus("PONG"));
}

}  // namespace
}  // namespace omnibus::testing
