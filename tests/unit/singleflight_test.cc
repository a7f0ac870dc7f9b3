// The singleflight front (DESIGN §5): the flight state word's join/start race, and the
// reactor's flight table.
#include "omnibus/net/singleflight.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "omnibus/shard/flight_word.h"

namespace omnibus {
namespace {

// Many rounds of the real race: the "reactor" joins as fast as it can while the "shard"
// starts the flight at a random moment. Every join that succeeded must be counted by
// Start(), and no join may succeed after it. Under TSan this is also the data-race check.
TEST(FlightWordTest, JoinsBeforeStartAreCountedAndNoneAfter) {
  for (int round = 0; round < 2000; ++round) {
    FlightWord word;
    word.Open();
    std::atomic<bool> go{false};
    std::atomic<uint32_t> started_with{~0u};
    std::thread shard([&] {
      while (!go.load(std::memory_order_acquire)) {
      }
      for (int spin = 0; spin < round % 64; ++spin) std::this_thread::yield();
      started_with.store(word.Start(), std::memory_order_release);
    });
    uint32_t joined = 0;
    go.store(true, std::memory_order_release);
    while (word.TryJoin()) ++joined;
    // Once a join failed the flight has started; it never accepts one again.
    EXPECT_FALSE(word.TryJoin());
    shard.join();
    ASSERT_EQ(started_with.load(), joined) << "round " << round;
  }
}

TEST(FlightWordTest, CloseMakesItIdle) {
  FlightWord word;
  EXPECT_FALSE(word.is_open());
  word.Open();
  EXPECT_TRUE(word.is_open());
  EXPECT_TRUE(word.TryJoin());
  EXPECT_TRUE(word.TryJoin());
  EXPECT_EQ(word.Start(), 2u);
  EXPECT_FALSE(word.TryJoin());
  word.Close();
  EXPECT_FALSE(word.is_open());
  word.Open();  // reused for the next group
  EXPECT_TRUE(word.TryJoin());
  EXPECT_EQ(word.Start(), 1u);
}

class FlightTableTest : public ::testing::Test {
 protected:
  Work* Make(std::vector<std::string> args, uint8_t db = 0, uint8_t resp = 2,
             uint16_t command_id = 7) {
    auto w = std::make_unique<Work>();
    w->db = db;
    w->resp = resp;
    w->command_id = command_id;
    std::vector<std::string_view> views(args.begin(), args.end());
    w->OwnArgs(views);
    works_.push_back(std::move(w));
    return works_.back().get();
  }

  FlightTable table_;
  std::vector<std::unique_ptr<Work>> works_;
};

TEST_F(FlightTableTest, IdenticalRequestsJoinUntilTheFlightStarts) {
  Work* leader = Make({"GET", "k"});
  EXPECT_FALSE(table_.JoinOrLead(leader));
  EXPECT_TRUE(leader->flight.is_open());
  Work* a = Make({"get", "k"});  // the command's spelling does not matter
  Work* b = Make({"GET", "k"});
  EXPECT_TRUE(table_.JoinOrLead(a));
  EXPECT_TRUE(table_.JoinOrLead(b));
  EXPECT_EQ(leader->flight.Start(), 2u);  // the shard takes it
  Work* late = Make({"GET", "k"});
  EXPECT_FALSE(table_.JoinOrLead(late));  // started: it leads a new flight
  EXPECT_EQ(table_.stats().refused_started, 1u);
  EXPECT_EQ(table_.stats().joins, 2u);

  leader->reply = "$1\r\nv\r\n";
  std::vector<Work*> waiters = table_.Land(leader);
  ASSERT_EQ(waiters.size(), 2u);
  EXPECT_EQ(waiters[0], a);
  EXPECT_EQ(waiters[1], b);
  EXPECT_EQ(a->reply, "$1\r\nv\r\n");  // small: copied
  EXPECT_EQ(b->reply, "$1\r\nv\r\n");
  EXPECT_EQ(a->chunk, nullptr);
  EXPECT_FALSE(leader->flight.is_open());
  // The late flight is still open (landing the old one did not close it).
  EXPECT_EQ(table_.open_flights(), 1u);
  Work* joins_late = Make({"GET", "k"});
  EXPECT_TRUE(table_.JoinOrLead(joins_late));
  late->flight.Start();
  late->reply = "$-1\r\n";
  EXPECT_EQ(table_.Land(late).size(), 1u);
  EXPECT_EQ(joins_late->reply, "$-1\r\n");
  EXPECT_EQ(table_.open_flights(), 0u);
}

TEST_F(FlightTableTest, DifferentRequestsNeverJoin) {
  Work* leader = Make({"GET", "k"});
  EXPECT_FALSE(table_.JoinOrLead(leader));
  EXPECT_FALSE(table_.JoinOrLead(Make({"GET", "k2"})));
  EXPECT_FALSE(table_.JoinOrLead(Make({"GET", "k"}, /*db=*/1)));
  EXPECT_FALSE(table_.JoinOrLead(Make({"GET", "k"}, 0, /*resp=*/3)));
  EXPECT_FALSE(table_.JoinOrLead(Make({"STRLEN", "k"}, 0, 2, /*command_id=*/8)));
  EXPECT_FALSE(table_.JoinOrLead(Make({"HGET", "k", "a"}, 0, 2, 9)));
  EXPECT_FALSE(table_.JoinOrLead(Make({"HGET", "k", "ab"}, 0, 2, 9)));
  EXPECT_FALSE(table_.JoinOrLead(Make({"HGET", "ka", "b"}, 0, 2, 9)));
  EXPECT_EQ(table_.stats().joins, 0u);
  EXPECT_EQ(table_.stats().flights, 8u);
}

TEST_F(FlightTableTest, RefusedJoinLeadsANewFlight) {
  Work* leader = Make({"GET", "k"});
  EXPECT_FALSE(table_.JoinOrLead(leader));
  Work* own_write = Make({"GET", "k"});
  EXPECT_FALSE(table_.JoinOrLead(own_write, FlightTable::NoJoin::kOwnWrites));
  EXPECT_EQ(table_.stats().refused_own_writes, 1u);
  // Later identical requests join the newest flight, which was queued after the write.
  Work* next = Make({"GET", "k"});
  EXPECT_TRUE(table_.JoinOrLead(next));
  leader->flight.Start();
  EXPECT_TRUE(table_.Land(leader).empty());
  own_write->flight.Start();
  own_write->reply = "$2\r\nv2\r\n";
  std::vector<Work*> waiters = table_.Land(own_write);
  ASSERT_EQ(waiters.size(), 1u);
  EXPECT_EQ(next->reply, "$2\r\nv2\r\n");
}

TEST_F(FlightTableTest, BigRepliesAreOneSharedChunk) {
  Work* leader = Make({"GET", "big"});
  EXPECT_FALSE(table_.JoinOrLead(leader));
  std::vector<Work*> joined;
  for (int i = 0; i < 10; ++i) {
    joined.push_back(Make({"GET", "big"}));
    EXPECT_TRUE(table_.JoinOrLead(joined.back()));
  }
  leader->flight.Start();
  std::string value(100 * 1024, 'x');
  leader->reply = "$" + std::to_string(value.size()) + "\r\n" + value + "\r\n";
  const std::string expected = leader->reply;
  std::vector<Work*> waiters = table_.Land(leader);
  ASSERT_EQ(waiters.size(), 10u);
  ASSERT_NE(leader->chunk, nullptr);
  EXPECT_TRUE(leader->reply.empty());
  EXPECT_EQ(*leader->chunk, expected);
  for (Work* w : joined) {
    EXPECT_EQ(w->chunk.get(), leader->chunk.get());  // the same bytes, not a copy
    EXPECT_TRUE(w->reply.empty());
  }
  EXPECT_EQ(leader->chunk.use_count(), 11);
  EXPECT_EQ(table_.stats().bytes_not_copied, expected.size() * 10);
}

}  // namespace
}  // namespace omnibus
