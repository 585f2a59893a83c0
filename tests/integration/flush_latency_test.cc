// FLUSH must not stall its worker: with one worker thread and 500k items, a
// GET on another connection is answered within a few milliseconds while the
// flush runs (freeing every item on the worker took ~90 ms; memcached takes
// ~4 ms, since its flush_all only moves a mark). Latency-measuring: RUN_SERIAL.
// Runs against memcached too (MEMKV_TEST_TARGET=memcached), which passes.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "integration/server_fixture.h"
#include "support/couchbase_client.h"
#include "support/test_env.h"

#ifndef MEMKV_ADMIN_BIN
#error "MEMKV_ADMIN_BIN must name the memkv-admin binary"
#endif

namespace memkv::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kItems = 500'000;

// Stores kItems small items through pipelined SETQs.
void fill(McbpClient& client) {
  constexpr int kBatch = 2000;
  for (int base = 0; base < kItems; base += kBatch) {
    std::string batch;
    for (int i = base; i < base + kBatch; ++i) {
      batch += encode(makeStore(op::kSetQ, "key:" + std::to_string(i), "0123456789"));
    }
    ASSERT_TRUE(client.sendRaw(batch));
    ASSERT_EQ(client.noop().opcode, op::kNoop) << "a SETQ failed";
  }
}

// Runs `action` while `reader` GETs "probe" back to back, from 50 ms before
// it until 300 ms after it returned (background work runs then). Returns the
// slowest GET; every GET sent after the action must hit.
Clock::duration worstGetAround(McbpClient& reader, const std::function<void()>& action) {
  std::atomic<bool> acted{false};
  std::atomic<bool> failed{false};
  Clock::duration worst{};
  std::thread measure([&] {
    Clock::time_point acted_at{};
    while (!failed.load()) {
      const bool after = acted.load();
      const auto t0 = Clock::now();
      const uint16_t got = reader.get("probe").status;
      const auto t1 = Clock::now();
      if (after && got != status::kSuccess) failed = true;
      worst = std::max(worst, t1 - t0);
      if (after && acted_at == Clock::time_point{}) acted_at = t1;
      if (acted_at != Clock::time_point{} && t1 - acted_at > 300ms) break;
    }
  });
  std::this_thread::sleep_for(50ms);
  action();
  acted = true;
  measure.join();
  EXPECT_FALSE(failed.load()) << "a GET of the probe missed after the action";
  return worst;
}

// Best of three: one scheduling hiccup of a loaded machine must not fail a
// test, while work that blocks the worker fails every attempt. Freeing
// 500k items on the worker made the slowest GET ~90 ms on an idle machine
// (~400 ms on a loaded 2-core one); without it the slowest GET is up to the
// scheduler: a few ms idle, ~25 ms on that box.
void expectNoStall(const std::function<Clock::duration()>& attempt) {
  const auto bound = scaled(50ms);
  Clock::duration best = Clock::duration::max();
  for (int i = 0; i < 3 && best >= bound && !::testing::Test::HasFatalFailure(); ++i) {
    best = std::min(best, attempt());
  }
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(best).count();
  ::testing::Test::RecordProperty("slowest_get_us", std::to_string(us));
  EXPECT_LT(best, bound) << "slowest GET: " << us << " us";
}

class FlushLatencyTest : public ServerTest {
 protected:
  FlushLatencyTest() : ServerTest({"-t", "1", "-m", "512"}) {}

  void fill() {
    memkv::test::fill(client_);
    // memcached still counts flushed items until its LRU crawler gets to them.
    if (!isMemcached()) {
      ASSERT_GE(statU64(client_, "curr_items"), static_cast<uint64_t>(kItems));
    }
  }
};

TEST_F(FlushLatencyTest, GetOnTheSameWorkerIsNotStalledByFlush) {
  McbpClient reader = newClient();
  ASSERT_TRUE(reader.connected());
  expectNoStall([&] {
    fill();
    EXPECT_EQ(client_.set("probe", "v").status, status::kSuccess);
    const Clock::duration worst = worstGetAround(reader, [&] {
      EXPECT_EQ(client_.flush().status, status::kSuccess);
      // The probe is stored again at once: the reader's GETs keep hitting.
      EXPECT_EQ(client_.set("probe", "v").status, status::kSuccess);
    });
    if (!isMemcached()) {
      EXPECT_EQ(statU64(client_, "curr_items"), 1u);
    }
    return worst;
  });
}

// The memory of flushed items comes back without further traffic.
TEST_F(FlushLatencyTest, FlushedMemoryIsFreedInTheBackground) {
  fill();
  const uint64_t full = statU64(client_, "bytes");
  ASSERT_EQ(client_.flush().status, status::kSuccess);
  if (!isMemcached()) {
    EXPECT_EQ(statU64(client_, "curr_items"), 0u);
  }
  uint64_t bytes = full;
  EXPECT_TRUE(waitForStat(
      client_, "bytes", [&](uint64_t b) { return b < full / 100; }, scaled(10'000ms), &bytes))
      << "bytes still " << bytes << " of " << full;
}

// DELETE_BUCKET empties the bucket on the ExecutorPool, as before FLUSH
// changed: the same measurement, around deleting a bucket of 500k items.
const couchbase::TestUser kUsers[] = {{"admin", "admin-pw", "admin"},
                                      {"app", "app-pw", "read[default],write[default]"}};

class DeleteBucketLatencyTest : public ServerTest {
 protected:
  DeleteBucketLatencyTest() : ServerTest(args()) {}

  static std::vector<std::string> args() {
    std::string error;
    return {"-t", "1", "--users-file",
            couchbase::sharedUsersFile(MEMKV_ADMIN_BIN, kUsers, &error).path()};
  }

  void SetUp() override {
    if (targetFromEnv() == ServerKind::kMemcached) GTEST_SKIP() << "memkv-only: buckets";
    std::string error;
    couchbase::sharedUsersFile(MEMKV_ADMIN_BIN, kUsers, &error);
    ASSERT_TRUE(error.empty()) << error;
    ServerTest::SetUp();
    ASSERT_EQ(couchbase::saslPlain(client_, "admin", "admin-pw").status, status::kSuccess);
  }
};

TEST_F(DeleteBucketLatencyTest, GetOnTheSameWorkerIsNotStalledByDeleteBucket) {
  McbpClient reader = newClient();
  ASSERT_EQ(couchbase::saslPlain(reader, "app", "app-pw").status, status::kSuccess);
  ASSERT_EQ(reader.set("probe", "v").status, status::kSuccess);
  McbpClient filler = newClient();
  ASSERT_EQ(couchbase::saslPlain(filler, "admin", "admin-pw").status, status::kSuccess);
  expectNoStall([&] {
    const Response created = client_.call(couchbase::makeRequest(
        couchbase::op::kCreateBucket, "big", R"({"memory_limit":536870912})"));
    EXPECT_EQ(created.status, status::kSuccess);
    EXPECT_EQ(couchbase::selectBucket(filler, "big").status, status::kSuccess);
    fill(filler);
    return worstGetAround(reader, [&] {
      const Response deleted =
          client_.call(couchbase::makeRequest(couchbase::op::kDeleteBucket, "big"));
      EXPECT_EQ(deleted.status, status::kSuccess);
    });
  });
}

// Flushed items hold their memory until freed, yet the quota they occupy
// must not refuse writes made right after the flush: with -M (no eviction)
// the same amount of data fits again at once, and with eviction no live
// item is evicted to make room.
class FlushQuotaTest : public ServerTest, public ::testing::WithParamInterface<bool /* evict */> {
 protected:
  FlushQuotaTest()
      : ServerTest(GetParam() ? std::vector<std::string>{"-m", "8"}
                              : std::vector<std::string>{"-m", "8", "-M"}) {}
};

TEST_P(FlushQuotaTest, AFullBucketTakesAsMuchAgainRightAfterAFlush) {
  const std::string value(1000, 'v');
  int stored = 0;
  if (GetParam()) {
    stored = 6000;  // ~6 MB of 8
    for (int i = 0; i < stored; ++i) {
      ASSERT_EQ(client_.set("old:" + std::to_string(i), value).status, status::kSuccess);
    }
  } else {
    while (stored < 20'000 &&
           client_.set("old:" + std::to_string(stored), value).status == status::kSuccess) {
      ++stored;
    }
    ASSERT_EQ(client_.set("old:x", value).status, status::kEnomem) << "never filled up";
  }
  const uint64_t evictions = statU64(client_, "evictions");
  ASSERT_EQ(client_.flush().status, status::kSuccess);
  for (int i = 0; i < stored; ++i) {
    ASSERT_EQ(client_.set("new:" + std::to_string(i), value).status, status::kSuccess)
        << "write " << i << " of " << stored << " after the flush";
  }
  EXPECT_EQ(statU64(client_, "evictions"), evictions) << "a live item was evicted";
  for (int i = 0; i < stored; i += 500) {
    EXPECT_EQ(client_.get("new:" + std::to_string(i)).value, value);
  }
}

INSTANTIATE_TEST_SUITE_P(EvictOrRefuse, FlushQuotaTest, ::testing::Bool(),
                         [](const auto& p) { return p.param ? "Evict" : "NoEvict"; });

}  // namespace
}  // namespace memkv::test
