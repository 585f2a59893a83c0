// What an SDK connection costs once idle (docs/architecture.md invariant 5): a connection that
// authenticated and ran a range scan lets go of its Inbox and its background state when the
// work is done, and gets new ones when it scans again.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "integration/server_fixture.h"
#include "support/couchbase_client.h"
#include "support/range_scan_client.h"
#include "support/test_env.h"

#ifndef MEMKV_ADMIN_BIN
#error "MEMKV_ADMIN_BIN must name the memkv-admin binary"
#endif

namespace memkv::test {
namespace {

namespace cb = couchbase;
using std::chrono::milliseconds;

const cb::TestUser kUsers[] = {
    {"admin", "admin-pw", "admin"},
    {"app", "app-pw", "read[default],write[default]"},
};

class IdleSessionTest : public ServerTest {
 protected:
  IdleSessionTest() : ServerTest(args()) {}

  static std::vector<std::string> args() {
    std::string error;
    return {"-c", "4096", "--users-file",
            cb::sharedUsersFile(MEMKV_ADMIN_BIN, kUsers, &error).path()};
  }

  void SetUp() override {
    if (targetFromEnv() == ServerKind::kMemcached) GTEST_SKIP() << "memkv-only: SASL, scans";
    ServerTest::SetUp();
    ASSERT_EQ(cb::saslPlain(client_, "admin", "admin-pw").status, status::kSuccess);
  }

  // An SDK-like connection: authenticated, then optionally one scan run to its end.
  McbpClient sdkConnection() {
    McbpClient c = newClient();
    EXPECT_EQ(cb::saslPlain(c, "app", "app-pw").status, status::kSuccess);
    return c;
  }
};

TEST_F(IdleSessionTest, ConnectionsThatScannedLetGoOfTheirInboxesAndScanAgain) {
  const std::string key = "idle-session-doc";
  ASSERT_EQ(client_.set(key, "value").status, status::kSuccess);
  const uint16_t vb = cb::vbucketOf(key);
  constexpr int kConnections = 50;
  std::vector<McbpClient> conns;
  for (int i = 0; i < kConnections; ++i) conns.push_back(sdkConnection());
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < kConnections; ++i) {
      const ScanResult r = runScan(conns[static_cast<size_t>(i)], vb, fullRangeJson(), false);
      ASSERT_EQ(r.create_status, status::kSuccess) << "round " << round << " connection " << i;
      ASSERT_TRUE(r.error.empty()) << r.error;
      ASSERT_EQ(r.items.size(), 1u);
      EXPECT_EQ(r.items[0].key, key);
    }
    // Every scan has ended: within a few worker ticks no connection holds an Inbox.
    uint64_t v = 0;
    EXPECT_TRUE(waitForStat(
        client_, "connection_inboxes", [](uint64_t n) { return n == 0; },
        scaled(milliseconds(3000)), &v))
        << "round " << round << ": " << v << " idle connections still hold an Inbox";
  }
  for (McbpClient& c : conns) EXPECT_EQ(c.noop().status, status::kSuccess);
}

// A thousand SDK-like connections that each logged in and scanned once hold
// nothing between requests: no Inbox and no Background (the SASL exchange, the
// park, the anchor). Counted by the server rather than read from RSS, which
// mostly measures how the allocator reuses the memory earlier connections
// freed (bench/run.sh row (e) measures idle bytes against memcached).
TEST_F(IdleSessionTest, AThousandScannedIdleConnectionsHoldNoSessionState) {
  const std::string key = "idle-session-doc";
  ASSERT_EQ(client_.set(key, "value").status, status::kSuccess);
  const uint16_t vb = cb::vbucketOf(key);
  const long count = envInt("MEMKV_IDLE_SDK_CONNECTIONS", 1000);
  ASSERT_GE(raiseFileLimit(static_cast<uint64_t>(count) + 256), static_cast<uint64_t>(count) + 256);
  std::vector<McbpClient> scanned;
  for (long i = 0; i < count; ++i) {
    scanned.push_back(sdkConnection());
    ASSERT_EQ(runScan(scanned.back(), vb, fullRangeJson(), false).items.size(), 1u) << i;
  }
  // The last scans' completions may still be reaching their workers; within a
  // few ticks every connection is idle. Only the asking connection may hold
  // state while its STAT runs.
  uint64_t v = 0;
  EXPECT_TRUE(waitForStat(
      client_, "connection_inboxes", [](uint64_t n) { return n == 0; }, scaled(milliseconds(3000)),
      &v))
      << v << " idle connections still hold an Inbox";
  EXPECT_TRUE(waitForStat(
      client_, "session_backgrounds", [](uint64_t n) { return n <= 1; }, scaled(milliseconds(3000)),
      &v))
      << v << " idle sessions still hold background state";
  // Each one still works, and does not keep what that took either.
  for (McbpClient& c : scanned) ASSERT_EQ(c.noop().status, status::kSuccess);
  EXPECT_LE(statU64(client_, "session_backgrounds"), 1u);
}

}  // namespace
}  // namespace memkv::test
