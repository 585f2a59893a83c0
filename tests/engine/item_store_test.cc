// The item store (item_store.h) against its contract, written by someone
// who did not write it: how items are placed and charged, which segment the
// evictor gets, that memory is reused and never while referenced, and what
// that means for a bucket's user (sizes that shift, exact `bytes`, the
// ghost). Each test names the bug it is there to catch.
#include "engine/item_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bucket_fixture.h"
#include "support/test_env.h"

namespace memkv::engine {
namespace {

using Queue = ItemStore::Queue;
using namespace std::chrono_literals;

constexpr size_t kSegment = 4096;
constexpr size_t kHeader = ItemStore::kHeader;
// Keys of 5 bytes and values of 100: 25 items fill a 4 KiB segment.
constexpr size_t kSmallFootprint = Item::footprint(5, 100);
constexpr size_t kPerSegment = (kSegment - kHeader) / kSmallFootprint;

// Five bytes; keys repeat after 9000 (the store does not care).
std::string key5(size_t i) {
  return "k" + std::to_string(1000 + i % 9000);
}

// Drives an ItemStore directly, as Bucket does: allocate, write the value,
// publish; the test's ItemRefs stand for the hash table's references.
class ItemStoreTest : public ::testing::Test {
 protected:
  void TearDown() override {
    refs_.clear();
    if (store_) store_->retire();
  }
  void make(size_t segments) { store_ = ItemStore::create(segments * kSegment, kSegment); }
  // A published item whose value is `value_length` copies of `fill`; the
  // test holds its one reference in refs_ (nullptr when it did not fit).
  Item* add(std::string_view key, size_t value_length, Queue queue = Queue::kSmall,
            bool reserve = false, char fill = 'v') {
    Item* item = store_->allocate(key, value_length, {}, 0, queue, reserve);
    if (item == nullptr) return nullptr;
    std::memset(item->mutableValue(), fill, value_length);
    ItemStore::published(item);
    refs_.push_back(ItemRef::adopt(item));
    return item;
  }
  size_t inUse() { return store_->usage().in_use; }

  ItemStore* store_ = nullptr;
  std::vector<ItemRef> refs_;
};

// Catches: a block (or a segment) per item, an allocator header or
// rounding not in footprint(), `bytes` charged with something else.
TEST_F(ItemStoreTest, SmallItemsShareASegmentAndAreChargedExactly) {
  make(64);
  for (size_t i = 0; i < kPerSegment; ++i) {
    ASSERT_NE(add(key5(i), 100), nullptr);
    ASSERT_EQ(store_->usage().segments, 1u) << "after item " << i;
    ASSERT_EQ(inUse(), kSegment);
    ASSERT_EQ(store_->itemBytes(), (i + 1) * kSmallFootprint);
  }
  Item* next = add(key5(kPerSegment), 100);
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(store_->usage().segments, 2u);
  EXPECT_EQ(inUse(), 2 * kSegment);
  EXPECT_EQ(store_->itemBytes(), (kPerSegment + 1) * kSmallFootprint);
  EXPECT_NE(ItemStore::segmentOf(next), ItemStore::segmentOf(refs_.front().get()));
  EXPECT_FALSE(ItemStore::isLarge(next));
}

// Catches: the quarter-segment boundary off by one either way, a large
// block charged without its header (or with a whole segment), its memory
// not given back when its victim is released.
TEST_F(ItemStoreTest, AnItemOverAQuarterSegmentGetsABlockOfItsOwn) {
  make(64);
  constexpr size_t kQuarterValue = kSegment / 4 - 48 - 5;  // footprint exactly a quarter
  static_assert(Item::footprint(5, kQuarterValue) == kSegment / 4);
  static_assert(Item::footprint(5, kQuarterValue + 1) == kSegment / 4 + 8);
  ASSERT_NE(add(key5(0), 100), nullptr);
  Item* quarter = add(key5(1), kQuarterValue);
  ASSERT_NE(quarter, nullptr);
  EXPECT_FALSE(ItemStore::isLarge(quarter));
  EXPECT_EQ(store_->usage().segments, 1u);
  EXPECT_EQ(inUse(), kSegment);

  Item* large = store_->allocate(key5(2), kQuarterValue + 1, {}, 0, Queue::kSmall, false);
  ASSERT_NE(large, nullptr);
  std::memset(large->mutableValue(), 'L', kQuarterValue + 1);
  ItemStore::published(large);
  EXPECT_TRUE(ItemStore::isLarge(large));
  EXPECT_EQ(store_->usage().segments, 2u);
  EXPECT_EQ(inUse(), kSegment + kHeader + kSegment / 4 + 8);
  EXPECT_EQ(store_->itemBytes(), kSmallFootprint + kSegment / 4 + kSegment / 4 + 8);
  EXPECT_EQ(str(large->value()), std::string(kQuarterValue + 1, 'L'));

  // Its item is gone, so the block goes at once, out of its queue, with all
  // of its bytes (a block is never cached): dead 1 MiB values must not hold
  // the limit until eviction reaches them.
  large->unref();
  const ItemStore::Usage usage = store_->usage();
  EXPECT_EQ(usage.in_use, kSegment);
  EXPECT_EQ(usage.cached, 0u);
  EXPECT_EQ(usage.segments, 1u);
  EXPECT_EQ(store_->itemBytes(), kSmallFootprint + kSegment / 4);
  EXPECT_EQ(store_->takeVictim(), nullptr) << "the open segment was handed out";
}

// Catches: a segment size that is not a power of two (items find their
// segment by masking) or outside 64 KiB..1 MiB when picked from the limit.
TEST(ItemStoreSizing, SegmentSizeIsPickedFromTheLimit) {
  struct Case {
    size_t limit, wanted, expected;
  } cases[] = {{64 << 20, 0, 1 << 20},   {1 << 20, 0, 64 << 10}, {16 << 20, 0, 256 << 10},
               {1ull << 34, 0, 1 << 20}, {1 << 20, 5000, 8192},  {1 << 20, 4096, 4096}};
  for (const Case& c : cases) {
    ItemStore* store = ItemStore::create(c.limit, c.wanted);
    EXPECT_EQ(store->segmentSize(), c.expected) << c.limit << " " << c.wanted;
    store->retire();
  }
}

// Catches: normal allocation using the evictor's reserve (a full cache
// could then not copy a hot item), the reserve kept on a limit too small
// for it, and the reserve letting memory exceed the limit.
TEST_F(ItemStoreTest, NormalAllocationLeavesOneSegmentForTheEvictor) {
  make(8);
  size_t n = 0;
  while (add(key5(n), 100) != nullptr) ++n;
  EXPECT_EQ(inUse(), 7 * kSegment);
  EXPECT_EQ(n, 7 * kPerSegment);
  ASSERT_NE(add("moved", 100, Queue::kMain, /*reserve=*/true), nullptr);
  EXPECT_EQ(inUse(), 8 * kSegment);
  while (add(key5(n), 100, Queue::kMain, true) != nullptr) ++n;
  EXPECT_EQ(inUse(), 8 * kSegment);
  EXPECT_EQ(store_->usage().cached, 0u);
  EXPECT_EQ(store_->itemBytes(), refs_.size() * kSmallFootprint);
  EXPECT_EQ(add("large", 3000, Queue::kMain, true), nullptr) << "over the limit";
}

TEST_F(ItemStoreTest, ALimitOfThreeSegmentsHasNoReserve) {
  make(3);
  size_t n = 0;
  while (add(key5(n), 100) != nullptr) ++n;
  EXPECT_EQ(n, 3 * kPerSegment);
  EXPECT_EQ(inUse(), 3 * kSegment);
}

// Catches: a newer segment taken before an older one, main taken while
// small is over its tenth, the open segment handed out (its writers are
// still appending), and a released segment reused while its items are
// still referenced.
TEST_F(ItemStoreTest, VictimsAreTheOldestSealedSegmentsSmallFirst) {
  make(20);  // small's share: 2 segments
  std::vector<ItemStore::Segment*> small, main;
  for (size_t i = 0; i < 3 * kPerSegment + 1; ++i) {
    Item* item = add(key5(i), 100);
    ASSERT_NE(item, nullptr);
    if (i % kPerSegment == 0) small.push_back(ItemStore::segmentOf(item));
  }
  for (size_t i = 0; i < kPerSegment + 1; ++i) {
    Item* item = add(key5(i), 100, Queue::kMain);
    ASSERT_NE(item, nullptr);
    if (i % kPerSegment == 0) main.push_back(ItemStore::segmentOf(item));
  }
  ASSERT_EQ(small.size(), 4u);
  ASSERT_EQ(main.size(), 2u);
  EXPECT_EQ(store_->usage().small, 4 * kSegment);

  ItemStore::Segment* v1 = store_->takeVictim();
  EXPECT_EQ(v1, small[0]);
  // Released while its items are referenced: the memory stays charged.
  store_->releaseVictim(v1);
  EXPECT_EQ(inUse(), 6 * kSegment);
  EXPECT_EQ(store_->usage().cached, 0u);
  // The last reference to its last item gives the segment back (cached).
  refs_.erase(refs_.begin(), refs_.begin() + kPerSegment);
  EXPECT_EQ(inUse(), 5 * kSegment);
  EXPECT_EQ(store_->usage().cached, kSegment);

  ItemStore::Segment* v2 = store_->takeVictim();
  EXPECT_EQ(v2, small[1]);
  store_->releaseVictim(v2);
  // Small now holds exactly its share (2 segments): main's turn.
  ItemStore::Segment* v3 = store_->takeVictim();
  EXPECT_EQ(v3, main[0]);
  EXPECT_EQ(v3->queue, Queue::kMain);
  store_->releaseVictim(v3);
  // Main has only its open segment: back to small's last sealed one.
  ItemStore::Segment* v4 = store_->takeVictim();
  EXPECT_EQ(v4, small[2]);
  store_->releaseVictim(v4);
  EXPECT_EQ(store_->takeVictim(), nullptr) << "an open segment was handed out";
  // Every item is still referenced and intact.
  for (const ItemRef& ref : refs_) ASSERT_EQ(str(ref->value()), std::string(100, 'v'));
}

// Catches a requeued victim (its items kept: hot, or -M) put back at the
// old end of main, where the next walk would take it again at once, or
// into the wrong queue.
TEST_F(ItemStoreTest, ARequeuedVictimGoesToTheNewestEndOfMain) {
  make(20);
  std::vector<ItemStore::Segment*> main;
  for (size_t i = 0; i < 3 * kPerSegment + 1; ++i) {
    Item* item = add(key5(i), 100, Queue::kMain);
    ASSERT_NE(item, nullptr);
    if (i % kPerSegment == 0) main.push_back(ItemStore::segmentOf(item));
  }
  ItemStore::Segment* first = store_->takeVictim();
  ASSERT_EQ(first, main[0]);
  store_->requeueVictim(first);
  EXPECT_EQ(store_->usage().small, 0u);
  ItemStore::Segment* second = store_->takeVictim();
  EXPECT_EQ(second, main[1]);
  store_->requeueVictim(second);
  EXPECT_EQ(store_->takeVictim(), main[2]);
  store_->releaseVictim(main[2]);
  EXPECT_EQ(store_->takeVictim(), main[0]);
  store_->releaseVictim(main[0]);
  EXPECT_EQ(store_->takeVictim(), main[1]);
  store_->releaseVictim(main[1]);
  EXPECT_EQ(store_->takeVictim(), nullptr);
}

// Catches: an evictor that walks a segment while an item in it is still
// being written (its header and value not final yet).
TEST_F(ItemStoreTest, TakeVictimWaitsForPendingItems) {
  make(16);
  Item* published_later = store_->allocate("pend1", 100, {}, 0, Queue::kSmall, false);
  Item* dropped_later = store_->allocate("pend2", 100, {}, 0, Queue::kSmall, false);
  ASSERT_NE(published_later, nullptr);
  ASSERT_NE(dropped_later, nullptr);
  for (size_t i = 0; i < kPerSegment; ++i) ASSERT_NE(add(key5(i), 100), nullptr);  // seals it
  std::atomic<ItemStore::Segment*> got{nullptr};
  std::atomic<bool> done{false};
  std::thread evictor([&] {
    got = store_->takeVictim();
    done = true;
  });
  std::this_thread::sleep_for(memkv::test::scaled(100ms));
  EXPECT_FALSE(done.load()) << "took a segment with two items pending";
  ItemStore::published(published_later);
  std::this_thread::sleep_for(memkv::test::scaled(50ms));
  EXPECT_FALSE(done.load()) << "took a segment with one item pending";
  dropped_later->unref();  // refused (an ADD that lost): no longer pending either
  evictor.join();
  ASSERT_EQ(got.load(), ItemStore::segmentOf(published_later));
  int visited = 0;
  ItemStore::forEachItem(got.load(), [&](Item*) { ++visited; });
  EXPECT_EQ(visited, static_cast<int>(kPerSegment - 2 + 1));  // the dropped one is skipped
  published_later->unref();
  store_->releaseVictim(got.load());
}

// Catches: segments leaked (never cached nor unmapped) or never reused
// across many fill/evict rounds, and memory over the limit on the way,
// with small items and large blocks mixed.
TEST_F(ItemStoreTest, MemoryIsReusedRoundAfterRound) {
  make(16);
  const size_t limit = 16 * kSegment;
  uint64_t seed = 1;
  for (int round = 0; round < 200; ++round) {
    size_t expected_bytes = 0;
    for (size_t i = 0;; ++i) {
      seed = seed * 6364136223846793005ull + 1442695040888963407ull;
      const size_t length = round % 2 == 0 ? 100 : (seed >> 33) % 2500;
      Item* item = add(key5(i), length, (seed >> 20) % 3 == 0 ? Queue::kMain : Queue::kSmall);
      if (item == nullptr) break;
      expected_bytes += item->footprint();
      const ItemStore::Usage usage = store_->usage();
      ASSERT_LE(usage.in_use + usage.cached, limit) << "round " << round;
    }
    ASSERT_EQ(store_->itemBytes(), expected_bytes);
    ASSERT_GT(inUse(), limit / 2) << "round " << round << ": the limit was not used";
    // Evict everything: what the bucket does with items none reads.
    refs_.clear();
    while (ItemStore::Segment* victim = store_->takeVictim()) store_->releaseVictim(victim);
    const ItemStore::Usage usage = store_->usage();
    ASSERT_EQ(store_->itemBytes(), 0u);
    ASSERT_LE(usage.in_use, 2 * kSegment) << "only the open segments stay";
    ASSERT_LE(usage.segments, 16u) << "round " << round << ": segments leak";
    ASSERT_LE(usage.in_use + usage.cached, limit);
  }
}

// Catches: retire() freeing a segment an item is still pinned in, or never
// freeing it (and the store) after the last reference (ASan's leak check).
TEST_F(ItemStoreTest, RetireKeepsPinnedItemsUntilTheirLastReference) {
  make(16);
  for (size_t i = 0; i < 3 * kPerSegment; ++i)
    ASSERT_NE(add(key5(i), 100, Queue::kSmall, false, 'p'), nullptr);
  ASSERT_NE(add("big", 3000, Queue::kSmall, false, 'B'), nullptr);
  ItemRef pinned_small = refs_[kPerSegment + 3];
  ItemRef pinned_large = refs_.back();
  refs_.clear();
  store_->retire();
  store_ = nullptr;
  // Other code allocates in the meantime: freed memory would be reused.
  std::vector<std::string> noise(64, std::string(kSegment, 'x'));
  EXPECT_EQ(pinned_small->key(), key5(kPerSegment + 3));
  EXPECT_EQ(str(pinned_small->value()), std::string(100, 'p'));
  EXPECT_EQ(str(pinned_large->value()), std::string(3000, 'B'));
  pinned_small = {};
  pinned_large = {};
}

}  // namespace
}  // namespace memkv::engine
