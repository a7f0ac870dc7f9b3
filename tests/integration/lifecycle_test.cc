// Process lifecycle: SHUTDOWN and SIGTERM exit with status 0; bad configuration exits with
// status 1 and Redis's "FATAL CONFIG FILE ERROR" report.
#include <sys/wait.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "omnibus/base/str_cat.h"
#include "testing/server_process.h"

namespace omnibus::testing {
namespace {

using ::testing::HasSubstr;

class LifecycleTest : public ShardedServerTest {};

TEST_P(LifecycleTest, ShutdownExitsWithStatusZero) {
  RedisConn c = server_->Connect();
  ASSERT_TRUE(c);
  EXPECT_THAT(Command(c, {"SET", "k", "v"}), IsStatus("OK"));
  EXPECT_THAT(Command(c, {"SHUTDOWN", "bogus"}), IsError("ERR syntax error"));
  // On success SHUTDOWN sends no reply: the connection just closes.
  Reply r = Command(c, {"SHUTDOWN", "NOSAVE"});
  EXPECT_EQ(r, nullptr) << "SHUTDOWN replied " << Describe(r);
  ASSERT_TRUE(server_->WaitForExit(milliseconds(10000))) << "server still running after SHUTDOWN";
  EXPECT_TRUE(server_->exited_cleanly()) << "wait status " << *server_->wait_status();
  EXPECT_THAT(server_->Log(), HasSubstr("ready to exit, bye bye"));
}

TEST_P(LifecycleTest, SigtermExitsWithStatusZero) {
  // Busy clients and in-flight work at the moment of the signal must not stop a clean exit.
  std::vector<RedisConn> conns;
  for (int i = 0; i < 20; ++i) {
    conns.push_back(server_->Connect());
    ASSERT_TRUE(conns.back());
    for (int j = 0; j < 50; ++j) {
      AppendCommand(conns.back().get(), {"MSET", StrCat("a", j), "1", "b", "2"});
    }
    ASSERT_THAT(GetReply(conns.back().get()), IsStatus("OK"));
  }
  int status = server_->Stop();
  EXPECT_TRUE(WIFEXITED(status)) << "wait status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_TRUE(server_->exited_cleanly());
  EXPECT_THAT(server_->Log(), HasSubstr("ready to exit, bye bye"));
}

TEST_P(LifecycleTest, SigtermAsSoonAsThePortAcceptsExitsWithStatusZero) {
  // A supervisor may stop a server the moment it is reachable: the signal must already be
  // handled then (the default action would kill the process, no clean exit).
  for (int i = 0; i < 25; ++i) {
    ServerProcess server({"--shards", StrCat(shards())}, ServerProcess::Ready::kAccepts);
    ASSERT_TRUE(server.ok()) << server.error();
    server.ExpectUncleanExit();  // checked here instead, once per attempt
    int status = server.Stop();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "attempt " << i << ": "
        << (WIFSIGNALED(status) ? StrCat("killed by signal ", WTERMSIG(status))
                                : StrCat("wait status ", status));
  }
}

INSTANTIATE_TEST_SUITE_P(Shards, LifecycleTest, ::testing::Values(1, 2, 4), ShardsName);

struct BadConfigCase {
  std::vector<std::string> args;
  std::string why;  // the last line of the report
};

TEST(BadConfigTest, ExitsWithStatusOneAndFatalConfigError) {
  const std::vector<BadConfigCase> cases = {
      {{"--port", "abc"}, "argument couldn't be parsed into an integer"},
      {{"--no-such-option", "1"}, "Bad directive or wrong number of arguments"},
      {{"--port", "70000"}, "argument must be between 0 and 65535 inclusive"},
  };
  for (const BadConfigCase& bad : cases) {
    SCOPED_TRACE(::testing::PrintToString(bad.args));
    std::string output;
    std::optional<int> status = RunServerToExit(bad.args, &output);
    ASSERT_TRUE(status.has_value()) << "server did not exit on bad config; output:\n" << output;
    EXPECT_TRUE(WIFEXITED(*status)) << "wait status " << *status;
    EXPECT_EQ(WEXITSTATUS(*status), 1);
    EXPECT_THAT(output, HasSubstr("*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***"));
    EXPECT_THAT(output, HasSubstr(bad.why));
  }
}

TEST(BadConfigTest, PortInUseExitsWithStatusOne) {
  ServerProcess first({"--shards", "1"});
  ASSERT_TRUE(first.ok()) << first.error();
  std::string output;
  std::optional<int> status =
      RunServerToExit({"--port", std::to_string(first.port()), "--bind", "127.0.0.1"}, &output);
  ASSERT_TRUE(status.has_value()) << output;
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 1);
  EXPECT_THAT(output, HasSubstr("Address already in use"));
  // The first server is unharmed.
  RedisConn c = first.Connect();
  ASSERT_TRUE(c);
  EXPECT_THAT(Command(c, {"PING"}), IsStatus("PONG"));
}

}  // namespace
}  // namespace omnibus::testing
