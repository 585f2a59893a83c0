// ShortKey (engine/short_key.h): keys of up to 30 bytes inside the object,
// longer ones on the heap; copies and moves keep the bytes, and what a change
// log counts for a key is its heap bytes only.
#include "engine/short_key.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace memkv::engine {
namespace {

TEST(ShortKeyTest, KeysOfEveryLengthAroundTheInlineLimitKeepTheirBytes) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{29}, size_t{30}, size_t{31},
                   size_t{250}}) {
    std::string key(n, 'k');
    for (size_t i = 0; i < n; ++i) key[i] = static_cast<char>('a' + i % 26);
    const ShortKey k(key);
    EXPECT_EQ(k.view(), key) << n;
    EXPECT_EQ(k.size(), n);
    EXPECT_EQ(k.heapBytes(), n > ShortKey::kInline ? n : 0u) << n;
    ShortKey copy(k);
    EXPECT_EQ(copy.view(), key);
    ShortKey moved(std::move(copy));
    EXPECT_EQ(moved.view(), key);
    EXPECT_EQ(copy.view(), "") << "a moved-from key is empty";  // NOLINT: checked on purpose
    ShortKey assigned(std::string_view("other"));
    assigned = k;
    EXPECT_EQ(assigned.view(), key);
    assigned = std::move(moved);
    EXPECT_EQ(assigned.view(), key);
    const ShortKey& same = assigned;
    assigned = same;  // self-assignment keeps it
    EXPECT_EQ(assigned.view(), key);
  }
}

TEST(ShortKeyTest, AVectorOfLongAndShortKeysGrowsAndCopiesWhole) {
  std::vector<ShortKey> keys;
  for (int i = 0; i < 1000; ++i) {
    keys.emplace_back(std::string(static_cast<size_t>(i % 60), static_cast<char>('a' + i % 26)));
  }
  const std::vector<ShortKey> copy = keys;
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(copy[static_cast<size_t>(i)].view(),
              std::string(static_cast<size_t>(i % 60), static_cast<char>('a' + i % 26)));
  }
}

}  // namespace
}  // namespace memkv::engine
