// A followed vbucket's change log (engine/change_log.h): every seqno is logged while someone
// follows, the followers are told, the bounds drop the oldest (a cursor below them is
// dropped), a flush starts again, and the last follower takes the log with it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bucket_fixture.h"
#include "common/crc32.h"

namespace memkv::engine {
namespace {

// Counts what it was told, per vbucket.
class CountingListener final : public ChangeListener {
 public:
  void changesAppended(uint16_t vbucket) noexcept override { told.push_back(vbucket); }
  std::vector<uint16_t> told;
};

class ChangeLogTest : public BucketFixture {
 protected:
  static uint16_t vbOf(std::string_view key) {
    return vbucketOf(crc32(key.data(), key.size()), kVBucketCount);
  }
  static std::vector<std::string> keysIn(uint16_t vb, size_t n) {
    std::vector<std::string> keys;
    for (int i = 0; keys.size() < n; ++i) {
      std::string k = "log" + std::to_string(i);
      if (vbOf(k) == vb) keys.push_back(k);
    }
    return keys;
  }
  // "key@seqno" for a store, "-key@seqno" for a removal.
  static std::vector<std::string> describe(const ChangeRead& read) {
    std::vector<std::string> out;
    for (const LoggedChange& c : read.changes) {
      out.push_back((c.removed ? "-" : "") + std::string(c.key.view()) + "@" +
                    std::to_string(c.seqno));
    }
    return out;
  }
};

TEST_F(ChangeLogTest, AFollowedVbucketLogsEveryChangeAndTellsItsFollowers) {
  const uint16_t vb = 12;
  const auto keys = keysIn(vb, 3);
  set(keys[0], "before");  // 1: before anyone followed, not logged
  CountingListener listener;
  bucket_->followChanges(vb, &listener);
  set(keys[1], "a");                   // 2
  set(keys[0], "b");                   // 3
  bucket_->remove(keys[1], 0);         // 4
  set(keysIn(13, 1)[0], "elsewhere");  // another vbucket: not logged here, no one told
  EXPECT_EQ(listener.told, (std::vector<uint16_t>{vb, vb, vb}));
  ChangeRead read = bucket_->readChanges(vb, 1, 100);
  EXPECT_FALSE(read.dropped);
  EXPECT_EQ(read.high_seqno, 4u);
  EXPECT_EQ(describe(read),
            (std::vector<std::string>{keys[1] + "@2", keys[0] + "@3", "-" + keys[1] + "@4"}));
  EXPECT_EQ(read.changes[2].why, Removal::kDeleted);
  EXPECT_NE(read.changes[2].cas, 0u) << "a removal carries its CAS";
  // From a cursor, and at most `max` at a time.
  EXPECT_EQ(describe(bucket_->readChanges(vb, 2, 1)), std::vector<std::string>{keys[0] + "@3"});
  EXPECT_TRUE(bucket_->readChanges(vb, 4, 100).changes.empty());
  EXPECT_TRUE(bucket_->readChanges(vb, 0, 100).dropped) << "seqno 1 came before the log";
  EXPECT_GT(bucket_->stats().change_log_bytes, 0u);

  bucket_->unfollowChanges(vb, &listener);
  set(keys[2], "unfollowed");
  EXPECT_EQ(listener.told.size(), 3u) << "no one is told once unfollowChanges returned";
  EXPECT_EQ(bucket_->stats().change_log_bytes, 0u) << "the last follower takes the log";
  EXPECT_TRUE(bucket_->readChanges(vb, 4, 100).dropped);
}

TEST_F(ChangeLogTest, AnExpiryALookupFindsIsLoggedAsARemoval) {
  const uint16_t vb = 30;
  const auto keys = keysIn(vb, 1);
  CountingListener listener;
  bucket_->followChanges(vb, &listener);
  set(keys[0], "short-lived", 10);  // 1
  clock_.advance(11);
  EXPECT_EQ(get(keys[0]), "<miss>");  // 2: the reader found it expired
  const ChangeRead read = bucket_->readChanges(vb, 0, 100);
  ASSERT_EQ(read.changes.size(), 2u);
  EXPECT_TRUE(read.changes[1].removed);
  EXPECT_EQ(read.changes[1].why, Removal::kExpired);
  bucket_->unfollowChanges(vb, &listener);
}

// Each log may hold its share (half the change-log memory / 1024), and more from a pool (the
// other half) while the pool has room; past that, a log that appends drops its own oldest,
// and a cursor below them is dropped. All logs together stay within the change-log memory.
TEST_F(ChangeLogTest, TheBoundsDropTheOldestAndACursorBelowThemIsDropped) {
  BucketConfig config;
  config.change_log_memory = 64 * 1024;  // 32-byte shares and a 32 KiB pool
  makeBucket(config);
  const uint16_t busy = 5, quiet = 6;
  CountingListener listener;
  bucket_->followChanges(busy, &listener);
  bucket_->followChanges(quiet, &listener);
  const auto quiet_keys = keysIn(quiet, 1);
  set(quiet_keys[0], "q");  // the quiet log: one entry, within its share
  const auto keys = keysIn(busy, 400);
  for (size_t i = 0; i < 400; ++i) set(keys[i], "v");
  // 400 short keys are about 22 KiB: the busy log grew past its share into the pool.
  ChangeRead read = bucket_->readChanges(busy, 0, 1000);
  EXPECT_FALSE(read.dropped);
  EXPECT_EQ(read.changes.size(), 400u);
  EXPECT_EQ(bucket_->stats().change_log_dropped, 0u);
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < 400; ++i) set(keys[i], "again");
  }
  const BucketStats stats = bucket_->stats();
  EXPECT_LE(stats.change_log_bytes, 64u * 1024 + 200) << "the budget holds";
  EXPECT_GT(stats.change_log_dropped, 0u);
  EXPECT_TRUE(bucket_->readChanges(busy, 0, 1000).dropped) << "seqno 1 is gone: backfill";
  read = bucket_->readChanges(busy, 1590, 1000);
  EXPECT_FALSE(read.dropped) << "a recent cursor still reads";
  ASSERT_FALSE(read.changes.empty());
  EXPECT_EQ(read.changes.front().seqno, 1591u);
  EXPECT_EQ(read.changes.back().seqno, 1600u);
  read = bucket_->readChanges(quiet, 0, 10);
  EXPECT_FALSE(read.dropped) << "only a log that appends drops (its own oldest)";
  EXPECT_EQ(read.changes.size(), 1u);
  bucket_->unfollowChanges(busy, &listener);
  bucket_->unfollowChanges(quiet, &listener);
  EXPECT_EQ(bucket_->stats().change_log_bytes, 0u);
}

TEST_F(ChangeLogTest, AFlushStartsTheLogAgainUnderANewUuid) {
  const uint16_t vb = 99;
  const auto keys = keysIn(vb, 2);
  CountingListener listener;
  bucket_->followChanges(vb, &listener);
  set(keys[0], "a");  // 1
  const uint64_t uuid = bucket_->readChanges(vb, 0, 10).uuid;
  bucket_->flush(0);
  set(keys[1], "b");  // 3: the flush took seqno 2
  ASSERT_GE(listener.told.size(), 2u);
  ChangeRead read = bucket_->readChanges(vb, 1, 10);
  EXPECT_NE(read.uuid, uuid) << "a follower sees another history";
  EXPECT_TRUE(read.dropped) << "what came before the flush is gone from the log";
  read = bucket_->readChanges(vb, 2, 10);
  EXPECT_EQ(describe(read), std::vector<std::string>{keys[1] + "@3"});
  bucket_->unfollowChanges(vb, &listener);
}

}  // namespace
}  // namespace memkv::engine
