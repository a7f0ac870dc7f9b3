// Counted memory (DESIGN §10.8, store/memory.h) against the allocator's own figure: every type
// in every encoding, built through the command handlers and the Db on one thread, must move
// StoreAllocatedBytes() exactly as much as the allocator's heap moved, and both must return to
// the baseline once everything is deleted. Also MEMORY USAGE's measure (ObjectMemoryUsage) and
// lazy free's hand-back of the bytes to the owning thread's count.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#if defined(OMNIBUS_MIMALLOC)
#include <mimalloc.h>
#elif defined(__SANITIZE_ADDRESS__)
// From the sanitizer runtime (sanitizer/allocator_interface.h, which GCC's packages may lack).
extern "C" size_t __sanitizer_get_current_allocated_bytes();
#define OMNIBUS_SANITIZER_ALLOCATOR 1
#elif defined(__SANITIZE_THREAD__)
// ThreadSanitizer's allocator counts its own bookkeeping with the program's blocks: no figure
// to compare with (the lazy free and MEMORY USAGE tests below still run).
#define OMNIBUS_NO_ALLOCATOR_FIGURE 1
#else
#include <malloc.h>
#endif

#include "omnibus/base/str_cat.h"
#include "omnibus/commands/command_table.h"
#include "omnibus/shard/work.h"
#include "omnibus/store/db.h"
#include "omnibus/store/keyspace.h"
#include "omnibus/store/lazy_free.h"
#include "omnibus/store/lease_table.h"
#include "omnibus/store/memory.h"
#include "omnibus/store/object.h"

namespace omnibus {
namespace {

// The allocator's own count of bytes in use by this thread's heap (mimalloc: every live block
// of the default heap, at its usable size, which is what malloc_usable_size reports and
// StoreAlloc counts).
int64_t AllocatorBytes() {
#if defined(OMNIBUS_MIMALLOC)
  int64_t total = 0;
  mi_heap_visit_blocks(
      mi_heap_get_default(), true,
      [](const mi_heap_t*, const mi_heap_area_t*, void* block, size_t block_size, void* arg) {
        if (block != nullptr) *static_cast<int64_t*>(arg) += static_cast<int64_t>(block_size);
        return true;
      },
      &total);
  return total;
#elif defined(OMNIBUS_SANITIZER_ALLOCATOR)
  // AddressSanitizer's allocator reports requested sizes, as its malloc_usable_size does.
  return static_cast<int64_t>(__sanitizer_get_current_allocated_bytes());
#elif defined(OMNIBUS_NO_ALLOCATOR_FIGURE)
  return 0;
#else
  // glibc: chunk sizes, a word more than the usable size per chunk (see kPerBlockSlack).
  return static_cast<int64_t>(mallinfo2().uordblks);
#endif
}

// glibc's uordblks counts each chunk's size word beside the usable bytes; mimalloc and
// AddressSanitizer count exactly what StoreAlloc counts.
#if defined(OMNIBUS_MIMALLOC) || defined(OMNIBUS_SANITIZER_ALLOCATOR)
constexpr int64_t kPerBlockSlack = 0;
#else
constexpr int64_t kPerBlockSlack = 16;
#endif

class MemoryCountTest : public ::testing::Test {
 public:
  MemoryCountTest() : ks_(16, &limits_) {
    ks_.db(0);  // the Db object itself is not keyspace memory
    ks_.db(1);
  }

  std::string Run(std::vector<std::string> args, int db = 0) {
    const CommandSpec* spec = table_.Find(args[0]);
    EXPECT_NE(spec, nullptr) << args[0];
    std::vector<std::string_view> views(args.begin(), args.end());
    std::string out;
    ReplyBuilder rb(&out, 2);
    ExecContext ctx{&ks_, nullptr, 1, 0, db, views, &rb};
    spec->shard(ctx);
    return out;
  }

  // Runs `args` repeatedly with `per_call` generated arguments appended each time.
  void Fill(std::vector<std::string> head, size_t total, size_t per_call,
            const std::function<std::vector<std::string>(size_t)>& gen) {
    for (size_t i = 0; i < total; i += per_call) {
      std::vector<std::string> args = head;
      for (size_t j = i; j < std::min(total, i + per_call); ++j) {
        for (std::string& a : gen(j)) args.push_back(std::move(a));
      }
      Run(args);
    }
  }

  std::string Encoding(std::string_view key) {
    Db::Entry e = ks_.db(0).Peek(key);
    return e ? std::string(RecordEncodingName(e.get())) : "(none)";
  }

  ContainerLimits limits_;
  CommandTable table_;
  Keyspace ks_;
};

#if defined(OMNIBUS_MIMALLOC)
TEST(MemoryAllocatorTest, TheUnitTestMeasuresMimalloc) {
  // The comparison below is only meaningful if malloc is mimalloc's in this binary.
  char* p = static_cast<char*>(malloc(100));
  memset(p, 1, 100);
  EXPECT_TRUE(mi_is_in_heap_region(p));
  free(p);
}
#endif

// One case: a key of one type and encoding, how to build it, the encoding it must end in.
struct Case {
  std::string name;
  std::string encoding;
  std::function<void(MemoryCountTest*)> build;
};

#if defined(OMNIBUS_NO_ALLOCATOR_FIGURE)
#define SKIP_WITHOUT_ALLOCATOR_FIGURE() GTEST_SKIP() << "no allocator figure under ThreadSanitizer"
#else
#define SKIP_WITHOUT_ALLOCATOR_FIGURE() (void)0
#endif

TEST_F(MemoryCountTest, EveryTypeAndEncodingMatchesTheAllocator) {
  SKIP_WITHOUT_ALLOCATOR_FIGURE();
  auto strings = [](const std::string& prefix, size_t len) {
    return [=](size_t i) {
      std::string v = StrCat(prefix, i);
      v.resize(std::max(v.size(), len), 'x');
      return std::vector<std::string>{v};
    };
  };
  auto pairs = [](size_t len) {
    return [=](size_t i) {
      std::string v = StrCat("v", i);
      v.resize(len, 'y');
      return std::vector<std::string>{StrCat("f", i), v};
    };
  };
  std::vector<Case> cases = {
      {"string int", "int",
       [](auto* t) {
         t->Run({"set", "k", "123456"});
       }},
      {"string embstr", "embstr",
       [](auto* t) {
         t->Run({"set", "k", std::string(40, 'e')});
       }},
      {"string raw", "raw",
       [](auto* t) {
         t->Run({"set", "k", std::string(3000, 'r')});
       }},
      {"string appended", "raw",
       [](auto* t) {
         t->Run({"set", "k", "abc"});
         t->Run({"append", "k", std::string(100, 'a')});
       }},
      {"string with ttl", "embstr",
       [](auto* t) {
         t->Run({"set", "k", "hello", "px", "100000"});
       }},
      {"list listpack", "listpack",
       [](auto* t) {
         t->Run({"rpush", "k", "a", "bb", "123"});
       }},
      {"list quicklist", "quicklist",
       [&](auto* t) {
         t->Fill({"rpush", "k"}, 5000, 500, strings("elem", 40));
       }},
      {"list quicklist trimmed", "quicklist",
       [&](auto* t) {
         t->Fill({"lpush", "k"}, 3000, 300, strings("e", 30));
         t->Run({"ltrim", "k", "100", "2000"});
         t->Run({"linsert", "k", "before", "e1500", "inserted"});
       }},
      {"set intset", "intset",
       [](auto* t) {
         t->Run({"sadd", "k", "1", "2", "300", "70000"});
       }},
      {"set listpack", "listpack",
       [](auto* t) {
         t->Run({"sadd", "k", "a", "b", "c"});
       }},
      {"set hashtable", "hashtable",
       [&](auto* t) {
         t->Fill({"sadd", "k"}, 3000, 500, strings("member:", 10));
         t->Fill({"srem", "k"}, 1000, 500, strings("member:", 10));
       }},
      {"set intset to hashtable", "hashtable",
       [&](auto* t) {
         t->Fill({"sadd", "k"}, 600, 100,
                 [](size_t i) { return std::vector<std::string>{StrCat(i)}; });
       }},
      {"hash listpack", "listpack",
       [](auto* t) {
         t->Run({"hset", "k", "f1", "v1", "f2", "v2"});
       }},
      {"hash hashtable", "hashtable",
       [&](auto* t) {
         t->Fill({"hset", "k"}, 2000, 250, pairs(20));
         t->Run({"hset", "k", "f7", std::string(500, 'z')});  // a value that grows in place
         t->Run({"hdel", "k", "f1", "f2", "f3"});
       }},
      {"hash listpack to hashtable by value", "hashtable",
       [](auto* t) {
         t->Run({"hset", "k", "a", "1"});
         t->Run({"hset", "k", "b", std::string(100, 'l')});
       }},
      {"zset listpack", "listpack",
       [](auto* t) {
         t->Run({"zadd", "k", "1", "a", "2", "b"});
       }},
      {"zset skiplist", "skiplist",
       [&](auto* t) {
         t->Fill({"zadd", "k"}, 3000, 300, [](size_t i) {
           return std::vector<std::string>{StrCat(i % 97), StrCat("member-", i)};
         });
         t->Run({"zremrangebyrank", "k", "0", "99"});
         t->Run({"zincrby", "k", "5", "member-1000"});
       }},
      {"list lmove between keys", "quicklist",
       [&](auto* t) {
         t->Fill({"rpush", "src"}, 2000, 500, strings("m", 60));
         for (int i = 0; i < 500; ++i) t->Run({"lmove", "src", "k", "left", "right"});
         t->Run({"del", "src"});
       }},
      {"sunionstore", "hashtable",
       [&](auto* t) {
         t->Fill({"sadd", "a"}, 500, 250, strings("x", 8));
         t->Fill({"sadd", "b"}, 500, 250, strings("y", 8));
         t->Run({"sunionstore", "k", "a", "b"});
         t->Run({"del", "a", "b"});
       }},
      {"rename and expire", "hashtable",
       [&](auto* t) {
         t->Fill({"hset", "old"}, 1000, 250, pairs(10));
         t->Run({"rename", "old", "k"});
         t->Run({"pexpire", "k", "100000"});
         t->Run({"persist", "k"});
       }},
  };

  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    // Many keys beside the one under test, so the table's bucket arrays grow too.
    const int64_t counted0 = StoreAllocatedBytes();
    const int64_t heap0 = AllocatorBytes();
    c.build(this);
    Fill({"mset"}, 200, 50, [](size_t i) {
      return std::vector<std::string>{StrCat("filler:", i), StrCat("value-", i)};
    });
    EXPECT_EQ(Encoding("k"), c.encoding);
    int64_t counted = StoreAllocatedBytes() - counted0;
    int64_t heap = AllocatorBytes() - heap0;
    EXPECT_GT(counted, 0);
    // Exact under mimalloc; glibc's chunk headers are bounded by a word per block.
    EXPECT_LE(counted, heap);
    EXPECT_GE(counted + kPerBlockSlack * (counted / 16 + 1), heap);
    Run({"flushall"});
    EXPECT_EQ(StoreAllocatedBytes(), counted0);
    EXPECT_EQ(AllocatorBytes(), heap0);
  }
}

TEST_F(MemoryCountTest, LeasesAreCountedWithTheirKeys) {
  SKIP_WITHOUT_ALLOCATOR_FIGURE();
  const int64_t counted0 = StoreAllocatedBytes();
  const int64_t heap0 = AllocatorBytes();
  Db& db = ks_.db(0);
  for (int i = 0; i < 100; ++i) {
    std::string key = StrCat("lease:", i);
    db.leases().Acquire(key, 10'000, 0);
    db.leases().Invalidate(key, std::string(50, 's'), 10'000, 0);
  }
  EXPECT_EQ(StoreAllocatedBytes() - counted0, AllocatorBytes() - heap0);
  Run({"flushall"});
  // The lease table itself stays (created on first use), empty.
  EXPECT_EQ(db.leases().size(), 0u);
  EXPECT_EQ(StoreAllocatedBytes() - counted0, AllocatorBytes() - heap0);
}

TEST_F(MemoryCountTest, MemoryUsageOfEveryEncodingIsItsBlocks) {
  // With SAMPLES 0 (every element) the measure is exactly the bytes the key added: its
  // record and its container (the table does not grow: 1 key in 4 buckets).
  Run({"set", "anchor", "1"});
  std::vector<std::function<void()>> builds = {
      [&] {
        Run({"set", "k", std::string(100, 'v')});
      },
      [&] {
        Run({"rpush", "k", "a", "b"});
      },
      [&] {
        Fill({"rpush", "k"}, 3000, 500,
             [](size_t i) { return std::vector<std::string>{StrCat("e", i)}; });
      },
      [&] {
        Run({"sadd", "k", "1", "2"});
      },
      [&] {
        Run({"sadd", "k", "a", "2"});
      },
      [&] {
        Fill({"sadd", "k"}, 1000, 500,
             [](size_t i) { return std::vector<std::string>{StrCat("m", i)}; });
      },
      [&] {
        Run({"hset", "k", "a", "1"});
      },
      [&] {
        Fill({"hset", "k"}, 1000, 500, [](size_t i) {
          return std::vector<std::string>{StrCat("f", i), "v"};
        });
      },
      [&] {
        Run({"zadd", "k", "1", "a"});
      },
      [&] {
        Fill({"zadd", "k"}, 1000, 500, [](size_t i) {
          return std::vector<std::string>{"1", StrCat("z", i)};
        });
      },
  };
  for (size_t i = 0; i < builds.size(); ++i) {
    SCOPED_TRACE(i);
    int64_t before = StoreAllocatedBytes();
    builds[i]();
    int64_t added = StoreAllocatedBytes() - before;
    Db::Entry e = ks_.db(0).Peek("k");
    ASSERT_TRUE(e);
    size_t usage = StoreBlockSize(e.get());
    if (e->is_container()) usage += ObjectMemoryUsage(e->object(), 0);
    EXPECT_EQ(static_cast<int64_t>(usage), added) << RecordEncodingName(e.get());
    // Sampling 5 elements estimates within a few percent for these uniform values.
    if (e->is_container()) {
      size_t sampled = StoreBlockSize(e.get()) + ObjectMemoryUsage(e->object(), 5);
      EXPECT_NEAR(static_cast<double>(sampled), static_cast<double>(usage), usage * 0.1);
    }
    Run({"del", "k"});
  }
}

// Polls until the background thread has nothing pending (or a deadline).
bool WaitLazyFreeIdle() {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (LazyFreePendingObjects() != 0) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

TEST_F(MemoryCountTest, LazyFreeHandsTheBytesBackToTheOwner) {
  ASSERT_TRUE(WaitLazyFreeIdle());
  Run({"set", "anchor", "1"});  // the table's first bucket array stays while it holds a key
  const int64_t counted0 = StoreAllocatedBytes();
  const int64_t freed0 = LazyFreedObjects();
  Fill({"sadd", "big"}, 5000, 1000,
       [](size_t i) { return std::vector<std::string>{StrCat("m", i)}; });
  Run({"sadd", "small", "a", "b"});
  int64_t with_sets = StoreAllocatedBytes();
  EXPECT_GT(with_sets - counted0, 5000 * 16);
  // A small value is freed at once even by UNLINK; a big one goes to the thread.
  EXPECT_EQ(Run({"unlink", "small"}), ":1\r\n");
  EXPECT_EQ(LazyFreedObjects(), freed0);
  EXPECT_EQ(Run({"unlink", "big"}), ":1\r\n");
  ASSERT_TRUE(WaitLazyFreeIdle());
  EXPECT_EQ(LazyFreedObjects(), freed0 + 1);
  // Freed on the other thread, yet this thread's count is back where it was.
  EXPECT_EQ(StoreAllocatedBytes(), counted0);

  // DEL frees on the shard unless lazyfree-lazy-user-del is set.
  Fill({"sadd", "big"}, 500, 500,
       [](size_t i) { return std::vector<std::string>{StrCat("m", i)}; });
  Run({"del", "big"});
  EXPECT_EQ(LazyFreedObjects(), freed0 + 1);
  LazyFreeSettings().lazy_user_del = true;
  Fill({"sadd", "big"}, 500, 500,
       [](size_t i) { return std::vector<std::string>{StrCat("m", i)}; });
  Run({"del", "big"});
  LazyFreeSettings().lazy_user_del = false;
  ASSERT_TRUE(WaitLazyFreeIdle());
  EXPECT_EQ(LazyFreedObjects(), freed0 + 2);
  EXPECT_EQ(StoreAllocatedBytes(), counted0);

  // FLUSHALL ASYNC hands over whole tables: one object per key, as Redis counts them.
  Fill({"mset"}, 300, 100, [](size_t i) {
    return std::vector<std::string>{StrCat("key", i), "v"};
  });
  Run({"set", "other-db", "v"}, 1);
  int64_t before_flush = StoreAllocatedBytes();
  EXPECT_EQ(Run({"flushall", "async"}), "+OK\r\n");
  EXPECT_EQ(ks_.db(0).size(), 0u);
  ASSERT_TRUE(WaitLazyFreeIdle());
  EXPECT_EQ(LazyFreedObjects(), freed0 + 2 + 302);
  // Everything went, the anchor and its table's buckets included.
  EXPECT_LT(StoreAllocatedBytes(), counted0);
  EXPECT_GT(before_flush, counted0 + 300 * 16);
}

TEST_F(MemoryCountTest, FreeEffortFollowsRedis) {
  Run({"sadd", "ints", "1", "2", "3"});
  Fill({"sadd", "table"}, 200, 100,
       [](size_t i) { return std::vector<std::string>{StrCat("m", i)}; });
  Fill({"rpush", "list"}, 20000, 1000,
       [](size_t i) { return std::vector<std::string>{StrCat("m", i)}; });
  Run({"set", "str", std::string(10000, 'x')});
  EXPECT_EQ(FreeEffort(ks_.db(0).Peek("ints").get()), 1u);  // one block
  EXPECT_EQ(FreeEffort(ks_.db(0).Peek("table").get()), 200u);
  // A quicklist: one per node (8 KB nodes of ~6-byte entries).
  size_t nodes = FreeEffort(ks_.db(0).Peek("list").get());
  EXPECT_GT(nodes, 5u);
  EXPECT_LT(nodes, 100u);
  EXPECT_EQ(FreeEffort(ks_.db(0).Peek("str").get()), 1u);
  Run({"flushall"});
}

}  // namespace
}  // namespace omnibus
