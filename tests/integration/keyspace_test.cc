// Keyspace-wide behaviour against the real server: SCAN as a JavaScript client sees it
// (cursors parsed as doubles), COMMAND COUNT/INFO/LIST agreeing as in Redis 7.0, and values
// of every type surviving RENAME/MOVE/COPY/SWAPDB across shards.
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "omnibus/base/str_cat.h"
#include "testing/server_process.h"

namespace omnibus::testing {
namespace {

class KeyspaceTest : public ShardedServerTest {};

// node-redis v4 turns SCAN cursors into JavaScript numbers (doubles): a cursor above 2^53
// loses its low bits and the iteration repeats or never ends. Drive SCAN exactly that way.
TEST_P(KeyspaceTest, ScanWithCursorsParsedAsDoubles) {
  RedisConn c = server_->Connect();
  ASSERT_TRUE(c);
  constexpr int kKeys = 3000;
  for (int i = 0; i < kKeys; i += 100) {
    std::vector<std::string> args = {"MSET"};
    for (int j = i; j < i + 100; ++j) {
      args.push_back(StrCat("key:", j));
      args.push_back("v");
    }
    std::vector<std::string_view> views(args.begin(), args.end());
    Reply r = Command(c, views);
    ASSERT_TRUE(r && r->type == REDIS_REPLY_STATUS) << Describe(r.get());
  }
  std::set<std::string> seen;
  double cursor = 0;
  int calls = 0;
  do {
    std::string text = StrCat(static_cast<uint64_t>(cursor));
    Reply r = Command(c, {"SCAN", text, "COUNT", "50"});
    ASSERT_TRUE(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) << Describe(r.get());
    std::string next(r->element[0]->str, r->element[0]->len);
    double parsed = std::stod(next);  // what JSON.parse / Number() does
    ASSERT_LT(parsed, 9007199254740992.0) << "cursor above 2^53: " << next;
    ASSERT_EQ(StrCat(static_cast<uint64_t>(parsed)), next) << "cursor not exact as a double";
    for (size_t i = 0; i < r->element[1]->elements; ++i) {
      seen.emplace(r->element[1]->element[i]->str, r->element[1]->element[i]->len);
    }
    cursor = parsed;
    ASSERT_LT(++calls, 10 * kKeys) << "SCAN does not end";
  } while (cursor != 0);
  EXPECT_EQ(seen.size(), static_cast<size_t>(kKeys));
}

// Redis 7.0: COMMAND COUNT and COMMAND INFO (no names) count top-level commands; COMMAND LIST
// also names every subcommand ("config|get"). The three agree on the top-level set.
TEST_P(KeyspaceTest, CommandCountInfoAndListAgree) {
  RedisConn c = server_->Connect();
  Reply count = Command(c, {"COMMAND", "COUNT"});
  Reply info = Command(c, {"COMMAND", "INFO"});
  Reply list = Command(c, {"COMMAND", "LIST"});
  ASSERT_TRUE(count && info && list);
  ASSERT_EQ(count->type, REDIS_REPLY_INTEGER);
  ASSERT_EQ(info->type, REDIS_REPLY_ARRAY);
  std::set<std::string> top_level;
  for (size_t i = 0; i < list->elements; ++i) {
    std::string name(list->element[i]->str, list->element[i]->len);
    if (name.find('|') == std::string::npos) top_level.insert(name);
  }
  EXPECT_EQ(static_cast<size_t>(count->integer), info->elements);
  EXPECT_EQ(static_cast<size_t>(count->integer), top_level.size());
  std::set<std::string> info_names;
  for (size_t i = 0; i < info->elements; ++i) {
    info_names.emplace(info->element[i]->element[0]->str, info->element[i]->element[0]->len);
  }
  EXPECT_EQ(info_names, top_level);
}

// Keys on different shards (no hash tag): RENAME/COPY run parked, MOVE/SWAPDB per shard.
TEST_P(KeyspaceTest, RenameCopyMoveSwapDbAcrossShards) {
  RedisConn c = server_->Connect();
  for (int i = 0; i < 20; ++i) {
    std::string from = StrCat("src", i), to = StrCat("dst", i), copy = StrCat("copy", i);
    ASSERT_EQ(Command(c, {"SET", from, StrCat("v", i), "EX", "1000"})->type, REDIS_REPLY_STATUS);
    Reply r = Command(c, {"RENAME", from, to});
    ASSERT_EQ(r->type, REDIS_REPLY_STATUS) << Describe(r.get());
    EXPECT_EQ(Command(c, {"EXISTS", from})->integer, 0);
    EXPECT_GT(Command(c, {"TTL", to})->integer, 900);
    EXPECT_EQ(Command(c, {"COPY", to, copy})->integer, 1);
    EXPECT_EQ(Command(c, {"COPY", to, copy})->integer, 0);
    EXPECT_EQ(Command(c, {"MOVE", copy, "5"})->integer, 1);
  }
  EXPECT_EQ(Command(c, {"DBSIZE"})->integer, 20);
  ASSERT_EQ(Command(c, {"SWAPDB", "0", "5"})->type, REDIS_REPLY_STATUS);
  EXPECT_EQ(Command(c, {"DBSIZE"})->integer, 20);
  Reply v = Command(c, {"GET", "copy7"});
  ASSERT_EQ(v->type, REDIS_REPLY_STRING);
  EXPECT_EQ(std::string(v->str, v->len), "v7");
}

INSTANTIATE_TEST_SUITE_P(Shards, KeyspaceTest, ::testing::Values(1, 3), ShardsName);

}  // namespace
}  // namespace omnibus::testing
