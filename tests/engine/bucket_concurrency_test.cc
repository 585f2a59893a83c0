// Several threads on one bucket: no lost updates, no torn values, memory back
// to zero. Run under TSan in CI.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "bucket_fixture.h"

namespace memkv::engine {
namespace {

TEST_F(BucketFixture, ConcurrentIncrementsAreNotLost) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5000;
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        // A contended counter must never fail: an earlier optimistic retry
        // loop gave up after 64 collisions and reported KEY_EEXISTS.
        if (counter("c", true, 1, 1).status != EngineStatus::kSuccess) failed++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(get("c"), std::to_string(kThreads * kPerThread));
}

TEST_F(BucketFixture, ConcurrentWritersReadersAndEvictionKeepValuesWhole) {
  makeBucket({2 << 20, 1 << 20, true});
  constexpr int kThreads = 4;
  std::atomic<int> torn{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i) {
        const std::string key = "k" + std::to_string((i * 7 + t) % 500);
        if (i % 3 == 0) {
          // Each value is one repeated character: a torn value would mix two.
          const char c = static_cast<char>('a' + (i + t) % 26);
          set(key, std::string(static_cast<size_t>(100 + i % 4000), c));
        } else if (i % 17 == 0) {
          set(key, "+", 0, 0, 0, StoreMode::kAppend);
        } else {
          auto r = bucket_->get(key);
          if (r.item) {
            auto v = r.item->value();
            for (uint8_t ch : v) {
              if (ch != v[0] && ch != '+') {
                torn++;
                break;
              }
            }
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_LE(bucket_->stats().bytes, size_t{2} << 20);
  bucket_->purge();
  EXPECT_EQ(bucket_->stats().bytes, 0u);
}

}  // namespace
}  // namespace memkv::engine
