// A randomized model test of the set commands: a long random sequence (fixed seed) over a few
// keys spread over every shard and small alphabets, every reply checked against std::set.
// The encoding limits are lowered so sets keep crossing intset -> listpack -> hashtable and
// multi-key commands (SINTERSTORE, SMOVE, ...) keep spanning shards.
#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "omnibus/base/str_cat.h"
#include "testing/server_process.h"

namespace omnibus::testing {
namespace {

using Model = std::map<std::string, std::set<std::string>>;

constexpr std::string_view kWrongType =
    "WRONGTYPE Operation against a key holding the wrong kind of value";

class SetModelTest : public ShardedServerTest {
 protected:
  void SetUp() override {
    ShardedServerTest::SetUp();
    c_ = server_->Connect();
    ASSERT_NE(c_, nullptr);
    // Small limits: a handful of members crosses every threshold.
    ASSERT_THAT(Command(c_, {"CONFIG", "SET", "set-max-intset-entries", "6",
                             "set-max-listpack-entries", "4", "set-max-listpack-value", "3"}),
                IsStatus("OK"));
    for (int i = 0; keys_.size() < 6; ++i) {
      std::string k = StrCat("s", i);
      // Cover every shard first, then take any.
      bool new_shard = std::none_of(keys_.begin(), keys_.end(), [&](const std::string& o) {
        return KeyShard(o, shards()) == KeyShard(k, shards());
      });
      if (new_shard || i > shards() * 20) keys_.push_back(k);
    }
    ASSERT_THAT(Command(c_, {"SET", "str", "x"}), IsStatus("OK"));
  }

  std::string Member() {
    // Integers (intset), short strings (listpack) and long ones (hashtable at once).
    switch (rng_() % 8) {
      case 0:
        return StrCat("long", rng_() % 4);
      case 1:
      case 2:
        return std::string(1, static_cast<char>('a' + rng_() % 6));
      default:
        return std::to_string(static_cast<int>(rng_() % 14) - 3);
    }
  }
  std::string Key() { return rng_() % 25 == 0 ? "str" : keys_[rng_() % keys_.size()]; }
  std::vector<std::string> Keys(size_t min) {
    std::vector<std::string> out;
    size_t n = min + rng_() % 3;
    for (size_t i = 0; i < n; ++i) out.push_back(Key());
    return out;
  }
  Reply Send(const std::vector<std::string>& args) {
    std::vector<std::string_view> views(args.begin(), args.end());
    return Command(c_, views);
  }
  const std::set<std::string>& Get(const std::string& k) { return model_[k]; }

  // What a read of these keys answers: false if one of them is the string key.
  bool AnyString(const std::vector<std::string>& keys) {
    return std::find(keys.begin(), keys.end(), "str") != keys.end();
  }

  std::set<std::string> Inter(const std::vector<std::string>& keys) {
    std::set<std::string> out = Get(keys[0]);
    for (size_t i = 1; i < keys.size(); ++i) {
      std::set<std::string> next;
      for (const auto& m : out) {
        if (Get(keys[i]).contains(m)) next.insert(m);
      }
      out = std::move(next);
    }
    return out;
  }
  std::set<std::string> Union(const std::vector<std::string>& keys) {
    std::set<std::string> out;
    for (const auto& k : keys) out.insert(Get(k).begin(), Get(k).end());
    return out;
  }
  std::set<std::string> Diff(const std::vector<std::string>& keys) {
    std::set<std::string> out = Get(keys[0]);
    for (size_t i = 1; i < keys.size(); ++i) {
      for (const auto& m : Get(keys[i])) out.erase(m);
    }
    return out;
  }

  static std::set<std::string> AsSet(const Reply& r) {
    auto v = StringsOf(r.get());
    return v ? std::set<std::string>(v->begin(), v->end()) : std::set<std::string>{"<not array>"};
  }

  RedisConn c_;
  std::vector<std::string> keys_;
  Model model_;
  std::mt19937_64 rng_{20261201};
};

TEST_P(SetModelTest, RandomOpsMatchStdSet) {
  constexpr int kOps = 20000;
  for (int op = 0; op < kOps; ++op) {
    int kind = static_cast<int>(rng_() % 16);
    std::string k = Key();
    bool str = k == "str";
    std::vector<std::string> cmd;
    SCOPED_TRACE(StrCat("op ", op, " kind ", kind));
    switch (kind) {
      case 0:
      case 1:
      case 2: {  // SADD
        cmd = {"SADD", k};
        for (size_t i = 0, n = 1 + rng_() % 4; i < n; ++i) cmd.push_back(Member());
        Reply r = Send(cmd);
        if (str) {
          ASSERT_THAT(r, IsError(kWrongType));
          break;
        }
        int64_t added = 0;
        for (size_t i = 2; i < cmd.size(); ++i) added += model_[k].insert(cmd[i]).second;
        ASSERT_THAT(r, IsInt(added)) << k;
        break;
      }
      case 3: {  // SREM
        cmd = {"SREM", k};
        for (size_t i = 0, n = 1 + rng_() % 4; i < n; ++i) cmd.push_back(Member());
        Reply r = Send(cmd);
        if (str) {
          ASSERT_THAT(r, IsError(kWrongType));
          break;
        }
        int64_t removed = 0;
        for (size_t i = 2; i < cmd.size(); ++i) removed += model_[k].erase(cmd[i]);
        ASSERT_THAT(r, IsInt(removed));
        break;
      }
      case 4: {  // SCARD, SISMEMBER, SMISMEMBER, SMEMBERS
        std::string m = Member();
        if (str) {
          ASSERT_THAT(Send({"SCARD", k}), IsError(kWrongType));
          ASSERT_THAT(Send({"SMEMBERS", k}), IsError(kWrongType));
          break;
        }
        ASSERT_THAT(Send({"SCARD", k}), IsInt(Get(k).size()));
        ASSERT_THAT(Send({"SISMEMBER", k, m}), IsInt(Get(k).contains(m)));
        Reply mi = Send({"SMISMEMBER", k, m, "a", "1"});
        ASSERT_EQ(mi->type, REDIS_REPLY_ARRAY);
        ASSERT_EQ(mi->elements, 3u);
        EXPECT_EQ(mi->element[0]->integer, Get(k).contains(m));
        EXPECT_EQ(mi->element[1]->integer, Get(k).contains("a"));
        EXPECT_EQ(mi->element[2]->integer, Get(k).contains("1"));
        ASSERT_EQ(AsSet(Send({"SMEMBERS", k})), Get(k));
        break;
      }
      case 5: {  // SPOP [count]
        bool with_count = rng_() % 2;
        int64_t count = static_cast<int64_t>(rng_() % 8);
        cmd = {"SPOP", k};
        if (with_count) cmd.push_back(std::to_string(count));
        Reply r = Send(cmd);
        if (str) {
          ASSERT_THAT(r, IsError(kWrongType));
          break;
        }
        auto& s = model_[k];
        if (!with_count) {
          if (s.empty()) {
            ASSERT_THAT(r, IsNil());
          } else {
            ASSERT_EQ(r->type, REDIS_REPLY_STRING);
            std::string m(r->str, r->len);
            ASSERT_EQ(s.erase(m), 1u) << m;
          }
          break;
        }
        auto got = StringsOf(r.get());
        ASSERT_TRUE(got.has_value()) << Describe(r);
        ASSERT_EQ(got->size(), std::min<size_t>(static_cast<size_t>(count), s.size()));
        for (const auto& m : *got) ASSERT_EQ(s.erase(m), 1u) << m;  // distinct members of s
        break;
      }
      case 6: {  // SRANDMEMBER [count]
        int64_t count = static_cast<int64_t>(rng_() % 15) - 7;
        Reply r = Send({"SRANDMEMBER", k, std::to_string(count)});
        if (str) {
          ASSERT_THAT(r, IsError(kWrongType));
          break;
        }
        const auto& s = Get(k);
        auto got = StringsOf(r.get());
        ASSERT_TRUE(got.has_value()) << Describe(r);
        for (const auto& m : *got) ASSERT_TRUE(s.contains(m)) << m;
        if (s.empty()) {
          ASSERT_TRUE(got->empty());
        } else if (count >= 0) {
          ASSERT_EQ(got->size(), std::min<size_t>(static_cast<size_t>(count), s.size()));
          ASSERT_EQ(std::set<std::string>(got->begin(), got->end()).size(), got->size());
        } else {
          ASSERT_EQ(got->size(), static_cast<size_t>(-count));
        }
        Reply one = Send({"SRANDMEMBER", k});
        if (s.empty()) {
          ASSERT_THAT(one, IsNil());
        } else {
          ASSERT_TRUE(s.contains(std::string(one->str, one->len)));
        }
        break;
      }
      case 7:
      case 8: {  // SINTER / SUNION / SDIFF
        std::vector<std::string> keys = Keys(1);
        const char* names[] = {"SINTER", "SUNION", "SDIFF"};
        int which = static_cast<int>(rng_() % 3);
        cmd = {names[which]};
        cmd.insert(cmd.end(), keys.begin(), keys.end());
        Reply r = Send(cmd);
        if (AnyString(keys)) {
          ASSERT_THAT(r, IsError(kWrongType));
          break;
        }
        std::set<std::string> want = which == 0   ? Inter(keys)
                                     : which == 1 ? Union(keys)
                                                  : Diff(keys);
        ASSERT_EQ(AsSet(r), want) << cmd[0];
        break;
      }
      case 9: {  // SINTERCARD [LIMIT]
        std::vector<std::string> keys = Keys(1);
        cmd = {"SINTERCARD", std::to_string(keys.size())};
        cmd.insert(cmd.end(), keys.begin(), keys.end());
        int64_t limit = static_cast<int64_t>(rng_() % 6);
        bool with_limit = rng_() % 2;
        if (with_limit) {
          cmd.push_back("LIMIT");
          cmd.push_back(std::to_string(limit));
        }
        Reply r = Send(cmd);
        if (AnyString(keys)) {
          ASSERT_THAT(r, IsError(kWrongType));
          break;
        }
        size_t n = Inter(keys).size();
        if (with_limit && limit > 0) n = std::min<size_t>(n, static_cast<size_t>(limit));
        ASSERT_THAT(r, IsInt(n));
        break;
      }
      case 10:
      case 11: {  // SINTERSTORE / SUNIONSTORE / SDIFFSTORE (the destination may be a source)
        std::string dst = keys_[rng_() % keys_.size()];
        std::vector<std::string> keys = Keys(1);
        const char* names[] = {"SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"};
        int which = static_cast<int>(rng_() % 3);
        cmd = {names[which], dst};
        cmd.insert(cmd.end(), keys.begin(), keys.end());
        Reply r = Send(cmd);
        if (AnyString(keys)) {
          ASSERT_THAT(r, IsError(kWrongType));
          break;
        }
        std::set<std::string> want = which == 0   ? Inter(keys)
                                     : which == 1 ? Union(keys)
                                                  : Diff(keys);
        ASSERT_THAT(r, IsInt(want.size())) << cmd[0];
        model_[dst] = want;
        ASSERT_THAT(Send({"EXISTS", dst}), IsInt(want.empty() ? 0 : 1));
        break;
      }
      case 12:
      case 13: {  // SMOVE (source and destination may be equal or on other shards)
        std::string dst = Key();
        std::string m = Member();
        Reply r = Send({"SMOVE", k, dst, m});
        if (!str && Get(k).empty()) {
          ASSERT_THAT(r, IsInt(0));  // a missing source wins over a wrong destination
          break;
        }
        if (str || dst == "str") {
          ASSERT_THAT(r, IsError(kWrongType));
          break;
        }
        if (!Get(k).contains(m)) {
          ASSERT_THAT(r, IsInt(0));
          break;
        }
        ASSERT_THAT(r, IsInt(1));
        model_[k].erase(m);
        model_[dst].insert(m);
        break;
      }
      case 14: {  // SSCAN, a whole iteration
        if (str) {
          ASSERT_THAT(Send({"SSCAN", k, "0"}), IsError(kWrongType));
          break;
        }
        std::set<std::string> seen;
        std::string cursor = "0";
        std::string count = std::to_string(1 + rng_() % 5);
        int calls = 0;
        do {
          Reply r = Send({"SSCAN", k, cursor, "COUNT", count});
          ASSERT_EQ(r->type, REDIS_REPLY_ARRAY) << Describe(r);
          ASSERT_EQ(r->elements, 2u);
          cursor.assign(r->element[0]->str, r->element[0]->len);
          for (size_t i = 0; i < r->element[1]->elements; ++i) {
            seen.emplace(r->element[1]->element[i]->str, r->element[1]->element[i]->len);
          }
          ASSERT_LT(++calls, 1000);
        } while (cursor != "0");
        ASSERT_EQ(seen, Get(k));
        break;
      }
      default: {  // whole-state check of one key
        if (str) break;
        ASSERT_EQ(AsSet(Send({"SMEMBERS", k})), Get(k)) << k;
        ASSERT_THAT(Send({"EXISTS", k}), IsInt(Get(k).empty() ? 0 : 1));
      }
    }
  }
  for (const auto& k : keys_) ASSERT_EQ(AsSet(Send({"SMEMBERS", k})), Get(k)) << k;
  ASSERT_THAT(Send({"GET", "str"}), IsBulk("x"));
}

INSTANTIATE_TEST_SUITE_P(Shards, SetModelTest, ::testing::Values(1, 3), ShardsName);

}  // namespace
}  // namespace omnibus::testing
