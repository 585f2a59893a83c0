// The engine side of range scans: point-in-time, key-ordered snapshots of a
// vbucket, and seeded samples.
#include <gtest/gtest.h>

#include <set>

#include "bucket_fixture.h"
#include "common/crc32.h"

namespace memkv::engine {
namespace {

class ScanSnapshotTest : public BucketFixture {
 protected:
  static uint16_t vbOf(std::string_view key) {
    return vbucketOf(crc32(key.data(), key.size()), kVBucketCount);
  }
  // Keys of one vbucket, found by trying names.
  std::vector<std::string> keysIn(uint16_t vb, size_t n) {
    std::vector<std::string> keys;
    for (int i = 0; keys.size() < n; ++i) {
      std::string k = "key" + std::to_string(i);
      if (vbOf(k) == vb) keys.push_back(k);
    }
    return keys;
  }
  static std::vector<std::string> keysOf(const std::vector<ScanItem>& items) {
    std::vector<std::string> out;
    for (const auto& i : items) out.emplace_back(i.item->key());
    return out;
  }
};

TEST_F(ScanSnapshotTest, RangeIsSortedBoundedAndPointInTime) {
  const uint16_t vb = 7;
  auto keys = keysIn(vb, 40);
  for (const auto& k : keys) set(k, "v-" + k);
  std::sort(keys.begin(), keys.end());

  KeyRange all{"", false, "\xff", false};
  auto snap = bucket_->snapshotRange(vb, all);
  EXPECT_EQ(keysOf(snap), keys);

  // Later writes and deletes do not change what the snapshot holds.
  set(keys[0], "changed");
  bucket_->remove(keys[1], 0);
  bucket_->getAndTouch(keys[2], 1000);
  EXPECT_EQ(str(snap[0].item->value()), "v-" + keys[0]);
  EXPECT_EQ(str(snap[1].item->value()), "v-" + keys[1]);
  EXPECT_EQ(snap[2].expiry, 0u);  // as at the snapshot, not as touched since

  // Bounds: inclusive and exclusive.
  KeyRange inner{keys[5], false, keys[10], false};
  EXPECT_EQ(keysOf(bucket_->snapshotRange(vb, inner)),
            std::vector<std::string>(keys.begin() + 5, keys.begin() + 11));
  KeyRange exclusive{keys[5], true, keys[10], true};
  EXPECT_EQ(keysOf(bucket_->snapshotRange(vb, exclusive)),
            std::vector<std::string>(keys.begin() + 6, keys.begin() + 10));
  // A vbucket's snapshot holds its own keys only.
  const uint16_t other = vb + 1;
  auto other_keys = keysIn(other, 3);
  for (const auto& k : other_keys) set(k, "w");
  std::sort(other_keys.begin(), other_keys.end());
  EXPECT_EQ(keysOf(bucket_->snapshotRange(other, all)), other_keys);
  EXPECT_EQ(keysOf(bucket_->snapshotRange(vb, all)).size(), keys.size() - 1);  // one deleted
}

TEST_F(ScanSnapshotTest, ExpiredItemsAreLeftOut) {
  const uint16_t vb = 9;
  auto keys = keysIn(vb, 2);
  set(keys[0], "x", 10);
  set(keys[1], "y");
  clock_.advance(11);
  EXPECT_EQ(keysOf(bucket_->snapshotRange(vb, {"", false, "\xff", false})),
            std::vector<std::string>{keys[1]});
}

TEST_F(ScanSnapshotTest, SamplesAreDistinctSeededAndBounded) {
  const uint16_t vb = 11;
  auto keys = keysIn(vb, 50);
  for (const auto& k : keys) set(k, "v");
  auto a = bucket_->sampleVBucket(vb, 10, 42);
  auto b = bucket_->sampleVBucket(vb, 10, 42);
  ASSERT_EQ(a.size(), 10u);
  EXPECT_EQ(keysOf(a), keysOf(b));
  std::set<std::string> distinct;
  for (const auto& k : keysOf(a)) distinct.insert(k);
  EXPECT_EQ(distinct.size(), 10u);
  const auto sample_keys = keysOf(a);
  EXPECT_TRUE(std::is_sorted(sample_keys.begin(), sample_keys.end()));
  EXPECT_EQ(bucket_->sampleVBucket(vb, 500, 1).size(), 50u);
  bool differs = false;
  for (uint64_t seed = 1; seed < 5 && !differs; ++seed) {
    differs = keysOf(bucket_->sampleVBucket(vb, 10, seed)) != keysOf(a);
  }
  EXPECT_TRUE(differs);
}

TEST_F(ScanSnapshotTest, VBucketInfoTracksSeqnos) {
  const uint16_t vb = 13;
  auto keys = keysIn(vb, 3);
  const VBucketInfo before = bucket_->vbucketInfo(vb);
  for (const auto& k : keys) set(k, "v");
  const VBucketInfo after = bucket_->vbucketInfo(vb);
  EXPECT_EQ(after.uuid, before.uuid);
  EXPECT_EQ(after.high_seqno, before.high_seqno + 3);
  EXPECT_EQ(after.items, before.items + 3);
}

}  // namespace
}  // namespace memkv::engine
