// CONFIG REWRITE's writer (server/config_rewrite.cc): whatever the settings hold (quotes,
// spaces, newlines, multi-argument values, kept Redis directives), the file it writes loads
// back to the same values; lines it does not own stay.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "omnibus/server/config.h"

namespace omnibus {
namespace {

using ::testing::HasSubstr;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ConfigRewriteTest, EveryValueLoadsBackUnchanged) {
  char tmpl[] = "/tmp/omnibus-rewrite-XXXXXX";
  int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  close(fd);
  std::string path = tmpl;
  {
    std::ofstream out(path);
    out << "# a comment\nrename-command KEYS \"\"\nsave 3600 1\nrequirepass old\n";
  }
  Config config;
  std::string error;
  ASSERT_TRUE(LoadConfigText(ReadAll(path), &config, &error)) << error;
  const std::pair<const char*, const char*> settings[] = {
      {"requirepass", "a b\"c\\d\n'e"},
      {"save", "3600 1 300 100"},
      {"client-output-buffer-limit", "pubsub 64mb 16mb 90"},
      {"bind", "127.0.0.1 -::1"},
      {"latency-tracking-info-percentiles", "50 99.5"},
      {"oom-score-adj-values", "1 2 3"},
      {"replicaof", "10.1.1.1 6380"},
      {"notify-keyspace-events", "KEA"},
      {"proc-title-template", "{title} {port}"},
      {"shutdown-on-sigint", "save now"},
      {"repl-backlog-size", "3mb"},
      {"unixsocketperm", "700"},
      {"dbfilename", "my dump.rdb"},
      {"maxclients", "77"},
      {"hash-max-ziplist-entries", "99"},
      {"logfile", ""},
  };
  for (auto [name, value] : settings) {
    const ConfigParam* p = FindConfigParam(name);
    ASSERT_NE(p, nullptr) << name;
    ASSERT_EQ(p->set(config, value), "") << name;
  }
  config.config_file = path;
  ASSERT_EQ(RewriteConfigFile(path, config), "");
  std::string text = ReadAll(path);
  EXPECT_THAT(text, HasSubstr("# a comment\nrename-command KEYS \"\"\nsave 3600 1\n"));
  EXPECT_THAT(text, HasSubstr("\nsave 300 100\n"));
  EXPECT_THAT(text, HasSubstr("\nrepl-backlog-size 3mb\n"));
  EXPECT_THAT(text, HasSubstr("\nclient-output-buffer-limit pubsub 64mb 16mb 90\n"));
  EXPECT_THAT(text, HasSubstr("\nrequirepass \"a b\\\"c\\\\d\\n'e\"\n"));
  Config again;
  ASSERT_TRUE(LoadConfigText(text, &again, &error)) << error << "\n" << text;
  for (const ConfigParam& p : ConfigParams()) {
    EXPECT_EQ(p.get(again), p.get(config)) << p.name << "\n" << text;
  }
  EXPECT_EQ(again.renames, config.renames);
  // Nothing changed: a rewrite writes the same file again (but for one blank line at the end,
  // which Redis's split-on-newline reading adds once too).
  ASSERT_EQ(RewriteConfigFile(path, again), "");
  std::string second = ReadAll(path);
  EXPECT_EQ(second, text + "\n");
  ASSERT_EQ(RewriteConfigFile(path, again), "");
  EXPECT_EQ(ReadAll(path), second);
  unlink(path.c_str());
}

TEST(ConfigRewriteTest, UnwritableDirectoryIsAnError) {
  Config config;
  std::string err = RewriteConfigFile("/proc/omnibus-no-such-dir/x.conf", config);
  EXPECT_FALSE(err.empty());
}

}  // namespace
}  // namespace omnibus
