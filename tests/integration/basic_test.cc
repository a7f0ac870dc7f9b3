// Basic commands against the real server: PING, SET/GET, binary safety, large values,
// pipelining, many concurrent connections, SELECT, CLIENT, HELLO (RESP3) and expiry.
#include <sys/resource.h>

#include <map>
#include <random>
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
using ::testing::Not;

TEST(KeyShardTest, MatchesRedisClusterHashSlots) {
  // Values from the Redis Cluster specification / CLUSTER KEYSLOT.
  EXPECT_EQ(KeyShard("123456789", 65536), 0x31C3 & 16383);
  EXPECT_EQ(KeyShard("foo", 16384), 12182);
  EXPECT_EQ(KeyShard("{user1000}.following", 16384), KeyShard("{user1000}.followers", 16384));
}

class BasicTest : public ShardedServerTest {};

TEST_P(BasicTest, Ping) {
  RedisConn c = server_->Connect();
  ASSERT_TRUE(c);
  EXPECT_THAT(Command(c, {"PING"}), IsStatus("PONG"));
  EXPECT_THAT(Command(c, {"ping", "hello"}), IsBulk("hello"));
  EXPECT_THAT(Command(c, {"ECHO", std::string_view("a\0b", 3)}), IsBulk(std::string("a\0b", 3)));
}

TEST_P(BasicTest, SetGet) {
  RedisConn c = server_->Connect();
  ASSERT_TRUE(c);
  EXPECT_THAT(Command(c, {"GET", "missing"}), IsNil());
  EXPECT_THAT(Command(c, {"SET", "k", "v"}), IsStatus("OK"));
  EXPECT_THAT(Command(c, {"GET", "k"}), IsBulk("v"));
  EXPECT_THAT(Command(c, {"SET", "k", "v2"}), IsStatus("OK"));
  EXPECT_THAT(Command(c, {"GET", "k"}), IsBulk("v2"));
  EXPECT_THAT(Command(c, {"SET", "k", "v3", "NX"}), IsNil());
  EXPECT_THAT(Command(c, {"STRLEN", "k"}), IsInt(2));
  EXPECT_THAT(Command(c, {"DEL", "k", "missing"}), IsInt(1));
  EXPECT_THAT(Command(c, {"GET", "k"}), IsNil());
  EXPECT_THAT(Command(c, {"GET"}), IsError("ERR wrong number of arguments for 'get' command"));
  // A second connection sees the first one's writes.
  EXPECT_THAT(Command(c, {"SET", "shared", "x"}), IsStatus("OK"));
  RedisConn c2 = server_->Connect();
  ASSERT_TRUE(c2);
  EXPECT_THAT(Command(c2, {"GET", "shared"}), IsBulk("x"));
}

TEST_P(BasicTest, BinarySafeKeysAndValues) {
  RedisConn c = server_->Connect();
  ASSERT_TRUE(c);
  const std::vector<std::string> samples = {
      std::string("\0", 1),
      std::string("a\0b\0", 4),
      "\r\n",
      "*1\r\n$4\r\nPING\r\n",  // looks like a command
      std::string("\r\n\0\r\n\n\r", 7),
      "\xff\xfe\x80\x00\x01",
      "",  // the empty string is a valid key and value
  };
  for (size_t i = 0; i < samples.size(); ++i) {
    std::string key = StrCat(samples[i], "key", i);
    std::string value = "v" + samples[(i + 1) % samples.size()] + samples[i];
    EXPECT_THAT(Command(c, {"SET", key, value}), IsStatus("OK")) << i;
    EXPECT_THAT(Command(c, {"GET", key}), IsBulk(value)) << i;
    EXPECT_THAT(Command(c, {"STRLEN", key}), IsInt(value.size())) << i;
  }
  EXPECT_THAT(Command(c, {"SET", "", ""}), IsStatus("OK"));
  EXPECT_THAT(Command(c, {"GET", ""}), IsBulk(""));
  EXPECT_THAT(Command(c, {"EXISTS", ""}), IsInt(1));
  // Keys that differ only after a NUL are distinct.
  EXPECT_THAT(Command(c, {"SET", std::string("n\0a", 3), "1"}), IsStatus("OK"));
  EXPECT_THAT(Command(c, {"SET", std::string("n\0b", 3), "2"}), IsStatus("OK"));
  EXPECT_THAT(Command(c, {"GET", std::string("n\0a", 3)}), IsBulk("1"));
  EXPECT_THAT(Command(c, {"GET", std::string("n\0b", 3)}), IsBulk("2"));
  EXPECT_THAT(Command(c, {"GET", "n"}), IsNil());
}

TEST_P(BasicTest, TenMegabyteValue) {
  RedisConn c = server_->Connect();
  ASSERT_TRUE(c);
  std::string value(10 * 1024 * 1024, '\0');
  std::mt19937_64 rng(42);
  for (size_t i = 0; i + 8 <= value.size(); i += 8) {
    uint64_t x = rng();
    memcpy(&value[i], &x, 8);
  }
  EXPECT_THAT(Command(c, {"SET", "big", value}), IsStatus("OK"));
  Reply r = Command(c, {"GET", "big"});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->type, REDIS_REPLY_STRING);
  ASSERT_EQ(r->len, value.size());
  EXPECT_TRUE(std::string_view(r->str, r->len) == value) << "10 MB value came back different";
  EXPECT_THAT(Command(c, {"STRLEN", "big"}), IsInt(10 * 1024 * 1024));
  EXPECT_THAT(Command(c, {"APPEND", "big", "tail"}), IsInt(10 * 1024 * 1024 + 4));
  EXPECT_THAT(Command(c, {"GETRANGE", "big", "-4", "-1"}), IsBulk("tail"));
  EXPECT_THAT(Command(c, {"PING"}), IsStatus("PONG"));
}

TEST_P(BasicTest, TenThousandPipelinedCommands) {
  RedisConn c = server_->Connect();
  ASSERT_TRUE(c);
  constexpr int kCommands = 10000;
  // The client-side model of what the server should answer, computed in request order.
  std::map<std::string, std::string> model;
  struct Expected {
    enum { kOk, kInt, kBulk, kNil } kind;
    std::string text;
    long long integer = 0;
  };
  std::vector<Expected> expected;
  std::vector<std::vector<std::string>> commands;
  for (int i = 0; i < kCommands; ++i) {
    switch (i % 4) {
      case 0: {
        std::string key = StrCat("p:", (i * 13) % 701);
        std::string value = StrCat("v", i, std::string(i % 50, 'x'));
        commands.push_back({"SET", key, value});
        model[key] = value;
        expected.push_back({Expected::kOk, "OK"});
        break;
      }
      case 1:
      case 3: {
        std::string key = StrCat("ctr:", i % 37);
        long long v = model.count(key) ? std::stoll(model[key]) + 1 : 1;
        model[key] = std::to_string(v);
        commands.push_back({"INCR", key});
        expected.push_back({Expected::kInt, "", v});
        break;
      }
      case 2: {
        std::string key = StrCat("p:", (i * 7) % 701);
        commands.push_back({"GET", key});
        auto it = model.find(key);
        if (it == model.end()) {
          expected.push_back({Expected::kNil, ""});
        } else {
          expected.push_back({Expected::kBulk, it->second});
        }
        break;
      }
    }
  }
  for (const auto& cmd : commands) {
    std::vector<std::string_view> args(cmd.begin(), cmd.end());
    AppendCommand(c.get(), args);
  }
  int mismatches = 0;
  for (int i = 0; i < kCommands; ++i) {
    Reply r = GetReply(c.get());
    ASSERT_TRUE(r) << "connection failed at reply " << i << ": " << c->errstr;
    const Expected& e = expected[static_cast<size_t>(i)];
    bool ok = false;
    switch (e.kind) {
      case Expected::kOk:
        ok = ::testing::Matches(IsStatus(e.text))(r);
        break;
      case Expected::kInt:
        ok = ::testing::Matches(IsInt(e.integer))(r);
        break;
      case Expected::kBulk:
        ok = ::testing::Matches(IsBulk(e.text))(r);
        break;
      case Expected::kNil:
        ok = ::testing::Matches(IsNil())(r);
        break;
    }
    if (!ok && ++mismatches <= 5) {
      ADD_FAILURE() << "reply " << i << " to " << commands[static_cast<size_t>(i)][0] << " "
                    << commands[static_cast<size_t>(i)][1] << " is " << Describe(r);
    }
  }
  EXPECT_EQ(mismatches, 0);
  // The final state matches the model too.
  for (int k = 0; k < 37; ++k) {
    std::string key = StrCat("ctr:", k);
    EXPECT_THAT(Command(c, {"GET", key}), IsBulk(model[key]));
  }
}

// Returns true if the limit was raised.
bool RaiseFdLimit(rlim_t want) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want) return false;
  rl.rlim_cur = std::min(want, rl.rlim_max);
  return setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

TEST_P(BasicTest, ThousandConcurrentConnections) {
  constexpr int kConns = 1000;
  constexpr int kThreads = 8;
  // The server inherits the limit: if it had to be raised, restart the server with it.
  if (RaiseFdLimit(4 * kConns + 256)) StartServer({});
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  ASSERT_GE(rl.rlim_cur, rlim_t{2 * kConns + 64})
      << "RLIMIT_NOFILE hard limit " << rl.rlim_max << " is too low for " << kConns
      << " connections on both ends";
  std::vector<RedisConn> conns(kConns);
  for (int i = 0; i < kConns; ++i) {
    conns[static_cast<size_t>(i)] = server_->Connect();
    ASSERT_TRUE(conns[static_cast<size_t>(i)]) << "connection " << i << " failed";
  }
  {
    RedisConn admin = server_->Connect();
    ASSERT_TRUE(admin);
    EXPECT_EQ(InfoField(admin.get(), "clients", "connected_clients"), kConns + 1);
  }
  // Every thread drives its share of connections with all their commands in flight at once.
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kConns; i += kThreads) {
        redisContext* c = conns[static_cast<size_t>(i)].get();
        std::string key = StrCat("conn:", i);
        AppendCommand(c, {"SET", key, std::to_string(i)});
        AppendCommand(c, {"INCR", "conn:counter"});
        AppendCommand(c, {"APPEND", key, "!"});
      }
      for (int i = t; i < kConns; i += kThreads) {
        redisContext* c = conns[static_cast<size_t>(i)].get();
        std::string expect = StrCat(i, "!");
        bool ok = ::testing::Matches(IsStatus("OK"))(GetReply(c));
        Reply incr = GetReply(c);
        ok &= incr && incr->type == REDIS_REPLY_INTEGER && incr->integer >= 1 &&
              incr->integer <= kConns;
        ok &= ::testing::Matches(IsInt(expect.size()))(GetReply(c));
        ok &= ::testing::Matches(IsBulk(expect))(Command(c, {"GET", StrCat("conn:", i)}));
        if (!ok) ++failures[static_cast<size_t>(t)];
      }
    });
  }
  for (auto& th : threads) th.join();
  int total_failures = 0;
  for (int f : failures) total_failures += f;
  EXPECT_EQ(total_failures, 0);
  EXPECT_THAT(Command(conns[0], {"GET", "conn:counter"}), IsBulk(std::to_string(kConns)));
  EXPECT_THAT(Command(conns[0], {"DBSIZE"}), IsInt(kConns + 1));
}

TEST_P(BasicTest, SelectIsolatesDatabases) {
  RedisConn a = server_->Connect();
  RedisConn b = server_->Connect();
  ASSERT_TRUE(a && b);
  EXPECT_THAT(Command(a, {"SELECT", "1"}), IsStatus("OK"));
  EXPECT_THAT(Command(a, {"SET", "k", "in1"}), IsStatus("OK"));
  EXPECT_THAT(Command(b, {"GET", "k"}), IsNil());
  EXPECT_THAT(Command(b, {"SET", "k", "in0"}), IsStatus("OK"));
  EXPECT_THAT(Command(a, {"GET", "k"}), IsBulk("in1"));
  EXPECT_THAT(Command(b, {"GET", "k"}), IsBulk("in0"));
  // Multi-key commands stay in the selected database too.
  EXPECT_THAT(Command(a, {"MSET", "m1", "a", "m2", "b", "m3", "c"}), IsStatus("OK"));
  EXPECT_THAT(Command(b, {"MGET", "m1", "m2", "m3"}),
              IsArray(ElementsAre("<nil>", "<nil>", "<nil>")));
  EXPECT_THAT(Command(a, {"MGET", "m1", "m2", "m3"}), IsArray(ElementsAre("a", "b", "c")));
  EXPECT_THAT(Command(a, {"DBSIZE"}), IsInt(4));
  EXPECT_THAT(Command(b, {"DBSIZE"}), IsInt(1));
  EXPECT_THAT(Command(b, {"SELECT", "1"}), IsStatus("OK"));
  EXPECT_THAT(Command(b, {"GET", "k"}), IsBulk("in1"));
  EXPECT_THAT(Command(b, {"FLUSHDB"}), IsStatus("OK"));
  EXPECT_THAT(Command(a, {"DBSIZE"}), IsInt(0));
  EXPECT_THAT(Command(b, {"SELECT", "0"}), IsStatus("OK"));
  EXPECT_THAT(Command(b, {"GET", "k"}), IsBulk("in0"));
  EXPECT_THAT(Command(a, {"SELECT", "16"}), IsError("ERR DB index is out of range"));
  EXPECT_THAT(Command(a, {"SELECT", "x"}), IsError("ERR value is not an integer or out of range"));
}

TEST_P(BasicTest, HelloSwitchesToResp3) {
  // hiredis 0.14 (Debian's) cannot parse RESP3, so this speaks the protocol by hand.
  RawClient raw(server_->ConnectRaw());
  ASSERT_TRUE(raw.ok());
  ASSERT_TRUE(raw.Send("CLIENT ID\r\n"));
  std::string id = raw.ReadUntil("\r\n");
  ASSERT_THAT(id, ::testing::StartsWith(":"));
  id = id.substr(1, id.size() - 3);
  ASSERT_TRUE(raw.Send("HELLO 3\r\n"));
  std::string hello =
      "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n"
      "$2\r\nid\r\n:" +
      id +
      "\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0"
      "\r\n";
  EXPECT_EQ(raw.ReadExactly(hello.size()), hello);
  ASSERT_TRUE(raw.Send("GET missing\r\nCONFIG GET maxclients\r\nSET k v\r\nGET k\r\n"));
  std::string resp3 = "_\r\n%1\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n+OK\r\n$1\r\nv\r\n";
  EXPECT_EQ(raw.ReadExactly(resp3.size()), resp3);
  // Back to RESP2: nil is $-1 again, and HELLO answers with a flat array.
  ASSERT_TRUE(raw.Send("HELLO 2\r\n"));
  EXPECT_THAT(raw.ReadUntil("*0\r\n"), ::testing::StartsWith("*14\r\n$6\r\nserver\r\n"));
  ASSERT_TRUE(raw.Send("GET missing\r\n"));
  EXPECT_EQ(raw.ReadExactly(5), "$-1\r\n");
  ASSERT_TRUE(raw.Send("HELLO 4\r\n"));
  EXPECT_EQ(raw.ReadUntil("\r\n"), "-NOPROTO unsupported protocol version\r\n");
  // A hiredis (RESP2) client is unaffected by the other connection's protocol.
  RedisConn c = server_->Connect();
  ASSERT_TRUE(c);
  EXPECT_THAT(Command(c, {"GET", "missing"}), IsNil());
}

TEST_P(BasicTest, ClientSetnameGetnameListKill) {
  RedisConn a = server_->Connect();
  RedisConn b = server_->Connect();
  ASSERT_TRUE(a && b);
  EXPECT_THAT(Command(a, {"CLIENT", "GETNAME"}), IsNil());
  EXPECT_THAT(Command(a, {"CLIENT", "SETNAME", "alpha"}), IsStatus("OK"));
  EXPECT_THAT(Command(a, {"CLIENT", "GETNAME"}), IsBulk("alpha"));
  EXPECT_THAT(Command(b, {"CLIENT", "GETNAME"}), IsNil());
  EXPECT_THAT(Command(b, {"CLIENT", "SETNAME", "has space"}),
              IsError("ERR Client names cannot contain spaces, newlines or special characters."));
  Reply id_reply = Command(a, {"CLIENT", "ID"});
  ASSERT_TRUE(id_reply && id_reply->type == REDIS_REPLY_INTEGER) << Describe(id_reply);
  std::string a_id = std::to_string(id_reply->integer);

  Reply list = Command(b, {"CLIENT", "LIST"});
  auto text = StringOf(list.get());
  ASSERT_TRUE(text) << Describe(list);
  EXPECT_THAT(*text, HasSubstr("id=" + a_id + " "));
  EXPECT_THAT(*text, HasSubstr(" name=alpha "));
  EXPECT_THAT(*text, HasSubstr("cmd=client|list"));
  EXPECT_EQ(std::count(text->begin(), text->end(), '\n'), 2) << *text;
  Reply one = Command(b, {"CLIENT", "LIST", "ID", a_id});
  ASSERT_TRUE(StringOf(one.get()));
  EXPECT_THAT(*StringOf(one.get()), ::testing::StartsWith("id=" + a_id + " "));

  EXPECT_THAT(Command(a, {"SET", "owned-by-a", "1"}), IsStatus("OK"));
  EXPECT_THAT(Command(b, {"CLIENT", "KILL", "ID", a_id}), IsInt(1));
  // The killed connection's next command fails; the killer and the data are unaffected.
  Reply after = Command(a, {"PING"});
  EXPECT_EQ(after, nullptr) << "killed client still got " << Describe(after);
  EXPECT_THAT(Command(b, {"CLIENT", "KILL", "ID", a_id}), IsInt(0));
  EXPECT_THAT(Command(b, {"CLIENT", "KILL", "127.0.0.1:1"}), IsError("ERR No such client"));
  EXPECT_THAT(Command(b, {"GET", "owned-by-a"}), IsBulk("1"));
  Reply list2 = Command(b, {"CLIENT", "LIST"});
  ASSERT_TRUE(StringOf(list2.get()));
  EXPECT_THAT(*StringOf(list2.get()), Not(HasSubstr("name=alpha")));
}

TEST_P(BasicTest, KeyExpiresAfterPx) {
  RedisConn c = server_->Connect();
  ASSERT_TRUE(c);
  EXPECT_THAT(Command(c, {"SET", "k", "v", "PX", "100"}), IsStatus("OK"));
  Reply pttl = Command(c, {"PTTL", "k"});
  ASSERT_TRUE(pttl && pttl->type == REDIS_REPLY_INTEGER) << Describe(pttl);
  EXPECT_LE(pttl->integer, 100);
  EXPECT_GE(pttl->integer, -2);  // -2 once expired, on a very slow machine
  EXPECT_TRUE(PollUntil(
      [&] {
        return ::testing::Matches(IsNil())(Command(c, {"GET", "k"}));
      },
      milliseconds(5000)))
      << "key with PX 100 still readable after 5 s";
  EXPECT_THAT(Command(c, {"EXISTS", "k"}), IsInt(0));
  EXPECT_THAT(Command(c, {"PTTL", "k"}), IsInt(-2));
}

TEST_P(BasicTest, ActiveExpiryRemovesUntouchedKeys) {
  RedisConn c = server_->Connect();
  ASSERT_TRUE(c);
  constexpr int kKeys = 1000;
  for (int i = 0; i < kKeys; ++i) {
    AppendCommand(c.get(), {"SET", StrCat("exp:", i), "v", "PX", "50"});
  }
  for (int i = 0; i < kKeys; ++i) ASSERT_THAT(GetReply(c.get()), IsStatus("OK")) << i;
  EXPECT_THAT(Command(c, {"SET", "persistent", "v"}), IsStatus("OK"));
  // Only DBSIZE and INFO from here on: no command touches the expiring keys, so only the
  // server's own expiry cycle can remove them.
  int64_t dbsize = -1, expired = -1;
  bool gone = PollUntil(
      [&] {
        Reply r = Command(c, {"DBSIZE"});
        dbsize = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
        expired = InfoField(c.get(), "stats", "expired_keys");
        return dbsize == 1 && expired >= kKeys;
      },
      milliseconds(5000));
  EXPECT_TRUE(gone) << "after 5 s DBSIZE is " << dbsize << " and expired_keys " << expired;
  EXPECT_THAT(Command(c, {"GET", "persistent"}), IsBulk("v"));
}

TEST_P(BasicTest, ExpiryChurnLeavesOtherKeysIntact) {
  // Waves of short-lived keys grow each shard's table, then active expiry empties it again
  // (shrinking it) while the next wave arrives: the keys that never expire must all survive
  // and DBSIZE must come back to exactly their number.
  RedisConn c = server_->Connect();
  ASSERT_TRUE(c);
  constexpr int kKeep = 100;
  constexpr int kWave = 2000;
  for (int i = 0; i < kKeep; ++i) AppendCommand(c.get(), {"SET", StrCat("keep:", i), StrCat(i)});
  for (int i = 0; i < kKeep; ++i) ASSERT_THAT(GetReply(c.get()), IsStatus("OK"));
  for (int wave = 0; wave < 5; ++wave) {
    SCOPED_TRACE(StrCat("wave ", wave));
    for (int i = 0; i < kWave; ++i) {
      AppendCommand(c.get(), {"SET", StrCat("churn:", wave, ":", i), "v", "PX", "20"});
    }
    for (int i = 0; i < kWave; ++i) ASSERT_THAT(GetReply(c.get()), IsStatus("OK")) << i;
    int64_t dbsize = -1;
    bool drained = PollUntil(
        [&] {
          Reply r = Command(c, {"DBSIZE"});
          dbsize = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
          return dbsize == kKeep;
        },
        milliseconds(5000));
    EXPECT_TRUE(drained) << "DBSIZE is " << dbsize << ", expected " << kKeep;
    for (int i = 0; i < kKeep; ++i) AppendCommand(c.get(), {"GET", StrCat("keep:", i)});
    int missing = 0;
    for (int i = 0; i < kKeep; ++i) {
      Reply r = GetReply(c.get());
      ASSERT_TRUE(r) << "connection lost (server crashed?)";
      missing += !::testing::Matches(IsBulk(StrCat(i)))(r);
    }
    ASSERT_EQ(missing, 0) << "keys that never expire were lost";
    ASSERT_TRUE(drained);
  }
}

INSTANTIATE_TEST_SUITE_P(Shards, BasicTest, ::testing::Values(1, 2, 4), ShardsName);

}  // namespace
}  // namespace omnibus::testing
