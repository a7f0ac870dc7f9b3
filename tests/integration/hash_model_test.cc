// Randomized model test of the hash commands: a long fixed-seed sequence over a few keys and
// small alphabets (so fields collide, hashes empty out and come back), every reply checked
// against an in-test model. The model also follows Redis's encoding rules with small limits
// (CONFIG SET, changed during the run), so while it says "listpack" HGETALL/HKEYS/HVALS must
// come back in exact insertion order, and both forms and both conversion triggers (entries and
// value length) are exercised.
#include <algorithm>
#include <climits>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "omnibus/base/str_cat.h"
#include "omnibus/base/strings.h"
#include "testing/server_process.h"

namespace omnibus::testing {
namespace {

using ::testing::ElementsAreArray;
using ::testing::UnorderedElementsAreArray;

// One hash as Redis keeps it: pairs in listpack order, and whether it became a table.
struct ModelHash {
  std::vector<std::pair<std::string, std::string>> pairs;
  bool table = false;

  std::vector<std::pair<std::string, std::string>>::iterator Find(const std::string& f) {
    return std::find_if(pairs.begin(), pairs.end(), [&](const auto& p) { return p.first == f; });
  }
  const std::string* Get(const std::string& f) {
    auto it = Find(f);
    return it == pairs.end() ? nullptr : &it->second;
  }
};

class HashModelTest : public ShardedServerTest {
 protected:
  // Redis's hashTypeSet on the model. Returns true if the field is new.
  bool Set(ModelHash& h, const std::string& f, const std::string& v) {
    if (static_cast<int64_t>(f.size()) > max_value_ || static_cast<int64_t>(v.size()) > max_value_)
      h.table = true;
    auto it = h.Find(f);
    bool added = it == h.pairs.end();
    if (added) {
      h.pairs.emplace_back(f, v);
    } else {
      it->second = v;
    }
    if (static_cast<int64_t>(h.pairs.size()) > max_entries_) h.table = true;
    return added;
  }
  // hashTypeTryConversion.
  void TryConvert(ModelHash& h, const std::vector<std::string>& args) {
    for (const std::string& a : args) {
      if (static_cast<int64_t>(a.size()) > max_value_) h.table = true;
    }
  }

  int64_t max_entries_ = 512;
  int64_t max_value_ = 64;
};

std::vector<std::string> Flatten(const std::vector<std::pair<std::string, std::string>>& pairs,
                                 bool fields, bool values) {
  std::vector<std::string> out;
  for (const auto& [f, v] : pairs) {
    if (fields) out.push_back(f);
    if (values) out.push_back(v);
  }
  return out;
}

// Pairs from a flat [f, v, f, v...] list.
std::vector<std::pair<std::string, std::string>> Pairs(const std::vector<std::string>& flat) {
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i + 1 < flat.size(); i += 2) out.emplace_back(flat[i], flat[i + 1]);
  return out;
}

TEST_P(HashModelTest, RandomOperationsMatchTheModel) {
  RedisConn c = server_->Connect();
  ASSERT_NE(c, nullptr);
  std::mt19937_64 rng(20261201);
  auto pick = [&](const std::vector<std::string>& v) -> const std::string& {
    return v[rng() % v.size()];
  };
  const std::vector<std::string> keys = {"h0", "h1", "h2", "{h}3", "h4"};
  const std::vector<std::string> fields = {"a", "b", "c", "d", "e", "f", "g", "", "longfield1"};
  const std::vector<std::string> values = {"1",   "-3", "10", "0",           "abc",
                                           "2.5", "",   "7",  "12345678901", "-1.25"};
  const std::vector<std::string> incrs = {"1", "-1", "5", "-20", "0"};
  const std::vector<std::string> fincrs = {"0.5", "-1.25", "3", "0", "-0.75"};
  std::map<std::string, ModelHash> model;
  ASSERT_THAT(Command(c, {"SET", "str", "x"}), IsStatus("OK"));

  auto config = [&](int64_t entries, int64_t value) {
    max_entries_ = entries;
    max_value_ = value;
    ASSERT_THAT(Command(c, {"CONFIG", "SET", "hash-max-listpack-entries", StrCat(entries),
                            "hash-max-listpack-value", StrCat(value)}),
                IsStatus("OK"));
  };
  config(4, 8);

  constexpr int kOps = 20000;
  for (int op = 0; op < kOps; ++op) {
    if (op == kOps / 3) config(6, 12);  // existing tables stay tables
    if (op == 2 * kOps / 3) config(3, 4);
    const std::string& key = pick(keys);
    ModelHash* h = model.count(key) ? &model[key] : nullptr;
    std::string ctx = StrCat("op ", op, " key ", key);
    switch (rng() % 17) {
      case 0:
      case 1: {  // HSET / HMSET with 1..3 pairs
        bool hmset = rng() % 4 == 0;
        std::vector<std::string> args = {hmset ? "HMSET" : "HSET", key};
        std::vector<std::string> fv;
        for (int n = 1 + static_cast<int>(rng() % 3); n > 0; --n) {
          fv.push_back(pick(fields));
          fv.push_back(pick(values));
        }
        args.insert(args.end(), fv.begin(), fv.end());
        ModelHash& m = model[key];
        TryConvert(m, fv);
        int64_t added = 0;
        for (size_t i = 0; i < fv.size(); i += 2) added += Set(m, fv[i], fv[i + 1]);
        std::vector<std::string_view> views(args.begin(), args.end());
        Reply r = Command(c, views);
        if (hmset) {
          EXPECT_THAT(r, IsStatus("OK")) << ctx;
        } else {
          EXPECT_THAT(r, IsInt(added)) << ctx;
        }
        break;
      }
      case 2: {  // HSETNX
        const std::string& f = pick(fields);
        const std::string& v = pick(values);
        ModelHash& m = model[key];
        bool exists = m.Get(f) != nullptr;
        if (!exists) {
          TryConvert(m, {f, v});
          Set(m, f, v);
        }
        EXPECT_THAT(Command(c, {"HSETNX", key, f, v}), IsInt(exists ? 0 : 1)) << ctx;
        break;
      }
      case 3: {  // HDEL 1..3 fields
        std::vector<std::string> args = {"HDEL", key};
        for (int n = 1 + static_cast<int>(rng() % 3); n > 0; --n) args.push_back(pick(fields));
        int64_t deleted = 0;
        if (h != nullptr) {
          for (size_t i = 2; i < args.size(); ++i) {
            auto it = h->Find(args[i]);
            if (it != h->pairs.end()) {
              h->pairs.erase(it);
              ++deleted;
            }
          }
          if (h->pairs.empty()) model.erase(key);
        }
        std::vector<std::string_view> views(args.begin(), args.end());
        EXPECT_THAT(Command(c, views), IsInt(deleted)) << ctx;
        break;
      }
      case 4: {  // HGET
        const std::string& f = pick(fields);
        const std::string* v = h ? h->Get(f) : nullptr;
        Reply r = Command(c, {"HGET", key, f});
        if (v == nullptr) {
          EXPECT_THAT(r, IsNil()) << ctx;
        } else {
          EXPECT_THAT(r, IsBulk(*v)) << ctx;
        }
        break;
      }
      case 5: {  // HMGET
        const std::string& f1 = pick(fields);
        const std::string& f2 = pick(fields);
        std::vector<std::string> expected;
        for (const std::string* f : {&f1, &f2}) {
          const std::string* v = h ? h->Get(*f) : nullptr;
          expected.push_back(v ? *v : "<nil>");
        }
        EXPECT_THAT(Command(c, {"HMGET", key, f1, f2}), IsArray(ElementsAreArray(expected))) << ctx;
        break;
      }
      case 6: {  // HEXISTS, HSTRLEN, HLEN
        const std::string& f = pick(fields);
        const std::string* v = h ? h->Get(f) : nullptr;
        EXPECT_THAT(Command(c, {"HEXISTS", key, f}), IsInt(v ? 1 : 0)) << ctx;
        EXPECT_THAT(Command(c, {"HSTRLEN", key, f}), IsInt(v ? v->size() : 0)) << ctx;
        EXPECT_THAT(Command(c, {"HLEN", key}), IsInt(h ? h->pairs.size() : 0)) << ctx;
        break;
      }
      case 7:
      case 8: {  // HGETALL / HKEYS / HVALS: exact order while the model says listpack
        int which = static_cast<int>(rng() % 3);
        const char* cmd = which == 0 ? "HGETALL" : which == 1 ? "HKEYS" : "HVALS";
        std::vector<std::pair<std::string, std::string>> pairs;
        if (h) pairs = h->pairs;
        Reply r = Command(c, {cmd, key});
        auto got = StringsOf(r.get());
        ASSERT_TRUE(got) << ctx << " " << Describe(r);
        if (h && h->table) {
          if (which == 0) {
            EXPECT_THAT(Pairs(*got), UnorderedElementsAreArray(pairs)) << ctx;
          } else {
            EXPECT_THAT(*got, UnorderedElementsAreArray(Flatten(pairs, which == 1, which == 2)))
                << ctx;
          }
        } else {
          EXPECT_EQ(*got, Flatten(pairs, which != 2, which != 1)) << ctx << " " << cmd;
        }
        break;
      }
      case 9: {  // HINCRBY
        const std::string& f = pick(fields);
        const std::string& by = pick(incrs);
        Reply r = Command(c, {"HINCRBY", key, f, by});
        ModelHash& m = model[key];
        const std::string* old = m.Get(f);
        int64_t cur = 0, inc = 0;
        ParseInt64(by, &inc);
        if (old && !ParseInt64(*old, &cur)) {
          EXPECT_THAT(r, IsError("ERR hash value is not an integer")) << ctx;
        } else if ((inc < 0 && cur < 0 && inc < LLONG_MIN - cur) ||
                   (inc > 0 && cur > 0 && inc > LLONG_MAX - cur)) {
          EXPECT_THAT(r, IsError("ERR increment or decrement would overflow")) << ctx;
        } else {
          Set(m, f, StrCat(cur + inc));
          EXPECT_THAT(r, IsInt(cur + inc)) << ctx;
        }
        if (m.pairs.empty()) model.erase(key);
        break;
      }
      case 10: {  // HINCRBYFLOAT
        const std::string& f = pick(fields);
        const std::string& by = pick(fincrs);
        Reply r = Command(c, {"HINCRBYFLOAT", key, f, by});
        ModelHash& m = model[key];
        const std::string* old = m.Get(f);
        long double cur = 0, inc = 0;
        ParseLongDouble(by, &inc);
        if (old && !ParseLongDouble(*old, &cur)) {
          EXPECT_THAT(r, IsError("ERR hash value is not a float")) << ctx;
        } else {
          std::string text = LongDoubleToHuman(cur + inc);
          Set(m, f, text);
          EXPECT_THAT(r, IsBulk(text)) << ctx;
        }
        if (m.pairs.empty()) model.erase(key);
        break;
      }
      case 11: {  // HRANDFIELD with a count (+/-, WITHVALUES)
        int64_t count = static_cast<int64_t>(rng() % 12) - 5;
        bool withvalues = rng() % 2 == 0;
        std::vector<std::string> args = {"HRANDFIELD", key, StrCat(count)};
        if (withvalues) args.push_back("WITHVALUES");
        std::vector<std::string_view> views(args.begin(), args.end());
        Reply r = Command(c, views);
        auto got = StringsOf(r.get());
        ASSERT_TRUE(got) << ctx << " " << Describe(r);
        size_t size = h ? h->pairs.size() : 0;
        size_t want = count >= 0 ? std::min<size_t>(static_cast<size_t>(count), size)
                                 : (size == 0 ? 0 : static_cast<size_t>(-count));
        ASSERT_EQ(got->size(), want * (withvalues ? 2 : 1)) << ctx << " " << Describe(r);
        std::set<std::string> distinct;
        for (size_t i = 0; i < got->size(); i += withvalues ? 2 : 1) {
          const std::string* v = h ? h->Get((*got)[i]) : nullptr;
          ASSERT_NE(v, nullptr) << ctx << " field " << (*got)[i];
          if (withvalues) {
            EXPECT_EQ((*got)[i + 1], *v) << ctx;
          }
          distinct.insert((*got)[i]);
        }
        if (count > 0) {
          EXPECT_EQ(distinct.size(), want) << ctx;
        }
        break;
      }
      case 12: {  // HRANDFIELD without a count
        Reply r = Command(c, {"HRANDFIELD", key});
        if (h == nullptr) {
          EXPECT_THAT(r, IsNil()) << ctx;
        } else {
          auto s = StringOf(r.get());
          ASSERT_TRUE(s) << ctx;
          EXPECT_NE(h->Get(*s), nullptr) << ctx << " field " << *s;
        }
        break;
      }
      case 13: {  // a whole HSCAN, with COUNT and sometimes MATCH
        bool match = rng() % 3 == 0;
        std::string count = StrCat(1 + rng() % 4);
        std::set<std::pair<std::string, std::string>> seen;
        std::string cursor = "0";
        int calls = 0;
        do {
          std::vector<std::string_view> args = {"HSCAN", key, cursor, "COUNT", count};
          if (match) args.insert(args.end(), {"MATCH", "[a-c]*"});
          Reply r = Command(c, args);
          ASSERT_TRUE(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) << ctx << Describe(r);
          cursor = *StringOf(r->element[0]);
          auto items = StringsOf(r->element[1]);
          ASSERT_TRUE(items) << ctx;
          for (auto& p : Pairs(*items)) seen.insert(p);
          ASSERT_LT(++calls, 1000) << ctx;
        } while (cursor != "0");
        std::set<std::pair<std::string, std::string>> expected;
        if (h) {
          for (const auto& p : h->pairs) {
            if (!match || GlobMatch("[a-c]*", p.first)) expected.insert(p);
          }
        }
        EXPECT_EQ(seen, expected) << ctx;
        break;
      }
      case 14: {  // WRONGTYPE
        const std::string& f = pick(fields);
        EXPECT_THAT(Command(c, {"HSET", "str", f, "v"}), IsErrorStartingWith("WRONGTYPE")) << ctx;
        EXPECT_THAT(Command(c, {"HGET", "str", f}), IsErrorStartingWith("WRONGTYPE")) << ctx;
        break;
      }
      case 15: {  // DEL now and then, EXISTS/TYPE always agree
        if (rng() % 4 == 0) {
          EXPECT_THAT(Command(c, {"DEL", key}), IsInt(h ? 1 : 0)) << ctx;
          model.erase(key);
          h = nullptr;
        }
        EXPECT_THAT(Command(c, {"EXISTS", key}), IsInt(h ? 1 : 0)) << ctx;
        EXPECT_THAT(Command(c, {"TYPE", key}), IsStatus(h ? "hash" : "none")) << ctx;
        break;
      }
      case 16: {  // HSET of an odd argument count changes nothing
        EXPECT_THAT(Command(c, {"HSET", key, "a", "1", "b"}),
                    IsError("ERR wrong number of arguments for 'hset' command"))
            << ctx;
        break;
      }
    }
    if (HasFatalFailure()) return;
  }
  // The final state, key by key.
  for (const std::string& key : keys) {
    Reply r = Command(c, {"HGETALL", key});
    auto got = StringsOf(r.get());
    ASSERT_TRUE(got) << key;
    auto it = model.find(key);
    if (it == model.end()) {
      EXPECT_TRUE(got->empty()) << key;
    } else {
      EXPECT_THAT(Pairs(*got), UnorderedElementsAreArray(it->second.pairs)) << key;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shards, HashModelTest, ::testing::Values(1, 3), ShardsName);

}  // namespace
}  // namespace omnibus::testing
