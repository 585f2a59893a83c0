// FLUSH is O(vbuckets): items vanish for readers at once and are freed later
// (lookups, eviction, reclaimFlushed). These tests pin what a user sees
// meanwhile: misses, counts, the quota, and items stored after the flush.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "bucket_fixture.h"
#include "common/crc32.h"

namespace memkv::engine {
namespace {

using S = EngineStatus;

class FlushTest : public BucketFixture {
 protected:
  void fill(int n, std::string_view prefix = "k") {
    for (int i = 0; i < n; ++i) {
      ASSERT_EQ(set(std::string(prefix) + std::to_string(i), std::string(100, 'v')).status,
                S::kSuccess);
    }
  }
  // Runs the background sweep to the end; returns how many steps it took.
  int reclaimAll(size_t budget = 1000) {
    int steps = 1;
    while (bucket_->reclaimFlushed(budget)) ++steps;
    return steps;
  }
};

TEST_F(FlushTest, FlushHidesEverythingAtOnceButKeepsItCharged) {
  fill(5000);
  const uint64_t bytes = bucket_->stats().bytes;
  bucket_->flush(0);
  const BucketStats after = bucket_->stats();
  EXPECT_EQ(after.curr_items, 0u);
  EXPECT_EQ(after.flushed_unreclaimed, 5000u);
  EXPECT_EQ(after.bytes, bytes);  // nothing freed on the caller's thread
  for (int i = 0; i < 5000; i += 97) EXPECT_EQ(get("k" + std::to_string(i)), "<miss>");
  size_t visible = 0;
  for (uint16_t vb = 0; vb < kVBucketCount; ++vb) {
    visible += bucket_->vbucketInfo(vb).items;
    visible += bucket_->snapshotRange(vb, {"", false, "\xff", false}).size();
    visible += bucket_->sampleVBucket(vb, 10, 1).size();
  }
  EXPECT_EQ(visible, 0u);
}

TEST_F(FlushTest, EveryOperationTreatsFlushedItemsAsMissing) {
  set("a", "1");
  set("r", "1");
  set("n", "5");
  set("x", "1");
  const uint64_t old_cas = bucket_->get("x").item->cas();
  bucket_->getLocked("x", 10);
  bucket_->flush(0);
  EXPECT_EQ(set("a", "2", 0, 0, 0, StoreMode::kAdd).status, S::kSuccess);
  EXPECT_EQ(set("r", "2", 0, 0, 0, StoreMode::kReplace).status, S::kKeyEnoent);
  EXPECT_EQ(set("r", "2", 0, 0, 0, StoreMode::kAppend).status, S::kNotStored);
  EXPECT_EQ(counter("n", true, 1, 100).value, 100u);  // created anew
  EXPECT_EQ(bucket_->remove("x", 0).status, S::kKeyEnoent);
  EXPECT_EQ(set("x", "2", 0, old_cas).status, S::kKeyEnoent);
  EXPECT_EQ(set("x", "3").status, S::kSuccess);  // the old lock went with the flush
  EXPECT_EQ(get("a"), "2");
  EXPECT_EQ(get("x"), "3");
  EXPECT_EQ(bucket_->stats().curr_items, 3u);
}

TEST_F(FlushTest, ItemsStoredAfterTheFlushInTheSameSecondStay) {
  fill(100);
  bucket_->flush(0);
  fill(50, "new");
  set("k7", "again");
  EXPECT_EQ(get("new3"), std::string(100, 'v'));
  EXPECT_EQ(get("k7"), "again");
  EXPECT_EQ(get("k8"), "<miss>");
  EXPECT_EQ(bucket_->stats().curr_items, 51u);
  reclaimAll();
  EXPECT_EQ(get("new49"), std::string(100, 'v'));
  EXPECT_EQ(bucket_->stats().curr_items, 51u);
  EXPECT_EQ(bucket_->stats().flushed_unreclaimed, 0u);
}

TEST_F(FlushTest, ReclaimFreesInBoundedStepsDownToWhatIsLive) {
  fill(3000);
  bucket_->flush(0);
  set("live", "x");
  const uint64_t live_bytes = Item::footprint(4, 1);
  EXPECT_GT(bucket_->stats().bytes, 300'000u);
  EXPECT_GE(reclaimAll(100), 30);  // the budget bounds each step
  EXPECT_EQ(bucket_->stats().bytes, live_bytes);
  EXPECT_EQ(bucket_->stats().flushed_unreclaimed, 0u);
  EXPECT_FALSE(bucket_->reclaimFlushed(100));
  EXPECT_EQ(get("live"), "x");
}

TEST_F(FlushTest, ALookupFreesTheFlushedItemItMeets) {
  fill(10);
  const uint64_t bytes = bucket_->stats().bytes;
  bucket_->flush(0);
  EXPECT_EQ(get("k3"), "<miss>");
  EXPECT_EQ(bucket_->stats().bytes, bytes - Item::footprint(2, 100));
  EXPECT_EQ(bucket_->stats().flushed_unreclaimed, 9u);
}

TEST_F(FlushTest, DelayedFlushTakesEffectAtItsTimeWithoutTraffic) {
  fill(200);
  bucket_->flush(10);
  clock_.advance(9);
  EXPECT_EQ(bucket_->stats().curr_items, 200u);
  EXPECT_EQ(get("k1"), std::string(100, 'v'));
  clock_.advance(1);
  // Nothing touched the vbuckets since: the count is still honest.
  EXPECT_EQ(bucket_->stats().curr_items, 0u);
  EXPECT_EQ(get("k1"), "<miss>");
  set("k1", "after");
  EXPECT_EQ(get("k1"), "after");
  reclaimAll();
  EXPECT_EQ(bucket_->stats().bytes, Item::footprint(2, 5));
}

TEST_F(FlushTest, DelayedFlushInvalidatesWhatWasStoredBeforeItsTimeOnly) {
  bucket_->flush(10);
  clock_.advance(10);
  set("before_touch", "1");  // first touch of its vbucket after the time: stays
  EXPECT_EQ(get("before_touch"), "1");
  EXPECT_EQ(bucket_->stats().curr_items, 1u);
}

TEST_F(FlushTest, ANewFlushKeepsTheEffectOfADelayedOneThatCameDue) {
  fill(100);
  bucket_->flush(5);
  clock_.advance(6);     // due, but no vbucket was touched
  bucket_->flush(1000);  // replaces the pending flush
  EXPECT_EQ(get("k5"), "<miss>");
  EXPECT_EQ(bucket_->stats().curr_items, 0u);
}

TEST_F(FlushTest, OnlyAFlushThatActsNowAsksForOneSweepAtATime) {
  fill(10);
  EXPECT_FALSE(bucket_->flush(10));
  EXPECT_TRUE(bucket_->flush(kStart - 100));  // an absolute time already past
  EXPECT_EQ(bucket_->stats().curr_items, 0u);
  EXPECT_EQ(bucket_->stats().flushed_unreclaimed, 10u);
  fill(10);
  EXPECT_FALSE(bucket_->flush(0)) << "the sweep asked for above has not run";
  EXPECT_FALSE(bucket_->reclaimFlushed(100));  // frees all 20: the sweep ends
  EXPECT_EQ(bucket_->stats().flushed_unreclaimed, 0u);
  fill(10);
  EXPECT_TRUE(bucket_->flush(0));
}

// A cluster map took some vbuckets from this node: their items vanish as a
// flush of just those would make them, the others stay, and the sweep
// frees the dropped ones' memory.
TEST_F(FlushTest, DroppedVBucketsVanishAndAreSweptTheOthersStay) {
  const auto vbucketOfKey = [](const std::string& key) {
    return vbucketOf(crc32(key.data(), key.size()), kVBucketCount);
  };
  fill(4000);
  std::vector<uint16_t> lost;
  for (uint16_t vb = 0; vb < kVBucketCount; vb += 4) lost.push_back(vb);  // a quarter
  size_t in_lost = 0;
  for (int i = 0; i < 4000; ++i) in_lost += vbucketOfKey("k" + std::to_string(i)) % 4 == 0;
  ASSERT_GT(in_lost, 500u);
  bool sweep = false;
  EXPECT_EQ(bucket_->dropVBuckets(lost, &sweep), in_lost);
  EXPECT_TRUE(sweep);
  EXPECT_EQ(bucket_->stats().curr_items, 4000u - in_lost);
  EXPECT_EQ(bucket_->stats().flushed_unreclaimed, in_lost);
  for (int i = 0; i < 4000; ++i) {
    const std::string key = "k" + std::to_string(i);
    EXPECT_EQ(get(key), vbucketOfKey(key) % 4 == 0 ? "<miss>" : std::string(100, 'v')) << key;
  }
  // A vbucket dropped and served again starts empty: what is stored now stays.
  set("k1", "again");
  EXPECT_EQ(get("k1"), "again");
  reclaimAll();
  EXPECT_EQ(bucket_->stats().flushed_unreclaimed, 0u);
  EXPECT_EQ(bucket_->stats().curr_items, 4000u - in_lost + (vbucketOfKey("k1") % 4 == 0));
  // Nothing left to drop: no sweep asked for.
  EXPECT_EQ(bucket_->dropVBuckets(std::vector<uint16_t>{}, &sweep), 0u);
  EXPECT_FALSE(sweep);
}

TEST_F(FlushTest, AnImmediateFlushCancelsAPendingOne) {
  bucket_->flush(10);
  bucket_->flush(0);
  set("k", "v");
  clock_.advance(20);
  EXPECT_EQ(get("k"), "v");
}

// -M: a full bucket, flushed, must take the same data again at once; the
// flushed items give their room back as the writes need it.
TEST_F(FlushTest, WritesAfterAFlushReuseTheQuotaWithoutEviction) {
  // 4 KiB segments of 26 such items, one kept for the evictor's copies.
  makeBucket({1000 * Item::footprint(5, 100), 1024, false, 4096});
  int stored = 0;
  while (set("k" + std::to_string(stored), std::string(100, 'v')).status == S::kSuccess) ++stored;
  ASSERT_GE(stored, 900);
  bucket_->flush(0);
  for (int i = 0; i < stored; ++i) {
    ASSERT_EQ(set("n" + std::to_string(i), std::string(100, 'w')).status, S::kSuccess) << i;
  }
  EXPECT_EQ(bucket_->stats().curr_items, static_cast<uint64_t>(stored));
  EXPECT_EQ(bucket_->stats().evictions, 0u);
}

TEST_F(FlushTest, WritesAfterAFlushEvictNoLiveItem) {
  makeBucket({1000 * Item::footprint(5, 100), 1024, true, 4096});
  for (int i = 0; i < 1000; ++i) set("k" + std::to_string(i), std::string(100, 'v'));
  bucket_->resetStats();
  bucket_->flush(0);
  for (int i = 0; i < 900; ++i) {
    ASSERT_EQ(set("n" + std::to_string(i), std::string(100, 'w')).status, S::kSuccess);
  }
  EXPECT_EQ(bucket_->stats().evictions, 0u);
  for (int i = 0; i < 900; i += 50) EXPECT_EQ(get("n" + std::to_string(i)), std::string(100, 'w'));
}

TEST_F(FlushTest, PurgeFreesLiveAndFlushedItems) {
  fill(100);
  bucket_->flush(0);
  fill(10, "new");
  bucket_->purge();
  EXPECT_EQ(bucket_->stats().bytes, 0u);
  EXPECT_EQ(bucket_->stats().curr_items, 0u);
  EXPECT_EQ(bucket_->stats().flushed_unreclaimed, 0u);
}

// Writers, readers, flushes and the sweep at once (meant for TSan too): the
// counts stay exact, and nothing flushed stays charged at the end.
TEST_F(FlushTest, ConcurrentTrafficFlushesAndSweepsKeepCountsExact) {
  std::atomic<bool> stop{false};
  std::atomic<int> torn{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; !stop.load(); ++i) {
        const std::string key = "t" + std::to_string(t) + ":" + std::to_string(i % 2000);
        set(key, key);
        const std::string got = get(key);
        if (got != key && got != "<miss>") torn++;
        if (i % 7 == 0) counter("c" + std::to_string(i % 50), true, 1, 1);
      }
    });
  }
  threads.emplace_back([&] {
    while (!stop.load()) bucket_->reclaimFlushed(64);
  });
  for (int i = 0; i < 40; ++i) {
    bucket_->flush(0);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(torn.load(), 0);
  bucket_->flush(0);
  EXPECT_EQ(bucket_->stats().curr_items, 0u);
  fill(100, "end");
  EXPECT_EQ(bucket_->stats().curr_items, 100u);
  reclaimAll();
  size_t live_bytes = 0;
  for (int i = 0; i < 100; ++i)
    live_bytes += Item::footprint(("end" + std::to_string(i)).size(), 100);
  EXPECT_EQ(bucket_->stats().bytes, live_bytes);
  EXPECT_EQ(bucket_->stats().flushed_unreclaimed, 0u);
}

// The server's protocol: a sweep starts when flush() says so and runs until
// reclaimFlushed() says it is over. Flushes racing the end of a sweep must
// neither start a second one nor leave their items unswept.
TEST_F(FlushTest, FlushesRacingTheSweepLeaveNothingUnsweptAndOneSweepAtATime) {
  std::atomic<int> sweeps{0};
  std::atomic<int> most_sweeps{0};
  std::atomic<bool> stop{false};
  std::thread sweeper([&] {
    while (!stop.load() || sweeps.load() > 0) {
      if (sweeps.load() == 0) {
        std::this_thread::yield();
        continue;
      }
      while (bucket_->reclaimFlushed(16)) {
      }
      sweeps--;
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < 2; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 20'000; ++i) {
        set("w" + std::to_string(t) + ":" + std::to_string(i % 500), "v");
        if (i % 40 == 0 && bucket_->flush(0)) {
          const int now = ++sweeps;
          int seen = most_sweeps.load();
          while (now > seen && !most_sweeps.compare_exchange_weak(seen, now)) {
          }
        }
      }
    });
  }
  for (auto& w : writers) w.join();
  stop = true;
  sweeper.join();
  // 2: a new sweep may start while the last call of the old one returns.
  // Without coalescing, every flush would queue one (hundreds here).
  EXPECT_LE(most_sweeps.load(), 2);
  EXPECT_EQ(bucket_->stats().flushed_unreclaimed, 0u);
}

}  // namespace
}  // namespace memkv::engine
