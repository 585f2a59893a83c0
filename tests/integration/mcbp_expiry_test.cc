// Expiry: relative seconds, absolute unix times, TOUCH/GAT changing expiry, delayed FLUSH.
// Sleeps are few and short; memcached's clock ticks once a second, so margins are generous.
#include <gtest/gtest.h>

#include <ctime>
#include <string>
#include <thread>

#include "integration/server_fixture.h"

namespace memkv::test {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

class ExpiryTest : public ServerTest {};

uint32_t unixNow() {
  return static_cast<uint32_t>(std::time(nullptr));
}

TEST_F(ExpiryTest, RelativeExpiryOfOneSecond) {
  ASSERT_EQ(client_.set("short", "v", 0, 1).status, status::kSuccess);
  ASSERT_EQ(client_.set("long", "v", 0, 100).status, status::kSuccess);
  ASSERT_EQ(client_.set("forever", "v", 0, 0).status, status::kSuccess);
  EXPECT_EQ(client_.get("long").status, status::kSuccess);
  std::this_thread::sleep_for(milliseconds(2100));
  EXPECT_EQ(client_.get("short").status, status::kKeyEnoent);
  EXPECT_EQ(client_.get("long").status, status::kSuccess);
  EXPECT_EQ(client_.get("forever").status, status::kSuccess);
  // An expired key behaves as missing for ADD and REPLACE too.
  EXPECT_EQ(client_.replace("short", "w").status, status::kKeyEnoent);
  EXPECT_EQ(client_.add("short", "w").status, status::kSuccess);
}

TEST_F(ExpiryTest, AbsoluteExpiryInThePastMissesImmediately) {
  // Values above 30 days (2592000 s) are absolute unix times.
  const Response s = client_.set("past", "v", 0, unixNow() - 100);
  EXPECT_EQ(s.status, status::kSuccess) << "the store itself succeeds";
  EXPECT_EQ(client_.get("past").status, status::kKeyEnoent);
  EXPECT_EQ(client_.set("also_past", "v", 0, 2592001).status, status::kSuccess);
  EXPECT_EQ(client_.get("also_past").status, status::kKeyEnoent);
}

TEST_F(ExpiryTest, AbsoluteExpiryInTheFutureHits) {
  ASSERT_EQ(client_.set("future", "v", 0, unixNow() + 100).status, status::kSuccess);
  EXPECT_EQ(client_.get("future").value, "v");
}

TEST_F(ExpiryTest, TouchAndGatChangeExpiry) {
  ASSERT_EQ(client_.set("shortened", "v", 0, 0).status, status::kSuccess);
  ASSERT_EQ(client_.set("extended", "v", 0, 1).status, status::kSuccess);
  ASSERT_EQ(client_.set("gat_shortened", "g", 0, 0).status, status::kSuccess);
  ASSERT_EQ(client_.set("gat_cleared", "h", 0, 1).status, status::kSuccess);
  EXPECT_EQ(client_.touch("shortened", 1).status, status::kSuccess);
  EXPECT_EQ(client_.touch("extended", 100).status, status::kSuccess);
  EXPECT_EQ(client_.gat("gat_shortened", 1).value, "g");
  EXPECT_EQ(client_.gat("gat_cleared", 0).value, "h") << "expiry 0 means never expire";
  std::this_thread::sleep_for(milliseconds(2100));
  EXPECT_EQ(client_.get("shortened").status, status::kKeyEnoent);
  EXPECT_EQ(client_.get("extended").status, status::kSuccess);
  EXPECT_EQ(client_.get("gat_shortened").status, status::kKeyEnoent);
  EXPECT_EQ(client_.get("gat_cleared").status, status::kSuccess);
}

TEST_F(ExpiryTest, IncrementCreatedCounterHonoursExpiry) {
  ASSERT_EQ(client_.incr("n", 1, 5, 1).status, status::kSuccess);
  std::this_thread::sleep_for(milliseconds(2100));
  EXPECT_EQ(client_.get("n").status, status::kKeyEnoent);
}

TEST_F(ExpiryTest, FlushWithDelayInvalidatesLater) {
  // FLUSH with a 4-byte delay answers at once; existing items stay readable until the delay
  // passes and then all disappear.
  ASSERT_EQ(client_.set("k", "v").status, status::kSuccess);
  const auto start = Clock::now();
  const Response f = client_.flush(3);
  EXPECT_EQ(f.opcode, op::kFlush);
  EXPECT_EQ(f.status, status::kSuccess);
  EXPECT_EQ(client_.get("k").status, status::kSuccess) << "flush with delay acted at once";
  bool gone = false;
  while (Clock::now() - start < milliseconds(5000)) {
    if (client_.get("k").status == status::kKeyEnoent) {
      gone = true;
      break;
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_TRUE(gone) << "item still present 5 s after FLUSH with a 3 s delay";
  EXPECT_GE(Clock::now() - start, milliseconds(1000)) << "the delay was not honoured";
}

}  // namespace
}  // namespace memkv::test
