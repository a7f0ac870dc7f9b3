// The connection output queue (DESIGN §10.6): order of small, big (moved) and shared runs,
// partial writes on a full socket, and memory handed back once sent.
#include "omnibus/net/output_queue.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace omnibus {
namespace {

enum class WriteResult { kDone, kWouldBlock, kError };

// What a readiness backend's flush does (Reactor::Flush): gather, sendmsg, advance, until
// everything is sent or the socket is full.
WriteResult WriteTo(OutputQueue* q, int fd, uint64_t* written) {
  iovec iov[64];
  for (;;) {
    int n = q->Gather(iov, 64, false);
    if (n == 0) return WriteResult::kDone;
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(n);
    ssize_t sent = sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (sent < 0) return errno == EAGAIN ? WriteResult::kWouldBlock : WriteResult::kError;
    *written += static_cast<uint64_t>(sent);
    q->Advance(static_cast<size_t>(sent));
  }
}

class OutputQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds_), 0);
    fcntl(fds_[0], F_SETFL, fcntl(fds_[0], F_GETFL) | O_NONBLOCK);
    fcntl(fds_[1], F_SETFL, fcntl(fds_[1], F_GETFL) | O_NONBLOCK);
  }
  void TearDown() override {
    close(fds_[0]);
    close(fds_[1]);
  }
  // Everything readable on the other end right now.
  std::string Drain() {
    std::string got;
    char buf[65536];
    for (;;) {
      ssize_t n = read(fds_[1], buf, sizeof(buf));
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    return got;
  }
  int fds_[2];
};

TEST_F(OutputQueueTest, RunsLeaveInOrderAndBigRepliesAreMovedNotCopied) {
  OutputQueue q;
  std::string big(OutputQueue::kMoveThreshold, 'b');
  auto shared = std::make_shared<const std::string>("shared\r\n");
  q.Append("+OK\r\n");
  q.Append(&big);
  EXPECT_TRUE(big.empty());  // moved: the queue holds the very buffer
  q.AppendChunk(shared);
  std::string small = ":1\r\n";
  q.Append(&small);
  EXPECT_EQ(small, ":1\r\n");  // small: copied, the caller keeps its buffer
  EXPECT_EQ(q.unsent(), 5 + OutputQueue::kMoveThreshold + 8 + 4);
  EXPECT_EQ(shared.use_count(), 2);
  uint64_t written = 0;
  ASSERT_EQ(WriteTo(&q, fds_[0], &written), WriteResult::kDone);
  EXPECT_EQ(written, 5 + OutputQueue::kMoveThreshold + 8 + 4);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(shared.use_count(), 1);  // sent: the queue let go of it
  std::string expected =
      "+OK\r\n" + std::string(OutputQueue::kMoveThreshold, 'b') + "shared\r\n:1\r\n";
  EXPECT_EQ(Drain(), expected);
}

TEST_F(OutputQueueTest, FullSocketWritesPartlyAndResumesWhereItStopped) {
  int small_buf = 4096;
  setsockopt(fds_[0], SOL_SOCKET, SO_SNDBUF, &small_buf, sizeof(small_buf));
  OutputQueue q;
  std::string expected;
  for (int i = 0; i < 200; ++i) {
    std::string reply =
        "$" + std::to_string(1000) + "\r\n" + std::string(1000, 'a' + i % 26) + "\r\n";
    expected += reply;
    if (i % 3 == 0) {
      q.AppendChunk(std::make_shared<const std::string>(reply));
    } else {
      q.Append(reply);
    }
  }
  std::string big(100 * 1024, 'z');
  expected += big;
  q.Append(&big);
  std::string got;
  uint64_t written = 0;
  int rounds = 0;
  while (!q.empty()) {
    WriteResult r = WriteTo(&q, fds_[0], &written);
    ASSERT_NE(r, WriteResult::kError);
    if (r == WriteResult::kWouldBlock) ++rounds;
    got += Drain();
  }
  got += Drain();
  EXPECT_GT(rounds, 0) << "the socket never filled: the test did not test partial writes";
  EXPECT_EQ(written, expected.size());
  EXPECT_EQ(got, expected);
}

TEST_F(OutputQueueTest, MemoryIsHandedBackOnceSent) {
  OutputQueue q;
  std::string big(1 << 20, 'x');
  q.Append(&big);
  EXPECT_GE(q.memory(), size_t{1} << 20);
  uint64_t written = 0;
  while (!q.empty()) {
    ASSERT_NE(WriteTo(&q, fds_[0], &written), WriteResult::kError);
    Drain();
  }
  EXPECT_LT(q.memory(), size_t{64} * 1024);  // a small spare at most, never the burst
}

TEST_F(OutputQueueTest, ErrorOnAClosedPeer) {
  OutputQueue q;
  q.Append("+OK\r\n");
  close(fds_[1]);
  fds_[1] = open("/dev/null", O_RDONLY);
  uint64_t written = 0;
  EXPECT_EQ(WriteTo(&q, fds_[0], &written), WriteResult::kError);
}

// A send that completes later (io_uring) points into the runs it gathered: replies appended
// while it is in flight must not move those bytes, and go out after them.
TEST_F(OutputQueueTest, AFrozenSendKeepsItsBytesInPlaceWhileRepliesKeepComing) {
  OutputQueue q;
  q.Append("+first\r\n");
  iovec iov[64];
  int n = q.Gather(iov, 64, /*freeze=*/true);
  ASSERT_EQ(n, 1);
  const char* base = static_cast<const char*>(iov[0].iov_base);
  std::string before(base, iov[0].iov_len);
  for (int i = 0; i < 1000; ++i) q.Append("+more replies that would grow the run\r\n");
  EXPECT_EQ(std::string(base, iov[0].iov_len), before);  // still there, unchanged
  EXPECT_EQ(before, "+first\r\n");
  q.Advance(iov[0].iov_len);  // the send completed
  n = q.Gather(iov, 64, true);
  ASSERT_GE(n, 1);
  EXPECT_EQ(std::string(static_cast<const char*>(iov[0].iov_base), 9), "+more rep");
  size_t total = 0;
  for (int i = 0; i < n; ++i) total += iov[i].iov_len;
  EXPECT_EQ(total, q.unsent());
}

}  // namespace
}  // namespace omnibus
