// The bucket's eviction policy (S3-FIFO over the item store's segments):
// what a cache user notices: which keys survive, that memory stays within
// the limit, and that -M and pinned values fail cleanly.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bucket_fixture.h"

namespace memkv::engine {
namespace {

using S = EngineStatus;

// 4 KiB segments: 26 items of a 4-byte key and a 100-byte value each.
constexpr size_t kSegment = 4096;
constexpr size_t kPerSegment = (kSegment - ItemStore::kHeader) / Item::footprint(4, 100);

class EvictionTest : public BucketFixture {
 protected:
  void makeStore(size_t segments, bool evict = true) {
    makeBucket({segments * kSegment, 1024, evict, kSegment});
  }
  static std::string key(int i) { return "k" + std::to_string(1000 + i); }  // 5 bytes
  static std::string cold(int i) { return "c" + std::to_string(100000 + i); }
  static std::string value(int i = 0) { return std::string(100, static_cast<char>('a' + i % 26)); }
};

// The point of S3-FIFO: a one-time sweep over many cold keys (a batch job,
// a crawler) passes through the small queue and leaves the hot set alone.
// An LRU loses every hot key here: the sweep is twelve times the cache and
// the hot keys are not read while it runs.
TEST_F(EvictionTest, ASweepOfColdKeysDoesNotFlushTheHotSet) {
  makeStore(64);
  constexpr int kHot = 200;
  for (int i = 0; i < kHot; ++i) ASSERT_EQ(set(key(i), value(i)).status, S::kSuccess);
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < kHot; ++i) ASSERT_EQ(get(key(i)), value(i));
  }
  const int sweep = static_cast<int>(12 * 64 * kPerSegment);
  for (int i = 0; i < sweep; ++i) ASSERT_EQ(set(cold(i), value(i)).status, S::kSuccess);
  int hits = 0;
  for (int i = 0; i < kHot; ++i) hits += get(key(i)) == value(i);
  EXPECT_EQ(hits, kHot);
  EXPECT_GT(bucket_->stats().evictions, static_cast<uint64_t>(sweep / 2));
  EXPECT_GT(bucket_->stats().items_moved, 0u);
}

// Keys that were evicted from the small queue and come back go straight to
// main (the ghost): a working set slightly larger than the small queue,
// cycled, ends up cached.
TEST_F(EvictionTest, KeysThatComeBackAfterEvictionAreKept) {
  makeStore(64);
  const int keys = static_cast<int>(20 * kPerSegment);  // twice the small queue
  auto pass = [&] {
    int hits = 0;
    for (int i = 0; i < keys; ++i) {
      if (get(key(i)) == value(i)) {
        ++hits;
      } else {
        EXPECT_EQ(set(key(i), value(i)).status, S::kSuccess);
      }
      // Between the passes, one-time keys push the small queue along.
      EXPECT_EQ(set(cold(i), value(i)).status, S::kSuccess);
    }
    return hits;
  };
  pass();
  pass();
  EXPECT_GT(pass(), keys * 9 / 10);
}

TEST_F(EvictionTest, AHotKeySurvivesACacheThatTurnsOverWithinASecond) {
  makeStore(16);
  ASSERT_EQ(set("hh", value()).status, S::kSuccess);
  for (int i = 0; i < 5000; ++i) {
    ASSERT_EQ(set(key(i), value(i)).status, S::kSuccess);
    ASSERT_EQ(get("hh"), value()) << "hot key evicted after " << i << " writes";
  }
  EXPECT_GT(bucket_->stats().evictions, 4000u);
}

// A new version of a key keeps the old one's standing: overwriting a hot
// key does not make it a newcomer to be swept out with one-time keys.
TEST_F(EvictionTest, AnOverwriteKeepsTheKeysStanding) {
  makeStore(32);
  ASSERT_EQ(set("hot", value(1)).status, S::kSuccess);
  ASSERT_EQ(get("hot"), value(1));
  ASSERT_EQ(get("hot"), value(1));
  ASSERT_EQ(set("hot", value(2)).status, S::kSuccess);
  for (int i = 0; i < static_cast<int>(10 * 32 * kPerSegment); ++i) set(cold(i), value(i));
  EXPECT_EQ(get("hot"), value(2));
}

TEST_F(EvictionTest, MemoryNeverExceedsTheLimitAndMostOfItHoldsItems) {
  constexpr size_t kSegments = 32;
  makeStore(kSegments);
  const size_t limit = kSegments * kSegment;
  for (int i = 0; i < 20'000; ++i) {
    ASSERT_EQ(set(key(i), value(i)).status, S::kSuccess);
    const BucketStats stats = bucket_->stats();
    ASSERT_LE(stats.store_bytes, limit);
    ASSERT_LE(stats.bytes, limit);
  }
  const BucketStats stats = bucket_->stats();
  EXPECT_GT(stats.evictions, 15'000u);
  EXPECT_EQ(stats.curr_items + stats.evictions, 20'000u);
  // Items fill most of the memory: one segment is kept for the evictor's
  // copies, the open segments are partly filled, and a victim's unused tail.
  EXPECT_GT(stats.curr_items * Item::footprint(5, 100), limit * 3 / 4);
  EXPECT_EQ(get(key(19'999)), value(19'999));
}

// -M: nothing is evicted; a full bucket refuses writes with ENOMEM, and
// memory of deleted items comes back (the oldest segment is compacted)
// without losing any live item.
TEST_F(EvictionTest, WithoutEvictionWritesFailWithEnomemAndDeletesMakeRoom) {
  makeStore(16, /*evict=*/false);
  int stored = 0;
  while (set(key(stored), value(stored)).status == S::kSuccess) ++stored;
  ASSERT_GT(stored, static_cast<int>(12 * kPerSegment));
  EXPECT_EQ(set(key(stored), value(stored)).status, S::kEnomem);
  for (int i = 0; i < stored; i += 2) ASSERT_EQ(bucket_->remove(key(i), 0).status, S::kSuccess);
  int again = 0;
  while (set(cold(again), value(again)).status == S::kSuccess) ++again;
  EXPECT_GT(again, stored / 4);
  for (int i = 1; i < stored; i += 2) ASSERT_EQ(get(key(i)), value(i)) << i;
  for (int i = 0; i < again; ++i) ASSERT_EQ(get(cold(i)), value(i)) << i;
  EXPECT_EQ(bucket_->stats().evictions, 0u);
}

// Values still referenced (a send in flight, a range scan) keep their
// segment: a write that needs that memory fails cleanly instead of
// overshooting the limit or reusing bytes someone is reading.
TEST_F(EvictionTest, PinnedItemsKeepTheirMemoryUntilReleased) {
  makeStore(8);
  std::vector<ItemRef> pinned;
  for (int i = 0; i < static_cast<int>(5 * kPerSegment); ++i) {
    ASSERT_EQ(set(key(i), value(i)).status, S::kSuccess);
    pinned.push_back(bucket_->get(key(i)).item);
  }
  ASSERT_EQ(bucket_->stats().evictions, 0u);
  bool refused = false;
  for (int i = 0; i < 1000 && !refused; ++i) refused = set(cold(i), value(i)).status == S::kEnomem;
  EXPECT_TRUE(refused);
  EXPECT_LE(bucket_->stats().store_bytes, 8 * kSegment);
  for (size_t i = 0; i < pinned.size(); ++i) {
    ASSERT_EQ(str(pinned[i]->value()), value(static_cast<int>(i))) << "reused while pinned";
  }
  pinned.clear();
  EXPECT_EQ(set("after", value()).status, S::kSuccess);
  EXPECT_EQ(get("after"), value());
}

}  // namespace
}  // namespace memkv::engine
