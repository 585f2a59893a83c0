#pragma once
// ExecutorPool: a fixed set of background threads for work that must not run
// on a worker's event loop (range scans, expensive STAT groups, snapshots).
// Tasks never touch a connection: they hand output over through the
// connection's Inbox and completions through the owner loop's post()
// (docs/architecture.md invariant 2).
//
// Two priorities: a high task runs before any waiting low one. A task can be
// cancelled through its token while it waits (it is then dropped unrun); a
// running task checks its token itself where it can stop. shutdown() drops
// what is still queued and joins the threads.
//
// A task that throws std::bad_alloc (a snapshot's vector under memory
// pressure) is counted in tasksFailed() and logged, and its thread goes on
// with the next task: an allocation failure must not end the process
// (docs/architecture.md invariant 8). What the task did not finish stays
// unfinished; a task that must report back (a parked session) owns catching
// its own failure.
//
// Written here rather than taken from a library: it is twenty lines of
// queue around std::thread, and the server's tasks need exactly these two
// properties (priorities, cancel-before-run) and nothing a larger pool brings.
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace memkv::engine {

class CancelToken final {
 public:
  void cancel() { cancelled_.store(true, std::memory_order_release); }
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }

 private:
  std::atomic<bool> cancelled_{false};
};

enum class TaskPriority : uint8_t { kHigh, kLow };

class ExecutorPool final {
 public:
  explicit ExecutorPool(size_t threads);
  ~ExecutorPool();
  ExecutorPool(const ExecutorPool&) = delete;
  ExecutorPool& operator=(const ExecutorPool&) = delete;

  // Any thread. false (and the task dropped) once shut down. A task whose
  // token is cancelled before it starts is dropped unrun.
  bool submit(TaskPriority priority, std::function<void()> task,
              std::shared_ptr<const CancelToken> token = nullptr);
  // Drops queued tasks, waits for running ones, joins. Idempotent.
  void shutdown();

  size_t threads() const { return threads_.size(); }
  uint64_t tasksRun() const { return tasks_run_.load(std::memory_order_relaxed); }
  uint64_t tasksCancelled() const { return tasks_cancelled_.load(std::memory_order_relaxed); }
  // Tasks that ended with std::bad_alloc (not counted in tasksRun()).
  uint64_t tasksFailed() const { return tasks_failed_.load(std::memory_order_relaxed); }
  size_t queued() const;

 private:
  struct Task {
    std::function<void()> fn;
    std::shared_ptr<const CancelToken> token;
  };
  void run();

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Task> high_;  // guarded by mutex_
  std::deque<Task> low_;   // guarded by mutex_
  bool stopping_ = false;  // guarded by mutex_
  std::vector<std::thread> threads_;
  std::atomic<uint64_t> tasks_run_{0};
  std::atomic<uint64_t> tasks_cancelled_{0};
  std::atomic<uint64_t> tasks_failed_{0};
};

}  // namespace memkv::engine
