// LogRateLimiter with a clock the test moves by hand: what a flood of log lines of one kind
// turns into, exactly.
#include "common/log_rate_limit.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace memkv {
namespace {

// The injected clock: a function pointer, so a global the test sets.
std::atomic<int64_t> g_now_ms{1'000'000};
int64_t fakeNow() {
  return g_now_ms.load();
}

class LogRateLimitTest : public ::testing::Test {
 protected:
  void SetUp() override { g_now_ms = 1'000'000; }
};

TEST_F(LogRateLimitTest, ABurstPassesThenLinesAreCountedNotWritten) {
  LogRateLimiter limiter(10, 20, fakeNow);
  uint64_t suppressed = 99;
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(limiter.allow(&suppressed)) << "line " << i << " of the burst";
    EXPECT_EQ(suppressed, 0u);
  }
  for (int i = 0; i < 180; ++i) EXPECT_FALSE(limiter.allow(&suppressed));
  // Time has not moved: nothing more gets through, whatever the flood.
  EXPECT_FALSE(limiter.allow(&suppressed));
  // 100 ms later one token is back, and the line it lets through carries the count.
  g_now_ms += 100;
  ASSERT_TRUE(limiter.allow(&suppressed));
  EXPECT_EQ(suppressed, 181u);
  // The count restarted with that line.
  EXPECT_FALSE(limiter.allow(&suppressed));
  EXPECT_EQ(limiter.takeSuppressed(), 1u);
  EXPECT_EQ(limiter.takeSuppressed(), 0u);
}

TEST_F(LogRateLimitTest, RefillsAtTheRateUpToTheBurstOnly) {
  LogRateLimiter limiter(10, 20, fakeNow);
  uint64_t suppressed = 0;
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(limiter.allow(&suppressed));
  // 99 ms is not yet a whole token.
  g_now_ms += 99;
  EXPECT_FALSE(limiter.allow(&suppressed));
  g_now_ms += 1;
  EXPECT_TRUE(limiter.allow(&suppressed));
  EXPECT_EQ(suppressed, 1u);
  // An hour of quiet refills the bucket to its burst, not beyond.
  g_now_ms += 3'600'000;
  int passed = 0;
  for (int i = 0; i < 100; ++i) passed += limiter.allow(&suppressed) ? 1 : 0;
  EXPECT_EQ(passed, 20);
}

TEST_F(LogRateLimitTest, OverTenSecondsOfFloodAtMostRateTimesSecondsPlusBurstPass) {
  LogRateLimiter limiter(10, 20, fakeNow);
  uint64_t suppressed = 0, total_suppressed = 0;
  int passed = 0;
  // 1000 attempts a second for 10 seconds, 1 ms apart.
  for (int ms = 0; ms < 10'000; ++ms) {
    if (limiter.allow(&suppressed)) {
      ++passed;
      total_suppressed += suppressed;
    }
    g_now_ms += 1;
  }
  total_suppressed += limiter.takeSuppressed();
  EXPECT_EQ(passed, 20 + 100 - 1);  // the burst, then one per 100 ms after the first 100 ms
  EXPECT_EQ(passed + total_suppressed, 10'000u) << "every attempt is written or counted";
}

TEST_F(LogRateLimitTest, AClockGoingBackwardsAddsNoTokens) {
  LogRateLimiter limiter(10, 1, fakeNow);
  uint64_t suppressed = 0;
  ASSERT_TRUE(limiter.allow(&suppressed));
  g_now_ms -= 10'000;
  EXPECT_FALSE(limiter.allow(&suppressed));
  g_now_ms += 10'000;  // back where it was: still nothing new
  EXPECT_FALSE(limiter.allow(&suppressed));
  g_now_ms += 100;
  EXPECT_TRUE(limiter.allow(&suppressed));
}

TEST_F(LogRateLimitTest, ThreadsSharingOneLimiterLoseNoCount) {
  LogRateLimiter limiter(10, 20, fakeNow);
  constexpr int kThreads = 4;
  constexpr int kEach = 5000;
  std::atomic<uint64_t> passed{0}, counted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      uint64_t suppressed = 0;
      for (int i = 0; i < kEach; ++i) {
        if (limiter.allow(&suppressed)) {
          ++passed;
          counted += suppressed;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(passed.load(), 20u);  // the clock stood still
  EXPECT_EQ(passed + counted + limiter.takeSuppressed(), uint64_t{kThreads} * kEach);
}

}  // namespace
}  // namespace memkv
