// A real Prometheus (Debian's) scrapes memkv every second; its HTTP API then
// answers what a dashboard would ask. Prometheus 2.x asks for OpenMetrics
// first, so this also puts memkv's OpenMetrics output through Prometheus'
// own parser: a target it cannot parse shows as up == 0.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <string>

#include "integration/metrics_fixture.h"
#include "integration/prometheus_server.h"
#include "support/test_env.h"

namespace memkv::test {
namespace {

class PrometheusScrapeTest : public MetricsServerTest {};

TEST_F(PrometheusScrapeTest, PrometheusReadsWhatTheWorkloadDid) {
  for (int i = 0; i < 30; ++i) {
    ASSERT_EQ(client_.set("key" + std::to_string(i), "value").status, status::kSuccess);
  }
  for (int i = 0; i < 40; ++i) client_.get("key" + std::to_string(i));  // 30 hits, 10 misses

  Prometheus prometheus;
  std::string error;
  ASSERT_TRUE(prometheus.start(metricsPort(), "", &error)) << error;
  const auto timeout = scaled(std::chrono::seconds(30));

  // Prometheus' own verdict on the target: scraped and parsed.
  ASSERT_TRUE(prometheus.waitFor("up{job=\"memkv\"}", equals(1), timeout))
      << "Prometheus never scraped memkv successfully";
  EXPECT_TRUE(prometheus.waitFor("memcached_up", equals(1), timeout));
  EXPECT_TRUE(prometheus.waitFor("memcached_commands_total{command=\"get\",status=\"hit\"}",
                                 equals(30), timeout));
  EXPECT_TRUE(prometheus.waitFor("memcached_commands_total{command=\"get\",status=\"miss\"}",
                                 equals(10), timeout));
  EXPECT_TRUE(prometheus.waitFor("memcached_commands_total{command=\"set\",status=\"hit\"}",
                                 equals(30), timeout));
  EXPECT_TRUE(prometheus.waitFor("memkv_command_duration_seconds_count{command=\"get\"}",
                                 equals(40), timeout));
  // A dashboard's latency panel: a quantile from the histogram buckets.
  EXPECT_TRUE(prometheus.waitFor(
      "histogram_quantile(0.99, memkv_command_duration_seconds_bucket{command=\"get\"})",
      [](const nlohmann::json& s) { return sampleValue(s) > 0 && sampleValue(s) <= 10; }, timeout));
  const auto items = prometheus.waitFor("memcached_current_items", equals(30), timeout);
  ASSERT_TRUE(items);
  EXPECT_EQ((*items)["metric"].value("bucket", ""), "default") << items->dump();

  // More traffic shows up in a later scrape.
  for (int i = 0; i < 5; ++i) client_.get("key0");
  EXPECT_TRUE(prometheus.waitFor("memcached_commands_total{command=\"get\",status=\"hit\"}",
                                 equals(35), timeout));

  const int status = prometheus.stop();
  EXPECT_TRUE(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace memkv::test
