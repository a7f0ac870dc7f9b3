// Pub/sub (issue 11, part 4) against the real binary: replies and pushed messages byte for
// byte as redis-server 7.0.15 sends them (RESP2 subscribed mode, RESP3 pushes mixed with
// replies), delivery to channel and pattern subscribers, order of one publisher's messages,
// introspection, subscribers that leave, and the `pubsub` output-buffer-limit class. Every
// expected byte string was read from redis-server first; the suite also passes against it
// (OMNIBUS_TEST_SERVER=tests/testing/redis_as_omnibus.sh).
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/server_process.h"

namespace omnibus::testing {
namespace {

class PubSubTest : public ShardedServerTest {};

std::string Bulk(std::string_view s) {
  return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}

TEST_P(PubSubTest, SubscribedModeRepliesAsRedis) {
  RawClient c(server_->ConnectRaw());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.Send(
      "SUBSCRIBE a b\r\nGET x\r\nPING\r\nPING hi\r\nPSUBSCRIBE p*\r\nUNSUBSCRIBE a\r\n"
      "UNSUBSCRIBE b\r\nPUNSUBSCRIBE\r\nUNSUBSCRIBE\r\nPING\r\nSSUBSCRIBE s1\r\nSUNSUBSCRIBE\r\n"));
  const std::string expected =
      "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n"
      "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
      "are allowed in this context\r\n"
      "*2\r\n$4\r\npong\r\n$0\r\n\r\n*2\r\n$4\r\npong\r\n$2\r\nhi\r\n"
      "*3\r\n$10\r\npsubscribe\r\n$2\r\np*\r\n:3\r\n"
      "*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:2\r\n*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:1\r\n"
      "*3\r\n$12\r\npunsubscribe\r\n$2\r\np*\r\n:0\r\n*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"
      "+PONG\r\n*3\r\n$10\r\nssubscribe\r\n$2\r\ns1\r\n:1\r\n"
      "*3\r\n$12\r\nsunsubscribe\r\n$2\r\ns1\r\n:0\r\n";
  EXPECT_EQ(c.ReadExactly(expected.size()), expected);
}

TEST_P(PubSubTest, Resp3PushesMixWithReplies) {
  RawClient c(server_->ConnectRaw());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.Send("HELLO 3\r\n"));
  c.ReadUntil("*0\r\n");  // HELLO's map ends with modules, an empty array
  ASSERT_TRUE(c.Send("SUBSCRIBE a\r\nGET x\r\nPING\r\nUNSUBSCRIBE a\r\nUNSUBSCRIBE\r\n"));
  const std::string expected =
      ">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n_\r\n+PONG\r\n"
      ">3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n>3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n";
  EXPECT_EQ(c.ReadExactly(expected.size()), expected);
}

TEST_P(PubSubTest, MessagesReachChannelAndPatternSubscribersInOrder) {
  RawClient sub(server_->ConnectRaw());
  RawClient sub3(server_->ConnectRaw());
  ASSERT_TRUE(sub.ok() && sub3.ok());
  ASSERT_TRUE(sub.Send("SUBSCRIBE news\r\nPSUBSCRIBE n*\r\n"));
  const std::string confirmed =
      "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:2\r\n";
  ASSERT_EQ(sub.ReadExactly(confirmed.size()), confirmed);
  ASSERT_TRUE(sub3.Send("HELLO 3\r\nSUBSCRIBE news\r\n"));
  sub3.ReadUntil(">3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");
  RedisConn pub = server_->Connect();
  ASSERT_TRUE(pub);
  EXPECT_THAT(Command(pub, {"PUBLISH", "news", "hello"}), IsInt(3));
  EXPECT_THAT(Command(pub, {"PUBLISH", "nothing-here", "x"}), IsInt(1));  // the pattern
  EXPECT_THAT(Command(pub, {"PUBLISH", "other", "x"}), IsInt(0));
  std::string expected =
      "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
      "*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
      "*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$12\r\nnothing-here\r\n$1\r\nx\r\n";
  EXPECT_EQ(sub.ReadExactly(expected.size()), expected);
  std::string expected3 = ">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n";
  EXPECT_EQ(sub3.ReadExactly(expected3.size()), expected3);

  // One publisher's messages arrive in the order published.
  constexpr int kMessages = 2000;
  std::string pipeline;
  std::string in_order;
  for (int i = 0; i < kMessages; ++i) {
    std::string m = "m" + std::to_string(i);
    pipeline += "*3\r\n$7\r\nPUBLISH\r\n$4\r\nnews\r\n" + Bulk(m);
    in_order += ">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n" + Bulk(m);
  }
  RawClient raw_pub(server_->ConnectRaw());
  ASSERT_TRUE(raw_pub.Send(pipeline));
  EXPECT_EQ(sub3.ReadExactly(in_order.size()), in_order);
}

TEST_P(PubSubTest, IntrospectionAndSubscribersThatLeave) {
  RedisConn admin = server_->Connect();
  ASSERT_TRUE(admin);
  {
    RawClient a(server_->ConnectRaw());
    RawClient b(server_->ConnectRaw());
    ASSERT_TRUE(a.Send("SUBSCRIBE c1 c2\r\nPSUBSCRIBE x*\r\nSSUBSCRIBE s1\r\n"));
    ASSERT_TRUE(b.Send("SUBSCRIBE c1\r\n"));
    a.ReadUntil("$2\r\ns1\r\n:1\r\n");
    b.ReadUntil(":1\r\n");
    Reply numsub = Command(admin, {"PUBSUB", "NUMSUB", "c1", "c2", "none"});
    ASSERT_TRUE(numsub && numsub->type == REDIS_REPLY_ARRAY && numsub->elements == 6)
        << Describe(numsub);
    EXPECT_THAT(numsub->element[1], IsInt(2));
    EXPECT_THAT(numsub->element[3], IsInt(1));
    EXPECT_THAT(numsub->element[5], IsInt(0));
    EXPECT_THAT(Command(admin, {"PUBSUB", "NUMPAT"}), IsInt(1));
    EXPECT_EQ(InfoField(admin.get(), "stats", "pubsub_channels"), 2);
    EXPECT_EQ(InfoField(admin.get(), "stats", "pubsub_patterns"), 1);
    EXPECT_EQ(InfoField(admin.get(), "stats", "pubsubshard_channels"), 1);
    Reply channels = Command(admin, {"PUBSUB", "CHANNELS", "c*"});
    ASSERT_TRUE(channels && channels->type == REDIS_REPLY_ARRAY) << Describe(channels);
    EXPECT_EQ(channels->elements, 2u);
    Reply shard = Command(admin, {"PUBSUB", "SHARDNUMSUB", "s1"});
    ASSERT_TRUE(shard && shard->elements == 2) << Describe(shard);
    EXPECT_THAT(shard->element[1], IsInt(1));
    EXPECT_THAT(Command(admin, {"SPUBLISH", "s1", "v"}), IsInt(1));
    EXPECT_THAT(Command(admin, {"PUBLISH", "s1", "v"}), IsInt(0));  // another namespace
    Reply list = Command(admin, {"CLIENT", "LIST"});
    auto text = StringOf(list.get());
    ASSERT_TRUE(text);
    EXPECT_THAT(*text, ::testing::HasSubstr("flags=P db=0 sub=2 psub=1 ssub=1"));
  }
  // Both closed: their subscriptions are gone.
  ASSERT_TRUE(PollUntil(
      [&] {
        Reply r = Command(admin, {"PUBSUB", "NUMPAT"});
        return r && r->type == REDIS_REPLY_INTEGER && r->integer == 0;
      },
      milliseconds(5000)));
  EXPECT_THAT(Command(admin, {"PUBLISH", "c1", "v"}), IsInt(0));
  Reply channels = Command(admin, {"PUBSUB", "CHANNELS"});
  ASSERT_TRUE(channels && channels->type == REDIS_REPLY_ARRAY);
  EXPECT_EQ(channels->elements, 0u);
}

// A subscriber that never reads is closed at the pubsub class's limit; the publisher and
// everyone else keep being served.
TEST_P(PubSubTest, SlowSubscriberHitsThePubsubOutputLimit) {
  RedisConn admin = server_->Connect();
  ASSERT_TRUE(admin);
  ASSERT_THAT(Command(admin, {"CONFIG", "SET", "client-output-buffer-limit", "pubsub 262144 0 0"}),
              IsStatus("OK"));
  // Several slow receivers of one message (two on the channel, one by pattern, a monitor):
  // they hit the limit in the same delivery, each closing while it walks the lists.
  RawClient slow(server_->ConnectRaw());
  RawClient slow2(server_->ConnectRaw());
  RawClient slow_pattern(server_->ConnectRaw());
  RawClient slow_monitor(server_->ConnectRaw());
  ASSERT_TRUE(slow.Send("SUBSCRIBE firehose\r\n"));
  ASSERT_TRUE(slow2.Send("SUBSCRIBE firehose\r\n"));
  ASSERT_TRUE(slow_pattern.Send("PSUBSCRIBE fire*\r\n"));
  ASSERT_TRUE(slow_monitor.Send("MONITOR\r\n"));
  slow.ReadUntil(":1\r\n");
  slow2.ReadUntil(":1\r\n");
  slow_pattern.ReadUntil(":1\r\n");
  slow_monitor.ReadUntil("+OK\r\n");
  int before = static_cast<int>(
      InfoField(admin.get(), "stats", "client_output_buffer_limit_disconnections"));
  std::string payload(16 * 1024, 'p');
  // Far more than the socket buffers and the limit hold.
  for (int i = 0; i < 2000; ++i) {
    Reply r = Command(admin, {"PUBLISH", "firehose", payload});
    ASSERT_TRUE(r && r->type == REDIS_REPLY_INTEGER) << Describe(r);
    if (r->integer == 0) break;  // the subscriber is gone
  }
  EXPECT_TRUE(slow.WaitForEof(milliseconds(5000)));
  EXPECT_TRUE(slow2.WaitForEof(milliseconds(5000)));
  EXPECT_TRUE(slow_pattern.WaitForEof(milliseconds(5000)));
  if (before >= 0) {  // ours (Redis 7.2 has it too; 7.0 does not)
    EXPECT_GT(InfoField(admin.get(), "stats", "client_output_buffer_limit_disconnections"), before);
  }
  EXPECT_THAT(Command(admin, {"PUBLISH", "firehose", "x"}), IsInt(0));
  EXPECT_THAT(Command(admin, {"PING"}), IsStatus("PONG"));
}

// CLIENT REPLY OFF / SKIP / ON on the same output path (issue 11, part 7), byte for byte as
// redis-server; messages published to a client with replies off are dropped too.
TEST_P(PubSubTest, ClientReplyOffSkipOn) {
  RawClient c(server_->ConnectRaw());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(
      c.Send("CLIENT REPLY OFF\r\nSET a 1\r\nGET a\r\nCLIENT REPLY ON\r\nGET a\r\n"
             "CLIENT REPLY SKIP\r\nGET a\r\nGET a\r\nCLIENT REPLY foo\r\nCLIENT REPLY\r\n"
             "CLIENT REPLY OFF\r\nCLIENT REPLY foo\r\nNOSUCH\r\nCLIENT REPLY SKIP\r\n"
             "CLIENT REPLY ON\r\nPING\r\n"));
  const std::string expected =
      "+OK\r\n$1\r\n1\r\n$1\r\n1\r\n-ERR syntax error\r\n"
      "-ERR wrong number of arguments for 'client|reply' command\r\n+OK\r\n+PONG\r\n";
  EXPECT_EQ(c.ReadExactly(expected.size()), expected);
}

// MONITOR (issue 11, part 7): one line per command as redis-server writes it (quoting,
// redaction, the DB after SELECT, a transaction's commands before its EXEC, no admin
// commands), and a monitor may not touch the keyspace.
// MONITOR lines without what changes from run to run: "+<seconds>.<micros> [<db> <addr>]"
// becomes "+T [<db>]", or with `keep_who` "+T [<db> client]" ("[<db> lua]" for a script's
// commands); one line per "\n". A malformed line is kept whole, marked "BAD:".
std::string NormalizeMonitor(const std::string& got, bool keep_who) {
  std::string normalized;
  for (size_t pos = 0; pos < got.size();) {
    size_t end = got.find("\r\n", pos);
    if (end == std::string::npos) break;
    std::string line = got.substr(pos, end - pos);
    pos = end + 2;
    size_t open = line.find(" [");
    size_t space = open == std::string::npos ? open : line.find(' ', open + 2);
    size_t close = open == std::string::npos ? open : line.find("] ", open);
    if (line[0] != '+' || space == std::string::npos || close == std::string::npos) {
      normalized += "BAD:" + line + "\n";
      continue;
    }
    std::string who;
    if (keep_who) who = line.substr(space + 1, close - space - 1) == "lua" ? " lua" : " client";
    normalized += "+T [" + line.substr(open + 2, space - open - 2) + who + "]" +
                  line.substr(close + 1) + "\n";
  }
  return normalized;
}

TEST_P(PubSubTest, MonitorShowsAScriptThenItsCommands) {
  RawClient mon(server_->ConnectRaw());
  ASSERT_TRUE(mon.ok());
  ASSERT_TRUE(mon.Send("MONITOR\r\n"));
  EXPECT_EQ(mon.ReadExactly(5), "+OK\r\n");
  RedisConn r = server_->Connect();
  ASSERT_TRUE(r);
  EXPECT_THAT(Command(r, {"EVAL",
                          "redis.call('set', KEYS[1], '1') redis.call('select', '2') "
                          "redis.call('set', 'b\\n', 'x') return redis.call('get', KEYS[1])",
                          "1", "k"}),
              IsNil());
  Command(r, {"PING"});
  std::string got = mon.ReadUntil("\"PING\"\r\n");
  EXPECT_EQ(NormalizeMonitor(got, /*keep_who=*/true),
            "+T [0 client] \"EVAL\" \"redis.call('set', KEYS[1], '1') redis.call('select', "
            "'2') redis.call('set', 'b\\\\n', 'x') return redis.call('get', KEYS[1])\" \"1\" "
            "\"k\"\n"
            "+T [0 lua] \"set\" \"k\" \"1\"\n"
            "+T [2 lua] \"select\" \"2\"\n"
            "+T [2 lua] \"set\" \"b\\n\" \"x\"\n"
            "+T [2 lua] \"get\" \"k\"\n"
            "+T [0 client] \"PING\"\n");
}

TEST_P(PubSubTest, MonitorSeesCommandsAsRedis) {
  RawClient mon(server_->ConnectRaw());
  ASSERT_TRUE(mon.ok());
  ASSERT_TRUE(mon.Send("MONITOR\r\nGET x\r\n"));
  const std::string refused = "+OK\r\n-ERR Replica can't interact with the keyspace\r\n";
  EXPECT_EQ(mon.ReadExactly(refused.size()), refused);
  RawClient c(server_->ConnectRaw());
  ASSERT_TRUE(c.Send("MULTI\r\nSET q 1\r\nEXEC\r\n"));
  c.ReadUntil("*1\r\n+OK\r\n");
  RedisConn r = server_->Connect();
  ASSERT_TRUE(r);
  Command(r, {"SET", "a\"b", "x\ny\x01"});
  Command(r, {"SELECT", "2"});
  Command(r, {"GET", "w s"});
  Command(r, {"CONFIG", "GET", "maxclients"});  // admin: not shown
  Command(r, {"AUTH", "nobody", "pw"});
  Command(r, {"PING"});
  std::string got = mon.ReadUntil("\"PING\"\r\n");
  EXPECT_EQ(NormalizeMonitor(got, /*keep_who=*/false),
            "+T [0] \"MULTI\"\n"
            "+T [0] \"SET\" \"q\" \"1\"\n"
            "+T [0] \"EXEC\"\n"
            "+T [0] \"SET\" \"a\\\"b\" \"x\\ny\\x01\"\n"
            "+T [2] \"SELECT\" \"2\"\n"
            "+T [2] \"GET\" \"w s\"\n"
            "+T [2] \"AUTH\" \"(redacted)\" \"(redacted)\"\n"
            "+T [2] \"PING\"\n");
}

INSTANTIATE_TEST_SUITE_P(Shards, PubSubTest, ::testing::Values(1, 3), ShardsName);

}  // namespace
}  // namespace omnibus::testing
