#include "net/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <system_error>

#include "common/clock.h"

namespace memkv::net {

namespace {
constexpr int kMaxEvents = 256;
}  // namespace

EventLoop::EventLoop()
    : epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)),
      wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    throw std::system_error(errno, std::generic_category(), "epoll/eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // nullptr marks the wake-up eventfd
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
}

EventLoop::~EventLoop() {
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

void EventLoop::post(std::function<void()> task) {
  {
    std::lock_guard guard(mutex_);
    posted_.push_back(std::move(task));
  }
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

void EventLoop::stop() {
  {
    std::lock_guard guard(mutex_);
    stop_requested_ = true;
  }
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

bool EventLoop::add(int fd, uint32_t events, EventHandler* handler) {
  owner_.check("EventLoop::add");
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler;
  return ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0;
}

void EventLoop::remove(int fd) {
  owner_.check("EventLoop::remove");
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

void EventLoop::schedule(EventHandler* handler) {
  owner_.check("EventLoop::schedule");
  scheduled_.push_back(handler);
}

void EventLoop::setTick(int tick_ms, std::function<void()> tick) {
  tick_ms_ = tick_ms;
  tick_ = std::move(tick);
}

void EventLoop::runPosted() {
  uint64_t drained;
  [[maybe_unused]] ssize_t n = ::read(wake_fd_, &drained, sizeof drained);
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard guard(mutex_);
    tasks.swap(posted_);
    if (stop_requested_) stopping_ = true;
  }
  for (auto& task : tasks) task();
}

void EventLoop::run() {
  owner_.bindToCurrentThread();
  epoll_event events[kMaxEvents];
  now_ms_ = steadyNowMs();
  int64_t next_tick = now_ms_ + tick_ms_;
  std::vector<EventHandler*> resumed;
  while (!stopping_) {
    int timeout =
        scheduled_.empty() ? static_cast<int>(std::max<int64_t>(0, next_tick - steadyNowMs())) : 0;
    const int n = ::epoll_wait(epoll_fd_, events, kMaxEvents, timeout);
    now_ms_ = steadyNowMs();
    if (n < 0 && errno != EINTR)
      throw std::system_error(errno, std::generic_category(), "epoll_wait");
    for (int i = 0; i < n; ++i) {
      auto* handler = static_cast<EventHandler*>(events[i].data.ptr);
      if (handler == nullptr) {
        runPosted();
      } else {
        handler->onEvent(events[i].events);
      }
    }
    if (!scheduled_.empty()) {
      resumed.swap(scheduled_);
      for (EventHandler* h : resumed) h->onEvent(0);
      resumed.clear();
    }
    if (after_dispatch_) after_dispatch_();
    const int64_t now = steadyNowMs();
    now_ms_ = now;
    if (now >= next_tick) {
      next_tick = now + tick_ms_;
      if (tick_) tick_();
    }
  }
}

}  // namespace memkv::net
