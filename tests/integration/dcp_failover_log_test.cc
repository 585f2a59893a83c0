// DCP_GET_FAILOVER_LOG (0x54) on a plain KV connection, as kv_engine answers it: the
// vbucket's history, 16 bytes per entry (uuid, seqno), newest first, whose newest uuid is
// the one mutation tokens carry. memkv only.
#include <gtest/gtest.h>

#include <string>

#include "integration/server_fixture.h"
#include "support/couchbase_client.h"
#include "support/test_env.h"

namespace memkv::test {
namespace {

namespace cb = couchbase;

constexpr uint8_t kGetFailoverLog = 0x54;
constexpr uint16_t kNotMyVbucket = 0x07;

uint64_t be64At(const std::string& s, size_t at) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(s[at + i]);
  return v;
}

class DcpFailoverLogTest : public ServerTest {
 protected:
  void SetUp() override {
    if (targetFromEnv() == ServerKind::kMemcached) GTEST_SKIP() << "memkv-only: DCP";
    ServerTest::SetUp();
  }
  static Response failoverLog(McbpClient& c, uint16_t vbucket) {
    Request r = cb::makeRequest(kGetFailoverLog);
    r.vbucket = vbucket;
    return c.call(r);
  }
};

TEST_F(DcpFailoverLogTest, OneBranchWhoseUuidIsTheMutationTokens) {
  McbpClient c = newClient();
  ASSERT_EQ(cb::hello(c, {cb::feature::kMutationSeqno}),
            std::vector<uint16_t>{cb::feature::kMutationSeqno});
  for (const std::string key : {"alpha", "beta", "gamma"}) {
    const uint16_t vb = cb::vbucketOf(key);
    Request set = makeStore(op::kSet, key, "v");
    set.vbucket = vb;
    const Response stored = c.call(set);
    ASSERT_EQ(stored.status, status::kSuccess);
    ASSERT_EQ(stored.extras.size(), 16u) << "a mutation token: vbucket uuid, seqno";
    const Response log = failoverLog(c, vb);
    ASSERT_EQ(log.status, status::kSuccess) << key;
    ASSERT_EQ(log.value.size(), 16u) << "one entry";
    EXPECT_EQ(be64At(log.value, 0), be64At(stored.extras, 0)) << "the token's uuid";
    EXPECT_NE(be64At(log.value, 0), 0u);
    EXPECT_EQ(be64At(log.value, 8), 0u) << "the branch starts at seqno 0";
    EXPECT_TRUE(log.extras.empty());
    EXPECT_TRUE(log.key.empty());
  }
  // Each vbucket has its own history.
  EXPECT_NE(failoverLog(c, 1).value, failoverLog(c, 2).value);
}

// A FLUSH empties every vbucket without deletions: each gets a new branch, newest first,
// starting at a seqno the flush took, so a consumer that had everything still rolls back.
TEST_F(DcpFailoverLogTest, FlushStartsANewBranch) {
  McbpClient c = newClient();
  ASSERT_EQ(cb::hello(c, {cb::feature::kMutationSeqno}),
            std::vector<uint16_t>{cb::feature::kMutationSeqno});
  Request set = makeStore(op::kSet, "alpha", "v");
  set.vbucket = cb::vbucketOf("alpha");
  const Response stored = c.call(set);
  ASSERT_EQ(stored.status, status::kSuccess);
  const uint64_t seqno = be64At(stored.extras, 8);
  ASSERT_EQ(c.call(cb::makeRequest(op::kFlush)).status, status::kSuccess);
  const Response log = failoverLog(c, set.vbucket);
  ASSERT_EQ(log.status, status::kSuccess);
  ASSERT_EQ(log.value.size(), 32u) << "two entries";
  EXPECT_NE(be64At(log.value, 0), be64At(stored.extras, 0)) << "a new uuid";
  EXPECT_EQ(be64At(log.value, 8), seqno + 1) << "the branch starts past the last store";
  EXPECT_EQ(be64At(log.value, 16), be64At(stored.extras, 0));
  EXPECT_EQ(be64At(log.value, 24), 0u);
  // A store after the flush carries the new branch's uuid.
  const Response again = c.call(set);
  EXPECT_EQ(be64At(again.extras, 0), be64At(log.value, 0));
}

TEST_F(DcpFailoverLogTest, AVbucketBeyond1023IsNotMyVbucket) {
  McbpClient c = newClient();
  EXPECT_EQ(failoverLog(c, 1024).status, kNotMyVbucket);
  EXPECT_EQ(failoverLog(c, 0xffff).status, kNotMyVbucket);
  EXPECT_EQ(failoverLog(c, 1023).status, status::kSuccess);
}

TEST_F(DcpFailoverLogTest, AKeyOrABodyIsRefused) {
  McbpClient c = newClient();
  const Response bad = c.call(cb::makeRequest(kGetFailoverLog, "key"));
  EXPECT_EQ(bad.status, status::kEinval);
}

}  // namespace
}  // namespace memkv::test
