#include "common/counter.h"

#include <gtest/gtest.h>

#include <thread>

namespace memkv {
namespace {

TEST(CounterTest, SingleWriterVisibleToReaders) {
  Counter c;
  std::thread writer([&] {
    for (int i = 0; i < 100000; ++i) c.add(1);
    c.sub(10);
  });
  uint64_t last = 0;
  while (last < 99990) {
    const uint64_t now = c.get();
    ASSERT_LE(now, 100000u);
    last = now;
  }
  writer.join();
  EXPECT_EQ(c.get(), 99990u);
  c.set(5);
  EXPECT_EQ(c.get(), 5u);
}

}  // namespace
}  // namespace memkv
