// The expiry crawler (server/expiry_crawler.h): expired items give their
// memory back with nobody reading them, and -o no_lru_crawler turns it off.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "integration/server_fixture.h"
#include "support/test_env.h"

namespace memkv::test {
namespace {

using std::chrono::milliseconds;

void fill(McbpClient& c, const std::string& prefix, int n, uint32_t ttl) {
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(c.set(prefix + std::to_string(i), std::string(100, 'v'), 0, ttl).status,
              status::kSuccess);
  }
}

class ExpiryCrawlerTest : public ServerTest {};

TEST_F(ExpiryCrawlerTest, ExpiredItemsAreReclaimedWithoutBeingRead) {
  MEMKV_ONLY("memcached's crawler schedule differs");
  fill(client_, "ttl:", 300, 1);
  fill(client_, "keep:", 50, 0);
  const uint64_t bytes_before = statU64(client_, "bytes");
  uint64_t items = 0;
  EXPECT_TRUE(waitForStat(
      client_, "curr_items", [](uint64_t n) { return n == 50; }, scaled(milliseconds(15000)),
      &items))
      << "curr_items stays " << items;
  EXPECT_EQ(statU64(client_, "reclaimed"), 300u);
  EXPECT_EQ(statU64(client_, "expired_unfetched"), 300u);
  EXPECT_LT(statU64(client_, "bytes"), bytes_before / 5);
  EXPECT_EQ(client_.get("keep:7").value, std::string(100, 'v'));
}

class NoExpiryCrawlerTest : public ServerTest {
 protected:
  NoExpiryCrawlerTest() : ServerTest({"-o", "no_lru_crawler"}) {}
};

// The same items stay counted until something meets them: what the test
// above sees is the crawler's doing, not a side effect of STAT.
TEST_F(NoExpiryCrawlerTest, WithoutTheCrawlerExpiredItemsWaitToBeMet) {
  MEMKV_ONLY("memcached's crawler schedule differs");
  fill(client_, "ttl:", 300, 1);
  std::this_thread::sleep_for(milliseconds(3500));
  EXPECT_EQ(statU64(client_, "curr_items"), 300u);
  EXPECT_EQ(statU64(client_, "reclaimed"), 0u);
  EXPECT_EQ(client_.get("ttl:7").status, status::kKeyEnoent);  // invisible all the same
  EXPECT_EQ(statU64(client_, "reclaimed"), 1u);
}

}  // namespace
}  // namespace memkv::test
