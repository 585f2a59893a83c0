#include <gtest/gtest.h>

#include "bucket_fixture.h"

namespace memkv::engine {
namespace {

using S = EngineStatus;

class EvictionTest : public BucketFixture {
 protected:
  // Room for exactly `items` items of this key and value length.
  void makeSmallBucket(size_t items, bool evict = true) {
    makeBucket({items * Item::footprint(2, 100), 1024, evict});
  }
  std::string value() { return std::string(100, 'v'); }
};

TEST_F(EvictionTest, LeastRecentlyUsedGoesFirst) {
  makeSmallBucket(4);
  for (const char* k : {"k1", "k2", "k3", "k4"}) ASSERT_EQ(set(k, value()).status, S::kSuccess);
  clock_.advance(1);
  EXPECT_EQ(get("k1"), value());  // k1 is now the most recent; k2 the oldest
  ASSERT_EQ(set("k5", value()).status, S::kSuccess);
  EXPECT_EQ(get("k2"), "<miss>");
  EXPECT_EQ(get("k1"), value());
  EXPECT_EQ(get("k3"), value());
  EXPECT_EQ(bucket_->stats().evictions, 1u);
  ASSERT_EQ(set("k6", value()).status, S::kSuccess);
  EXPECT_EQ(get("k3"), value());  // read above, after k4
  EXPECT_EQ(get("k4"), "<miss>");
  EXPECT_EQ(bucket_->stats().evictions, 2u);
}

TEST_F(EvictionTest, HotItemSurvivesACacheThatTurnsOverWithinASecond) {
  // The whole cache is replaced many times while the clock stands still; a
  // key read between the writes must stay (a once-per-second bump let it go).
  makeSmallBucket(100);
  ASSERT_EQ(set("hh", value()).status, S::kSuccess);
  for (int i = 0; i < 1000; ++i) {
    char key[3] = {static_cast<char>('a' + i % 26), static_cast<char>('a' + i / 26 % 26), 0};
    if (std::string_view(key) == "hh") continue;
    ASSERT_EQ(set(key, value()).status, S::kSuccess);
    ASSERT_EQ(get("hh"), value()) << "hot key evicted after " << i << " writes";
  }
  EXPECT_GT(bucket_->stats().evictions, 800u);
}

TEST_F(EvictionTest, OverwriteCountsAsUse) {
  makeSmallBucket(3);
  set("k1", value());
  set("k2", value());
  set("k3", value());
  set("k1", value());  // newest now
  set("k4", value());
  EXPECT_EQ(get("k2"), "<miss>");
  EXPECT_EQ(get("k1"), value());
}

TEST_F(EvictionTest, MemoryNeverExceedsTheBudget) {
  const size_t limit = 100 * Item::footprint(6, 100);
  makeBucket({limit, 1024, true});
  for (int i = 0; i < 10'000; ++i) {
    ASSERT_EQ(set("k" + std::to_string(10000 + i), value()).status, S::kSuccess);
    ASSERT_LE(bucket_->stats().bytes, limit);
  }
  EXPECT_EQ(bucket_->stats().evictions, 9'900u);
  EXPECT_EQ(bucket_->stats().curr_items, 100u);
  EXPECT_EQ(get("k19999"), value());
}

TEST_F(EvictionTest, WithoutEvictionWritesFailWithEnomem) {
  makeSmallBucket(3, /*evict=*/false);
  set("k1", value());
  set("k2", value());
  set("k3", value());
  EXPECT_EQ(set("k4", value()).status, S::kEnomem);
  EXPECT_EQ(get("k1"), value());
  EXPECT_EQ(bucket_->stats().evictions, 0u);
  bucket_->remove("k1", 0);
  EXPECT_EQ(set("k4", value()).status, S::kSuccess);
}

TEST_F(EvictionTest, PinnedItemsCannotBeMadeRoomForForever) {
  makeSmallBucket(2);
  set("k1", value());
  set("k2", value());
  auto a = bucket_->get("k1").item;
  auto b = bucket_->get("k2").item;
  // Both evicted from the table, but their memory is held by readers: the
  // write fails cleanly instead of spinning or overshooting the budget.
  EXPECT_EQ(set("k3", value()).status, S::kEnomem);
  EXPECT_EQ(bucket_->stats().curr_items, 0u);
  a = ItemRef();
  EXPECT_EQ(set("k3", value()).status, S::kSuccess);
}

}  // namespace
}  // namespace memkv::engine
