// io_uring backend (Linux, Debian's liburing 2.3; DESIGN §7). What it keeps in the kernel:
// - one multishot accept per listener;
// - one multishot receive per connection, into buffers the kernel picks from a provided
//   buffer ring when bytes arrive, so an idle connection holds no read buffer;
// - the shards' wake-up: a read of the eventfd, re-armed after each wake;
// - sends, one sendmsg of a connection's output chunks at a time.
// Everything queued during a loop iteration goes to the kernel in the one io_uring_enter that
// also waits for the next completions (Wait).
//
// Received bytes stay in their ring buffer until the reactor Read()s them into the
// connection's input buffer; the buffer then goes back on a LIFO free stack, and the ring is
// refilled from that stack before each enter, only as far as the last iteration needed. So
// the buffers in use are the recently used ones: memory follows the number of connections
// active at once, not the number connected.
#include <liburing.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "omnibus/base/logging.h"
#include "omnibus/base/str_cat.h"
#include "src/io/readiness_backend.h"

namespace omnibus {
namespace {

constexpr unsigned kSqEntries = 4096;
constexpr unsigned kCqEntries = 16384;
constexpr unsigned kBufSize = 4096;       // one receive's most bytes
constexpr unsigned kBufCount = 4096;      // 16 MB of address space, touched as used
constexpr unsigned kRingEntries = 4096;   // power of two, ≥ kBufCount
constexpr unsigned kMinInRing = 16;       // buffers kept in the ring at the least
constexpr unsigned kMaxInRing = 128;      // and at the most: 512 KB the kernel may write into
constexpr unsigned kMaxHeldPerConn = 16;  // then its receive is cancelled (back-pressure)
constexpr uint16_t kBufGroup = 0;
constexpr uint16_t kNoBuf = 0xffff;

// user_data: the operation in the low 3 bits; for accept and receive the fd (bits 3..34) and
// the fd's generation (bits 35..63), so a completion of a closed connection is recognised
// even when its fd number was reused; for a send, its SendOp's address.
enum Op : uint64_t { kOpWake = 1, kOpAccept = 2, kOpRecv = 3, kOpSend = 4, kOpIgnore = 5 };
constexpr uint64_t kOpMask = 7;

constexpr uint32_t kGenMask = 0x1fffffff;  // the generation's 29 bits

uint64_t FdData(Op op, int fd, uint32_t gen) {
  return op | (static_cast<uint64_t>(static_cast<uint32_t>(fd)) << 3) |
         (static_cast<uint64_t>(gen & kGenMask) << 35);
}
int FdOf(uint64_t d) { return static_cast<int>(static_cast<uint32_t>(d >> 3)); }
uint32_t GenOf(uint64_t d) { return static_cast<uint32_t>(d >> 35); }

bool OutOfResources(int err) {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

class UringBackend final : public IoBackend {
 public:
  ~UringBackend() override {
    if (ring_ready_) io_uring_queue_exit(&ring_);
    if (wakefd_ >= 0) close(wakefd_);
    if (buf_ring_ != nullptr) munmap(buf_ring_, RingBytes());
    if (bufs_ != nullptr) munmap(bufs_, size_t{kBufSize} * kBufCount);
  }

  const char* name() const override { return "uring"; }
  bool sends_complete_later() const override { return true; }

  // Sets the ring up; false with *reason when the kernel lacks something it needs.
  bool Init(const IoBackendOptions& options, std::string* reason) {
    io_uring_params p{};
    p.cq_entries = kCqEntries;
    // Preferred: completions' kernel-side work runs only when we enter (DEFER_TASKRUN, 6.1),
    // so a busy reactor is not interrupted for it; else at the next system call (COOP).
    const unsigned base = IORING_SETUP_CQSIZE;
    std::vector<unsigned> tries;
    if (options.uring_sqpoll) {
      tries = {base | IORING_SETUP_SQPOLL};
      p.sq_thread_idle = 50;  // ms the kernel thread spins after the last submission
    } else {
      // Created disabled: the single issuer is the thread that enables it, the reactor's
      // thread at its first Wait (the server may be set up on another thread than it runs).
      tries = {
          base | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED,
          base | IORING_SETUP_COOP_TASKRUN, base};
    }
    int r = -EINVAL;
    for (unsigned flags : tries) {
      io_uring_params q = p;
      q.flags = flags;
      r = io_uring_queue_init_params(kSqEntries, &ring_, &q);
      if (r == 0) {
        p = q;
        break;
      }
      if (r != -EINVAL) break;
    }
    if (r < 0) {
      *reason = StrCat("io_uring_setup failed: ", strerror(-r));
      return false;
    }
    ring_ready_ = true;
    disabled_ = (p.flags & IORING_SETUP_R_DISABLED) != 0;
    const unsigned needed = IORING_FEAT_NODROP | IORING_FEAT_FAST_POLL | IORING_FEAT_EXT_ARG;
    if ((p.features & needed) != needed) {
      *reason = "the kernel's io_uring lacks NODROP, FAST_POLL or EXT_ARG (5.11+)";
      return false;
    }
    io_uring_probe* probe = io_uring_get_probe_ring(&ring_);
    if (probe == nullptr) {
      *reason = "io_uring cannot be probed (5.6+)";
      return false;
    }
    // SEND_ZC (6.0) stands for the multishot receive of the same release, which no probe
    // shows.
    bool ops = true;
    for (int op : {IORING_OP_ACCEPT, IORING_OP_RECV, IORING_OP_SENDMSG, IORING_OP_READ,
                   IORING_OP_ASYNC_CANCEL, IORING_OP_SEND_ZC}) {
      ops &= io_uring_opcode_supported(probe, op) != 0;
    }
    io_uring_free_probe(probe);
    if (!ops) {
      *reason = "the kernel lacks io_uring's multishot receive (6.0+)";
      return false;
    }
    void* ring_mem =
        mmap(nullptr, RingBytes(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void* bufs = mmap(nullptr, size_t{kBufSize} * kBufCount, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (ring_mem == MAP_FAILED || bufs == MAP_FAILED) {
      if (ring_mem != MAP_FAILED) munmap(ring_mem, RingBytes());
      if (bufs != MAP_FAILED) munmap(bufs, size_t{kBufSize} * kBufCount);
      *reason = StrCat("mmap for the receive buffers: ", strerror(errno));
      return false;
    }
    buf_ring_ = static_cast<io_uring_buf_ring*>(ring_mem);
    bufs_ = static_cast<char*>(bufs);
    io_uring_buf_ring_init(buf_ring_);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uint64_t>(buf_ring_);
    reg.ring_entries = kRingEntries;
    reg.bgid = kBufGroup;
    r = io_uring_register_buf_ring(&ring_, &reg, 0);
    if (r < 0) {
      *reason = StrCat("io_uring provided buffer rings (5.19+): ", strerror(-r));
      return false;
    }
    buf_next_.assign(kBufCount, kNoBuf);
    buf_len_.assign(kBufCount, 0);
    free_.reserve(kBufCount);
    for (unsigned i = kBufCount; i-- > 0;) free_.push_back(static_cast<uint16_t>(i));
    wakefd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wakefd_ < 0) {
      *reason = StrCat("eventfd: ", strerror(errno));
      return false;
    }
    ArmWake();
    return true;
  }

  bool Listen(int fd, void* data) override {
    FdState& s = State(fd);
    s = FdState{};
    s.data = data;
    s.gen = NextGen();
    s.listener = true;
    ArmAccept(fd);
    return true;
  }

  void ResumeAccept(int fd) override {
    FdState& s = State(fd);
    if (s.listener && !s.armed) ArmAccept(fd);
  }

  bool Open(int fd, void* data) override {
    FdState& s = State(fd);
    s = FdState{};
    s.data = data;
    s.gen = NextGen();
    ArmRecv(fd);
    return true;
  }

  ssize_t Read(int fd, char* dst, size_t max) override {
    FdState& s = State(fd);
    size_t n = 0;
    while (n < max && s.head != kNoBuf) {
      uint16_t b = s.head;
      size_t left = buf_len_[b] - s.head_off;
      size_t take = std::min(left, max - n);
      memcpy(dst + n, bufs_ + size_t{b} * kBufSize + s.head_off, take);
      n += take;
      if (take < left) {
        s.head_off += static_cast<uint32_t>(take);
        break;
      }
      s.head = buf_next_[b];
      if (s.head == kNoBuf) s.tail = kNoBuf;
      s.head_off = 0;
      --s.held;
      --held_;
      free_.push_back(b);
    }
    MaybeRearm(fd, s);  // a receive stopped for back-pressure starts again
    if (n > 0) return static_cast<ssize_t>(n);
    if (s.error != 0) return -s.error;
    if (s.eof) return 0;
    return -EAGAIN;
  }

  ssize_t Send(int fd, void* data, const iovec* iov, int iovcnt) override {
    SendOp* op;
    if (free_sends_.empty()) {
      op = sends_.emplace_back(std::make_unique<SendOp>()).get();
    } else {
      op = free_sends_.back();
      free_sends_.pop_back();
    }
    op->data = data;
    iovcnt = std::min(iovcnt, kMaxIov);
    std::copy(iov, iov + iovcnt, op->iov);
    op->msg = msghdr{};
    op->msg.msg_iov = op->iov;
    op->msg.msg_iovlen = static_cast<size_t>(iovcnt);
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_sendmsg(sqe, fd, &op->msg, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, reinterpret_cast<uint64_t>(op) | kOpSend);
    return kPending;
  }

  void Close(int fd) override {
    FdState& s = State(fd);
    while (s.head != kNoBuf) {
      uint16_t b = s.head;
      s.head = buf_next_[b];
      free_.push_back(b);
    }
    held_ -= s.held;
    s = FdState{};  // its completions still to come carry an old generation
    // The armed accept or receive holds the socket open until it ends: end it now, so the
    // peer sees the close (a pending send fails too and reports it).
    shutdown(fd, SHUT_RDWR);
    close(fd);
  }

  int Wait(Event* events, int max_events, int timeout_ms) override {
    if (disabled_) {
      // liburing 2.3 declares io_uring_enable_rings but does not export it.
      if (syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0) <
          0) {
        OMNIBUS_LOG(kWarning, "io_uring: enabling the ring: ", strerror(errno));
        return -1;
      }
      disabled_ = false;
    }
    RefillRing();
    RearmStarved();
    for (int fd : reported_) State(fd).event = 0;
    reported_.clear();
    int r;
    if (timeout_ms == 0 || io_uring_cq_ready(&ring_) > 0) {
      r = io_uring_submit_and_get_events(&ring_);
    } else {
      io_uring_cqe* cqe = nullptr;
      __kernel_timespec ts{};
      ts.tv_sec = timeout_ms / 1000;
      ts.tv_nsec = static_cast<long long>(timeout_ms % 1000) * 1000000;
      r = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, timeout_ms < 0 ? nullptr : &ts,
                                           nullptr);
    }
    if (r < 0 && r != -ETIME && r != -EINTR && r != -EBUSY) return -1;
    int n = 0;
    unsigned seen = 0;
    received_last_ = 0;
    io_uring_cqe* cqe;
    unsigned head;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      if (n + 1 >= max_events) break;  // the rest stays for the next Wait
      ++seen;
      Complete(cqe, events, &n);
    }
    io_uring_cq_advance(&ring_, seen);
    return n;
  }

  void ReleaseIdleMemory() override {
    // Free buffers are the kernel's no more: the ones not used since the last pass go back
    // to the OS (a burst of receives touched them); reuse finds them zeroed.
    for (size_t i = cold_; i < free_.size(); ++i) {
      madvise(bufs_ + size_t{free_[i]} * kBufSize, kBufSize, MADV_DONTNEED);
    }
    cold_ = free_.size();
    // So do the send operations a burst of flushes made (one per connection sending at once,
    // 1 KB each): those not in the kernel now are freed.
    if (!free_sends_.empty()) {
      std::sort(free_sends_.begin(), free_sends_.end());
      std::erase_if(sends_, [this](const std::unique_ptr<SendOp>& op) {
        return std::binary_search(free_sends_.begin(), free_sends_.end(), op.get());
      });
      free_sends_.clear();
      free_sends_.shrink_to_fit();
      sends_.shrink_to_fit();
    }
  }

  size_t buffered_bytes() const override { return held_ * size_t{kBufSize}; }

  void Wake() override {
    uint64_t one = 1;
    ssize_t r = write(wakefd_, &one, sizeof(one));
    (void)r;
  }

 private:
  struct FdState {
    void* data = nullptr;
    uint32_t gen = 0;
    uint32_t head_off = 0;   // bytes of `head` already read
    uint16_t head = kNoBuf;  // received buffers not yet read, linked through buf_next_
    uint16_t tail = kNoBuf;
    uint16_t held = 0;
    uint16_t event = 0;      // 1 + the index of its kReadable event in this Wait's array, or 0
    uint8_t error = 0;       // errno of a failed receive
    bool armed : 1 = false;  // its multishot accept or receive is in the kernel
    bool cancelling : 1 = false;
    bool listener : 1 = false;
    bool eof : 1 = false;
    bool starved : 1 = false;  // its receive stopped for lack of buffers: in starved_
  };
  // 32 bytes per descriptor: 10,000 idle connections cost 320 KB here.
  static_assert(sizeof(FdState) <= 32);
  struct SendOp {
    msghdr msg;
    iovec iov[kMaxIov];
    void* data;
  };

  static size_t RingBytes() { return sizeof(io_uring_buf) * kRingEntries; }

  // Never 0 (a closed descriptor's), and within what user_data carries.
  uint32_t NextGen() {
    gen_ = (gen_ + 1) & kGenMask;
    if (gen_ == 0) gen_ = 1;
    return gen_;
  }

  FdState& State(int fd) {
    if (static_cast<size_t>(fd) >= fds_.size()) fds_.resize(static_cast<size_t>(fd) + 64);
    return fds_[static_cast<size_t>(fd)];
  }

  io_uring_sqe* Sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    while (sqe == nullptr) {  // the submission queue is full: hand it over now
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }

  void ArmWake() {
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_read(sqe, wakefd_, &wake_buf_, sizeof(wake_buf_), 0);
    io_uring_sqe_set_data64(sqe, kOpWake);
  }

  void ArmAccept(int fd) {
    FdState& s = State(fd);
    s.armed = true;
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_multishot_accept(sqe, fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, FdData(kOpAccept, fd, s.gen));
  }

  // A connection's receive that ended (cancelled for back-pressure, or ended by the kernel)
  // starts again once it holds less than its share; one that lacked buffers waits in
  // starved_ for the ring's refill.
  void MaybeRearm(int fd, const FdState& s) {
    if (!s.armed && !s.starved && !s.eof && s.error == 0 && s.held < kMaxHeldPerConn) {
      ArmRecv(fd);
    }
  }

  void ArmRecv(int fd) {
    FdState& s = State(fd);
    s.armed = true;
    s.cancelling = false;
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = kBufGroup;
    io_uring_sqe_set_data64(sqe, FdData(kOpRecv, fd, s.gen));
  }

  // Tops the ring up from the free stack: as many buffers as the last iteration's receives
  // took twice over (at least kMinInRing), so a burst's next iteration has room.
  void RefillRing() {
    unsigned want = std::clamp(2 * received_last_, kMinInRing, kMaxInRing);
    int added = 0;
    const int mask = io_uring_buf_ring_mask(kRingEntries);
    while (in_ring_ < want && !free_.empty()) {
      uint16_t b = free_.back();
      free_.pop_back();
      cold_ = std::min(cold_, free_.size());
      io_uring_buf_ring_add(buf_ring_, bufs_ + size_t{b} * kBufSize, kBufSize, b, mask, added);
      ++added;
      ++in_ring_;
    }
    if (added > 0) io_uring_buf_ring_advance(buf_ring_, added);
  }

  void RearmStarved() {
    if (starved_.empty() || in_ring_ == 0) return;
    std::vector<std::pair<int, uint32_t>> starved;
    starved.swap(starved_);
    for (auto [fd, gen] : starved) {
      FdState& s = State(fd);
      if (s.gen != gen || !s.starved) continue;
      s.starved = false;
      MaybeRearm(fd, s);
    }
  }

  void Complete(const io_uring_cqe* cqe, Event* events, int* n) {
    const uint64_t d = io_uring_cqe_get_data64(cqe);
    const bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    switch (static_cast<Op>(d & kOpMask)) {
      case kOpWake:
        ArmWake();
        events[(*n)++] = Event{Event::Kind::kWake, nullptr};
        return;
      case kOpSend: {
        auto* op = reinterpret_cast<SendOp*>(d & ~kOpMask);
        events[(*n)++] = Event{Event::Kind::kSent, op->data, cqe->res};
        free_sends_.push_back(op);
        return;
      }
      case kOpAccept: {
        FdState& s = State(FdOf(d));
        bool current = s.listener && s.gen == GenOf(d);
        if (!current) {
          if (cqe->res >= 0) close(cqe->res);  // accepted as its listener closed
          return;
        }
        if (!more) s.armed = false;
        if (cqe->res != -ECANCELED) {
          events[(*n)++] = Event{Event::Kind::kAccepted, s.data, cqe->res};
        }
        // A multishot accept that ended for any other reason than lack of resources (which
        // waits for ResumeAccept) starts again.
        if (!s.armed && !(cqe->res < 0 && OutOfResources(-cqe->res))) ArmAccept(FdOf(d));
        return;
      }
      case kOpRecv:
        Received(cqe, d, more, events, n);
        return;
      default:
        return;
    }
  }

  void Received(const io_uring_cqe* cqe, uint64_t d, bool more, Event* events, int* n) {
    const int fd = FdOf(d);
    FdState& s = State(fd);
    uint16_t b = kNoBuf;
    if ((cqe->flags & IORING_CQE_F_BUFFER) != 0) {
      b = static_cast<uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
      --in_ring_;
      ++received_last_;
    }
    if (s.gen != GenOf(d) || s.listener) {  // a closed connection's
      if (b != kNoBuf) free_.push_back(b);
      return;
    }
    if (!more) s.armed = false;
    const int res = cqe->res;
    if (res > 0 && b != kNoBuf) {
      buf_len_[b] = static_cast<uint32_t>(res);
      buf_next_[b] = kNoBuf;
      if (s.tail == kNoBuf) {
        s.head = b;
      } else {
        buf_next_[s.tail] = b;
      }
      s.tail = b;
      ++s.held;
      ++held_;
      if (s.held >= kMaxHeldPerConn && s.armed && !s.cancelling) {
        // The reactor is not reading this connection (its output is paused): stop
        // receiving, as a readiness backend would by not reading; Read re-arms.
        s.cancelling = true;
        io_uring_sqe* sqe = Sqe();
        io_uring_prep_cancel64(sqe, d, 0);
        io_uring_sqe_set_data64(sqe, kOpIgnore);
      }
    } else {
      if (b != kNoBuf) free_.push_back(b);
      if (res == 0) {
        s.eof = true;
      } else if (res == -ENOBUFS) {
        if (!s.starved) {
          s.starved = true;
          starved_.emplace_back(fd, s.gen);
        }
        return;
      } else if (res == -ECANCELED) {
        MaybeRearm(fd, s);
        return;
      } else if (res < 0) {
        s.error = static_cast<uint8_t>(std::min(-res, 255));
      }
    }
    MaybeRearm(fd, s);
    // One event per connection per Wait, which says whether the stream ended.
    if (s.event == 0) {
      s.event = static_cast<uint16_t>(*n + 1);
      reported_.push_back(fd);
      events[(*n)++] = Event{Event::Kind::kReadable, s.data};
    }
    Event& e = events[s.event - 1];
    e.peer_closed = s.eof || s.error != 0;
    e.hangup = s.error != 0;
  }

  io_uring ring_{};
  bool ring_ready_ = false;
  bool disabled_ = false;  // created disabled, enabled by the first Wait
  int wakefd_ = -1;
  uint64_t wake_buf_ = 0;
  io_uring_buf_ring* buf_ring_ = nullptr;
  char* bufs_ = nullptr;
  std::vector<uint16_t> buf_next_;  // per buffer: the next of its connection's list
  std::vector<uint32_t> buf_len_;   // per buffer: bytes received into it
  std::vector<uint16_t> free_;      // buffers neither in the ring nor held, most recent last
  size_t cold_ = 0;                 // free_[0..cold_) went back to the OS
  unsigned in_ring_ = 0;
  size_t held_ = 0;             // buffers received into and not yet read, all connections
  unsigned received_last_ = 0;  // buffers the last Wait's receives took
  std::vector<std::pair<int, uint32_t>> starved_;  // (fd, gen) whose receive lacked buffers
  std::vector<FdState> fds_;
  // Every SendOp made (a send still in the kernel at exit is freed with the backend), and those
  // not in use.
  std::vector<std::unique_ptr<SendOp>> sends_;
  std::vector<SendOp*> free_sends_;
  uint32_t gen_ = 0;
  std::vector<int> reported_;  // fds with a kReadable event in the last Wait's array
};

}  // namespace

std::unique_ptr<IoBackend> MakeUringBackend(const IoBackendOptions& options, std::string* reason) {
  auto backend = std::make_unique<UringBackend>();
  if (!backend->Init(options, reason)) return nullptr;
  return backend;
}

}  // namespace omnibus
