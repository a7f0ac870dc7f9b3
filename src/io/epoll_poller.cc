// epoll backend (Linux). Its twin is kqueue_poller.cc; keep the two parallel.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "omnibus/io/poller.h"

namespace omnibus {
namespace {

class EpollPoller final : public Poller {
 public:
  EpollPoller(int epfd, int wakefd) : epfd_(epfd), wakefd_(wakefd) {}
  ~EpollPoller() override {
    close(wakefd_);
    close(epfd_);
  }

  const char* name() const override { return "epoll"; }

  bool Add(int fd, void* data) override {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = data;
    return epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) == 0;
  }

  void Remove(int fd) override { epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr); }

  int Wait(Event* events, int max_events, int timeout_ms) override {
    if (raw_.size() < static_cast<size_t>(max_events)) raw_.resize(static_cast<size_t>(max_events));
    int n = epoll_wait(epfd_, raw_.data(), max_events, timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; ++i) {
      const epoll_event& e = raw_[static_cast<size_t>(i)];
      events[i].data = e.data.ptr;
      events[i].readable = e.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR);
      events[i].writable = e.events & EPOLLOUT;
      events[i].hangup = e.events & (EPOLLHUP | EPOLLERR);
      events[i].peer_closed = e.events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR);
    }
    return n;
  }

  void Wake() override {
    // Edge-triggered: every write reports a new event, so the counter is never read back.
    uint64_t one = 1;
    ssize_t r = write(wakefd_, &one, sizeof(one));
    (void)r;
  }

  bool AddWaker() {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    ev.data.ptr = kWakeTag;
    return epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &ev) == 0;
  }

 private:
  int epfd_;
  int wakefd_;
  std::vector<epoll_event> raw_;
};

}  // namespace

std::unique_ptr<Poller> MakeEpollPoller(std::string* error) {
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) {
    *error = std::string("epoll_create1: ") + strerror(errno);
    return nullptr;
  }
  int wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wakefd < 0) {
    *error = std::string("eventfd: ") + strerror(errno);
    close(epfd);
    return nullptr;
  }
  auto poller = std::make_unique<EpollPoller>(epfd, wakefd);
  if (!poller->AddWaker()) {
    *error = std::string("epoll_ctl(eventfd): ") + strerror(errno);
    return nullptr;
  }
  return poller;
}

}  // namespace omnibus
