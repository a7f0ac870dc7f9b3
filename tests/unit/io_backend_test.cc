// The I/O backends' operations (io/io_backend.h), each backend through the same tests:
// accept, receive (small, big, end of stream), send (big, to a slow reader), wake-ups, and a
// close while a send is pending.
#include "omnibus/io/io_backend.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "omnibus/io/socket.h"

namespace omnibus {
namespace {

using Kind = IoBackend::Event::Kind;

// Writes all of `bytes` to a blocking socket (a client's side).
void WriteAll(int fd, const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = write(fd, bytes.data() + off, bytes.size() - off);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

class IoBackendTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    IoBackendOptions options;
    options.backend = GetParam();
    std::string error, fallback;
    io_ = MakeIoBackend(options, &error, &fallback);
    ASSERT_NE(io_, nullptr) << error;
    ASSERT_EQ(fallback, "") << "this machine's kernel has io_uring (DESIGN §7)";
    ASSERT_EQ(std::string(io_->name()), GetParam());
    std::string err;
    listen_fd_ = ListenTcp("127.0.0.1", 0, 16, &err);
    ASSERT_GE(listen_fd_, 0) << err;
    ASSERT_TRUE(io_->Listen(listen_fd_, &listen_tag_));
  }
  void TearDown() override {
    io_.reset();
    if (listen_fd_ >= 0) close(listen_fd_);
    if (client_ >= 0) close(client_);
  }

  // Waits up to `timeout` for an event of `kind` (for `data`, if given); the others seen
  // meanwhile are kept in pending_.
  std::optional<IoBackend::Event> TryWaitFor(Kind kind, const void* data,
                                             std::chrono::milliseconds timeout) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (true) {
      for (size_t i = 0; i < pending_.size(); ++i) {
        if (pending_[i].kind == kind && (data == nullptr || pending_[i].data == data)) {
          IoBackend::Event e = pending_[i];
          pending_.erase(pending_.begin() + static_cast<ptrdiff_t>(i));
          return e;
        }
      }
      if (std::chrono::steady_clock::now() >= until) return std::nullopt;
      IoBackend::Event events[64];
      int n = io_->Wait(events, 64, 50);
      EXPECT_GE(n, 0);
      for (int i = 0; i < n; ++i) pending_.push_back(events[i]);
    }
  }
  IoBackend::Event WaitFor(Kind kind, const void* data = nullptr) {
    std::optional<IoBackend::Event> e = TryWaitFor(kind, data, std::chrono::seconds(10));
    if (e) return *e;
    ADD_FAILURE() << "no event of kind " << static_cast<int>(kind);
    return IoBackend::Event{Kind::kWake, nullptr, -1};
  }

  // Connects a blocking client and accepts it on the backend: returns the server's fd.
  int Connect(void* tag = nullptr) {
    if (tag == nullptr) tag = &conn_tag_;
    client_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(BoundPort(listen_fd_)));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(client_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    IoBackend::Event e = WaitFor(Kind::kAccepted);
    EXPECT_EQ(e.data, &listen_tag_);
    EXPECT_GE(e.result, 0);
    int fd = static_cast<int>(e.result);
    EXPECT_TRUE(io_->Open(fd, tag));
    return fd;
  }

  // Reads what the connection receives until `want` bytes or the end of the stream.
  std::string ReadAll(int fd, size_t want, bool* eof) {
    std::string got;
    *eof = false;
    std::vector<char> buf(64 * 1024);
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (got.size() < want && std::chrono::steady_clock::now() < until) {
      ssize_t n = io_->Read(fd, buf.data(), buf.size());
      if (n > 0) {
        got.append(buf.data(), static_cast<size_t>(n));
        continue;
      }
      if (n == 0) {
        *eof = true;
        break;
      }
      EXPECT_EQ(n, -EAGAIN);
      IoBackend::Event e = WaitFor(Kind::kReadable);
      EXPECT_EQ(e.data, &conn_tag_);
    }
    return got;
  }

  // Sends `bytes` whole, as the reactor does: gather, send, wait for a pending send or a
  // full socket.
  // `tag`: what the connection was opened with (conn_tag_ by default).
  void SendAll(int fd, const std::string& bytes, void* tag = nullptr) {
    if (tag == nullptr) tag = &conn_tag_;
    size_t off = 0;
    while (off < bytes.size()) {
      iovec iov{const_cast<char*>(bytes.data() + off), bytes.size() - off};
      ssize_t n = io_->Send(fd, tag, &iov, 1);
      if (n == IoBackend::kPending) {
        n = WaitFor(Kind::kSent, tag).result;
      } else if (n == -EAGAIN) {
        WaitFor(Kind::kWritable, tag);
        continue;
      }
      ASSERT_GT(n, 0);
      off += static_cast<size_t>(n);
    }
  }

  std::unique_ptr<IoBackend> io_;
  int listen_fd_ = -1;
  int client_ = -1;
  int listen_tag_ = 0;
  int conn_tag_ = 0;
  int slow_tag_ = 0;  // a second connection's (IdleReleaseKeepsTheSendsStillInTheKernel)
  std::vector<IoBackend::Event> pending_;
};

TEST_P(IoBackendTest, AcceptsReceivesAndSeesTheEndOfTheStream) {
  int fd = Connect();
  ASSERT_EQ(write(client_, "PING\r\n", 6), 6);
  bool eof = false;
  EXPECT_EQ(ReadAll(fd, 6, &eof), "PING\r\n");
  shutdown(client_, SHUT_WR);
  EXPECT_EQ(ReadAll(fd, 1, &eof), "");
  EXPECT_TRUE(eof);
  io_->Close(fd);
}

TEST_P(IoBackendTest, BigTransfersBothWaysArriveWholeAndInOrder) {
  int fd = Connect();
  std::string big(3 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
  // In: more than the receive buffers and a connection's share of them, written while the
  // backend reads (back-pressure and re-arming in between).
  std::thread writer([&] { WriteAll(client_, big); });
  bool eof = false;
  std::string got = ReadAll(fd, big.size(), &eof);
  writer.join();
  EXPECT_EQ(got.size(), big.size());
  EXPECT_TRUE(got == big);
  // Out: a client that reads slowly, so sends come back partial or pending for a while.
  std::string back;
  std::thread reader([&] {
    std::vector<char> buf(8192);
    while (back.size() < big.size()) {
      ssize_t n = read(client_, buf.data(), buf.size());
      if (n <= 0) break;
      back.append(buf.data(), static_cast<size_t>(n));
    }
  });
  SendAll(fd, big);
  reader.join();
  EXPECT_TRUE(back == big);
  io_->Close(fd);
}

TEST_P(IoBackendTest, ConnectionsHeldBackDoNotStopOthers) {
  // One connection whose bytes are not read (its reactor side is paused) must not keep a
  // second one from being received.
  int first = Connect();
  int first_client = client_;
  client_ = -1;
  std::string flood(256 * 1024, 'x');
  std::thread writer([&] { WriteAll(first_client, flood); });
  int second = Connect();
  ASSERT_EQ(write(client_, "hello", 5), 5);
  bool eof = false;
  EXPECT_EQ(ReadAll(second, 5, &eof), "hello");
  std::string got = ReadAll(first, flood.size(), &eof);  // now read the first one whole
  writer.join();
  EXPECT_EQ(got.size(), flood.size());
  io_->Close(first);
  io_->Close(second);
  close(first_client);
}

TEST_P(IoBackendTest, WakeFromAnotherThread) {
  std::thread t([&] { io_->Wake(); });
  IoBackend::Event e = WaitFor(Kind::kWake);
  EXPECT_EQ(e.kind, Kind::kWake);
  t.join();
}

TEST_P(IoBackendTest, ClosingWithASendPendingStillReportsIt) {
  int fd = Connect();
  int small = 4096;
  setsockopt(client_, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  std::string big(8 << 20, 'q');  // more than the kernel buffers: the client never reads
  iovec iov{big.data(), big.size()};
  ssize_t n = io_->Send(fd, &conn_tag_, &iov, 1);
  if (n != IoBackend::kPending) {
    EXPECT_GT(n, 0);  // a readiness backend sent what fit at once
    EXPECT_LT(static_cast<size_t>(n), big.size());
    io_->Close(fd);
    return;
  }
  io_->Close(fd);
  IoBackend::Event e = WaitFor(Kind::kSent);  // the bytes must outlive this event
  EXPECT_EQ(e.data, &conn_tag_);
  EXPECT_LT(e.result, static_cast<int64_t>(big.size()));
  // The client sees the connection end.
  std::vector<char> buf(1 << 16);
  ssize_t r;
  while ((r = read(client_, buf.data(), buf.size())) > 0) {
  }
  EXPECT_LE(r, 0);
}

TEST_P(IoBackendTest, IdleReleaseKeepsTheSendsStillInTheKernel) {
  // The idle pass frees the send operations a burst made, but not one the kernel still
  // holds: its completion must arrive intact (ASan sees a freed one), and sends go on after.
  int slow = Connect(&slow_tag_);  // its client does not read yet
  int slow_client = client_;
  client_ = -1;
  int quick = Connect();
  std::string big(64 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i / 4096 % 26);
  // Sends to the slow connection come back short until its socket is full; then one stays
  // in the kernel (io_uring) or is refused (readiness).
  size_t off = 0;
  bool in_kernel = false;
  while (!in_kernel && off < big.size()) {
    iovec iov{big.data() + off, big.size() - off};
    ssize_t n = io_->Send(slow, &slow_tag_, &iov, 1);
    if (n == -EAGAIN) break;
    if (n == IoBackend::kPending) {
      auto e = TryWaitFor(Kind::kSent, &slow_tag_, std::chrono::milliseconds(300));
      if (!e) {
        in_kernel = true;
        break;
      }
      n = e->result;
    }
    ASSERT_GT(n, 0);
    off += static_cast<size_t>(n);
  }
  ASSERT_LT(off, big.size()) << "the socket took 64 MB without the client reading";
  SendAll(quick, "done");  // its operation completes: one free, one in the kernel
  char buf4[4];
  ASSERT_EQ(read(client_, buf4, 4), 4);
  io_->ReleaseIdleMemory();
  std::string back;
  std::thread reader([&] {
    std::vector<char> buf(1 << 16);
    while (back.size() < big.size()) {
      ssize_t r = read(slow_client, buf.data(), buf.size());
      if (r <= 0) break;
      back.append(buf.data(), static_cast<size_t>(r));
    }
  });
  if (in_kernel) {
    int64_t n = WaitFor(Kind::kSent, &slow_tag_).result;
    EXPECT_GT(n, 0);
    if (n > 0) off += static_cast<size_t>(n);
  }
  SendAll(slow, big.substr(off), &slow_tag_);  // the rest
  reader.join();
  EXPECT_EQ(back.size(), big.size());
  EXPECT_TRUE(back == big);
  SendAll(quick, "more");  // the pool makes operations again after the release
  ASSERT_EQ(read(client_, buf4, 4), 4);
  EXPECT_EQ(std::string(buf4, 4), "more");
  io_->Close(slow);
  io_->Close(quick);
  close(slow_client);
}

// The server may be set up on one thread and run on another (the fuzz targets do): the
// backend serves from the thread that first waits.
TEST_P(IoBackendTest, ServesFromAnotherThreadThanTheOneThatMadeIt) {
  std::thread other([&] {
    int fd = Connect();
    ASSERT_EQ(write(client_, "hi", 2), 2);
    bool eof = false;
    EXPECT_EQ(ReadAll(fd, 2, &eof), "hi");
    std::string reply = "+OK\r\n";
    SendAll(fd, reply);
    char buf[8];
    EXPECT_EQ(read(client_, buf, sizeof(buf)), 5);
    io_->Close(fd);
  });
  other.join();
}

INSTANTIATE_TEST_SUITE_P(Backends, IoBackendTest, ::testing::Values("epoll", "uring"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace omnibus
