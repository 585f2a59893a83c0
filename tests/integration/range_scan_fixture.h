#pragma once
// The fixture of the range scan tests: an open server with room for large scans, and a
// connection that negotiated what an SDK does for scans.
#include <gtest/gtest.h>

#include "integration/server_fixture.h"
#include "support/couchbase_client.h"
#include "support/range_scan_client.h"

namespace memkv::test {

class RangeScanTest : public ServerTest {
 protected:
  RangeScanTest() : ServerTest({"-m", "256"}) {}

  void SetUp() override {
    if (targetFromEnv() == ServerKind::kMemcached) GTEST_SKIP() << "memkv-only: range scans";
    ServerTest::SetUp();
  }

  // A connection that negotiated what an SDK does for scans (JSON, XERROR).
  McbpClient sdkClient() {
    McbpClient c = newClient();
    couchbase::hello(c, {couchbase::feature::kJson, couchbase::feature::kXerror});
    return c;
  }

  static void expectUsable(McbpClient& c) {
    EXPECT_EQ(c.noop().status, status::kSuccess) << "the connection must stay usable";
  }
};

}  // namespace memkv::test
