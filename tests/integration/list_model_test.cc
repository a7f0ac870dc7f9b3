// The list commands against a std::deque model: a long random sequence over a handful of keys
// (spread over the shards, so LMOVE/RPOPLPUSH/LMPOP often run parked across shards) with small
// alphabets so that LREM/LINSERT/LPOS find matches, while list-max-listpack-size changes so
// lists cross between one listpack and a quicklist of many nodes both ways.
#include <deque>
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

using ::testing::ElementsAreArray;
using List = std::deque<std::string>;

class ListCommandModelTest : public ShardedServerTest {
 protected:
  std::mt19937 rng_{20261201};
  std::map<std::string, List> model_;  // absent or non-empty, as Redis keeps lists

  int Rnd(int n) { return static_cast<int>(rng_() % static_cast<unsigned>(n)); }
  std::string Value() {
    if (Rnd(25) == 0) {
      return std::string(static_cast<size_t>(100 + Rnd(2000)), static_cast<char>('a' + Rnd(3)));
    }
    static const char* const kSmall[] = {"a", "b", "c", "d", "1", "-1", "300", "01", "70000", ""};
    return kSmall[Rnd(10)];
  }
  List* Find(const std::string& key) {
    auto it = model_.find(key);
    return it == model_.end() ? nullptr : &it->second;
  }
  void DropIfEmpty(const std::string& key) {
    auto it = model_.find(key);
    if (it != model_.end() && it->second.empty()) model_.erase(it);
  }
  static std::vector<std::string> Vec(const List& l) { return {l.begin(), l.end()}; }
};

// Renders a reply of [key, [elements...]] (LMPOP) for comparison.
std::string KeyAndElements(const Reply& r) {
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) return Describe(r);
  auto elems = StringsOf(r->element[1]);
  if (!elems || r->element[0]->type != REDIS_REPLY_STRING) return Describe(r);
  std::string out(r->element[0]->str, r->element[0]->len);
  for (const std::string& e : *elems) out += "|" + e;
  return out;
}

TEST_P(ListCommandModelTest, RandomOpsMatchDeque) {
  auto c = server_->Connect();
  ASSERT_TRUE(c);
  // Keys chosen to spread over the shards; "str" holds a string for WRONGTYPE checks.
  const std::vector<std::string> keys = {"la", "lb", "lc", "ld", "le", "{t}x", "{t}y"};
  if (shards() > 1) {
    std::set<int> used;
    for (const std::string& k : keys) used.insert(KeyShard(k, shards()));
    ASSERT_GT(used.size(), 1u) << "the keys should span several shards";
  }
  ASSERT_THAT(Command(c, {"SET", "str", "x"}), IsStatus("OK"));
  const char* wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value";
  const std::vector<std::string> fills = {"4", "2", "-1", "-2", "1"};
  ASSERT_THAT(Command(c, {"CONFIG", "SET", "list-max-listpack-size", "4"}), IsStatus("OK"));
  auto key = [&] { return keys[static_cast<size_t>(Rnd(static_cast<int>(keys.size())))]; };
  auto side = [&](bool left) { return left ? std::string("LEFT") : std::string("RIGHT"); };

  size_t max_len = 0, emptied_seen = 0;
  std::set<std::string> ever_had;
  constexpr int kSteps = 8000;
  for (int step = 0; step < kSteps; ++step) {
    SCOPED_TRACE(StrCat("step ", step));
    if (step % 500 == 499) {
      const std::string& fill = fills[static_cast<size_t>(step / 500) % fills.size()];
      ASSERT_THAT(Command(c, {"CONFIG", "SET", "list-max-listpack-size", fill}), IsStatus("OK"));
    }
    // Grow in some phases, shrink in others, so lists get long and then empty again.
    bool growing = (step / 700) % 2 == 0;
    int op = Rnd(20);
    std::string k = key();
    List* l = Find(k);
    int64_t len = l ? static_cast<int64_t>(l->size()) : 0;
    if (op < (growing ? 7 : 3)) {  // LPUSH / RPUSH / LPUSHX / RPUSHX
      bool left = Rnd(2);
      bool x = Rnd(6) == 0;
      std::vector<std::string> vals;
      for (int i = 0, n = 1 + Rnd(4); i < n; ++i) vals.push_back(Value());
      std::vector<std::string_view> args = {
          left ? (x ? "LPUSHX" : "LPUSH") : (x ? "RPUSHX" : "RPUSH"), k};
      for (const std::string& v : vals) args.push_back(v);
      if (!x || l != nullptr) {
        List& m = model_[k];
        for (const std::string& v : vals) left ? m.push_front(v) : m.push_back(v);
        len = static_cast<int64_t>(m.size());
      }
      ASSERT_THAT(Command(c, args), IsInt(len));
    } else if (op < (growing ? 9 : 8)) {  // LPOP / RPOP [count]
      bool left = Rnd(2);
      const char* cmd = left ? "LPOP" : "RPOP";
      auto pop = [&] {
        std::string v = left ? l->front() : l->back();
        left ? l->pop_front() : l->pop_back();
        return v;
      };
      if (Rnd(2)) {
        if (l == nullptr) {
          ASSERT_THAT(Command(c, {cmd, k}), IsNil());
        } else {
          std::string v = pop();
          ASSERT_THAT(Command(c, {cmd, k}), IsBulk(v));
        }
      } else {
        int n = Rnd(6);
        std::string count = std::to_string(n);
        if (l == nullptr) {
          ASSERT_THAT(Command(c, {cmd, k, count}), IsNil());
        } else {
          std::vector<std::string> want;
          while (static_cast<int>(want.size()) < n && !l->empty()) want.push_back(pop());
          ASSERT_THAT(Command(c, {cmd, k, count}), IsArray(ElementsAreArray(want)));
        }
      }
      DropIfEmpty(k);
    } else if (op == 9) {  // LRANGE
      int64_t start = Rnd(static_cast<int>(len) * 2 + 6) - len - 3;
      int64_t stop = Rnd(static_cast<int>(len) * 2 + 6) - len - 3;
      std::vector<std::string> want;
      int64_t s = start < 0 ? std::max<int64_t>(start + len, 0) : start;
      int64_t e = stop < 0 ? stop + len : std::min(stop, len - 1);
      for (int64_t i = s; i <= e && i < len; ++i) want.push_back((*l)[static_cast<size_t>(i)]);
      ASSERT_THAT(Command(c, {"LRANGE", k, std::to_string(start), std::to_string(stop)}),
                  IsArray(ElementsAreArray(want)));
    } else if (op == 10) {  // LINDEX / LSET
      int64_t i = Rnd(static_cast<int>(len) * 2 + 4) - len - 2;
      int64_t j = i < 0 ? i + len : i;
      bool in = j >= 0 && j < len;
      if (Rnd(2)) {
        Reply r = Command(c, {"LINDEX", k, std::to_string(i)});
        if (in) {
          ASSERT_THAT(r, IsBulk((*l)[static_cast<size_t>(j)]));
        } else {
          ASSERT_THAT(r, IsNil());
        }
      } else {
        std::string v = Value();
        Reply r = Command(c, {"LSET", k, std::to_string(i), v});
        if (l == nullptr) {
          ASSERT_THAT(r, IsError("ERR no such key"));
        } else if (!in) {
          ASSERT_THAT(r, IsError("ERR index out of range"));
        } else {
          ASSERT_THAT(r, IsStatus("OK"));
          (*l)[static_cast<size_t>(j)] = v;
        }
      }
    } else if (op == 11) {  // LINSERT
      bool after = Rnd(2);
      std::string pivot = Value(), v = Value();
      Reply r = Command(c, {"LINSERT", k, after ? "AFTER" : "BEFORE", pivot, v});
      if (l == nullptr) {
        ASSERT_THAT(r, IsInt(0));
      } else {
        auto it = std::find(l->begin(), l->end(), pivot);
        if (it == l->end()) {
          ASSERT_THAT(r, IsInt(-1));
        } else {
          l->insert(after ? it + 1 : it, v);
          ASSERT_THAT(r, IsInt(l->size()));
        }
      }
    } else if (op == 12) {  // LREM
      int count = Rnd(10) == 0 ? 0 : Rnd(5) - 2;
      std::string v = Value();
      int64_t removed = 0;
      if (l != nullptr) {
        if (count >= 0) {
          for (auto it = l->begin(); it != l->end();) {
            if (*it == v && (count == 0 || removed < count)) {
              it = l->erase(it);
              ++removed;
            } else {
              ++it;
            }
          }
        } else {
          for (int64_t i = len - 1; i >= 0 && removed < -count; --i) {
            if ((*l)[static_cast<size_t>(i)] == v) {
              l->erase(l->begin() + i);
              ++removed;
            }
          }
        }
      }
      ASSERT_THAT(Command(c, {"LREM", k, std::to_string(count), v}), IsInt(removed));
      DropIfEmpty(k);
    } else if (op == 13 && Rnd(5) == 0) {  // LTRIM (rarely: it removes a lot)
      int64_t start = Rnd(static_cast<int>(len) / 2 + 2) - 1;
      int64_t stop = Rnd(4) == 0 ? -1 : Rnd(static_cast<int>(len) + 2) - 1;
      ASSERT_THAT(Command(c, {"LTRIM", k, std::to_string(start), std::to_string(stop)}),
                  IsStatus("OK"));
      if (l != nullptr) {
        int64_t s = start < 0 ? std::max<int64_t>(start + len, 0) : start;
        int64_t e = stop < 0 ? stop + len : std::min(stop, len - 1);
        List kept;
        for (int64_t i = s; i <= e && i < len; ++i) kept.push_back((*l)[static_cast<size_t>(i)]);
        *l = kept;
        DropIfEmpty(k);
      }
    } else if (op == 14) {  // LPOS
      std::string v = Value();
      int64_t rank = Rnd(7) - 3;
      if (rank == 0) rank = 1;
      int count = Rnd(3) == 0 ? -1 : Rnd(4);
      int maxlen = Rnd(3) == 0 ? Rnd(static_cast<int>(len) + 2) : 0;
      std::vector<std::string_view> args = {"LPOS", k, v};
      std::string rank_s = std::to_string(rank), count_s = std::to_string(count),
                  maxlen_s = std::to_string(maxlen);
      args.insert(args.end(), {"RANK", rank_s});
      if (count >= 0) args.insert(args.end(), {"COUNT", count_s});
      if (maxlen > 0) args.insert(args.end(), {"MAXLEN", maxlen_s});
      std::vector<std::string> found;
      int64_t skip = (rank < 0 ? -rank : rank) - 1;
      for (int64_t i = 0, matches = 0; i < len && (maxlen == 0 || i < maxlen); ++i) {
        int64_t idx = rank < 0 ? len - 1 - i : i;
        if ((*l)[static_cast<size_t>(idx)] != v || matches++ < skip) continue;
        found.push_back(std::to_string(idx));
        if (count == -1 || (count > 0 && static_cast<int>(found.size()) == count)) break;
      }
      Reply r = Command(c, args);
      if (count == -1) {
        if (found.empty()) {
          ASSERT_THAT(r, IsNil());
        } else {
          ASSERT_THAT(r, IsInt(std::stoll(found[0])));
        }
      } else {
        ASSERT_TRUE(r && r->type == REDIS_REPLY_ARRAY) << Describe(r);
        std::vector<std::string> got;
        for (size_t i = 0; i < r->elements; ++i)
          got.push_back(std::to_string(r->element[i]->integer));
        ASSERT_EQ(got, found);
      }
    } else if (op == 15) {  // LMPOP
      int n = 1 + Rnd(3);
      std::vector<std::string> ks;
      for (int i = 0; i < n; ++i) ks.push_back(key());
      bool left = Rnd(2);
      int count = Rnd(3) == 0 ? 0 : 1 + Rnd(5);
      std::string n_s = std::to_string(n), count_s = std::to_string(count);
      std::vector<std::string_view> args = {"LMPOP", n_s};
      for (const std::string& x : ks) args.push_back(x);
      std::string dir = side(left);
      args.push_back(dir);
      if (count > 0) args.insert(args.end(), {"COUNT", count_s});
      std::string want = "(nil)";
      for (const std::string& x : ks) {
        List* m = Find(x);
        if (m == nullptr) continue;
        want = x;
        for (int i = 0; i < std::max(count, 1) && !m->empty(); ++i) {
          want += "|" + (left ? m->front() : m->back());
          left ? m->pop_front() : m->pop_back();
        }
        DropIfEmpty(x);
        break;
      }
      Reply r = Command(c, args);
      if (want == "(nil)") {
        ASSERT_THAT(r, IsNil());
      } else {
        ASSERT_EQ(KeyAndElements(r), want);
      }
    } else if (op == 16 || op == 17) {  // RPOPLPUSH / LMOVE, same key now and then
      std::string dst = Rnd(6) == 0 ? k : key();
      bool from_left = op == 16 ? false : Rnd(2), to_left = op == 16 ? true : Rnd(2);
      std::string from = side(from_left), to = side(to_left);
      Reply r =
          op == 16 ? Command(c, {"RPOPLPUSH", k, dst}) : Command(c, {"LMOVE", k, dst, from, to});
      if (l == nullptr) {
        ASSERT_THAT(r, IsNil());
      } else {
        std::string v = from_left ? l->front() : l->back();
        from_left ? l->pop_front() : l->pop_back();
        List& d = model_[dst];
        to_left ? d.push_front(v) : d.push_back(v);
        DropIfEmpty(k);
        ASSERT_THAT(r, IsBulk(v));
      }
    } else if (op == 18) {  // wrong type
      Reply r = Rnd(2) ? Command(c, {"LMOVE", k, "str", "LEFT", "LEFT"})
                       : Command(c, {"RPUSH", "str", "v"});
      if (l == nullptr) {
        ASSERT_THAT(r, ::testing::AnyOf(IsNil(), IsError(wrongtype)));
      } else {
        ASSERT_THAT(r, IsError(wrongtype));
      }
    } else {  // LLEN
      ASSERT_THAT(Command(c, {"LLEN", k}), IsInt(len));
    }
    for (const auto& [x, m] : model_) max_len = std::max(max_len, m.size());
    if (step % 25 == 0 || step == kSteps - 1) {
      for (const std::string& x : keys) {
        List* m = Find(x);
        if (m == nullptr && ever_had.count(x)) ++emptied_seen;
        if (m != nullptr) ever_had.insert(x);
        ASSERT_THAT(Command(c, {"LRANGE", x, "0", "-1"}),
                    IsArray(ElementsAreArray(m ? Vec(*m) : std::vector<std::string>{})))
            << x;
        ASSERT_THAT(Command(c, {"EXISTS", x}), IsInt(m ? 1 : 0)) << x;
      }
    }
  }
  // The run did build long lists (many quicklist nodes at fill 4) and empty them again.
  EXPECT_GT(max_len, 100u);
  EXPECT_GT(emptied_seen, 0u);
  ASSERT_THAT(Command(c, {"CONFIG", "SET", "list-max-listpack-size", "-2"}), IsStatus("OK"));
}

INSTANTIATE_TEST_SUITE_P(Shards, ListCommandModelTest, ::testing::Values(1, 3), ShardsName);

}  // namespace
}  // namespace omnibus::testing
