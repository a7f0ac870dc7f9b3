// SpscRing: batch publication, capacity, order, and a two-thread stress run (also meant for
// the ThreadSanitizer build).

#include "omnibus/shard/spsc_ring.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace omnibus {
namespace {

std::vector<int> Drain(SpscRing<int>& ring) {
  std::vector<int> out;
  ring.ConsumeAll([&](int v) { out.push_back(v); });
  return out;
}

TEST(SpscRingTest, NothingVisibleUntilPublished) {
  SpscRing<int> ring(8);
  EXPECT_EQ(ring.capacity(), 8u);
  EXPECT_TRUE(ring.Empty());
  EXPECT_FALSE(ring.Publish());  // nothing staged
  ASSERT_TRUE(ring.Stage(1));
  ASSERT_TRUE(ring.Stage(2));
  EXPECT_TRUE(ring.Empty());
  EXPECT_EQ(ring.SizeApprox(), 0u);
  EXPECT_TRUE(Drain(ring).empty());
  EXPECT_TRUE(ring.Publish());
  EXPECT_FALSE(ring.Publish());  // nothing new since
  EXPECT_FALSE(ring.Empty());
  EXPECT_EQ(ring.SizeApprox(), 2u);
  EXPECT_EQ(Drain(ring), (std::vector<int>{1, 2}));
  EXPECT_TRUE(ring.Empty());
  EXPECT_EQ(ring.SizeApprox(), 0u);
}

TEST(SpscRingTest, StageFailsWhenFull) {
  SpscRing<int> ring(8);
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(ring.Stage(i)) << i;
  EXPECT_FALSE(ring.Stage(8));  // full of staged (unpublished) items
  EXPECT_TRUE(ring.Publish());
  EXPECT_FALSE(ring.Stage(8));  // still full until consumed
  size_t n = 0;
  std::vector<int> got;
  n = ring.ConsumeAll([&](int v) { got.push_back(v); });
  EXPECT_EQ(n, 8u);
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_TRUE(ring.Stage(8));
}

TEST(SpscRingTest, PublishedAndStagedShareTheCapacity) {
  SpscRing<int> ring(8);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(ring.Stage(i));
  ring.Publish();
  for (int i = 5; i < 8; ++i) ASSERT_TRUE(ring.Stage(i));
  EXPECT_FALSE(ring.Stage(99));
  EXPECT_EQ(Drain(ring), (std::vector<int>{0, 1, 2, 3, 4}));
  // The consumer freed five slots: the producer sees them on its next Stage.
  for (int i = 8; i < 13; ++i) ASSERT_TRUE(ring.Stage(i)) << i;
  EXPECT_FALSE(ring.Stage(99));
  ring.Publish();
  EXPECT_EQ(Drain(ring), (std::vector<int>{5, 6, 7, 8, 9, 10, 11, 12}));
}

TEST(SpscRingTest, OrderAcrossManyWrapArounds) {
  SpscRing<int> ring(4);
  int next_in = 0, next_out = 0;
  for (int round = 0; round < 1000; ++round) {
    int batch = 1 + round % 4;
    for (int i = 0; i < batch; ++i) ASSERT_TRUE(ring.Stage(next_in++));
    ring.Publish();
    size_t n = ring.ConsumeAll([&](int v) { ASSERT_EQ(v, next_out++); });
    ASSERT_EQ(n, static_cast<size_t>(batch));
  }
  EXPECT_EQ(next_out, next_in);
}

TEST(SpscRingTest, TwoThreadsMillionItems) {
  constexpr uint64_t kItems = 1'000'000;
  SpscRing<uint64_t> ring(1024);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  std::atomic<bool> timed_out{false};

  std::thread producer([&] {
    uint64_t next = 0;
    uint64_t batch = 1;
    while (next < kItems) {
      // Batches of 1..97 items; a full ring just publishes what it has and retries.
      uint64_t end = std::min(kItems, next + batch);
      while (next < end && ring.Stage(next)) ++next;
      ring.Publish();
      batch = batch % 97 + 1;
      if (std::chrono::steady_clock::now() > deadline) {
        timed_out = true;
        return;
      }
      std::this_thread::yield();
    }
  });

  uint64_t expected = 0;
  uint64_t received = 0;
  uint64_t out_of_order = 0;
  while (expected < kItems && !timed_out.load()) {
    size_t n = ring.ConsumeAll([&](uint64_t v) {
      if (v != expected) ++out_of_order;
      expected = v + 1;
    });
    received += n;
    if (n == 0) std::this_thread::yield();
    if (std::chrono::steady_clock::now() > deadline) break;
  }
  producer.join();
  EXPECT_FALSE(timed_out.load());
  EXPECT_EQ(out_of_order, 0u);
  EXPECT_EQ(expected, kItems);
  EXPECT_EQ(received, kItems);
  EXPECT_TRUE(ring.Empty());
}

// A visit may take the items after it (a busy script answering what waits behind it): they
// are not visited again, and their space is free at once.
TEST(SpscRingTest, ConsumeNextWhileTakesItemsAfterTheVisitedOne) {
  SpscRing<int> ring(8);
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(ring.Stage(i));
  ring.Publish();
  std::vector<int> visited, taken;
  size_t n = ring.ConsumeAll([&](int v) {
    visited.push_back(v);
    if (v == 1) {
      ring.ConsumeNextWhile([](int x) { return x < 4; }, [&](int x) { taken.push_back(x); });
      // Items 1-3 are free already: the producer can fill the ring past them.
      for (int i = 6; i <= 8; ++i) EXPECT_TRUE(ring.Stage(i));
      ring.Publish();
      ring.ConsumeNextWhile([](int) { return false; }, [&](int x) { taken.push_back(x); });
    }
  });
  EXPECT_EQ(visited, (std::vector<int>{1, 4, 5}));
  EXPECT_EQ(taken, (std::vector<int>{2, 3}));
  EXPECT_EQ(n, 5u);
  std::vector<int> rest;
  ring.ConsumeAll([&](int v) { rest.push_back(v); });
  EXPECT_EQ(rest, (std::vector<int>{6, 7, 8}));
}

}  // namespace
}  // namespace omnibus
