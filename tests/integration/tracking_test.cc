// Client tracking (issue 11, part 6) against the real binary: invalidation pushes (RESP3) and
// __redis__:invalidate messages (RESP2 REDIRECT) byte for byte as redis-server 7.0.15 sends
// them, for default mode, OPTIN/OPTOUT with CLIENT CACHING, BCAST with prefixes, NOLOOP,
// flushes (a null), expiry, a broken redirect, tracking-table-max-keys, the errors,
// TRACKINGINFO, GETREDIR, CLIENT LIST's flags and INFO's fields. The suite also passes against
// redis-server (OMNIBUS_TEST_SERVER=tests/testing/redis_as_omnibus.sh).
#include <unistd.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/server_process.h"

namespace omnibus::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class TrackingTest : public ShardedServerTest {};

std::string Bulk(std::string_view s) {
  return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}

// A RESP3 invalidation push for `keys`.
std::string Invalidate(std::vector<std::string_view> keys) {
  std::string out = ">2\r\n$10\r\ninvalidate\r\n*" + std::to_string(keys.size()) + "\r\n";
  for (std::string_view k : keys) out += Bulk(k);
  return out;
}

// A RESP2 message on __redis__:invalidate (what a REDIRECT target subscribed to it gets).
std::string InvalidateMessage(std::string_view payload) {
  return "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n" + std::string(payload);
}

// A raw connection that switched to RESP3.
void Hello3(RawClient& c) {
  ASSERT_TRUE(c.Send("HELLO 3\r\n"));
  c.ReadUntil("*0\r\n");  // HELLO's map ends with modules, an empty array
}

int64_t ClientId(RawClient& c) {
  EXPECT_TRUE(c.Send("CLIENT ID\r\n"));
  std::string r = c.ReadUntil("\r\n");
  return r.size() > 1 ? std::stoll(r.substr(1)) : -1;
}

// Sends one inline command and expects exactly `reply` (plus whatever pushes it names).
void Expect(RawClient& c, std::string_view command, std::string_view reply) {
  ASSERT_TRUE(c.Send(std::string(command) + "\r\n"));
  EXPECT_EQ(c.ReadExactly(reply.size()), reply) << command;
}

TEST_P(TrackingTest, DefaultModeInvalidatesReadKeysOnce) {
  RawClient t(server_->ConnectRaw());
  ASSERT_TRUE(t.ok());
  Hello3(t);
  Expect(t, "CLIENT TRACKING on", "+OK\r\n");
  Expect(t, "GET a", "_\r\n");
  Expect(t, "MGET b c", "*2\r\n_\r\n_\r\n");
  RedisConn w = server_->Connect();
  ASSERT_TRUE(w);
  EXPECT_THAT(Command(w, {"SET", "a", "1"}), IsStatus("OK"));
  EXPECT_THAT(Command(w, {"SET", "a", "2"}), IsStatus("OK"));  // no longer tracked: nothing
  EXPECT_THAT(Command(w, {"MSET", "b", "1", "c", "2"}), IsStatus("OK"));
  EXPECT_THAT(Command(w, {"DEL", "b"}), IsInt(1));
  std::string expected = Invalidate({"a"}) + Invalidate({"b"}) + Invalidate({"c"});
  EXPECT_EQ(t.ReadExactly(expected.size()), expected);
  // Its own write: the reply first, then the invalidation.
  Expect(t, "GET a", "$1\r\n2\r\n");
  Expect(t, "SET a 5", "+OK\r\n" + Invalidate({"a"}));
  Expect(t, "GET a", "$1\r\n5\r\n");
  EXPECT_EQ(InfoField(w.get(), "clients", "tracking_clients"), 1);
  EXPECT_EQ(InfoField(w.get(), "stats", "tracking_total_keys"), 1);
  EXPECT_EQ(InfoField(w.get(), "stats", "tracking_total_items"), 1);
  // A flush invalidates everything at once with a null.
  Expect(t, "FLUSHDB", "+OK\r\n>2\r\n$10\r\ninvalidate\r\n_\r\n");
  EXPECT_EQ(InfoField(w.get(), "stats", "tracking_total_keys"), 0);
  // An empty DB is flushed too, and the other client's FLUSHALL reaches it.
  EXPECT_THAT(Command(w, {"FLUSHALL"}), IsStatus("OK"));
  const std::string null_push = ">2\r\n$10\r\ninvalidate\r\n_\r\n";
  EXPECT_EQ(t.ReadExactly(null_push.size()), null_push);
  Expect(t, "CLIENT TRACKING off", "+OK\r\n");
  EXPECT_EQ(InfoField(w.get(), "clients", "tracking_clients"), 0);
  Expect(t, "GET a", "_\r\n");
  EXPECT_THAT(Command(w, {"SET", "a", "1"}), IsStatus("OK"));
  Expect(t, "PING", "+PONG\r\n");  // no push came before it
}

TEST_P(TrackingTest, Resp2RedirectToASubscriber) {
  RawClient r(server_->ConnectRaw());
  RawClient t(server_->ConnectRaw());
  ASSERT_TRUE(r.ok() && t.ok());
  int64_t rid = ClientId(r);
  Expect(r, "SUBSCRIBE __redis__:invalidate",
         "*3\r\n$9\r\nsubscribe\r\n$20\r\n__redis__:invalidate\r\n:1\r\n");
  std::string id = std::to_string(rid);
  Expect(t, "CLIENT TRACKING on REDIRECT " + id, "+OK\r\n");
  Expect(t, "GET a", "$-1\r\n");
  Expect(t, "CLIENT GETREDIR", ":" + id + "\r\n");
  Expect(t, "CLIENT TRACKINGINFO",
         "*6\r\n$5\r\nflags\r\n*1\r\n$2\r\non\r\n$8\r\nredirect\r\n:" + id +
             "\r\n$8\r\nprefixes\r\n*0\r\n");
  RedisConn w = server_->Connect();
  ASSERT_TRUE(w);
  EXPECT_THAT(Command(w, {"SET", "a", "1"}), IsStatus("OK"));
  EXPECT_THAT(Command(w, {"FLUSHALL"}), IsStatus("OK"));
  std::string expected =
      InvalidateMessage("*1\r\n$1\r\na\r\n") + InvalidateMessage("$-1\r\n");  // flush: a null
  EXPECT_EQ(r.ReadExactly(expected.size()), expected);
  ASSERT_TRUE(t.Send("CLIENT INFO\r\n"));
  std::string info = t.ReadUntil("\r\n\r\n");
  EXPECT_THAT(info, HasSubstr(" flags=t "));
  EXPECT_THAT(info, HasSubstr(" redir=" + id + " "));
}

TEST_P(TrackingTest, BrokenRedirect) {
  RawClient t(server_->ConnectRaw());
  ASSERT_TRUE(t.ok());
  Hello3(t);
  std::string id;
  {
    RawClient r(server_->ConnectRaw());
    ASSERT_TRUE(r.ok());
    id = std::to_string(ClientId(r));
    Hello3(r);
    Expect(t, "CLIENT TRACKING on REDIRECT " + id, "+OK\r\n");
    Expect(t, "GET a", "_\r\n");
    RedisConn w = server_->Connect();
    EXPECT_THAT(Command(w, {"SET", "a", "1"}), IsStatus("OK"));
    std::string pushed = Invalidate({"a"});
    EXPECT_EQ(r.ReadExactly(pushed.size()), pushed);  // a RESP3 target gets the push
    Expect(t, "GET a", "$1\r\n1\r\n");
  }
  // Its target gone (wait until the server saw it), the next invalidation says so.
  RedisConn w = server_->Connect();
  for (int i = 0; i < 500; ++i) {
    if (InfoField(w.get(), "clients", "connected_clients") == 2) break;
    usleep(2000);
  }
  EXPECT_THAT(Command(w, {"SET", "a", "2"}), IsStatus("OK"));
  std::string broken = ">2\r\n$21\r\ntracking-redir-broken\r\n:" + id + "\r\n";
  EXPECT_EQ(t.ReadExactly(broken.size()), broken);
  Expect(t, "CLIENT TRACKINGINFO",
         "%3\r\n$5\r\nflags\r\n~2\r\n$2\r\non\r\n$15\r\nbroken_redirect\r\n$8\r\nredirect\r\n:" +
             id + "\r\n$8\r\nprefixes\r\n*0\r\n");
  ASSERT_TRUE(t.Send("CLIENT INFO\r\n"));
  EXPECT_THAT(t.ReadUntil("\r\n\r\n"), HasSubstr(" flags=tR "));
}

TEST_P(TrackingTest, OptInAndOptOut) {
  RawClient t(server_->ConnectRaw());
  ASSERT_TRUE(t.ok());
  Hello3(t);
  RedisConn w = server_->Connect();
  ASSERT_TRUE(w);
  Expect(t, "CLIENT TRACKING on OPTIN", "+OK\r\n");
  Expect(t, "GET a", "_\r\n");  // not cached: not tracked
  Expect(t, "CLIENT CACHING yes", "+OK\r\n");
  Expect(t, "CLIENT TRACKINGINFO",
         "%3\r\n$5\r\nflags\r\n~3\r\n$2\r\non\r\n$5\r\noptin\r\n$11\r\ncaching-yes\r\n$8\r\n"
         "redirect\r\n:0\r\n$8\r\nprefixes\r\n*0\r\n");
  Expect(t, "GET b", "_\r\n");  // the one command CACHING yes covers
  Expect(t, "GET c", "_\r\n");
  EXPECT_THAT(Command(w, {"MSET", "a", "1", "b", "1", "c", "1"}), IsStatus("OK"));
  std::string expected = Invalidate({"b"});
  EXPECT_EQ(t.ReadExactly(expected.size()), expected);

  Expect(t, "CLIENT TRACKING on OPTOUT",
         "-ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and "
         "then re-enabling it with a different mode.\r\n");
  Expect(t, "CLIENT TRACKING off", "+OK\r\n");
  Expect(t, "CLIENT TRACKING on OPTOUT", "+OK\r\n");
  Expect(t, "GET a", "$1\r\n1\r\n");
  Expect(t, "CLIENT CACHING no", "+OK\r\n");
  Expect(t, "GET b", "$1\r\n1\r\n");  // not tracked
  Expect(t, "GET c", "$1\r\n1\r\n");
  EXPECT_THAT(Command(w, {"MSET", "a", "2", "b", "2", "c", "2"}), IsStatus("OK"));
  expected = Invalidate({"a"}) + Invalidate({"c"});
  EXPECT_EQ(t.ReadExactly(expected.size()), expected);

  // CACHING yes holds for a whole transaction.
  Expect(t, "CLIENT TRACKING off", "+OK\r\n");
  Expect(t, "CLIENT TRACKING on OPTIN", "+OK\r\n");
  Expect(t, "CLIENT CACHING yes", "+OK\r\n");
  Expect(t, "MULTI", "+OK\r\n");
  Expect(t, "GET a", "+QUEUED\r\n");
  Expect(t, "GET b", "+QUEUED\r\n");
  Expect(t, "EXEC", "*2\r\n$1\r\n2\r\n$1\r\n2\r\n");
  Expect(t, "GET c", "$1\r\n2\r\n");
  EXPECT_THAT(Command(w, {"MSET", "a", "3", "b", "3", "c", "3"}), IsStatus("OK"));
  expected = Invalidate({"a"}) + Invalidate({"b"});
  EXPECT_EQ(t.ReadExactly(expected.size()), expected);
  Expect(t, "PING", "+PONG\r\n");  // and nothing for c
}

TEST_P(TrackingTest, BroadcastPrefixesAndNoLoop) {
  RawClient t(server_->ConnectRaw());
  RawClient t2(server_->ConnectRaw());
  ASSERT_TRUE(t.ok() && t2.ok());
  Hello3(t);
  Hello3(t2);
  Expect(t, "CLIENT TRACKING on BCAST PREFIX a: PREFIX b:", "+OK\r\n");
  Expect(t, "CLIENT TRACKINGINFO",
         "%3\r\n$5\r\nflags\r\n~2\r\n$2\r\non\r\n$5\r\nbcast\r\n$8\r\nredirect\r\n:0\r\n$8\r\n"
         "prefixes\r\n*2\r\n$2\r\na:\r\n$2\r\nb:\r\n");
  Expect(t2, "CLIENT TRACKING on BCAST NOLOOP", "+OK\r\n");
  RedisConn w = server_->Connect();
  ASSERT_TRUE(w);
  // One command's keys under one prefix go out together, in key order.
  EXPECT_THAT(Command(w, {"MSET", "a:2", "1", "a:1", "1", "b:1", "1", "c:1", "1"}), IsStatus("OK"));
  std::string expected = Invalidate({"a:1", "a:2"}) + Invalidate({"b:1"});
  EXPECT_EQ(t.ReadExactly(expected.size()), expected);
  expected = Invalidate({"a:1", "a:2", "b:1", "c:1"});
  EXPECT_EQ(t2.ReadExactly(expected.size()), expected);
  // NOLOOP: not its own changes.
  Expect(t2, "SET x 1", "+OK\r\n");
  EXPECT_THAT(Command(w, {"SET", "y", "1"}), IsStatus("OK"));
  expected = Invalidate({"y"});
  EXPECT_EQ(t2.ReadExactly(expected.size()), expected);
  Expect(t, "PING", "+PONG\r\n");  // c:1, x, y are outside its prefixes
  EXPECT_EQ(InfoField(w.get(), "stats", "tracking_total_prefixes"), 3);
  EXPECT_EQ(InfoField(w.get(), "clients", "tracking_clients"), 2);
  ASSERT_TRUE(t.Send("CLIENT INFO\r\n"));
  EXPECT_THAT(t.ReadUntil("\r\n\r\n"), HasSubstr(" flags=tB "));
  // Overlapping prefixes, with the client's own or among the new ones.
  Expect(t, "CLIENT TRACKING on BCAST PREFIX a:x",
         "-ERR Prefix 'a:x' overlaps with an existing prefix 'a:'. Prefixes for a single client "
         "must not overlap.\r\n");
  Expect(t, "CLIENT TRACKING on BCAST PREFIX c PREFIX cd",
         "-ERR Prefix 'c' overlaps with another provided prefix 'cd'. Prefixes for a single "
         "client must not overlap.\r\n");
  Expect(t, "CLIENT TRACKING off", "+OK\r\n");
  Expect(t2, "CLIENT TRACKING off", "+OK\r\n");
  EXPECT_EQ(InfoField(w.get(), "stats", "tracking_total_prefixes"), 0);
}

TEST_P(TrackingTest, NoLoopSkipsOwnChanges) {
  RawClient t(server_->ConnectRaw());
  ASSERT_TRUE(t.ok());
  Hello3(t);
  Expect(t, "CLIENT TRACKING on NOLOOP", "+OK\r\n");
  Expect(t, "GET a", "_\r\n");
  Expect(t, "SET a 1", "+OK\r\n");
  Expect(t, "GET a", "$1\r\n1\r\n");
  RedisConn w = server_->Connect();
  EXPECT_THAT(Command(w, {"SET", "a", "2"}), IsStatus("OK"));
  std::string expected = Invalidate({"a"});
  EXPECT_EQ(t.ReadExactly(expected.size()), expected);
}

TEST_P(TrackingTest, ExpiryInvalidates) {
  RawClient t(server_->ConnectRaw());
  ASSERT_TRUE(t.ok());
  Hello3(t);
  RedisConn w = server_->Connect();
  ASSERT_TRUE(w);
  EXPECT_THAT(Command(w, {"SET", "k", "v", "PX", "300"}), IsStatus("OK"));
  Expect(t, "CLIENT TRACKING on", "+OK\r\n");
  Expect(t, "GET k", "$1\r\nv\r\n");
  usleep(400000);
  // Expired by the active cycle, or at the latest by this read.
  EXPECT_THAT(Command(w, {"GET", "k"}), IsNil());
  std::string expected = Invalidate({"k"});
  EXPECT_EQ(t.ReadExactly(expected.size()), expected);
}

TEST_P(TrackingTest, ScriptReadsAreTrackedForTheCaller) {
  RawClient t(server_->ConnectRaw());
  ASSERT_TRUE(t.ok());
  Hello3(t);
  RedisConn w = server_->Connect();
  ASSERT_TRUE(w);
  EXPECT_THAT(Command(w, {"MSET", "a", "1", "b", "2"}), IsStatus("OK"));
  Expect(t, "CLIENT TRACKING on", "+OK\r\n");
  // Redis 7.0 tracks the script's declared keys once it reads (not the keys it reaches on
  // its own: b here).
  Expect(t, "EVAL \"return {redis.call('get', KEYS[1]), redis.call('get', 'b')}\" 1 a",
         "*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
  EXPECT_THAT(Command(w, {"SET", "b", "3"}), IsStatus("OK"));
  EXPECT_THAT(Command(w, {"SET", "a", "4"}), IsStatus("OK"));
  std::string expected = Invalidate({"a"});
  EXPECT_EQ(t.ReadExactly(expected.size()), expected);
  // OPTIN: a script's reads count only after CLIENT CACHING yes.
  Expect(t, "CLIENT TRACKING off", "+OK\r\n");
  Expect(t, "CLIENT TRACKING on OPTIN", "+OK\r\n");
  Expect(t, "EVAL \"return redis.call('get', KEYS[1])\" 1 a", "$1\r\n4\r\n");
  Expect(t, "CLIENT CACHING yes", "+OK\r\n");
  Expect(t, "EVAL \"return redis.call('get', KEYS[1])\" 1 b", "$1\r\n3\r\n");
  // A script that only writes remembers nothing.
  Expect(t, "CLIENT CACHING yes", "+OK\r\n");
  Expect(t, "EVAL \"return redis.call('set', KEYS[1], 'x')\" 1 c", "+OK\r\n");
  EXPECT_THAT(Command(w, {"MSET", "a", "5", "b", "5", "c", "5"}), IsStatus("OK"));
  expected = Invalidate({"b"});
  EXPECT_EQ(t.ReadExactly(expected.size()), expected);
  Expect(t, "PING", "+PONG\r\n");
}

TEST_P(TrackingTest, TableLimitEvictsKeys) {
  RawClient t(server_->ConnectRaw());
  ASSERT_TRUE(t.ok());
  Hello3(t);
  RedisConn w = server_->Connect();
  ASSERT_TRUE(w);
  EXPECT_THAT(Command(w, {"CONFIG", "GET", "tracking-table-max-keys"}),
              IsArray(ElementsAre("tracking-table-max-keys", "1000000")));
  ASSERT_THAT(Command(w, {"CONFIG", "SET", "tracking-table-max-keys", "1"}), IsStatus("OK"));
  Expect(t, "CLIENT TRACKING on", "+OK\r\n");
  Expect(t, "GET a", "_\r\n");
  Expect(t, "GET b", "_\r\n");
  // Over the limit: one of the two keys is dropped, and its client told (Redis picks at
  // random), by the time the next command runs.
  Expect(t, "PING", "");
  std::string got = t.ReadUntil("+PONG\r\n");
  EXPECT_TRUE(got == Invalidate({"a"}) + "+PONG\r\n" || got == Invalidate({"b"}) + "+PONG\r\n" ||
              got == "+PONG\r\n" + Invalidate({"a"}) || got == "+PONG\r\n" + Invalidate({"b"}))
      << got;
  EXPECT_EQ(InfoField(w.get(), "stats", "tracking_total_keys"), 1);
  EXPECT_EQ(InfoField(w.get(), "stats", "tracking_total_items"), 1);
}

TEST_P(TrackingTest, Errors) {
  RawClient t(server_->ConnectRaw());
  ASSERT_TRUE(t.ok());
  Expect(t, "CLIENT TRACKING on PREFIX a",
         "-ERR PREFIX option requires BCAST mode to be enabled\r\n");
  Expect(t, "CLIENT TRACKING on BCAST OPTIN",
         "-ERR OPTIN and OPTOUT are not compatible with BCAST\r\n");
  Expect(t, "CLIENT TRACKING on OPTIN OPTOUT",
         "-ERR You can't specify both OPTIN mode and OPTOUT mode\r\n");
  Expect(t, "CLIENT TRACKING on REDIRECT 999999",
         "-ERR The client ID you want redirect to does not exist\r\n");
  Expect(t, "CLIENT TRACKING on REDIRECT abc", "-ERR value is not an integer or out of range\r\n");
  Expect(t, "CLIENT TRACKING maybe", "-ERR syntax error\r\n");
  Expect(t, "CLIENT TRACKING on bogus", "-ERR syntax error\r\n");
  Expect(t, "CLIENT TRACKING on REDIRECT", "-ERR syntax error\r\n");
  Expect(t, "CLIENT TRACKING", "-ERR wrong number of arguments for 'client|tracking' command\r\n");
  Expect(t, "CLIENT CACHING yes",
         "-ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN "
         "or OPTOUT mode enabled\r\n");
  Expect(t, "CLIENT TRACKINGINFO",
         "*6\r\n$5\r\nflags\r\n*1\r\n$3\r\noff\r\n$8\r\nredirect\r\n:-1\r\n$8\r\nprefixes\r\n"
         "*0\r\n");
  Expect(t, "CLIENT GETREDIR", ":-1\r\n");
  Expect(t, "CLIENT TRACKING on", "+OK\r\n");
  Expect(t, "CLIENT GETREDIR", ":0\r\n");
  Expect(t, "CLIENT CACHING yes",
         "-ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.\r\n");
  Expect(t, "CLIENT CACHING no",
         "-ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.\r\n");
  Expect(t, "CLIENT CACHING maybe", "-ERR syntax error\r\n");
  Expect(t, "CLIENT TRACKING on BCAST",
         "-ERR You can't switch BCAST mode on/off before disabling tracking for this client, and "
         "then re-enabling it with a different mode.\r\n");
  // RESET ends tracking.
  Expect(t, "RESET", "+RESET\r\n");
  Expect(t, "CLIENT GETREDIR", ":-1\r\n");
}

INSTANTIATE_TEST_SUITE_P(Shards, TrackingTest, ::testing::Values(1, 3), ShardsName);

}  // namespace
}  // namespace omnibus::testing
