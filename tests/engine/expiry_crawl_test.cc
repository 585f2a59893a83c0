// Bucket::reclaimExpired, the expiry crawler's step: expired items come back
// without anyone reading them, in steps bounded by the slots they walk.
#include <gtest/gtest.h>

#include <string>

#include "bucket_fixture.h"

namespace memkv::engine {
namespace {

using S = EngineStatus;

class ExpiryCrawlTest : public BucketFixture {
 protected:
  void fill(int n, const std::string& prefix, uint32_t ttl) {
    for (int i = 0; i < n; ++i) {
      ASSERT_EQ(set(prefix + std::to_string(i), std::string(100, 'v'), ttl).status, S::kSuccess);
    }
  }
};

TEST_F(ExpiryCrawlTest, ExpiredItemsComeBackUnread) {
  fill(1000, "ttl", 10);
  fill(1000, "keep", 0);
  EXPECT_EQ(bucket_->reclaimExpired(1 << 30), 0u);  // nothing expired yet
  clock_.advance(11);
  EXPECT_EQ(bucket_->reclaimExpired(1 << 30), 1000u);
  const BucketStats stats = bucket_->stats();
  EXPECT_EQ(stats.curr_items, 1000u);
  EXPECT_EQ(stats.reclaimed, 1000u);
  EXPECT_EQ(stats.expired_unfetched, 1000u);
  uint64_t kept_bytes = 0;  // the memory of the expired items came back, to the byte
  for (int i = 0; i < 1000; ++i) {
    kept_bytes += Item::footprint(("keep" + std::to_string(i)).size(), 100);
  }
  EXPECT_EQ(stats.bytes, kept_bytes);
  EXPECT_EQ(get("keep7"), std::string(100, 'v'));
  EXPECT_EQ(get("ttl7"), "<miss>");
}

TEST_F(ExpiryCrawlTest, AReadItemIsNotCountedAsUnfetched) {
  fill(10, "ttl", 10);
  ASSERT_EQ(get("ttl3"), std::string(100, 'v'));
  clock_.advance(11);
  EXPECT_EQ(bucket_->reclaimExpired(1 << 30), 10u);
  EXPECT_EQ(bucket_->stats().expired_unfetched, 9u);
}

// A step walks at most its budget of slots and the next step goes on from
// there: small steps reclaim everything in about one pass, not more.
TEST_F(ExpiryCrawlTest, StepsAreBoundedAndResumeWhereTheyStopped) {
  fill(5000, "ttl", 10);
  clock_.advance(11);
  const size_t per_step = 1024;  // slots; every vbucket has at least 16
  const size_t first = bucket_->reclaimExpired(per_step);
  EXPECT_GT(first, 0u);
  EXPECT_LT(first, 5000u);
  size_t total = first;
  int steps = 1;
  while (total < 5000 && steps < 1000) {
    total += bucket_->reclaimExpired(per_step);
    ++steps;
  }
  EXPECT_EQ(total, 5000u);
  const size_t slots = size_t{1} << bucket_->stats().hash_power_level;
  EXPECT_LE(static_cast<size_t>(steps), slots / per_step + 2) << steps << " steps";
  EXPECT_EQ(bucket_->stats().curr_items, 0u);
}

}  // namespace
}  // namespace memkv::engine
