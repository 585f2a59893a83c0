// ExecutorPool: tasks run on its threads, high before low, cancelled ones
// never, and shutdown drops what waits.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include "engine/executor_pool.h"

namespace memkv::engine {
namespace {

using namespace std::chrono_literals;

// Holds the pool's only thread until released, so the queue order is known.
class Gate {
 public:
  void wait() {
    std::unique_lock lock(mutex_);
    entered_ = true;
    cv_.notify_all();
    cv_.wait(lock, [this] { return open_; });
  }
  void waitEntered() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [this] { return entered_; });
  }
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool entered_ = false;
  bool open_ = false;
};

void waitFor(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
}

TEST(ExecutorPoolTest, RunsTasksOffTheCallingThread) {
  ExecutorPool pool(2);
  EXPECT_EQ(pool.threads(), 2u);
  std::atomic<int> ran{0};
  std::atomic<bool> other_thread{true};
  const auto caller = std::this_thread::get_id();
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(pool.submit(TaskPriority::kLow, [&] {
      if (std::this_thread::get_id() == caller) other_thread = false;
      ran.fetch_add(1);
    }));
  }
  waitFor([&] { return ran.load() == 100; });
  EXPECT_EQ(ran.load(), 100);
  EXPECT_TRUE(other_thread.load());
}

TEST(ExecutorPoolTest, HighPriorityOvertakesWaitingLowPriority) {
  ExecutorPool pool(1);
  Gate gate;
  pool.submit(TaskPriority::kLow, [&] { gate.wait(); });
  gate.waitEntered();
  std::mutex mutex;
  std::vector<int> order;
  auto record = [&](int v) {
    return [&, v] {
      std::lock_guard lock(mutex);
      order.push_back(v);
    };
  };
  pool.submit(TaskPriority::kLow, record(1));
  pool.submit(TaskPriority::kLow, record(2));
  pool.submit(TaskPriority::kHigh, record(3));
  gate.open();
  waitFor([&] {
    std::lock_guard lock(mutex);
    return order.size() == 3;
  });
  std::lock_guard lock(mutex);
  EXPECT_EQ(order, (std::vector<int>{3, 1, 2}));
}

TEST(ExecutorPoolTest, CancelledTasksNeverRun) {
  ExecutorPool pool(1);
  Gate gate;
  pool.submit(TaskPriority::kLow, [&] { gate.wait(); });
  gate.waitEntered();
  auto token = std::make_shared<CancelToken>();
  std::atomic<bool> cancelled_ran{false};
  std::atomic<bool> other_ran{false};
  pool.submit(
      TaskPriority::kLow, [&] { cancelled_ran = true; }, token);
  pool.submit(TaskPriority::kLow, [&] { other_ran = true; });
  token->cancel();
  gate.open();
  waitFor([&] { return other_ran.load(); });
  EXPECT_TRUE(other_ran.load());
  EXPECT_FALSE(cancelled_ran.load());
  EXPECT_EQ(pool.tasksCancelled(), 1u);
}

TEST(ExecutorPoolTest, ShutdownDropsQueuedTasksAndRefusesNewOnes) {
  ExecutorPool pool(1);
  Gate gate;
  pool.submit(TaskPriority::kLow, [&] { gate.wait(); });
  gate.waitEntered();
  auto held = std::make_shared<int>(7);
  std::atomic<bool> ran{false};
  pool.submit(TaskPriority::kLow, [&ran, held] { ran = true; });
  EXPECT_EQ(held.use_count(), 2);
  std::thread opener([&] {
    std::this_thread::sleep_for(20ms);
    gate.open();
  });
  pool.shutdown();
  opener.join();
  EXPECT_FALSE(ran.load());
  EXPECT_EQ(held.use_count(), 1);  // the dropped task's captures were released
  EXPECT_FALSE(pool.submit(TaskPriority::kHigh, [] {}));
  pool.shutdown();  // idempotent
}

TEST(ExecutorPoolTest, TaskThrowingBadAllocIsCountedAndTheThreadRunsTheNextTask) {
  // One thread: the second task can only run on the thread the first one threw on.
  ExecutorPool pool(1);
  std::atomic<std::thread::id> thrower{};
  std::atomic<std::thread::id> runner{};
  ASSERT_TRUE(pool.submit(TaskPriority::kLow, [&] {
    thrower = std::this_thread::get_id();
    throw std::bad_alloc();
  }));
  std::atomic<bool> ran{false};
  ASSERT_TRUE(pool.submit(TaskPriority::kLow, [&] {
    runner = std::this_thread::get_id();
    ran = true;
  }));
  waitFor([&] { return ran.load(); });
  EXPECT_TRUE(ran.load()) << "the task after the failed one ran";
  EXPECT_EQ(runner.load(), thrower.load()) << "on the same, surviving, thread";
  EXPECT_EQ(pool.tasksFailed(), 1u);
  waitFor([&] { return pool.tasksRun() == 1; });
  EXPECT_EQ(pool.tasksRun(), 1u);
  pool.shutdown();  // joins: the thread is alive and answers the stop
}

}  // namespace
}  // namespace memkv::engine
