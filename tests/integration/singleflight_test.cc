// The singleflight front (DESIGN §5, issue 11 part 2) against the real binary: identical
// pipelined reads share one execution and, when big, one chunk; a read never shares a flight
// queued before its own group's write (read-your-writes); protocol, DB and WATCH keep flights
// apart; errors reach every waiter in its own slot; `singleflight no` turns it off. A whole
// pipeline sent in one write is parsed as one group, which makes the joins deterministic.
// (Concurrency across many clients is the linearizability suite's.)
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/server_process.h"

namespace omnibus::testing {
namespace {

class SingleflightTest : public ShardedServerTest {
 protected:
  int64_t Stat(redisContext* c, std::string_view field) { return InfoField(c, "stats", field); }
};

std::string Bulk(std::string_view s) {
  return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}

std::string Repeat(std::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST_P(SingleflightTest, IdenticalPipelinedReadsShareOneExecution) {
  auto c = server_->Connect();
  ASSERT_THAT(Command(c, {"SET", "k", "v"}), IsStatus("OK"));
  int64_t joins = Stat(c.get(), "singleflight_joins");
  int64_t flights = Stat(c.get(), "singleflight_flights");
  RawClient raw(server_->ConnectRaw());
  // A new connection's first group holds up to 8 commands (Connection::group_cap).
  ASSERT_TRUE(raw.Send(Repeat("GET k\r\n", 8)));
  std::string expected = Repeat(Bulk("v"), 8);
  EXPECT_EQ(raw.ReadExactly(expected.size()), expected);
  EXPECT_EQ(Stat(c.get(), "singleflight_joins") - joins, 7);
  EXPECT_EQ(Stat(c.get(), "singleflight_flights") - flights, 1);
  // Every request is still a call of its own.
  auto stats = StringOf(Command(c, {"INFO", "commandstats"}).get());
  ASSERT_TRUE(stats.has_value());
  EXPECT_THAT(*stats, ::testing::HasSubstr("cmdstat_get:calls=8,"));
}

TEST_P(SingleflightTest, AReadNeverSharesAFlightQueuedBeforeItsOwnWrite) {
  auto c = server_->Connect();
  ASSERT_THAT(Command(c, {"SET", "k", "v1"}), IsStatus("OK"));
  int64_t refused = Stat(c.get(), "singleflight_joins_refused_own_writes");
  int64_t joins = Stat(c.get(), "singleflight_joins");
  RawClient raw(server_->ConnectRaw());
  ASSERT_TRUE(raw.Send("GET k\r\nSET k v2\r\nGET k\r\nGET k\r\nAPPEND k 3\r\nGET k\r\n"));
  std::string expected = Bulk("v1") + "+OK\r\n" + Bulk("v2") + Bulk("v2") + ":3\r\n" + Bulk("v23");
  EXPECT_EQ(raw.ReadExactly(expected.size()), expected);
  // No GET after the group's first write to that shard joins a flight (the rule is kept
  // simple: it does not look at when a flight was queued).
  EXPECT_EQ(Stat(c.get(), "singleflight_joins_refused_own_writes") - refused, 3);
  EXPECT_EQ(Stat(c.get(), "singleflight_joins") - joins, 0);
}

TEST_P(SingleflightTest, ProtocolAndDbKeepFlightsApart) {
  auto c = server_->Connect();
  ASSERT_THAT(Command(c, {"HSET", "h", "f", "1"}), IsInt(1));
  ASSERT_THAT(Command(c, {"SET", "k", "db0"}), IsStatus("OK"));
  RawClient raw(server_->ConnectRaw());
  ASSERT_TRUE(
      raw.Send("HGETALL h\r\nGET k\r\nSELECT 1\r\nGET k\r\nHELLO 3\r\nSELECT 0\r\nHGETALL h\r\n"));
  std::string before_hello = "*2\r\n$1\r\nf\r\n$1\r\n1\r\n" + Bulk("db0") + "+OK\r\n$-1\r\n";
  EXPECT_EQ(raw.ReadExactly(before_hello.size()), before_hello);
  // HELLO's map ends with modules, an empty array; then HGETALL's reply, a RESP3 map.
  const std::string tail = "*0\r\n+OK\r\n%1\r\n$1\r\nf\r\n$1\r\n1\r\n";
  EXPECT_THAT(raw.ReadUntil(tail), ::testing::EndsWith(tail));
}

TEST_P(SingleflightTest, ErrorsReachEveryWaiterInItsOwnSlot) {
  auto c = server_->Connect();
  ASSERT_THAT(Command(c, {"RPUSH", "l", "a"}), IsInt(1));
  int64_t joins = Stat(c.get(), "singleflight_joins");
  RawClient raw(server_->ConnectRaw());
  ASSERT_TRUE(raw.Send("GET l\r\nPING\r\nGET l\r\nGET l\r\n"));
  const std::string wrongtype =
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
  std::string expected = wrongtype + "+PONG\r\n" + wrongtype + wrongtype;
  EXPECT_EQ(raw.ReadExactly(expected.size()), expected);
  EXPECT_EQ(Stat(c.get(), "singleflight_joins") - joins, 2);
  auto errors = StringOf(Command(c, {"INFO", "errorstats"}).get());
  ASSERT_TRUE(errors.has_value());
  EXPECT_THAT(*errors, ::testing::HasSubstr("errorstat_WRONGTYPE:count=3"));
}

TEST_P(SingleflightTest, ABigValueIsOneSharedChunk) {
  auto c = server_->Connect();
  std::string value(100 * 1024, 'x');
  for (size_t i = 0; i < value.size(); i += 997) value[i] = static_cast<char>('a' + i % 26);
  ASSERT_THAT(Command(c, {"SET", "big", value}), IsStatus("OK"));
  int64_t not_copied = Stat(c.get(), "singleflight_bytes_not_copied");
  RawClient raw(server_->ConnectRaw());
  ASSERT_TRUE(raw.Send(Repeat("GET big\r\n", 8)));
  std::string expected = Repeat(Bulk(value), 8);
  EXPECT_EQ(raw.ReadExactly(expected.size()), expected);
  EXPECT_EQ(Stat(c.get(), "singleflight_bytes_not_copied") - not_copied,
            static_cast<int64_t>(7 * Bulk(value).size()));
}

TEST_P(SingleflightTest, WatchingClientsAndSingleflightNoNeverJoin) {
  auto c = server_->Connect();
  ASSERT_THAT(Command(c, {"SET", "k", "v"}), IsStatus("OK"));
  int64_t joins = Stat(c.get(), "singleflight_joins");
  RawClient raw(server_->ConnectRaw());
  ASSERT_TRUE(raw.Send("WATCH k\r\n"));
  EXPECT_EQ(raw.ReadExactly(5), "+OK\r\n");
  ASSERT_TRUE(raw.Send(Repeat("GET k\r\n", 4)));
  std::string expected = Repeat(Bulk("v"), 4);
  EXPECT_EQ(raw.ReadExactly(expected.size()), expected);
  EXPECT_EQ(Stat(c.get(), "singleflight_joins"), joins);

  ASSERT_THAT(Command(c, {"CONFIG", "SET", "singleflight", "no"}), IsStatus("OK"));
  EXPECT_THAT(Command(c, {"CONFIG", "GET", "singleflight"}),
              IsArray(::testing::ElementsAre("singleflight", "no")));
  RawClient other(server_->ConnectRaw());
  ASSERT_TRUE(other.Send(Repeat("GET k\r\n", 8)));
  expected = Repeat(Bulk("v"), 8);
  EXPECT_EQ(other.ReadExactly(expected.size()), expected);
  EXPECT_EQ(Stat(c.get(), "singleflight_joins"), joins);
  EXPECT_THAT(Command(c, {"CONFIG", "SET", "singleflight", "maybe"}),
              IsErrorStartingWith("ERR CONFIG SET failed (possibly related to argument "
                                  "'singleflight') - argument must be 'yes' or 'no'"));
}

TEST_P(SingleflightTest, ClientsLeavingMidFlightHurtNoOne) {
  auto c = server_->Connect();
  std::string value(64 * 1024, 'v');
  ASSERT_THAT(Command(c, {"SET", "hot", value}), IsStatus("OK"));
  // Readers that vanish with their flights (or their joins) open, interleaved with readers
  // that stay: everyone who stays gets every byte.
  for (int round = 0; round < 20; ++round) {
    std::vector<std::unique_ptr<RawClient>> gone;
    for (int i = 0; i < 4; ++i) {
      gone.push_back(std::make_unique<RawClient>(server_->ConnectRaw()));
      ASSERT_TRUE(gone.back()->Send(Repeat("GET hot\r\n", 4)));
    }
    RawClient stays(server_->ConnectRaw());
    ASSERT_TRUE(stays.Send(Repeat("GET hot\r\n", 4)));
    gone.clear();  // closed without reading
    std::string expected = Repeat(Bulk(value), 4);
    ASSERT_EQ(stays.ReadExactly(expected.size()), expected) << "round " << round;
  }
  EXPECT_THAT(Command(c, {"STRLEN", "hot"}), IsInt(static_cast<int64_t>(value.size())));
}

INSTANTIATE_TEST_SUITE_P(Shards, SingleflightTest, ::testing::Values(1, 3), ShardsName);

}  // namespace
}  // namespace omnibus::testing
