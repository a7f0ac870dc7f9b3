// Security basics against the real binary: requirepass (what works before AUTH, the exact
// NOAUTH/WRONGPASS texts, HELLO AUTH), the small protocol limits for unauthenticated
// clients, protected mode for non-loopback clients, and rename-command from a config file.
// Every test also checks that other clients are served and acknowledged writes survive.
// Expected texts were checked against Debian's redis-server 7.0.15.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "omnibus/base/str_cat.h"
#include "testing/server_process.h"

namespace omnibus::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::StartsWith;

constexpr char kPassword[] = "s3cret";
constexpr char kNoAuth[] = "NOAUTH Authentication required.";
constexpr char kWrongPass[] = "WRONGPASS invalid username-password pair or user is disabled.";
constexpr char kHelloNoAuth[] =
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "
    "AUTH <user> <pass> option can be used to authenticate the client and select the RESP "
    "protocol version at the same time";

// redis-server 7.0.15's reply to a non-loopback client of a passwordless protected server.
constexpr char kDenied[] =
    "-DENIED Redis is running in protected mode because protected mode is enabled and no "
    "password is set for the default user. In this mode connections are only accepted from the "
    "loopback interface. If you want to connect from external computers to Redis you may adopt "
    "one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG "
    "SET protected-mode no' from the loopback interface by connecting to Redis from the same "
    "host the server is running, however MAKE SURE Redis is not publicly accessible from "
    "internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively "
    "you can just disable the protected mode by editing the Redis configuration file, and "
    "setting the protected mode option to 'no', and then restarting the server. 3) If you "
    "started the server manually just for testing, restart it with the '--protected-mode no' "
    "option. 4) Setup a an authentication password for the default user. NOTE: You only need "
    "to do one of the above things in order for the server to start accepting connections from "
    "the outside.\r\n";

std::string Multibulk(const std::vector<std::string>& args) {
  std::string out = StrCat("*", args.size(), "\r\n");
  for (const std::string& a : args) StrAppend(&out, "$", a.size(), "\r\n", a, "\r\n");
  return out;
}

class SecurityTest : public ShardedServerTest {
 protected:
  void SetUp() override { StartServer({"--requirepass", kPassword}); }
};

TEST_P(SecurityTest, RequirepassGatesEveryCommandButAuthHelloQuitReset) {
  Bystander bystander(*server_, "auth", kPassword);
  ASSERT_TRUE(bystander.ok());
  ASSERT_TRUE(bystander.Write());
  RedisConn c = server_->Connect();
  ASSERT_TRUE(c);
  const std::vector<std::vector<std::string_view>> gated = {
      {"PING"},
      {"GET", "auth:0"},
      {"SET", "auth:0", "overwritten"},
      {"DEL", "auth:0"},
      {"EXPIRE", "auth:1", "1"},
      {"MSET", "gated:a", "x", "gated:b", "y"},
      {"MGET", "auth:0", "auth:1"},
      {"ECHO", "x"},
      {"SELECT", "1"},
      {"DBSIZE"},
      {"KEYS", "*"},
      {"FLUSHDB"},
      {"FLUSHALL"},
      {"CONFIG", "GET", "requirepass"},
      {"CONFIG", "SET", "requirepass", ""},
      {"CLIENT", "LIST"},
      {"CLIENT", "SETNAME", "x"},
      {"INFO"},
      {"COMMAND", "COUNT"},
      {"SHUTDOWN", "NOSAVE"},
  };
  for (const auto& args : gated) {
    EXPECT_THAT(Command(c, args), IsError(kNoAuth)) << ::testing::PrintToString(args);
  }
  // Like Redis, an unknown command or a wrong arity is reported before authentication.
  EXPECT_THAT(Command(c, {"NOSUCH", "k"}),
              IsError("ERR unknown command 'NOSUCH', with args beginning with: 'k' "));
  EXPECT_THAT(Command(c, {"GET"}), IsError("ERR wrong number of arguments for 'get' command"));
  EXPECT_THAT(Command(c, {"AUTH"}), IsError("ERR wrong number of arguments for 'auth' command"));
  // HELLO runs, but only to authenticate.
  EXPECT_THAT(Command(c, {"HELLO"}), IsError(kHelloNoAuth));
  EXPECT_THAT(Command(c, {"HELLO", "2"}), IsError(kHelloNoAuth));
  EXPECT_THAT(Command(c, {"HELLO", "3", "AUTH", "default"}),
              IsError("ERR Syntax error in HELLO option 'AUTH'"));
  // Wrong credentials.
  EXPECT_THAT(Command(c, {"AUTH", "nope"}), IsError(kWrongPass));
  EXPECT_THAT(Command(c, {"AUTH", "default", "nope"}), IsError(kWrongPass));
  EXPECT_THAT(Command(c, {"AUTH", "bob", kPassword}), IsError(kWrongPass));
  EXPECT_THAT(Command(c, {"AUTH", "a", "b", "c"}), IsError("ERR syntax error"));
  EXPECT_THAT(Command(c, {"HELLO", "2", "AUTH", "default", "nope"}), IsError(kWrongPass));
  // RESET is allowed and leaves the client unauthenticated.
  EXPECT_THAT(Command(c, {"RESET"}), IsStatus("RESET"));
  EXPECT_THAT(Command(c, {"GET", "auth:0"}), IsError(kNoAuth));
  // Nothing ran for the unauthenticated client.
  EXPECT_TRUE(bystander.Served());
  EXPECT_TRUE(bystander.WritesIntact());
  EXPECT_THAT(Command(bystander.get(), {"EXISTS", "gated:a", "gated:b"}), IsInt(0));

  // AUTH <password>: everything works, including what was refused above.
  EXPECT_THAT(Command(c, {"AUTH", kPassword}), IsStatus("OK"));
  EXPECT_THAT(Command(c, {"PING"}), IsStatus("PONG"));
  EXPECT_THAT(Command(c, {"CONFIG", "GET", "requirepass"}),
              IsArray(ElementsAre("requirepass", kPassword)));
  EXPECT_THAT(Command(c, {"MSET", "authed:a", "1", "authed:b", "2"}), IsStatus("OK"));
  // RESET drops the authentication again (Redis 7.0 does).
  EXPECT_THAT(Command(c, {"RESET"}), IsStatus("RESET"));
  EXPECT_THAT(Command(c, {"GET", "authed:a"}), IsError(kNoAuth));
  // AUTH default <password>, the two-argument form.
  EXPECT_THAT(Command(c, {"AUTH", "default", kPassword}), IsStatus("OK"));
  EXPECT_THAT(Command(c, {"MGET", "authed:a", "authed:b"}), IsArray(ElementsAre("1", "2")));
  EXPECT_TRUE(bystander.Write());
  EXPECT_TRUE(bystander.WritesIntact());
}

TEST_P(SecurityTest, QuitBeforeAuthClosesPolitely) {
  RawClient raw(server_->ConnectRaw());
  ASSERT_TRUE(raw.ok());
  ASSERT_TRUE(raw.Send("QUIT\r\nPING\r\n"));
  bool eof = false;
  EXPECT_EQ(raw.ReadToEof(&eof), "+OK\r\n");
  EXPECT_TRUE(eof);
}

TEST_P(SecurityTest, HelloAuthAuthenticatesAndSwitchesToResp3) {
  Bystander bystander(*server_, "hello", kPassword);
  ASSERT_TRUE(bystander.ok());
  ASSERT_TRUE(bystander.Write());
  // hiredis 0.14 cannot parse RESP3: speak it by hand.
  RawClient raw(server_->ConnectRaw());
  ASSERT_TRUE(raw.ok());
  ASSERT_TRUE(raw.Send(Multibulk({"HELLO", "3", "AUTH", "default", "nope"}) +
                       Multibulk({"GET", "hello:0"})));
  std::string refused = StrCat("-", kWrongPass, "\r\n-", kNoAuth, "\r\n");
  EXPECT_EQ(raw.ReadExactly(refused.size()), refused);
  ASSERT_TRUE(raw.Send(Multibulk({"HELLO", "3", "AUTH", "default", kPassword})));
  std::string hello = raw.ReadUntil("$7\r\nmodules\r\n*0\r\n");
  EXPECT_THAT(hello, StartsWith("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n"
                                "7.0.15\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:"));
  ASSERT_TRUE(raw.Send(Multibulk({"GET", "hello:0"}) + Multibulk({"GET", "hello:none"}) +
                       Multibulk({"CONFIG", "GET", "maxclients"})));
  // Authenticated and speaking RESP3: a RESP3 null and a map.
  std::string expected =
      "$16\r\nvalue-of-hello:0\r\n_\r\n%1\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n";
  EXPECT_EQ(raw.ReadExactly(expected.size()), expected);
  EXPECT_TRUE(bystander.Served());
  EXPECT_TRUE(bystander.WritesIntact());
}

TEST_P(SecurityTest, UnauthenticatedClientsGetSmallProtocolLimits) {
  Bystander bystander(*server_, "unauth", kPassword);
  ASSERT_TRUE(bystander.ok());
  ASSERT_TRUE(bystander.Write());
  struct Case {
    std::string send;
    std::string reply;
    bool closes;
  };
  std::vector<std::string> ten = {"DEL"};
  for (int i = 0; i < 9; ++i) ten.push_back(StrCat("unauth:", i));
  const std::vector<Case> cases = {
      {"*11\r\n", "-ERR Protocol error: unauthenticated multibulk length\r\n", true},
      {"*2\r\n$3\r\nGET\r\n$16385\r\n", "-ERR Protocol error: unauthenticated bulk length\r\n",
       true},
      // At the limits: parsed, then refused as unauthenticated, and nothing is deleted.
      {Multibulk(ten), StrCat("-", kNoAuth, "\r\n"), false},
      {Multibulk({"GET", std::string(16384, 'k')}), StrCat("-", kNoAuth, "\r\n"), false},
  };
  for (const Case& cs : cases) {
    SCOPED_TRACE(::testing::PrintToString(cs.send.substr(0, 40)));
    RawClient raw(server_->ConnectRaw());
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE(raw.Send(cs.send));
    EXPECT_EQ(raw.ReadExactly(cs.reply.size()), cs.reply);
    bool eof = false;
    raw.ReadToEof(&eof, milliseconds(cs.closes ? 5000 : 20));
    EXPECT_EQ(eof, cs.closes);
    EXPECT_TRUE(bystander.Served());
  }
  EXPECT_TRUE(bystander.WritesIntact());
  // Once authenticated, the usual limits apply (the nine DELs above deleted nothing).
  std::vector<std::string> eleven = {"EXISTS"};
  for (int i = 0; i < 10; ++i) eleven.push_back(StrCat("unauth:", i));
  const std::string big_commands = Multibulk(eleven) +
                                   Multibulk({"SET", "unauth:big", std::string(100000, 'b')}) +
                                   Multibulk({"STRLEN", "unauth:big"});
  const std::string big_replies = ":10\r\n+OK\r\n:100000\r\n";
  {
    RawClient raw(server_->ConnectRaw());
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE(raw.Send(Multibulk({"AUTH", kPassword})));
    EXPECT_EQ(raw.ReadExactly(5), "+OK\r\n");
    ASSERT_TRUE(raw.Send(big_commands));
    EXPECT_EQ(raw.ReadExactly(big_replies.size()), big_replies);
  }
  EXPECT_TRUE(bystander.Write());
  EXPECT_TRUE(bystander.WritesIntact());
}

TEST_P(SecurityTest, CommandsPipelinedBehindAuthGetTheAuthenticatedLimits) {
  // Redis parses each command after running the one before it, so a client may send AUTH
  // and a big command in one write (connection set-up code in clients does this).
  Bystander bystander(*server_, "piped", kPassword);
  ASSERT_TRUE(bystander.ok());
  ASSERT_TRUE(bystander.Write());
  std::vector<std::string> eleven = {"EXISTS"};
  for (int i = 0; i < 10; ++i) eleven.push_back(StrCat("piped:", i));
  RawClient raw(server_->ConnectRaw());
  ASSERT_TRUE(raw.ok());
  ASSERT_TRUE(raw.Send(Multibulk({"AUTH", kPassword}) + Multibulk(eleven) +
                       Multibulk({"SET", "piped:big", std::string(100000, 'b')}) +
                       Multibulk({"STRLEN", "piped:big"})));
  std::string expected = "+OK\r\n:10\r\n+OK\r\n:100000\r\n";
  EXPECT_EQ(raw.ReadExactly(expected.size()), expected);
  // The same after HELLO AUTH.
  RawClient hello(server_->ConnectRaw());
  ASSERT_TRUE(hello.ok());
  ASSERT_TRUE(
      hello.Send(Multibulk({"HELLO", "2", "AUTH", "default", kPassword}) + Multibulk(eleven)));
  // Both replies may arrive in one read, so wait for the pair.
  EXPECT_THAT(hello.ReadUntil("$7\r\nmodules\r\n*0\r\n:10\r\n"), StartsWith("*14\r\n"));
  EXPECT_TRUE(bystander.Served());
  EXPECT_TRUE(bystander.WritesIntact());
}

TEST_P(SecurityTest, RenameCommandFromConfigFile) {
  server_.reset();
  ServerProcess server(
      {"--shards", StrCat(shards())},
      {.config_text = "rename-command FLUSHALL \"\"\nrename-command CONFIG MYCONFIG\n"});
  ASSERT_TRUE(server.ok()) << server.error();
  Bystander bystander(server, "rename");
  ASSERT_TRUE(bystander.ok());
  ASSERT_TRUE(bystander.Write());
  RedisConn c = server.Connect();
  ASSERT_TRUE(c);
  EXPECT_THAT(Command(c, {"FLUSHALL"}),
              IsError("ERR unknown command 'FLUSHALL', with args beginning with: "));
  EXPECT_THAT(Command(c, {"flushall", "ASYNC"}),
              IsError("ERR unknown command 'flushall', with args beginning with: 'ASYNC' "));
  EXPECT_THAT(
      Command(c, {"CONFIG", "GET", "maxclients"}),
      IsError("ERR unknown command 'CONFIG', with args beginning with: 'GET' 'maxclients' "));
  EXPECT_THAT(Command(c, {"MYCONFIG", "GET", "maxclients"}),
              IsArray(ElementsAre("maxclients", "10000")));
  EXPECT_THAT(Command(c, {"myconfig", "SET", "maxclients", "100"}), IsStatus("OK"));
  EXPECT_THAT(Command(c, {"MyConfig", "GET", "maxclients"}),
              IsArray(ElementsAre("maxclients", "100")));
  // FLUSHALL never ran.
  EXPECT_TRUE(bystander.Served());
  EXPECT_TRUE(bystander.WritesIntact());
  EXPECT_THAT(Command(c, {"DBSIZE"}), IsInt(bystander.acknowledged()));
}

INSTANTIATE_TEST_SUITE_P(Shards, SecurityTest, ::testing::Values(1, 3), ShardsName);

// Protected mode: a server bound to loopback with no password still refuses clients whose
// address is not 127.0.0.1/::1 (here 127.0.0.2, which Redis does not count as local either).
TEST(ProtectedModeTest, NonLoopbackClientIsDeniedWithoutPassword) {
  ServerProcess server({"--shards", "2"});
  ASSERT_TRUE(server.ok()) << server.error();
  Bystander bystander(server, "protected");
  ASSERT_TRUE(bystander.ok());
  ASSERT_TRUE(bystander.Write());
  {
    RawClient outsider(server.ConnectRawFrom("127.0.0.2"));
    ASSERT_TRUE(outsider.ok()) << "cannot connect from 127.0.0.2";
    bool eof = false;
    EXPECT_EQ(outsider.ReadToEof(&eof), kDenied);
    EXPECT_TRUE(eof);
  }
  EXPECT_EQ(InfoInt(bystander.get(), "stats", "rejected_connections"), 1);  // as in Redis
  EXPECT_TRUE(bystander.Served());
  // Turning protected mode off at run time lets the same client in.
  EXPECT_THAT(Command(bystander.get(), {"CONFIG", "SET", "protected-mode", "no"}), IsStatus("OK"));
  RawClient outsider(server.ConnectRawFrom("127.0.0.2"));
  ASSERT_TRUE(outsider.ok());
  ASSERT_TRUE(outsider.Send("PING\r\n"));
  EXPECT_EQ(outsider.ReadExactly(7), "+PONG\r\n");
  EXPECT_TRUE(bystander.WritesIntact());
}

TEST(ProtectedModeTest, NonLoopbackClientIsServedWithProtectedModeOff) {
  ServerProcess server({"--shards", "2", "--protected-mode", "no"});
  ASSERT_TRUE(server.ok()) << server.error();
  RawClient outsider(server.ConnectRawFrom("127.0.0.2"));
  ASSERT_TRUE(outsider.ok());
  ASSERT_TRUE(outsider.Send("SET protected:k v\r\nGET protected:k\r\n"));
  EXPECT_EQ(outsider.ReadExactly(12), "+OK\r\n$1\r\nv\r\n");
}

TEST(ProtectedModeTest, NonLoopbackClientMustAuthenticateWithPassword) {
  ServerProcess server({"--shards", "2", "--requirepass", kPassword});
  ASSERT_TRUE(server.ok()) << server.error();
  RawClient outsider(server.ConnectRawFrom("127.0.0.2"));
  ASSERT_TRUE(outsider.ok());
  ASSERT_TRUE(outsider.Send(StrCat("PING\r\nAUTH ", kPassword, "\r\nPING\r\n")));
  std::string expected = StrCat("-", kNoAuth, "\r\n+OK\r\n+PONG\r\n");
  EXPECT_EQ(outsider.ReadExactly(expected.size()), expected);
}

}  // namespace
}  // namespace omnibus::testing
