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

}  // namespace
}  // namespace memkv::net
