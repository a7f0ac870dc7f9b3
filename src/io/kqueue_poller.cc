// kqueue backend (macOS/BSD). Compiled only there: this machine (Linux) cannot build or test
// it, so it is kept small and line-for-line parallel to epoll_poller.cc.
#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__)
#include <sys/event.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "omnibus/io/poller.h"

namespace omnibus {
namespace {

class KqueuePoller final : public Poller {
 public:
  explicit KqueuePoller(int kq) : kq_(kq) {}
  ~KqueuePoller() override { close(kq_); }

  const char* name() const override { return "kqueue"; }

  bool Add(int fd, void* data) override {
    struct kevent ev[2];
    EV_SET(&ev[0], fd, EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, data);
    EV_SET(&ev[1], fd, EVFILT_WRITE, EV_ADD | EV_CLEAR, 0, 0, data);
    return kevent(kq_, ev, 2, nullptr, 0, nullptr) == 0;
  }

  void Remove(int fd) override {
    struct kevent ev[2];
    EV_SET(&ev[0], fd, EVFILT_READ, EV_DELETE, 0, 0, nullptr);
    EV_SET(&ev[1], fd, EVFILT_WRITE, EV_DELETE, 0, 0, nullptr);
    kevent(kq_, ev, 2, nullptr, 0, nullptr);
  }

  int Wait(Event* events, int max_events, int timeout_ms) override {
    if (raw_.size() < static_cast<size_t>(max_events)) raw_.resize(static_cast<size_t>(max_events));
    timespec ts{timeout_ms / 1000, static_cast<long>(timeout_ms % 1000) * 1'000'000};
    int n = kevent(kq_, nullptr, 0, raw_.data(), max_events, timeout_ms < 0 ? nullptr : &ts);
    if (n < 0) return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; ++i) {
      const struct kevent& e = raw_[static_cast<size_t>(i)];
      bool wake = e.filter == EVFILT_USER;
      events[i].data = wake ? kWakeTag : e.udata;
      events[i].readable = e.filter == EVFILT_READ;
      events[i].writable = e.filter == EVFILT_WRITE;
      events[i].hangup = (e.flags & (EV_EOF | EV_ERROR)) != 0 && e.filter == EVFILT_READ;
      events[i].peer_closed = events[i].hangup;
    }
    return n;
  }

  void Wake() override {
    struct kevent ev;
    EV_SET(&ev, 0, EVFILT_USER, 0, NOTE_TRIGGER, 0, nullptr);
    kevent(kq_, &ev, 1, nullptr, 0, nullptr);
  }

  bool AddWaker() {
    struct kevent ev;
    EV_SET(&ev, 0, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, nullptr);
    return kevent(kq_, &ev, 1, nullptr, 0, nullptr) == 0;
  }

 private:
  int kq_;
  std::vector<struct kevent> raw_;
};

}  // namespace

std::unique_ptr<Poller> MakeKqueuePoller(std::string* error) {
  int kq = kqueue();
  if (kq < 0) {
    *error = std::string("kqueue: ") + strerror(errno);
    return nullptr;
  }
  auto poller = std::make_unique<KqueuePoller>(kq);
  if (!poller->AddWaker()) {
    *error = std::string("kevent(EVFILT_USER): ") + strerror(errno);
    return nullptr;
  }
  return poller;
}

}  // namespace omnibus
#endif
