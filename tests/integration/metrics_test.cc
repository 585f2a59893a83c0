// /metrics (issue 15): what a Prometheus scraper reads from memkv, checked
// against what `stats` (text) and STAT (binary) say of the same moment, and
// against the exact workload the test ran. promtool, Prometheus' own
// checker, lints the exposition.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include <fmt/format.h>

#include "integration/metrics_fixture.h"
#include "server/command_timings.h"
#include "server/metrics.h"
#include "support/test_env.h"
#include "support/text_client.h"

namespace memkv::test {
namespace {

class MetricsTest : public MetricsServerTest {
 protected:
  MetricsTest() : MetricsServerTest({"-m", "64"}) {}

  std::map<std::string, std::string> textStats(const std::string& group = "") {
    TextClient text;
    EXPECT_TRUE(text.connect(server_->port()));
    const std::string reply =
        text.callUntil(group.empty() ? "stats\r\n" : "stats " + group + "\r\n", "END\r\n");
    std::map<std::string, std::string> out;
    std::istringstream in(reply);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("STAT ", 0) != 0) continue;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const size_t sp = line.find(' ', 5);
      out[line.substr(5, sp - 5)] = line.substr(sp + 1);
    }
    return out;
  }

  // A known workload over both protocols. Returns how many commands of each
  // family it sent.
  std::map<std::string, int> workload() {
    std::map<std::string, int> sent;
    for (int i = 0; i < 20; ++i) {
      EXPECT_EQ(client_.set("k" + std::to_string(i), "value").status, status::kSuccess);
      ++sent["set"];
    }
    for (int i = 0; i < 25; ++i) {  // 20 hits, 5 misses
      client_.get("k" + std::to_string(i));
      ++sent["get"];
    }
    for (int i = 0; i < 4; ++i) {  // 3 hits, 1 miss
      client_.remove("k" + std::to_string(i == 3 ? 99 : i));
      ++sent["delete"];
    }
    EXPECT_EQ(client_.set("n", "10").status, status::kSuccess);
    ++sent["set"];
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(client_.incr("n", 1).status, status::kSuccess);
      ++sent["incr"];
    }
    EXPECT_EQ(client_.decr("n", 1).status, status::kSuccess);
    ++sent["decr"];
    client_.touch("k10", 100);
    client_.touch("missing", 100);
    sent["touch"] += 2;

    TextClient text;
    EXPECT_TRUE(text.connect(server_->port()));
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ(text.call("set t" + std::to_string(i) + " 0 0 1\r\nx\r\n"), "STORED\r\n");
      ++sent["set"];
    }
    for (int i = 0; i < 7; ++i) {  // 5 hits, 2 misses
      text.callUntil("get t" + std::to_string(i) + "\r\n", "END\r\n");
      ++sent["get"];
    }
    EXPECT_EQ(text.call("delete t0\r\n"), "DELETED\r\n");
    ++sent["delete"];
    EXPECT_EQ(text.call("incr n 5\r\n"), "17\r\n");
    ++sent["incr"];
    return sent;
  }
};

// Gauges that hold still while nothing else happens. The others (buffers
// held, output queued) change with the STAT request that reads them, so
// only their presence is checked.
const std::set<std::string> kSteadyGauges = {"uptime",
                                             "time",
                                             "max_connections",
                                             "curr_connections",
                                             "accepting_conns",
                                             "limit_maxbytes",
                                             "bytes",
                                             "curr_items",
                                             "threads",
                                             "hash_power_level",
                                             "item_store_bytes",
                                             "range_scans_open",
                                             "executor_threads"};

std::string seriesOf(const server::MetricSpec& spec) {
  return std::string(spec.family) + (spec.per_bucket ? "{bucket=\"default\"}" : "");
}

TEST_F(MetricsTest, ServesTheMemcachedExporterNames) {
  const Scrape s = scrape();
  ASSERT_EQ(s.status, 200);
  EXPECT_EQ(s.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(s.at("memcached_up"), 1);
  for (const char* series :
       {"memcached_uptime_seconds", "memcached_current_connections", "memcached_connections_total",
        "memcached_read_bytes_total", "memcached_written_bytes_total",
        "memcached_current_items{bucket=\"default\"}",
        "memcached_current_bytes{bucket=\"default\"}", "memcached_limit_bytes{bucket=\"default\"}",
        "memcached_items_evicted_total{bucket=\"default\"}",
        "memcached_commands_total{command=\"get\",status=\"hit\"}",
        "memcached_commands_total{command=\"set\",status=\"hit\"}", "memkv_stall_disconnects_total",
        "memkv_send_bytes_referenced_total", "memkv_range_scans_open", "memkv_dcp_streams",
        "memkv_dcp_tombstones{bucket=\"default\"}"}) {
    EXPECT_TRUE(s.has(series)) << series << " missing from\n" << s.body;
  }
  EXPECT_EQ(s.at("memcached_limit_bytes{bucket=\"default\"}"), 64.0 * 1024 * 1024);
  EXPECT_NE(s.body.find("memcached_version{version=\""), std::string::npos);
  EXPECT_EQ(s.body.find("# EOF"), std::string::npos) << "Prometheus text has no # EOF";
}

// One source of truth: each value /metrics shows lies between what STAT
// reported just before and just after the scrape, and the command counters
// equal the workload exactly in all three views.
TEST_F(MetricsTest, StatsStatAndMetricsAgree) {
  const uint64_t connections = statU64(client_, "curr_connections");
  workload();
  const auto text = textStats();
  // The text connections are closed; wait until the server has seen it.
  uint64_t last = 0;
  ASSERT_TRUE(waitForStat(
      client_, "curr_connections", [&](uint64_t v) { return v == connections; },
      scaled(std::chrono::seconds(5)), &last))
      << last;
  const auto before = client_.stats();
  const Scrape s = scrape();
  const auto after = client_.stats();
  ASSERT_EQ(s.status, 200);

  for (const auto& [name, value] : before) {
    const server::MetricSpec* spec = server::metricSpec(name);
    EXPECT_TRUE(spec != nullptr || server::metricInCommands(name) || server::metricLeftOut(name))
        << "`stats` name " << name << " is neither exposed nor left out on purpose";
    if (spec == nullptr) continue;
    const std::string series = seriesOf(*spec);
    ASSERT_TRUE(s.has(series)) << series;
    const double a = std::strtod(value.c_str(), nullptr);
    const double b = std::strtod(after.at(name).c_str(), nullptr);
    const double m = s.at(series);
    if (spec->type == server::MetricType::kGauge && kSteadyGauges.count(name) == 0) continue;
    EXPECT_LE(std::min(a, b), m) << series;
    EXPECT_GE(std::max(a, b), m) << series;
  }

  const std::map<std::string, int> expected = {
      {"get_hits", 25},    {"get_misses", 7},  {"delete_hits", 4}, {"delete_misses", 1},
      {"incr_hits", 4},    {"incr_misses", 0}, {"decr_hits", 1},   {"touch_hits", 1},
      {"touch_misses", 1}, {"cmd_set", 26},    {"cas_hits", 0},
  };
  for (const auto& [name, n] : expected) {
    EXPECT_EQ(before.at(name), std::to_string(n)) << "STAT " << name;
    EXPECT_EQ(text.at(name), std::to_string(n)) << "stats " << name;
    EXPECT_EQ(after.at(name), std::to_string(n)) << "STAT after " << name;
  }
  const auto cmd = [&](const char* command, const char* status) {
    return s.at(std::string("memcached_commands_total{command=\"") + command + "\",status=\"" +
                status + "\"}");
  };
  EXPECT_EQ(cmd("get", "hit"), 25);
  EXPECT_EQ(cmd("get", "miss"), 7);
  EXPECT_EQ(cmd("delete", "hit"), 4);
  EXPECT_EQ(cmd("delete", "miss"), 1);
  EXPECT_EQ(cmd("incr", "hit"), 4);
  EXPECT_EQ(cmd("decr", "hit"), 1);
  EXPECT_EQ(cmd("touch", "hit"), 1);
  EXPECT_EQ(cmd("touch", "miss"), 1);
  EXPECT_EQ(cmd("set", "hit"), 26);
  EXPECT_EQ(s.at("memcached_current_items{bucket=\"default\"}"), 20 + 1 + 5 - 3 - 1);
}

// The histograms count every command served, once, under its family, and
// `stats timings` shows the same counts.
TEST_F(MetricsTest, HistogramCountsEqualCommandsServed) {
  const auto sent = workload();
  const auto timings = textStats("timings");
  const Scrape s = scrape();
  ASSERT_EQ(s.status, 200);
  for (const auto& [family, n] : sent) {
    const std::string label = "{command=\"" + family + "\"}";
    EXPECT_EQ(s.at("memkv_command_duration_seconds_count" + label), n) << family;
    EXPECT_EQ(timings.at(family + ":count"), std::to_string(n)) << family;
    EXPECT_GT(s.at("memkv_command_duration_seconds_sum" + label), 0) << family;
    // Cumulative buckets: never decreasing, ending at the count.
    double last = 0;
    size_t buckets = 0;
    for (const auto& [series, v] : s.samples) {
      if (series.rfind("memkv_command_duration_seconds_bucket{command=\"" + family + "\",", 0) !=
          0) {
        continue;
      }
      ++buckets;
      if (series.find("le=\"+Inf\"") != std::string::npos) {
        EXPECT_EQ(v, n) << series;
      }
    }
    EXPECT_EQ(buckets, server::LatencyHistogram::kBuckets) << family;
    for (const uint64_t bound_ns : server::kLatencyBoundsNs) {
      const std::string series = "memkv_command_duration_seconds_bucket{command=\"" + family +
                                 "\",le=\"" + fmt::format("{}", bound_ns / 1e9) + "\"}";
      ASSERT_TRUE(s.has(series)) << series;
      EXPECT_GE(s.at(series), last) << series;
      last = s.at(series);
    }
    EXPECT_LE(last, n) << family;
  }
  // Nothing counted under families the workload did not use.
  EXPECT_EQ(s.at("memkv_command_duration_seconds_count{command=\"flush\"}"), 0);
  EXPECT_EQ(s.at("memkv_command_duration_seconds_count{command=\"scan\"}"), 0);
}

// `stats reset` zeroes what `stats` shows; Prometheus counters never go down.
TEST_F(MetricsTest, StatsResetDoesNotMoveCounters) {
  workload();
  TextClient text;
  ASSERT_TRUE(text.connect(server_->port()));
  ASSERT_EQ(text.call("stats reset\r\n"), "RESET\r\n");
  EXPECT_EQ(client_.stats().at("get_hits"), "0");
  const Scrape s = scrape();
  EXPECT_EQ(s.at("memcached_commands_total{command=\"get\",status=\"hit\"}"), 25);
}

TEST_F(MetricsTest, OpenMetricsWhenTheScraperAsks) {
  workload();
  const Scrape s = scrape("application/openmetrics-text; version=1.0.0,text/plain;q=0.5");
  ASSERT_EQ(s.status, 200);
  EXPECT_EQ(s.content_type.rfind("application/openmetrics-text; version=1.0.0", 0), 0u)
      << s.content_type;
  ASSERT_GE(s.body.size(), 6u);
  EXPECT_EQ(s.body.substr(s.body.size() - 6), "# EOF\n");
  // A counter family is named without _total; its samples keep it.
  EXPECT_NE(s.body.find("# TYPE memcached_commands counter\n"), std::string::npos);
  EXPECT_EQ(s.at("memcached_commands_total{command=\"get\",status=\"hit\"}"), 25);
}

TEST_F(MetricsTest, PromtoolFindsNothingToReport) {
  workload();
  const Scrape s = scrape();
  ASSERT_EQ(s.status, 200);
  const std::string path = ::testing::TempDir() + "memkv-metrics-" + std::to_string(::getpid());
  {
    std::ofstream out(path);
    out << s.body;
  }
  const std::string command = "promtool check metrics < " + path + " 2>&1";
  FILE* p = ::popen(command.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string output;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) output.append(buf, n);
  const int status = ::pclose(p);
  std::remove(path.c_str());
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "promtool (is it installed?) said:\n" << output;
  EXPECT_EQ(output, "") << "promtool said:\n" << output;
}

TEST_F(MetricsTest, OtherPathsAreNotFound) {
  httplib::Client http("127.0.0.1", metricsPort());
  auto res = http.Get("/");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  res = http.Get("/metrics/../admin");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  // The endpoint still serves after them.
  EXPECT_EQ(scrape().status, 200);
}

// `stats settings` tells an operator where to scrape.
TEST_F(MetricsTest, SettingsShowTheMetricsPort) {
  EXPECT_EQ(textStats("settings").at("metrics_port"), std::to_string(metricsPort()));
}

// The exporter's slab families come from `stats slabs` and `stats items`: memkv's one class
// holds every item, so an alert on memcached_slab_items_outofmemory_total works as on memcached.
TEST_F(MetricsTest, SlabFamiliesAreWhatStatsSlabsAndItemsSay) {
  for (int i = 0; i < 30; ++i) {
    ASSERT_EQ(client_.set("slab" + std::to_string(i), std::string(100, 'v')).status,
              status::kSuccess);
  }
  const auto slabs = textStats("slabs");
  const auto items = textStats("items");
  const Scrape s = scrape();
  ASSERT_EQ(s.status, 200);
  const std::string one = "{bucket=\"default\",slab=\"1\"}";
  EXPECT_EQ(s.at("memcached_slab_current_items" + one), 30);
  EXPECT_EQ(s.at("memcached_slab_current_items" + one), std::stod(items.at("items:1:number")));
  EXPECT_EQ(s.at("memcached_slab_mem_requested_bytes" + one),
            std::stod(items.at("items:1:mem_requested")));
  EXPECT_EQ(s.at("memcached_slab_chunk_size_bytes" + one), std::stod(slabs.at("1:chunk_size")));
  EXPECT_EQ(s.at("memcached_slab_chunks_used" + one), 30);
  EXPECT_EQ(s.at("memcached_slab_items_outofmemory_total" + one), 0);
  EXPECT_EQ(s.at("memcached_malloced_bytes{bucket=\"default\"}"),
            std::stod(slabs.at("total_malloced")));
  EXPECT_GT(s.at("memcached_malloced_bytes{bucket=\"default\"}"), 30 * 100);
  EXPECT_EQ(s.at("memcached_direct_reclaims_total{bucket=\"default\"}"), 0);
}

// -M with a small -m: stores that find no room are refused, and each refusal is one
// items:1:outofmemory, one memcached_slab_items_outofmemory_total and one store_no_memory.
class OutOfMemoryMetricsTest : public MetricsServerTest {
 protected:
  OutOfMemoryMetricsTest() : MetricsServerTest({"-m", "8", "-M"}) {}
};

TEST_F(OutOfMemoryMetricsTest, EachRefusedStoreIsCountedInEveryView) {
  const std::string value(100 * 1024, 'v');
  int refused = 0;
  for (int i = 0; i < 200 && refused < 5; ++i) {
    const uint16_t st = client_.set("big" + std::to_string(i), value).status;
    if (st == status::kEnomem) ++refused;
  }
  ASSERT_EQ(refused, 5) << "-m 8 -M refuses 100 KiB values after about 80";
  TextClient text;
  ASSERT_TRUE(text.connect(server_->port()));
  const std::string reply = text.callUntil("stats items\r\n", "END\r\n");
  EXPECT_NE(reply.find("STAT items:1:outofmemory 5\r\n"), std::string::npos) << reply;
  const Scrape s = scrape();
  EXPECT_EQ(s.at("memcached_slab_items_outofmemory_total{bucket=\"default\",slab=\"1\"}"), 5);
  EXPECT_EQ(s.at("memkv_store_no_memory_total"), 5);
}

}  // namespace
}  // namespace memkv::test
