// HashTable::removeIf in batches (the FLUSH sweep's walk): a resumable cursor, so freeing a
// table batch by batch walks it about once, not once per batch.
#include "engine/hash_table.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/keyed_hash.h"
#include "engine/item.h"
#include "engine/item_store.h"

namespace memkv::engine {
namespace {

class HashTableRemoveIfTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < kItems; ++i) {
      const std::string key = "key-" + std::to_string(i);
      Item* item = store_.allocate(key, 0, {}, 0, ItemStore::Queue::kSmall, false);
      ASSERT_NE(item, nullptr);
      table_.insert(item, keyedHash(key));
      ItemStore::published(item);
    }
  }
  void TearDown() override {
    table_.clear([](Item* item) { item->unref(); });
    store_.retire();
  }
  static bool even(const Item& item) {
    return std::stoi(std::string(item.key().substr(4))) % 2 == 0;
  }

  static constexpr int kItems = 4096;
  ItemStore& store_ = *ItemStore::create(8 << 20, 0);
  HashTable table_;
};

TEST_F(HashTableRemoveIfTest, BatchesWalkTheTableAboutOnceAndFindEveryMatch) {
  size_t cursor = 0;
  size_t examined = 0;
  size_t removed = 0;
  int batches = 0;
  for (;;) {
    std::vector<Item*> batch;
    const size_t n = table_.removeIf(
        [&examined](const Item& item) {
          ++examined;
          return even(item);
        },
        [&batch](Item* item) { batch.push_back(item); }, 16, &cursor);
    ASSERT_EQ(n, batch.size());
    for (Item* item : batch) {
      EXPECT_TRUE(even(*item)) << item->key();
      item->unref();
    }
    removed += n;
    ++batches;
    ASSERT_LT(batches, kItems) << "the batches never ended";
    if (n < 16) break;  // a short batch: nothing left to remove
  }
  EXPECT_EQ(removed, static_cast<size_t>(kItems / 2));
  EXPECT_EQ(table_.size(), static_cast<size_t>(kItems / 2));
  table_.forEach([](const Item* item) { EXPECT_FALSE(even(*item)) << item->key(); });
  // 129 batches over 4096 items: restarting each batch at slot 0 examined the kept items
  // again and again (about 130,000 calls); resuming at the cursor examines each item about
  // once, plus the final pass that finds nothing.
  EXPECT_LT(examined, static_cast<size_t>(3 * kItems)) << "examined " << examined;
}

TEST_F(HashTableRemoveIfTest, ACursorInTheMiddleWrapsAroundToTheStart) {
  size_t cursor = table_.slotCount() / 2;
  std::vector<Item*> batch;
  const size_t n =
      table_.removeIf([](const Item&) { return true; },
                      [&batch](Item* item) { batch.push_back(item); }, kItems, &cursor);
  EXPECT_EQ(n, static_cast<size_t>(kItems));
  EXPECT_EQ(table_.size(), 0u);
  for (Item* item : batch) item->unref();
}

}  // namespace
}  // namespace memkv::engine
