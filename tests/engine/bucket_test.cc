#include <gtest/gtest.h>

#include "bucket_fixture.h"

namespace memkv::engine {
namespace {

using S = EngineStatus;

TEST_F(BucketFixture, SetThenGetReturnsValueFlagsAndCas) {
  auto r = set("k", "hello", 0, 0, 0xdeadbeef);
  ASSERT_EQ(r.status, S::kSuccess);
  EXPECT_NE(r.cas, 0u);
  auto g = bucket_->get("k");
  ASSERT_TRUE(g.item);
  EXPECT_EQ(str(g.item->value()), "hello");
  EXPECT_EQ(g.item->flags(), 0xdeadbeefu);
  EXPECT_EQ(g.item->cas(), r.cas);
  EXPECT_EQ(g.item->key(), "k");
}

TEST_F(BucketFixture, EveryMutationGetsANewCas) {
  auto a = set("k", "1");
  auto b = set("k", "2");
  EXPECT_NE(a.cas, b.cas);
  auto c = counter("k", true, 1);
  EXPECT_NE(c.cas, b.cas);
}

TEST_F(BucketFixture, CasRules) {
  EXPECT_EQ(set("missing", "v", 0, 42).status, S::kKeyEnoent);
  auto first = set("k", "v1");
  EXPECT_EQ(set("k", "v2", 0, first.cas + 1000).status, S::kKeyEexists);
  EXPECT_EQ(get("k"), "v1");
  auto second = set("k", "v2", 0, first.cas);
  EXPECT_EQ(second.status, S::kSuccess);
  EXPECT_EQ(get("k"), "v2");
  EXPECT_EQ(bucket_->remove("k", first.cas).status, S::kKeyEexists);
  EXPECT_EQ(bucket_->remove("k", second.cas).status, S::kSuccess);
  EXPECT_EQ(bucket_->remove("k", 0).status, S::kKeyEnoent);
}

TEST_F(BucketFixture, AddAndReplace) {
  EXPECT_EQ(set("k", "v", 0, 0, 0, StoreMode::kReplace).status, S::kKeyEnoent);
  EXPECT_EQ(set("k", "v", 0, 0, 0, StoreMode::kAdd).status, S::kSuccess);
  EXPECT_EQ(set("k", "w", 0, 0, 0, StoreMode::kAdd).status, S::kKeyEexists);
  EXPECT_EQ(set("k", "w", 0, 0, 0, StoreMode::kReplace).status, S::kSuccess);
  EXPECT_EQ(get("k"), "w");
}

TEST_F(BucketFixture, AddWithCasIsACasStore) {
  // memcached 1.6 (NREAD_CAS): missing key KEY_ENOENT, mismatch KEY_EEXISTS.
  EXPECT_EQ(set("k", "v", 0, 99, 0, StoreMode::kAdd).status, S::kKeyEnoent);
  auto first = set("k", "v");
  EXPECT_EQ(set("k", "w", 0, first.cas + 1, 0, StoreMode::kAdd).status, S::kKeyEexists);
  EXPECT_EQ(set("k", "w", 0, first.cas, 0, StoreMode::kAdd).status, S::kSuccess);
  EXPECT_EQ(get("k"), "w");
}

TEST_F(BucketFixture, AddSucceedsOverAnExpiredItem) {
  set("k", "old", 10);
  clock_.advance(10);
  EXPECT_EQ(set("k", "new", 0, 0, 0, StoreMode::kAdd).status, S::kSuccess);
  EXPECT_EQ(get("k"), "new");
}

TEST_F(BucketFixture, AppendPrependKeepFlagsAndExpiry) {
  EXPECT_EQ(set("k", "x", 0, 0, 0, StoreMode::kAppend).status, S::kNotStored);
  set("k", "mid", 100, 0, 77);
  EXPECT_EQ(set("k", "-end", 0, 0, 1, StoreMode::kAppend).status, S::kSuccess);
  EXPECT_EQ(set("k", "start-", 0, 0, 2, StoreMode::kPrepend).status, S::kSuccess);
  auto g = bucket_->get("k");
  ASSERT_TRUE(g.item);
  EXPECT_EQ(str(g.item->value()), "start-mid-end");
  EXPECT_EQ(g.item->flags(), 77u);
  clock_.advance(100);
  EXPECT_EQ(get("k"), "<miss>");
}

TEST_F(BucketFixture, AppendHonoursCasAndSizeLimit) {
  makeBucket({64 << 20, 8, true});
  auto r = set("k", "1234");
  EXPECT_EQ(set("k", "5", 0, r.cas + 1, 0, StoreMode::kAppend).status, S::kKeyEexists);
  EXPECT_EQ(set("k", "5678", 0, r.cas, 0, StoreMode::kAppend).status, S::kSuccess);
  EXPECT_EQ(set("k", "9", 0, 0, 0, StoreMode::kAppend).status, S::kNotStored);
  EXPECT_EQ(get("k"), "12345678");
}

TEST_F(BucketFixture, ValueSizeLimitIsInclusive) {
  makeBucket({64 << 20, 1024, true});
  EXPECT_EQ(set("k", std::string(1024, 'x')).status, S::kSuccess);
  EXPECT_EQ(set("k", std::string(1025, 'x')).status, S::kE2big);
  EXPECT_EQ(get("k").size(), 1024u);
}

TEST_F(BucketFixture, RelativeExpiryEdges) {
  set("k", "v", 5);
  clock_.advance(4);
  EXPECT_EQ(get("k"), "v");
  clock_.advance(1);
  EXPECT_EQ(get("k"), "<miss>");
  auto g = bucket_->get("k");
  EXPECT_FALSE(g.item);
}

TEST_F(BucketFixture, ExpiredReadIsReportedOnce) {
  set("k", "v", 1);
  clock_.advance(1);
  auto first = bucket_->get("k");
  EXPECT_TRUE(first.expired);
  auto second = bucket_->get("k");
  EXPECT_FALSE(second.expired);  // reclaimed by the first read
  EXPECT_EQ(bucket_->stats().curr_items, 0u);
}

TEST_F(BucketFixture, ThirtyDaysIsRelativeAndMoreIsAbsolute) {
  const uint32_t thirty_days = kRelativeExpiryMax;
  set("rel", "v", thirty_days);
  set("abs", "v", kStart + 100);
  set("past", "v", kStart - 100);
  set("just-past-30d", "v", thirty_days + 1);  // absolute time in 1970: expired
  EXPECT_EQ(get("past"), "<miss>");
  EXPECT_EQ(get("just-past-30d"), "<miss>");
  clock_.advance(99);
  EXPECT_EQ(get("abs"), "v");
  clock_.advance(1);
  EXPECT_EQ(get("abs"), "<miss>");
  EXPECT_EQ(get("rel"), "v");
  clock_.set(kStart + thirty_days);
  EXPECT_EQ(get("rel"), "<miss>");
}

TEST_F(BucketFixture, ExpiryZeroNeverExpires) {
  set("k", "v", 0);
  clock_.advance(10 * kRelativeExpiryMax);
  EXPECT_EQ(get("k"), "v");
}

TEST_F(BucketFixture, TouchChangesExpiryButNotCasOrValue) {
  auto r = set("k", "v", 10);
  auto t = bucket_->getAndTouch("k", 100);
  ASSERT_TRUE(t.item);
  EXPECT_EQ(t.item->cas(), r.cas);
  clock_.advance(50);
  EXPECT_EQ(get("k"), "v");
  EXPECT_FALSE(bucket_->getAndTouch("missing", 5).item);
  clock_.advance(50);
  EXPECT_EQ(get("k"), "<miss>");
}

TEST_F(BucketFixture, PreserveTtlKeepsTheLiveItemsExpiry) {
  set("k", "v", 10);
  StoreRequest r;
  r.key = "k";
  r.value = bytes("w");
  r.expiry = 0;
  r.preserve_ttl = true;
  ASSERT_EQ(bucket_->store(r).status, S::kSuccess);
  clock_.advance(9);
  EXPECT_EQ(get("k"), "w");
  clock_.advance(1);
  EXPECT_EQ(get("k"), "<miss>");
  // Nothing to preserve: the request's own expiry applies.
  r.key = "fresh";
  r.expiry = 5;
  ASSERT_EQ(bucket_->store(r).status, S::kSuccess);
  clock_.advance(5);
  EXPECT_EQ(get("fresh"), "<miss>");
}

TEST_F(BucketFixture, IncrDecrSemantics) {
  auto created = counter("c", true, 5, 100);
  ASSERT_EQ(created.status, S::kSuccess);
  EXPECT_TRUE(created.created);
  EXPECT_EQ(created.value, 100u);  // creation stores the initial value, not initial + delta
  EXPECT_EQ(counter("c", true, 5).value, 105u);
  EXPECT_EQ(get("c"), "105");
  EXPECT_EQ(counter("c", false, 1000).value, 0u);  // floor at zero
  set("big", "18446744073709551615");
  EXPECT_EQ(counter("big", true, 2).value, 1u);  // wraps at 2^64
  EXPECT_EQ(counter("nocreate", true, 1, 0, kCounterNoCreate).status, S::kKeyEnoent);
  EXPECT_EQ(get("nocreate"), "<miss>");
  set("text", "abc");
  EXPECT_EQ(counter("text", true, 1).status, S::kDeltaBadval);
  EXPECT_EQ(get("text"), "abc");
}

TEST_F(BucketFixture, CounterKeepsFlagsAndHonoursCas) {
  auto r = set("c", "10", 0, 0, 99);
  EXPECT_EQ(counter("c", true, 1, 0, 0, r.cas + 5).status, S::kKeyEexists);
  // memcached ignores the CAS of a counter that does not exist yet.
  auto made = counter("missing", true, 1, 3, 0, 7);
  EXPECT_EQ(made.status, S::kSuccess);
  EXPECT_TRUE(made.created);
  auto ok = counter("c", true, 1, 0, 0, r.cas);
  EXPECT_EQ(ok.status, S::kSuccess);
  EXPECT_EQ(bucket_->get("c").item->flags(), 99u);
}

TEST_F(BucketFixture, FlushNowEmptiesAndReturnsMemory) {
  for (int i = 0; i < 1000; ++i) set("k" + std::to_string(i), std::string(100, 'v'));
  EXPECT_EQ(bucket_->stats().curr_items, 1000u);
  EXPECT_GT(bucket_->stats().bytes, 100'000u);
  bucket_->flush(0);
  EXPECT_EQ(bucket_->stats().curr_items, 0u);
  EXPECT_EQ(get("k1"), "<miss>");
  while (bucket_->reclaimFlushed(100)) {
  }
  EXPECT_EQ(bucket_->stats().bytes, 0u);
}

TEST_F(BucketFixture, DelayedFlushInvalidatesAtItsTime) {
  set("a", "1");
  bucket_->flush(10);
  EXPECT_EQ(get("a"), "1");
  clock_.advance(5);
  set("b", "2");  // stored before the flush time: goes too
  clock_.advance(5);
  EXPECT_EQ(get("a"), "<miss>");
  EXPECT_EQ(get("b"), "<miss>");
  set("c", "3");  // after the flush: stays
  clock_.advance(100);
  EXPECT_EQ(get("c"), "3");
}

TEST_F(BucketFixture, ItemsPinnedByReadersStayValidAfterOverwriteAndFlush) {
  set("k", "original");
  auto pinned = bucket_->get("k").item;
  set("k", "replaced");
  bucket_->flush(0);
  EXPECT_FALSE(bucket_->reclaimFlushed(100));
  // The reader's bytes never change under it (docs/architecture.md invariant 8).
  EXPECT_EQ(str(pinned->value()), "original");
  EXPECT_GT(bucket_->stats().bytes, 0u);  // still charged while referenced
  pinned = ItemRef();
  EXPECT_EQ(bucket_->stats().bytes, 0u);
}

TEST_F(BucketFixture, ManyKeysSurviveTableGrowth) {
  for (int i = 0; i < 50'000; ++i) set("key:" + std::to_string(i), std::to_string(i * 3));
  for (int i = 0; i < 50'000; i += 7) {
    ASSERT_EQ(get("key:" + std::to_string(i)), std::to_string(i * 3));
  }
  EXPECT_EQ(bucket_->stats().curr_items, 50'000u);
}

}  // namespace
}  // namespace memkv::engine
