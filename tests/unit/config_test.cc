// LoadConfigText / LoadConfigFromArgs / ParseMemory. Expected error texts were produced by
// redis-server 7.0.15 on the same config lines.

#include "omnibus/server/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace omnibus {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

// The text Redis prints for a bad line (Omnibus's main() adds the final newline).
std::string FatalError(int line, const std::string& shown, const std::string& why) {
  std::string out = "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n";
  out.append("Reading the configuration file, at line ").append(std::to_string(line));
  out.append("\n>>> '").append(shown).append("'\n").append(why);
  return out;
}

// Loads `text` into a default Config, expecting failure; returns the error.
std::string LoadError(const std::string& text) {
  Config config;
  std::string error;
  EXPECT_FALSE(LoadConfigText(text, &config, &error)) << text;
  return error;
}

TEST(ConfigTest, CommentsBlankLinesAndLineEndings) {
  Config config;
  std::string error;
  ASSERT_TRUE(LoadConfigText(
      "# Omnibus test config\n\n   # an indented comment\nport 7000\r\n\t\ndatabases 4   \n"
      "PORT 7001\nhz 20",
      &config, &error))
      << error;
  EXPECT_EQ(config.port, 7001);  // names are case-insensitive; the last one wins
  EXPECT_EQ(config.databases, 4);
  EXPECT_EQ(config.hz, 20);
  EXPECT_TRUE(LoadConfigText("", &config, &error));
}

TEST(ConfigTest, QuotedValues) {
  Config config;
  std::string error;
  ASSERT_TRUE(LoadConfigText("requirepass \"my secret\"\nlogfile ''\n", &config, &error)) << error;
  EXPECT_EQ(config.net.requirepass, "my secret");
  EXPECT_EQ(config.logfile, "");
  ASSERT_TRUE(LoadConfigText("requirepass \"a\\x41\\\"b\"\n", &config, &error)) << error;
  EXPECT_EQ(config.net.requirepass, "aA\"b");
  ASSERT_TRUE(LoadConfigText("requirepass 'it\\'s'\n", &config, &error)) << error;
  EXPECT_EQ(config.net.requirepass, "it's");
}

TEST(ConfigTest, BindSeveralAddresses) {
  Config config;
  std::string error;
  ASSERT_TRUE(LoadConfigText("bind 127.0.0.1 -::1 192.168.1.2\n", &config, &error)) << error;
  EXPECT_THAT(config.bind, ElementsAre("127.0.0.1", "-::1", "192.168.1.2"));
  ASSERT_TRUE(LoadConfigText("bind 0.0.0.0\n", &config, &error)) << error;
  EXPECT_THAT(config.bind, ElementsAre("0.0.0.0"));
}

TEST(ConfigTest, MemoryUnits) {
  Config config;
  std::string error;
  ASSERT_TRUE(
      LoadConfigText("proto-max-bulk-len 1mb\nclient-query-buffer-limit 1gb\n", &config, &error))
      << error;
  EXPECT_EQ(config.net.proto_max_bulk_len, 1024 * 1024);
  EXPECT_EQ(config.net.client_query_buffer_limit, 1024LL * 1024 * 1024);
  ASSERT_TRUE(LoadConfigText("proto-max-bulk-len 2MB\n", &config, &error)) << error;
  EXPECT_EQ(config.net.proto_max_bulk_len, 2 * 1024 * 1024);
  ASSERT_TRUE(LoadConfigText("proto-max-bulk-len 2000000\n", &config, &error)) << error;
  EXPECT_EQ(config.net.proto_max_bulk_len, 2000000);
}

TEST(ConfigTest, ParseMemory) {
  struct Case {
    const char* in;
    int64_t want;
  };
  for (const Case& c : {Case{"100k", 100000}, Case{"1kb", 1024}, Case{"1m", 1000000},
                        Case{"1mb", 1048576}, Case{"1g", 1000000000}, Case{"1gb", 1073741824},
                        Case{"1GB", 1073741824}, Case{"5", 5}, Case{"5b", 5}, Case{"0", 0}}) {
    int64_t v = -1;
    EXPECT_TRUE(ParseMemory(c.in, &v)) << c.in;
    EXPECT_EQ(v, c.want) << c.in;
  }
  for (const char* bad : {"1x", "-1", "-1mb", "1 mb", "1.5mb", "99999999999gb"}) {
    int64_t v = 0;
    EXPECT_FALSE(ParseMemory(bad, &v)) << bad;
  }
}

TEST(ConfigTest, BadIntegerShowsLineNumber) {
  EXPECT_EQ(LoadError("# comment\n\nport abc\n"),
            FatalError(3, "port abc", "argument couldn't be parsed into an integer"));
  EXPECT_EQ(LoadError("hz abc\r\n"),
            FatalError(1, "hz abc", "argument couldn't be parsed into an integer"));
  EXPECT_EQ(LoadError("PORT abc"),
            FatalError(1, "PORT abc", "argument couldn't be parsed into an integer"));
}

TEST(ConfigTest, ShownLineIsTrimmedOnBothSides) {
  // Redis sdstrim()s the line (" \t\r\n") before it reports it.
  EXPECT_EQ(LoadError("  port   abc  \n"),
            FatalError(1, "port   abc", "argument couldn't be parsed into an integer"));
  EXPECT_EQ(LoadError("\tport abc\t\n"),
            FatalError(1, "port abc", "argument couldn't be parsed into an integer"));
}

TEST(ConfigTest, DirectiveErrors) {
  EXPECT_EQ(LoadError("port 6379\nfrobnicate yes\n"),
            FatalError(2, "frobnicate yes", "Bad directive or wrong number of arguments"));
  EXPECT_EQ(LoadError("port 1 2\n"), FatalError(1, "port 1 2", "wrong number of arguments"));
  EXPECT_EQ(LoadError("requirepass\n"), FatalError(1, "requirepass", "wrong number of arguments"));
  EXPECT_EQ(LoadError("bind \"127.0.0.1\n"),
            FatalError(1, "bind \"127.0.0.1", "Unbalanced quotes in configuration line"));
}

TEST(ConfigTest, RenameCommandWrongArity) {
  // rename-command is a plain directive in Redis: a wrong count falls through to the
  // generic message.
  EXPECT_EQ(LoadError("rename-command foo\n"),
            FatalError(1, "rename-command foo", "Bad directive or wrong number of arguments"));
}

TEST(ConfigTest, ValueErrors) {
  EXPECT_EQ(LoadError("port 70000\n"),
            FatalError(1, "port 70000", "argument must be between 0 and 65535 inclusive"));
  EXPECT_EQ(LoadError("timeout -1\n"),
            FatalError(1, "timeout -1", "argument must be between 0 and 2147483647 inclusive"));
  EXPECT_EQ(LoadError("protected-mode maybe\n"),
            FatalError(1, "protected-mode maybe", "argument must be 'yes' or 'no'"));
  EXPECT_EQ(LoadError("proto-max-bulk-len 1x\n"),
            FatalError(1, "proto-max-bulk-len 1x", "argument must be a memory value"));
  EXPECT_EQ(LoadError("proto-max-bulk-len 1k\n"),
            FatalError(1, "proto-max-bulk-len 1k",
                       "argument must be between 1048576 and 9223372036854775807 inclusive"));
}

TEST(ConfigTest, LoglevelError) {
  EXPECT_EQ(LoadError("loglevel foo\n"),
            FatalError(1, "loglevel foo",
                       "argument(s) must be one of the following: debug, verbose, notice, "
                       "warning"));
}

TEST(ConfigTest, RenameCommandCollected) {
  Config config;
  std::string error;
  ASSERT_TRUE(LoadConfigText(
      "rename-command CONFIG \"\"\nport 7000\nRENAME-COMMAND flushall myflush\n", &config, &error))
      << error;
  EXPECT_THAT(config.renames, ElementsAre(Pair("CONFIG", ""), Pair("flushall", "myflush")));
  EXPECT_EQ(config.port, 7000);
}

TEST(ConfigTest, FirstErrorStopsLoading) {
  Config config;
  std::string error;
  EXPECT_FALSE(LoadConfigText("port 7000\nport nope\nport 7002\n", &config, &error));
  EXPECT_EQ(config.port, 7000);
  EXPECT_NE(error.find("at line 2"), std::string::npos) << error;
}

bool LoadArgs(std::vector<std::string> args, Config* config, std::string* error) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return LoadConfigFromArgs(static_cast<int>(argv.size()), argv.data(), config, error);
}

TEST(ConfigTest, CommandLineOptions) {
  Config config;
  std::string error;
  ASSERT_TRUE(LoadArgs({"omnibus-server", "--port", "7001", "--bind", "127.0.0.1", "::1",
                        "--requirepass", "a \"quoted\" pass\\word", "--shards", "3"},
                       &config, &error))
      << error;
  EXPECT_EQ(config.port, 7001);
  EXPECT_THAT(config.bind, ElementsAre("127.0.0.1", "::1"));
  EXPECT_EQ(config.net.requirepass, "a \"quoted\" pass\\word");
  EXPECT_EQ(config.shards, 3);
}

TEST(ConfigTest, CommandLineErrorsLikeRedis) {
  // redis-server --port abc: the options become config lines after a leading newline.
  Config config;
  std::string error;
  EXPECT_FALSE(LoadArgs({"omnibus-server", "--port", "abc"}, &config, &error));
  EXPECT_EQ(error, FatalError(2, "port \"abc\"", "argument couldn't be parsed into an integer"));
  EXPECT_FALSE(LoadArgs({"omnibus-server", "--port", "0", "--frob", "1"}, &config, &error));
  EXPECT_EQ(error, FatalError(3, "frob \"1\"", "Bad directive or wrong number of arguments"));
  EXPECT_FALSE(LoadArgs({"omnibus-server", "/nonexistent/omnibus.conf"}, &config, &error));
  EXPECT_NE(error.find("can't open config file"), std::string::npos) << error;
}

TEST(ConfigTest, ParamsTable) {
  const ConfigParam* p = FindConfigParam("PORT");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->name, "port");
  Config config;
  EXPECT_EQ(p->set(config, "6380"), "");
  EXPECT_EQ(p->get(config), "6380");
  EXPECT_EQ(FindConfigParam("no-such-param"), nullptr);
  EXPECT_GE(DefaultShardCount(), 1);
}

}  // namespace
}  // namespace omnibus
