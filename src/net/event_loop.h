#pragma once
// EventLoop: one epoll instance driven by one thread (a worker, or the
// acceptor). Other threads reach it only through post(), which queues a task
// and wakes the loop through an eventfd.
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include "net/owner_check.h"

namespace memkv::net {

class EventHandler {
 public:
  virtual ~EventHandler() = default;
  // epoll events for the handler's fd, or 0 when resumed via schedule().
  virtual void onEvent(uint32_t events) = 0;
};

class EventLoop final {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Runs until stop(); binds the owner to the calling thread.
  void run();
  // Thread-safe.
  void stop();
  // Thread-safe: runs task on the loop thread soon. For control traffic
  // (new connections, shutdown) and the completions of would-block commands
  // (one per such command, which already cost a pool task); never per
  // ordinary request. Takes a lock and allocates the std::function.
  void post(std::function<void()> task);

  // Owner thread only.
  bool add(int fd, uint32_t events, EventHandler* handler);
  void remove(int fd);
  // Calls handler->onEvent(0) before the loop next waits (work left over
  // from a budgeted wake-up). Each handler is queued at most once at a time
  // by its own bookkeeping.
  void schedule(EventHandler* handler);
  // Called every tick_ms on the loop thread (timers, pool trimming).
  void setTick(int tick_ms, std::function<void()> tick);

  // Called once per iteration after every event and scheduled handler ran:
  // the one place closed connections are destroyed.
  void setAfterDispatch(std::function<void()> fn) { after_dispatch_ = std::move(fn); }

  const OwnerThread& owner() const { return owner_; }
  // Milliseconds of a monotonic clock, read once per loop iteration (cheap to
  // ask per write). Owner thread.
  int64_t nowMs() const { return now_ms_; }

 private:
  void runPosted();

  int epoll_fd_;
  int wake_fd_;
  bool stopping_ = false;
  std::mutex mutex_;
  std::vector<std::function<void()>> posted_;  // guarded by mutex_
  bool stop_requested_ = false;                // guarded by mutex_
  std::vector<EventHandler*> scheduled_;
  int tick_ms_ = 1000;
  std::function<void()> tick_;
  std::function<void()> after_dispatch_;
  OwnerThread owner_;
  int64_t now_ms_ = 0;
};

}  // namespace memkv::net
