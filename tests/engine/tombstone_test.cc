// What a vbucket remembers of the documents it lost, for change streams:
// tombstones within their bounds, the purge seqno, the failover log, and
// the backfill snapshot built from them (engine/tombstones.h).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bucket_fixture.h"
#include "common/crc32.h"

namespace memkv::engine {
namespace {

class TombstoneTest : public BucketFixture {
 protected:
  static uint16_t vbOf(std::string_view key) {
    return vbucketOf(crc32(key.data(), key.size()), kVBucketCount);
  }
  static std::vector<std::string> keysIn(uint16_t vb, size_t n, const std::string& prefix = "k") {
    std::vector<std::string> keys;
    for (int i = 0; keys.size() < n; ++i) {
      std::string k = prefix + std::to_string(i);
      if (vbOf(k) == vb) keys.push_back(k);
    }
    return keys;
  }
  // "key@seqno" for a document, "-key@seqno" for a tombstone, in order.
  static std::vector<std::string> describe(const ChangeSnapshot& snap) {
    std::vector<std::string> out;
    for (const Change& c : snap.changes) {
      const std::string key = c.item ? std::string(c.item->key()) : "-" + c.key;
      out.push_back(key + "@" + std::to_string(c.seqno));
    }
    return out;
  }
  static std::string at(const std::string& key, uint64_t seqno) {
    return key + "@" + std::to_string(seqno);
  }
};

TEST_F(TombstoneTest, WithoutStreamsADeletionOnlyRaisesThePurgeSeqno) {
  const uint16_t vb = 3;
  const auto keys = keysIn(vb, 2);
  set(keys[0], "a");
  set(keys[1], "b");
  const MutationResult del = bucket_->remove(keys[0], 0);
  ASSERT_EQ(del.status, EngineStatus::kSuccess);
  EXPECT_EQ(del.seqno, 3u);
  const ChangeSnapshot snap = bucket_->snapshotChanges(vb, 0);
  EXPECT_EQ(snap.purge_seqno, 3u);
  EXPECT_EQ(snap.high_seqno, 3u);
  EXPECT_EQ(describe(snap), std::vector<std::string>{at(keys[1], 2)});
  const BucketStats stats = bucket_->stats();
  EXPECT_EQ(stats.tombstones, 0u);
  EXPECT_EQ(stats.tombstone_bytes, 0u);
  EXPECT_EQ(stats.tombstones_purged, 1u);
}

TEST_F(TombstoneTest, ABackfillHoldsEachKeysNewestChangeInSeqnoOrder) {
  bucket_->keepTombstones();
  const uint16_t vb = 5;
  const auto k = keysIn(vb, 5);
  set(k[0], "v");            // 1
  set(k[1], "v");            // 2
  set(k[2], "v");            // 3
  bucket_->remove(k[1], 0);  // 4: tombstone
  set(k[3], "v");            // 5
  bucket_->remove(k[3], 0);  // 6: tombstone, then stored again:
  set(k[3], "again");        // 7: only the document is sent
  set(k[4], "v");            // 8
  bucket_->remove(k[4], 0);  // 9
  set(k[4], "v");            // 10
  bucket_->remove(k[4], 0);  // 11: a key deleted twice: its last tombstone
  set(k[0], "changed");      // 12: k0's newer version replaces seqno 1
  const ChangeSnapshot all = bucket_->snapshotChanges(vb, 0);
  EXPECT_EQ(describe(all), (std::vector<std::string>{at(k[2], 3), "-" + at(k[1], 4), at(k[3], 7),
                                                     "-" + at(k[4], 11), at(k[0], 12)}));
  EXPECT_EQ(all.high_seqno, 12u);
  EXPECT_EQ(all.purge_seqno, 0u);
  // The tombstone carries the deletion's CAS, larger than any before it.
  const Change& gone = all.changes[1];
  EXPECT_FALSE(gone.item);
  EXPECT_EQ(gone.why, Removal::kDeleted);
  EXPECT_GT(gone.cas, all.changes[0].item->cas());
  EXPECT_EQ(gone.time, kStart);
  // From a seqno on: only what changed after it.
  EXPECT_EQ(describe(bucket_->snapshotChanges(vb, 7)),
            (std::vector<std::string>{"-" + at(k[4], 11), at(k[0], 12)}));
  EXPECT_TRUE(bucket_->snapshotChanges(vb, 12).changes.empty());
  // Other vbuckets are untouched.
  EXPECT_TRUE(bucket_->snapshotChanges(vb + 1, 0).changes.empty());
}

TEST_F(TombstoneTest, ExpiriesAndEvictionsLeaveTombstonesWithTheirReason) {
  bucket_->keepTombstones();
  const uint16_t vb = 9;
  const auto k = keysIn(vb, 3);
  set(k[0], "v", 10);  // expires in 10 s
  set(k[1], "v", 20);
  set(k[2], "v");
  clock_.advance(15);
  EXPECT_EQ(get(k[0]), "<miss>");  // a reader finds it expired: seqno 4
  clock_.advance(10);
  // The backfill turns the one nobody read into a tombstone first: seqno 5.
  const ChangeSnapshot snap = bucket_->snapshotChanges(vb, 0);
  EXPECT_EQ(describe(snap),
            (std::vector<std::string>{at(k[2], 3), "-" + at(k[0], 4), "-" + at(k[1], 5)}));
  EXPECT_EQ(snap.changes[1].why, Removal::kExpired);
  EXPECT_EQ(snap.changes[1].time, kStart + 15);
  EXPECT_EQ(snap.changes[2].why, Removal::kExpired);

  // Evictions: a small bucket filled well past its limit.
  BucketConfig small;
  small.memory_limit = 4 << 20;
  small.segment_size = 64 << 10;
  makeBucket(small);
  bucket_->keepTombstones();
  const std::string value(1000, 'x');
  for (int i = 0; i < 20000; ++i) set("e" + std::to_string(i), value);
  const BucketStats stats = bucket_->stats();
  ASSERT_GT(stats.evictions, 0u);
  size_t evicted = 0;
  for (uint16_t v = 0; v < kVBucketCount; ++v) {
    for (const Change& c : bucket_->snapshotChanges(v, 0).changes) {
      if (!c.item && c.why == Removal::kEvicted) ++evicted;
    }
  }
  // Every eviction left one, or the bound dropped it (and raised the purge).
  EXPECT_GT(evicted, 0u);
  EXPECT_EQ(evicted + stats.tombstones_purged, stats.evictions);
}

TEST_F(TombstoneTest, TheByteBoundDropsTheOldestAndRaisesThePurgeSeqno) {
  BucketConfig config;
  config.tombstone_memory = kVBucketCount * 1024;  // 1 KiB per vbucket
  makeBucket(config);
  bucket_->keepTombstones();
  const uint16_t vb = 11;
  const auto k = keysIn(vb, 200);
  for (const auto& key : k) set(key, "v");            // seqnos 1..200
  for (const auto& key : k) bucket_->remove(key, 0);  // 201..400
  const BucketStats stats = bucket_->stats();
  EXPECT_LE(stats.tombstone_bytes, 1024u);
  EXPECT_GT(stats.tombstones, 0u);
  EXPECT_EQ(stats.tombstones + stats.tombstones_purged, 200u);
  const ChangeSnapshot snap = bucket_->snapshotChanges(vb, 0);
  ASSERT_EQ(snap.changes.size(), stats.tombstones);
  // What is left is the newest run of deletions, just above the purge seqno.
  EXPECT_EQ(snap.purge_seqno, 400 - stats.tombstones);
  EXPECT_EQ(snap.changes.front().seqno, snap.purge_seqno + 1);
  EXPECT_EQ(snap.changes.back().seqno, 400u);
}

TEST_F(TombstoneTest, TheAgeBoundDropsOldTombstones) {
  BucketConfig config;
  config.tombstone_age = 60;
  makeBucket(config);
  bucket_->keepTombstones();
  const uint16_t vb = 12;
  const auto k = keysIn(vb, 3);
  for (const auto& key : k) set(key, "v");  // 1..3
  bucket_->remove(k[0], 0);                 // 4
  clock_.advance(30);
  bucket_->remove(k[1], 0);  // 5
  clock_.advance(40);        // the first is 70 s old, the second 40 s
  // The expiry crawler's pass over the vbucket drops what is too old.
  bucket_->reclaimExpired(1 << 20);
  const ChangeSnapshot snap = bucket_->snapshotChanges(vb, 0);
  EXPECT_EQ(describe(snap), (std::vector<std::string>{at(k[2], 3), "-" + at(k[1], 5)}));
  EXPECT_EQ(snap.purge_seqno, 4u);
  clock_.advance(30);
  bucket_->remove(k[2], 0);  // 6; a deletion drops the old ones too
  EXPECT_EQ(describe(bucket_->snapshotChanges(vb, 0)),
            (std::vector<std::string>{"-" + at(k[2], 6)}));
  EXPECT_EQ(bucket_->vbucketInfo(vb).purge_seqno, 5u);
}

TEST_F(TombstoneTest, FlushStartsANewBranchAtANewSeqno) {
  bucket_->keepTombstones();
  const uint16_t vb = 20;
  const auto k = keysIn(vb, 3);
  set(k[0], "v");
  set(k[1], "v");
  bucket_->remove(k[1], 0);  // 3
  const std::vector<FailoverEntry> before = bucket_->failoverLog(vb);
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0].seqno, 0u);
  EXPECT_EQ(before[0].uuid, bucket_->vbucketInfo(vb).uuid);

  bucket_->flush(0);
  // The flush took seqno 4: a consumer that had seen everything (3) is below
  // the purge seqno now and rolls back, instead of keeping flushed documents.
  const std::vector<FailoverEntry> after = bucket_->failoverLog(vb);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0].seqno, 4u);
  EXPECT_NE(after[0].uuid, before[0].uuid);
  EXPECT_EQ(after[1].uuid, before[0].uuid);
  const ChangeSnapshot snap = bucket_->snapshotChanges(vb, 0);
  EXPECT_TRUE(snap.changes.empty());
  EXPECT_EQ(snap.purge_seqno, 4u);
  EXPECT_EQ(snap.high_seqno, 4u);
  EXPECT_EQ(snap.uuid, after[0].uuid);
  EXPECT_EQ(bucket_->stats().tombstones, 0u);
  EXPECT_EQ(bucket_->stats().tombstone_bytes, 0u);
  // A store after the flush carries the new branch's uuid.
  EXPECT_EQ(set(k[2], "v").vbuuid, after[0].uuid);

  // A delayed flush branches when it comes due, on the vbucket's next touch.
  bucket_->flush(10);
  EXPECT_EQ(bucket_->failoverLog(vb).size(), 2u);
  clock_.advance(11);
  EXPECT_EQ(bucket_->failoverLog(vb).size(), 3u);

  // The log keeps kv_engine's 25 newest branches.
  for (int i = 0; i < 30; ++i) bucket_->flush(0);
  const std::vector<FailoverEntry> log = bucket_->failoverLog(vb);
  ASSERT_EQ(log.size(), kMaxFailoverEntries);
  for (size_t i = 1; i < log.size(); ++i) EXPECT_GT(log[i - 1].seqno, log[i].seqno);
}

TEST_F(TombstoneTest, DroppedVBucketsBranchToo) {
  bucket_->keepTombstones();
  const uint16_t vb = 30;
  const auto k = keysIn(vb, 2);
  set(k[0], "v");
  bucket_->remove(k[0], 0);
  const uint16_t list[] = {vb};
  bool sweep = false;
  bucket_->dropVBuckets(list, &sweep);
  const std::vector<FailoverEntry> log = bucket_->failoverLog(vb);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].seqno, 3u);
  EXPECT_EQ(bucket_->vbucketInfo(vb).purge_seqno, 3u);
  EXPECT_TRUE(bucket_->snapshotChanges(vb, 0).changes.empty());
  // Another vbucket keeps its one branch.
  EXPECT_EQ(bucket_->failoverLog(vb + 1).size(), 1u);
}

}  // namespace
}  // namespace memkv::engine
