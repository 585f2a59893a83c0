// The engine side of memcached's meta commands: the per-item state mg reports
// (fetched, last access), the recache token (W once, then Z), stale items (X)
// from md I and ms I, N vivify, E-chosen CAS values, and the counter width
// rule both protocols share.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "bucket_fixture.h"

namespace memkv::engine {
namespace {

class MetaStateTest : public BucketFixture {
 protected:
  MetaGetResult metaGet(std::string_view key, MetaGetRequest r = {}) {
    r.key = key;
    return bucket_->metaGet(r);
  }
};

TEST_F(MetaStateTest, FetchedAndLastAccessAreReportedAsTheyWereBeforeTheRead) {
  ASSERT_EQ(set("k", "v").status, EngineStatus::kSuccess);
  clock_.advance(7);
  MetaGetResult r = metaGet("k");
  ASSERT_TRUE(r.item);
  EXPECT_FALSE(r.fetched_before);
  EXPECT_EQ(r.idle_seconds, 7u);
  clock_.advance(3);
  r = metaGet("k");
  EXPECT_TRUE(r.fetched_before);
  EXPECT_EQ(r.idle_seconds, 3u);
  // u: the read moves nothing.
  clock_.advance(2);
  MetaGetRequest quiet;
  quiet.no_bump = true;
  r = metaGet("k", quiet);
  EXPECT_EQ(r.idle_seconds, 2u);
  r = metaGet("k");
  EXPECT_EQ(r.idle_seconds, 2u);
  // A store resets both.
  ASSERT_EQ(set("k", "w").status, EngineStatus::kSuccess);
  r = metaGet("k");
  EXPECT_FALSE(r.fetched_before);
  EXPECT_EQ(r.idle_seconds, 0u);
}

TEST_F(MetaStateTest, VivifyCreatesAnEmptyItemAndOnlyTheFirstReaderWins) {
  MetaGetRequest n;
  n.vivify = true;
  n.vivify_expiry = 30;
  MetaGetResult first = metaGet("missing", n);
  ASSERT_TRUE(first.item);
  EXPECT_TRUE(first.won);
  EXPECT_FALSE(first.token_sent);
  EXPECT_EQ(first.item->value().size(), 0u);
  EXPECT_EQ(first.item->expiry(), kStart + 30);
  MetaGetResult second = metaGet("missing", n);
  ASSERT_TRUE(second.item);
  EXPECT_FALSE(second.won);
  EXPECT_TRUE(second.token_sent);
  // The winner's store clears the token.
  ASSERT_EQ(set("missing", "filled").status, EngineStatus::kSuccess);
  MetaGetResult after = metaGet("missing", n);
  EXPECT_FALSE(after.won);
  EXPECT_FALSE(after.token_sent);
}

TEST_F(MetaStateTest, ConcurrentVivifyHasExactlyOneWinner) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 200;
  for (int round = 0; round < kRounds; ++round) {
    const std::string key = "race-" + std::to_string(round);
    std::atomic<int> winners{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        MetaGetRequest n;
        n.key = key;
        n.vivify = true;
        if (bucket_->metaGet(n).won) winners.fetch_add(1);
      });
    }
    for (auto& t : threads) t.join();
    ASSERT_EQ(winners.load(), 1) << key;
  }
}

TEST_F(MetaStateTest, RecacheWinsOnceWhenLittleTimeIsLeft) {
  ASSERT_EQ(set("k", "v", 100).status, EngineStatus::kSuccess);
  MetaGetRequest r;
  r.recache = true;
  r.recache_seconds = 30;
  EXPECT_FALSE(metaGet("k", r).won);  // 100 s left
  clock_.advance(80);
  const MetaGetResult win = metaGet("k", r);
  EXPECT_TRUE(win.won);
  const MetaGetResult later = metaGet("k", r);
  EXPECT_FALSE(later.won);
  EXPECT_TRUE(later.token_sent);
  // An item without an expiry never asks to be recached.
  ASSERT_EQ(set("forever", "v").status, EngineStatus::kSuccess);
  EXPECT_FALSE(metaGet("forever", r).won);
}

TEST_F(MetaStateTest, InvalidateMarksStaleWithANewCasAndTheNextReaderWins) {
  const MutationResult stored = set("k", "value", 0);
  MetaDeleteRequest md;
  md.key = "k";
  md.invalidate = true;
  md.has_expiry = true;
  md.expiry = 30;
  const MutationResult inv = bucket_->metaDelete(md);
  ASSERT_EQ(inv.status, EngineStatus::kSuccess);
  EXPECT_GT(inv.cas, stored.cas);
  MetaGetResult first = metaGet("k");
  ASSERT_TRUE(first.item);
  EXPECT_EQ(str(first.item->value()), "value");  // the value stays
  EXPECT_EQ(first.cas, inv.cas);
  EXPECT_EQ(first.item->expiry(), kStart + 30);
  EXPECT_TRUE(first.stale);
  EXPECT_TRUE(first.won);
  MetaGetResult second = metaGet("k");
  EXPECT_TRUE(second.stale);
  EXPECT_FALSE(second.won);
  EXPECT_TRUE(second.token_sent);
  // A store with the current CAS replaces it: fresh, no markers.
  ASSERT_EQ(set("k", "new", 0, inv.cas).status, EngineStatus::kSuccess);
  MetaGetResult fresh = metaGet("k");
  EXPECT_FALSE(fresh.stale);
  EXPECT_FALSE(fresh.token_sent);
}

TEST_F(MetaStateTest, EmptyValueKeepsTheItemWithNewFlagsAndExpiry) {
  ASSERT_EQ(set("k", "value", 0, 0, 7).status, EngineStatus::kSuccess);
  MetaDeleteRequest md;
  md.key = "k";
  md.empty_value = true;
  md.flags = 9;
  ASSERT_EQ(bucket_->metaDelete(md).status, EngineStatus::kSuccess);
  const MetaGetResult r = metaGet("k");
  ASSERT_TRUE(r.item);
  EXPECT_EQ(r.item->value().size(), 0u);
  EXPECT_EQ(r.item->flags(), 9u);
  EXPECT_FALSE(r.stale);
}

TEST_F(MetaStateTest, MetaDeleteChecksTheCasAndMissingKeys) {
  const MutationResult stored = set("k", "v");
  MetaDeleteRequest md;
  md.key = "k";
  md.cas = stored.cas + 1;
  EXPECT_EQ(bucket_->metaDelete(md).status, EngineStatus::kKeyEexists);
  md.cas = stored.cas;
  EXPECT_EQ(bucket_->metaDelete(md).status, EngineStatus::kSuccess);
  EXPECT_EQ(get("k"), "<miss>");
  EXPECT_EQ(bucket_->metaDelete(md).status, EngineStatus::kKeyEnoent);
}

TEST_F(MetaStateTest, StoreWithInvalidateAndAnOlderCasStoresAsStale) {
  const MutationResult first = set("k", "v1", 60);
  const MutationResult second = set("k", "v2", 60);
  ASSERT_GT(second.cas, first.cas);
  StoreRequest late;
  late.key = "k";
  late.value = bytes("late");
  late.cas = first.cas;  // older than the item's
  late.invalidate = true;
  late.expiry = 5;
  ASSERT_EQ(bucket_->store(late).status, EngineStatus::kSuccess);
  const MetaGetResult r = metaGet("k");
  ASSERT_TRUE(r.item);
  EXPECT_EQ(str(r.item->value()), "late");
  EXPECT_TRUE(r.stale);
  EXPECT_EQ(r.item->expiry(), kStart + 60);  // the old expiry stays
  // Without invalidate the same write is a CAS conflict.
  late.invalidate = false;
  EXPECT_EQ(bucket_->store(late).status, EngineStatus::kKeyEexists);
  // A newer (unknown) CAS is a conflict even with invalidate.
  late.invalidate = true;
  late.cas = r.cas + 100;
  EXPECT_EQ(bucket_->store(late).status, EngineStatus::kKeyEexists);
}

TEST_F(MetaStateTest, ChosenCasIsUsedAndLaterCasValuesStayAboveIt) {
  StoreRequest sr;
  sr.key = "k";
  sr.value = bytes("v");
  sr.new_cas = 1'000'000;
  EXPECT_EQ(bucket_->store(sr).cas, 1'000'000u);
  EXPECT_GT(set("k", "w").cas, 1'000'000u);
}

TEST_F(MetaStateTest, CounterKeepsTheStoredWidthAndCanTouch) {
  ASSERT_EQ(set("n", "100").status, EngineStatus::kSuccess);
  EXPECT_EQ(counter("n", false, 95).value, 5u);
  EXPECT_EQ(get("n"), "5  ");  // memcached's in-place rule: width kept, padded
  EXPECT_EQ(counter("n", true, 1000).value, 1005u);
  EXPECT_EQ(get("n"), "1005");  // longer: exact
  CounterRequest touch{"n", true, 1, 0, kCounterNoCreate, 0};
  touch.touch = true;
  touch.touch_expiry = 40;
  const CounterResult r = bucket_->counter(touch);
  EXPECT_EQ(r.expiry, kStart + 40);
  EXPECT_EQ(r.length, 4u);
}

}  // namespace
}  // namespace memkv::engine
