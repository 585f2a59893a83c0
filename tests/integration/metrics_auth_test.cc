// /metrics with a users file: HTTP Basic credentials of a user with the
// stats privilege, checked like SASL PLAIN; a user sees the per-bucket series
// only of the buckets it may read statistics of; failures say 401 or 403 and
// nothing about which part was wrong. A real Prometheus scrapes with
// basic_auth too.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <string>
#include <vector>

#include "integration/metrics_fixture.h"
#include "integration/prometheus_server.h"
#include "support/couchbase_client.h"
#include "support/test_env.h"

#ifndef MEMKV_ADMIN_BIN
#error "MEMKV_ADMIN_BIN must name the memkv-admin binary"
#endif

namespace memkv::test {
namespace {

namespace cb = couchbase;
using cb::TestUser;

const TestUser kUsers[] = {
    {"admin", "admin-pw", "admin"},
    {"reader", "reader-pw", "read[default],write[default]"},
    {"watcher", "watcher-pw", "stats[b2]"},
    {"everywhere", "everywhere-pw", "stats[*]"},
};

class MetricsAuthTest : public MetricsServerTest {
 protected:
  MetricsAuthTest() : MetricsServerTest(args()) {}

  static std::vector<std::string> args() {
    std::string error;
    return {"--users-file", cb::sharedUsersFile(MEMKV_ADMIN_BIN, kUsers, &error).path()};
  }

  void SetUp() override {
    std::string error;
    cb::sharedUsersFile(MEMKV_ADMIN_BIN, kUsers, &error);
    ASSERT_TRUE(error.empty()) << error;
    MetricsServerTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_EQ(cb::saslPlain(client_, "admin", "admin-pw").status, status::kSuccess);
    ASSERT_EQ(client_.call(cb::makeRequest(cb::op::kCreateBucket, "b2", "")).status,
              status::kSuccess);
  }
};

TEST_F(MetricsAuthTest, CredentialsAreRequired) {
  const uint64_t errors = statU64(client_, "auth_errors");
  for (const auto& [user, password] : std::vector<std::pair<std::string, std::string>>{
           {"", ""}, {"admin", "wrong"}, {"nobody", "admin-pw"}, {"admin", ""}}) {
    httplib::Client http("127.0.0.1", metricsPort());
    if (!user.empty()) http.set_basic_auth(user.c_str(), password.c_str());
    auto res = http.Get("/metrics");
    ASSERT_TRUE(res) << user;
    EXPECT_EQ(res->status, 401) << user << ":" << password;
    EXPECT_EQ(res->get_header_value("WWW-Authenticate"), "Basic realm=\"memkv metrics\"");
    // The same answer whichever part was wrong.
    EXPECT_EQ(res->body, "authentication required\n");
  }
  // Malformed Authorization headers are refused the same way.
  for (const char* header :
       {"Basic", "Basic !!!!", "Basic YWRtaW4=", "Bearer abc", "Basic YWRtaW46"}) {
    httplib::Client http("127.0.0.1", metricsPort());
    auto res = http.Get("/metrics", httplib::Headers{{"Authorization", header}});
    ASSERT_TRUE(res) << header;
    EXPECT_EQ(res->status, 401) << header;
  }
  // Counted as failed authentications, where operators look for them; a
  // request with no credentials at all (HTTP's first try) is not.
  EXPECT_EQ(statU64(client_, "auth_errors"), errors + 8);
}

TEST_F(MetricsAuthTest, AUserWithoutStatsIsForbidden) {
  const Scrape s = scrape("", "reader", "reader-pw");
  EXPECT_EQ(s.status, 403);
  EXPECT_EQ(s.body, "forbidden\n");
}

TEST_F(MetricsAuthTest, AUserSeesOnlyTheBucketsItMayWatch) {
  const Scrape admin = scrape("", "admin", "admin-pw");
  ASSERT_EQ(admin.status, 200);
  EXPECT_TRUE(admin.has("memcached_current_items{bucket=\"default\"}"));
  EXPECT_TRUE(admin.has("memcached_current_items{bucket=\"b2\"}"));

  const Scrape watcher = scrape("", "watcher", "watcher-pw");
  ASSERT_EQ(watcher.status, 200);
  EXPECT_TRUE(watcher.has("memcached_current_items{bucket=\"b2\"}"));
  EXPECT_FALSE(watcher.has("memcached_current_items{bucket=\"default\"}")) << watcher.body;
  EXPECT_EQ(watcher.body.find("bucket=\"default\""), std::string::npos);
  // The server's own series are there for anyone who may watch a bucket.
  EXPECT_EQ(watcher.at("memcached_up"), 1);
  EXPECT_TRUE(watcher.has("memcached_current_connections"));

  const Scrape everywhere = scrape("", "everywhere", "everywhere-pw");
  ASSERT_EQ(everywhere.status, 200);
  EXPECT_TRUE(everywhere.has("memcached_current_items{bucket=\"default\"}"));
  EXPECT_TRUE(everywhere.has("memcached_current_items{bucket=\"b2\"}"));
}

// What an operator configures: Prometheus with basic_auth of a stats user.
TEST_F(MetricsAuthTest, PrometheusScrapesWithBasicAuth) {
  Prometheus prometheus;
  std::string error;
  ASSERT_TRUE(prometheus.start(metricsPort(),
                               "    basic_auth:\n      username: watcher\n"
                               "      password: watcher-pw\n",
                               &error))
      << error;
  const auto timeout = scaled(std::chrono::seconds(30));
  ASSERT_TRUE(prometheus.waitFor("up{job=\"memkv\"}", equals(1), timeout))
      << "Prometheus never scraped memkv successfully";
  const auto items = prometheus.waitFor(
      "memcached_current_items", [](const nlohmann::json&) { return true; }, timeout);
  ASSERT_TRUE(items);
  EXPECT_EQ((*items)["metric"].value("bucket", ""), "b2") << items->dump();
  const int status = prometheus.stop();
  EXPECT_TRUE(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace memkv::test
