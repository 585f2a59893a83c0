#include "net/buffer_pool.h"

#include <gtest/gtest.h>

#include <vector>

namespace memkv::net {
namespace {

TEST(BufferPoolTest, ReusesReleasedBuffers) {
  BufferPool pool;
  uint8_t* a = pool.acquire();
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(pool.buffersOut(), 1u);
  pool.release(a);
  EXPECT_EQ(pool.buffersOut(), 0u);
  EXPECT_EQ(pool.buffersFree(), 1u);
  EXPECT_EQ(pool.acquire(), a);
  pool.release(a);
}

TEST(BufferPoolTest, ReadLimitIsEnforcedAndCountedButOutputIsNot) {
  BufferPool pool(3 * BufferPool::kBufferSize);
  std::vector<uint8_t*> held;
  for (int i = 0; i < 3; ++i) held.push_back(pool.acquireForRead());
  for (auto* b : held) ASSERT_NE(b, nullptr);
  EXPECT_EQ(pool.acquireForRead(), nullptr);
  EXPECT_EQ(pool.exhaustedCount(), 1u);
  // Output encoding never meets the read limit.
  uint8_t* out = pool.acquire();
  ASSERT_NE(out, nullptr);
  pool.release(out);
  pool.releaseFromRead(held.back());
  held.pop_back();
  uint8_t* again = pool.acquireForRead();
  EXPECT_NE(again, nullptr);
  held.push_back(again);
  for (auto* b : held) pool.releaseFromRead(b);
  EXPECT_EQ(pool.buffersOut(), 0u);
}

TEST(BufferPoolTest, TrimFreesWhatTheLastIntervalDidNotNeed) {
  BufferPool pool;
  std::vector<uint8_t*> held;
  for (int i = 0; i < 10; ++i) held.push_back(pool.acquire());
  for (auto* b : held) pool.release(b);
  EXPECT_EQ(pool.buffersFree(), 10u);
  pool.trim();  // the interval peaked at 10 out: keep them
  EXPECT_EQ(pool.buffersFree(), 10u);
  pool.trim();  // a quiet interval: give them back
  EXPECT_EQ(pool.buffersFree(), 0u);
  EXPECT_EQ(pool.bytesFree(), 0u);
}

TEST(BufferPoolTest, ReadMemoryOfTwoPoolsStaysUnderTheSharedBudget) {
  constexpr size_t kLimit = 1 << 20;
  ReadBudget budget(kLimit);
  BufferPool a(0, &budget), b(0, &budget);
  // Pool buffers from both pools until the budget refuses: never past the limit.
  std::vector<uint8_t*> from_a, from_b;
  for (bool refused = false; !refused;) {
    uint8_t* x = a.acquireForRead();
    uint8_t* y = b.acquireForRead();
    if (x) from_a.push_back(x);
    if (y) from_b.push_back(y);
    refused = x == nullptr || y == nullptr;
    ASSERT_LE(budget.used(), kLimit);
  }
  EXPECT_GE((from_a.size() + from_b.size()) * BufferPool::kBufferSize,
            kLimit - 2 * BufferPool::kMaxCredit)
      << "the budget refused long before the limit";
  for (auto* x : from_a) a.releaseFromRead(x);
  for (auto* y : from_b) b.releaseFromRead(y);
  // Unspent credit goes back on the tick: an idle server holds nothing.
  a.trim();
  b.trim();
  EXPECT_EQ(budget.used(), 0u);
  EXPECT_LE(budget.peak(), kLimit);
}

TEST(BufferPoolTest, LargeFramesGetThreeQuartersOfTheBudget) {
  constexpr size_t kLimit = 1 << 20;
  ReadBudget budget(kLimit);
  BufferPool pool(0, &budget);
  uint8_t* big = pool.allocateForRead(kLimit * 3 / 4);
  ASSERT_NE(big, nullptr);
  // No more large frames, but small requests still get buffers from the last quarter.
  EXPECT_EQ(pool.allocateForRead(BufferPool::kBufferSize + 1), nullptr);
  uint8_t* small = pool.acquireForRead();
  EXPECT_NE(small, nullptr);
  uint8_t* spill = pool.allocateForRead(100);
  EXPECT_NE(spill, nullptr);
  pool.freeForRead(spill, 100);
  pool.releaseFromRead(small);
  pool.freeForRead(big, kLimit * 3 / 4);
  // The large frame's bytes went straight back: another fits at once.
  big = pool.allocateForRead(kLimit * 3 / 4 - BufferPool::kMaxCredit);
  EXPECT_NE(big, nullptr);
  pool.freeForRead(big, kLimit * 3 / 4 - BufferPool::kMaxCredit);
  pool.trim();
  EXPECT_EQ(budget.used(), 0u);
}

}  // namespace
}  // namespace memkv::net
