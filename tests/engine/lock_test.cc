// GET_LOCKED / UNLOCK, mutation seqnos, and a bucket deleted while its items
// are still referenced (a send in flight).
#include <gtest/gtest.h>

#include "bucket_fixture.h"

namespace memkv::engine {
namespace {

class LockTest : public BucketFixture {};

TEST_F(LockTest, LockedDocumentRefusesWritesWithoutTheLockCas) {
  const uint64_t original = set("doc", "v1").cas;
  LockResult lock = bucket_->getLocked("doc", 10);
  ASSERT_EQ(lock.status, EngineStatus::kSuccess);
  ASSERT_TRUE(lock.item);
  EXPECT_EQ(str(lock.item->value()), "v1");
  EXPECT_NE(lock.cas, original);
  EXPECT_NE(lock.cas, kLockedCas);

  // Readers see the value but no usable CAS.
  LookupResult r = bucket_->get("doc");
  ASSERT_TRUE(r.item);
  EXPECT_EQ(r.cas, kLockedCas);

  EXPECT_EQ(set("doc", "v2").status, EngineStatus::kLocked);
  EXPECT_EQ(set("doc", "v2", 0, original).status, EngineStatus::kLocked);
  EXPECT_EQ(bucket_->remove("doc", 0).status, EngineStatus::kLocked);
  EXPECT_EQ(counter("doc", true, 1).status, EngineStatus::kLocked);
  EXPECT_TRUE(bucket_->getAndTouch("doc", 100).locked);
  EXPECT_EQ(bucket_->getLocked("doc", 10).status, EngineStatus::kLockedTmpfail);
  EXPECT_EQ(get("doc"), "v1");

  // The lock's CAS writes, and the new version is not locked.
  const MutationResult w = set("doc", "v3", 0, lock.cas);
  ASSERT_EQ(w.status, EngineStatus::kSuccess);
  EXPECT_EQ(bucket_->get("doc").cas, w.cas);
  EXPECT_EQ(set("doc", "v4").status, EngineStatus::kSuccess);
}

TEST_F(LockTest, UnlockNeedsTheLockCas) {
  set("doc", "v1");
  EXPECT_EQ(bucket_->unlock("doc", 1), EngineStatus::kNotLocked);
  EXPECT_EQ(bucket_->unlock("missing", 1), EngineStatus::kKeyEnoent);
  LockResult lock = bucket_->getLocked("doc", 10);
  EXPECT_EQ(bucket_->unlock("doc", lock.cas + 1), EngineStatus::kLockedTmpfail);
  EXPECT_EQ(bucket_->unlock("doc", lock.cas), EngineStatus::kSuccess);
  EXPECT_EQ(set("doc", "v2").status, EngineStatus::kSuccess);
}

TEST_F(LockTest, LockExpires) {
  set("doc", "v1");
  bucket_->getLocked("doc", 2);
  clock_.advance(1);
  EXPECT_EQ(set("doc", "v2").status, EngineStatus::kLocked);
  clock_.advance(1);
  EXPECT_EQ(set("doc", "v2").status, EngineStatus::kSuccess);
}

TEST_F(LockTest, OutOfRangeLockTimeIsTheDefault) {
  set("a", "1");
  set("b", "1");
  bucket_->getLocked("a", 0);
  bucket_->getLocked("b", 3600);
  clock_.advance(kDefaultLockSeconds - 1);
  EXPECT_EQ(set("a", "2").status, EngineStatus::kLocked);
  EXPECT_EQ(set("b", "2").status, EngineStatus::kLocked);
  clock_.advance(1);
  EXPECT_EQ(set("a", "2").status, EngineStatus::kSuccess);
  EXPECT_EQ(set("b", "2").status, EngineStatus::kSuccess);
}

TEST_F(LockTest, DeleteWithTheLockCasAndFlushDropLocks) {
  set("doc", "v1");
  LockResult lock = bucket_->getLocked("doc", 10);
  EXPECT_EQ(bucket_->remove("doc", lock.cas).status, EngineStatus::kSuccess);
  EXPECT_EQ(get("doc"), "<miss>");
  // A new document under the same key (maybe at the same address) is free.
  EXPECT_EQ(set("doc", "v2").status, EngineStatus::kSuccess);
  EXPECT_EQ(set("doc", "v3").status, EngineStatus::kSuccess);

  bucket_->getLocked("doc", 10);
  bucket_->flush(0);
  EXPECT_EQ(set("doc", "v4").status, EngineStatus::kSuccess);
  EXPECT_EQ(set("doc", "v5").status, EngineStatus::kSuccess);
}

TEST_F(LockTest, MutationsCarryIncreasingSeqnosPerVBucket) {
  const MutationResult a = set("k", "1");
  const MutationResult b = set("k", "2");
  const CounterResult c = counter("n", true, 1, 5);
  const MutationResult d = bucket_->remove("k", 0);
  EXPECT_EQ(a.status, EngineStatus::kSuccess);
  EXPECT_NE(a.vbuuid, 0u);
  EXPECT_EQ(b.vbuuid, a.vbuuid);
  EXPECT_EQ(b.seqno, a.seqno + 1);
  EXPECT_EQ(d.seqno, b.seqno + 1);
  EXPECT_EQ(d.vbuuid, a.vbuuid);
  EXPECT_GT(c.seqno, 0u);
  EXPECT_NE(c.vbuuid, 0u);
  // Failed mutations take no seqno.
  EXPECT_EQ(set("k", "x", 0, 0, 0, StoreMode::kReplace).status, EngineStatus::kKeyEnoent);
  EXPECT_EQ(set("k", "3").seqno, d.seqno + 1);
}

TEST_F(LockTest, ItemsOutliveTheirDeletedBucket) {
  // A send in flight holds an item after the bucket is gone: the item and
  // the bucket's memory account stay valid until that reference drops
  // (ASan checks the memory).
  set("big", std::string(100000, 'x'));
  ItemRef held = bucket_->get("big").item;
  ASSERT_TRUE(held);
  bucket_.reset();
  EXPECT_EQ(held->value().size(), 100000u);
  EXPECT_EQ(held->value()[99999], 'x');
  held = ItemRef();  // frees the item, then the account
}

}  // namespace
}  // namespace memkv::engine
