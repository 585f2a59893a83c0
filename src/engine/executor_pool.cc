#include "engine/executor_pool.h"

#include <spdlog/spdlog.h>

#include <new>

namespace memkv::engine {

ExecutorPool::ExecutorPool(size_t threads) {
  threads_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

ExecutorPool::~ExecutorPool() {
  shutdown();
}

bool ExecutorPool::submit(TaskPriority priority, std::function<void()> task,
                          std::shared_ptr<const CancelToken> token) {
  {
    std::lock_guard guard(mutex_);
    if (stopping_) return false;
    (priority == TaskPriority::kHigh ? high_ : low_).push_back({std::move(task), std::move(token)});
  }
  wake_.notify_one();
  return true;
}

void ExecutorPool::shutdown() {
  std::deque<Task> dropped_high, dropped_low;
  {
    std::lock_guard guard(mutex_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
    dropped_high.swap(high_);
    dropped_low.swap(low_);
  }
  wake_.notify_all();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  // The dropped tasks' captures (connections' inboxes, item references) are
  // released here, outside the lock.
}

size_t ExecutorPool::queued() const {
  std::lock_guard guard(mutex_);
  return high_.size() + low_.size();
}

void ExecutorPool::run() {
  for (;;) {
    Task task;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !high_.empty() || !low_.empty(); });
      if (stopping_) return;
      std::deque<Task>& queue = high_.empty() ? low_ : high_;
      task = std::move(queue.front());
      queue.pop_front();
    }
    if (task.token && task.token->cancelled()) {
      tasks_cancelled_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    try {
      task.fn();
    } catch (const std::bad_alloc&) {
      tasks_failed_.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("executor task failed: out of memory");
      continue;
    }
    tasks_run_.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace memkv::engine
