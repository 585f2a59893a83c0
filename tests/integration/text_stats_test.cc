// Text protocol "stats" and its groups: the names memcached 1.6.18 reports, counters that
// move with traffic, and the group replies (settings, items, slabs, sizes, conns, detail,
// reset, unknown groups). Values that differ by nature (pid, uptime) are checked for form.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "integration/text_fixture.h"

namespace memkv::test {
namespace {

class TextStatsTest : public TextServerTest {
 protected:
  TextStatsTest() : TextServerTest({"-m", "64", "-c", "1024", "-I", "1m"}) {}

  // The STAT lines of one group, in order, as (name, value); fails on any other line.
  std::vector<std::pair<std::string, std::string>> statLines(TextClient& c,
                                                             const std::string& group) {
    const std::string reply =
        c.callUntil(group.empty() ? "stats\r\n" : "stats " + group + "\r\n", "END\r\n");
    std::vector<std::pair<std::string, std::string>> out;
    std::istringstream in(reply);
    std::string line;
    while (std::getline(in, line)) {
      EXPECT_FALSE(line.empty() || line.back() != '\r') << "line not ended by \\r\\n: " << line;
      if (!line.empty()) line.pop_back();
      if (line == "END") break;
      EXPECT_EQ(line.rfind("STAT ", 0), 0u) << line;
      const auto sp = line.find(' ', 5);
      EXPECT_NE(sp, std::string::npos) << line;
      if (sp == std::string::npos) continue;
      EXPECT_EQ(line.find(' ', sp + 1), std::string::npos) << "a value has no spaces: " << line;
      out.emplace_back(line.substr(5, sp - 5), line.substr(sp + 1));
    }
    return out;
  }

  std::map<std::string, std::string> statMap(TextClient& c, const std::string& group = "") {
    std::map<std::string, std::string> m;
    for (auto& [k, v] : statLines(c, group)) m[k] = v;
    return m;
  }

  long long num(const std::map<std::string, std::string>& m, const std::string& name) {
    const auto it = m.find(name);
    if (it == m.end()) {
      ADD_FAILURE() << "missing stat " << name;
      return -1;
    }
    return std::atoll(it->second.c_str());
  }
};

bool isUnsigned(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

TEST_F(TextStatsTest, GeneralStatsHaveMemcachedNames) {
  const auto m = statMap(text_);
  const char* const names[] = {
      "pid",
      "uptime",
      "time",
      "version",
      "pointer_size",
      "rusage_user",
      "rusage_system",
      "max_connections",
      "curr_connections",
      "total_connections",
      "connection_structures",
      "cmd_get",
      "cmd_set",
      "cmd_flush",
      "cmd_touch",
      "get_hits",
      "get_misses",
      "get_expired",
      "get_flushed",
      "delete_misses",
      "delete_hits",
      "incr_misses",
      "incr_hits",
      "decr_misses",
      "decr_hits",
      "cas_misses",
      "cas_hits",
      "cas_badval",
      "touch_hits",
      "touch_misses",
      "bytes_read",
      "bytes_written",
      "limit_maxbytes",
      "threads",
      "bytes",
      "curr_items",
      "total_items",
      "evictions",
      "reclaimed",
      // Read by monitoring (e.g. Prometheus' memcached_exporter) besides the counters above.
      "accepting_conns",
      "listen_disabled_num",
      "store_too_large",
      "store_no_memory",
      "hash_power_level",
      "expired_unfetched",
      "evicted_unfetched",
      "malloc_fails",
  };
  for (const char* n : names) EXPECT_TRUE(m.count(n)) << "missing stat " << n;
  EXPECT_TRUE(isUnsigned(m.at("pid"))) << m.at("pid");
  EXPECT_TRUE(isUnsigned(m.at("uptime")));
  EXPECT_TRUE(isUnsigned(m.at("time")));
  EXPECT_EQ(m.at("version").rfind("1.6.", 0), 0u) << m.at("version");
  EXPECT_EQ(m.at("limit_maxbytes"), std::to_string(64ll * 1024 * 1024));
  EXPECT_EQ(m.at("max_connections"), "1024");
  // rusage values are "seconds.microseconds".
  const std::string ru = m.at("rusage_user");
  const auto dot = ru.find('.');
  ASSERT_NE(dot, std::string::npos) << ru;
  EXPECT_EQ(ru.size() - dot - 1, 6u) << ru;
}

TEST_F(TextStatsTest, CountersMoveWithTraffic) {
  const auto before = statMap(text_);
  store("a", "12345");
  store("a", "123");
  store("b", "1");
  EXPECT_EQ(fetch("get a nope\r\n"), "VALUE a 0 3\r\n123\r\nEND\r\n");
  EXPECT_EQ(fetch("get nope2\r\n"), "END\r\n");
  TextClient other = newText();
  EXPECT_EQ(other.call("mn\r\n"), "MN\r\n");
  const auto after = statMap(text_);
  EXPECT_EQ(num(after, "cmd_get") - num(before, "cmd_get"), 3) << "one per key";
  EXPECT_EQ(num(after, "get_hits") - num(before, "get_hits"), 1);
  EXPECT_EQ(num(after, "get_misses") - num(before, "get_misses"), 2);
  EXPECT_EQ(num(after, "cmd_set") - num(before, "cmd_set"), 3);
  EXPECT_EQ(num(after, "curr_items") - num(before, "curr_items"), 2);
  EXPECT_EQ(num(after, "total_items") - num(before, "total_items"), 3);
  EXPECT_GT(num(after, "bytes"), num(before, "bytes"));
  // The fixture's own connections may be counted only after `before` (accept hands them to
  // worker threads asynchronously), hence >= here and an exact check on the close below.
  EXPECT_GE(num(after, "curr_connections") - num(before, "curr_connections"), 1);
  EXPECT_GE(num(after, "total_connections") - num(before, "total_connections"), 1);
  other.close();
  const auto deadline = std::chrono::steady_clock::now() + scaled(std::chrono::milliseconds(3000));
  long long curr = -1;
  while (std::chrono::steady_clock::now() < deadline) {
    curr = num(statMap(text_), "curr_connections");
    if (curr == num(after, "curr_connections") - 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(curr, num(after, "curr_connections") - 1) << "a closed connection is not counted";
  EXPECT_GT(num(after, "bytes_read"), num(before, "bytes_read"));
  EXPECT_GT(num(after, "bytes_written"), num(before, "bytes_written"));
  EXPECT_EQ(text_.call("delete a\r\n"), "DELETED\r\n");
  EXPECT_EQ(text_.call("delete a\r\n"), "NOT_FOUND\r\n");
  EXPECT_EQ(text_.call("incr b 1\r\n"), "2\r\n");
  EXPECT_EQ(text_.call("touch b 0\r\n"), "TOUCHED\r\n");
  const auto later = statMap(text_);
  EXPECT_EQ(num(later, "delete_hits") - num(after, "delete_hits"), 1);
  EXPECT_EQ(num(later, "delete_misses") - num(after, "delete_misses"), 1);
  EXPECT_EQ(num(later, "incr_hits") - num(after, "incr_hits"), 1);
  EXPECT_EQ(num(later, "touch_hits") - num(after, "touch_hits"), 1);
  EXPECT_EQ(num(later, "curr_items") - num(after, "curr_items"), -1);
}

TEST_F(TextStatsTest, GatCountsAsTouchAndMgAsGet) {
  store("g", "x");
  const auto before = statMap(text_);
  EXPECT_EQ(fetch("gat 0 g nope\r\n"), "VALUE g 0 1\r\nx\r\nEND\r\n");
  const auto after_gat = statMap(text_);
  EXPECT_EQ(num(after_gat, "cmd_touch") - num(before, "cmd_touch"), 2);
  EXPECT_EQ(num(after_gat, "touch_hits") - num(before, "touch_hits"), 1);
  EXPECT_EQ(num(after_gat, "touch_misses") - num(before, "touch_misses"), 1);
  EXPECT_EQ(num(after_gat, "cmd_get"), num(before, "cmd_get")) << "gat is not a get";
  EXPECT_EQ(text_.callUntil("mg g v\r\n", "x\r\n"), "VA 1\r\nx\r\n");
  EXPECT_EQ(text_.call("mg nope v\r\n"), "EN\r\n");
  const auto after_mg = statMap(text_);
  EXPECT_EQ(num(after_mg, "cmd_get") - num(after_gat, "cmd_get"), 2);
  EXPECT_EQ(num(after_mg, "get_hits") - num(after_gat, "get_hits"), 1);
  EXPECT_EQ(num(after_mg, "get_misses") - num(after_gat, "get_misses"), 1);
}

TEST_F(TextStatsTest, Settings) {
  const auto m = statMap(text_, "settings");
  EXPECT_EQ(m.at("maxbytes"), std::to_string(64ll * 1024 * 1024));
  EXPECT_EQ(m.at("maxconns"), "1024");
  EXPECT_EQ(m.at("tcpport"), std::to_string(server_->port()));
  EXPECT_EQ(m.at("item_size_max"), "1048576");
  EXPECT_EQ(m.at("cas_enabled"), "yes");
  EXPECT_EQ(m.at("num_threads"), "2");
  for (const char* n : {"verbosity", "evictions", "growth_factor", "chunk_size", "binding_protocol",
                        "flush_enabled", "detail_enabled", "tcp_backlog"}) {
    EXPECT_TRUE(m.count(n)) << "missing setting " << n;
  }
}

TEST_F(TextStatsTest, ItemsAndSlabsGroups) {
  // With no items, "stats items" is just END.
  EXPECT_EQ(text_.call("stats items\r\n"), "END\r\n");
  store("k", "v");
  const auto items = statLines(text_, "items");
  ASSERT_FALSE(items.empty());
  bool number = false;
  for (const auto& [k, v] : items) {
    EXPECT_EQ(k.rfind("items:", 0), 0u) << k;
    if (k.size() > 7 && k.substr(k.size() - 7) == ":number") number = v == "1";
  }
  EXPECT_TRUE(number) << "one item counted under items:<class>:number";
  const auto slabs = statMap(text_, "slabs");
  EXPECT_EQ(num(slabs, "active_slabs"), 1);
  EXPECT_TRUE(slabs.count("total_malloced"));
}

TEST_F(TextStatsTest, SizesAndConns) {
  EXPECT_EQ(text_.callUntil("stats sizes\r\n", "END\r\n"), "STAT sizes_status disabled\r\nEND\r\n");
  const auto conns = statLines(text_, "conns");
  int addrs = 0;
  for (const auto& [k, v] : conns) {
    const auto colon = k.find(':');
    ASSERT_NE(colon, std::string::npos) << k;
    EXPECT_TRUE(isUnsigned(k.substr(0, colon))) << k;
    if (k.substr(colon) == ":addr") ++addrs;
  }
  // The listener, the fixture's idle binary connection and this one.
  EXPECT_GE(addrs, 2);
}

TEST_F(TextStatsTest, DetailOnDumpOff) {
  EXPECT_EQ(text_.call("stats detail on\r\n"), "OK\r\n");
  EXPECT_EQ(fetch("get p:a\r\n"), "END\r\n");
  EXPECT_EQ(text_.call("set q:b 0 0 1\r\nx\r\n"), "STORED\r\n");
  const std::string dump = text_.callUntil("stats detail dump\r\n", "END\r\n");
  EXPECT_NE(dump.find("PREFIX p get 1 hit 0 set 0 del 0\r\n"), std::string::npos) << dump;
  EXPECT_NE(dump.find("PREFIX q get 0 hit 0 set 1 del 0\r\n"), std::string::npos) << dump;
  EXPECT_EQ(text_.call("stats detail off\r\n"), "OK\r\n");
  EXPECT_EQ(text_.call("stats detail bogus\r\n"),
            "CLIENT_ERROR usage: stats detail on|off|dump\r\n");
  EXPECT_EQ(text_.call("stats detail\r\n"), "CLIENT_ERROR usage: stats detail on|off|dump\r\n");
}

TEST_F(TextStatsTest, ExtraTokensAfterAGroupAreIgnored) {
  ASSERT_EQ(text_.call("stats settings x\r\n"), "STAT maxbytes 67108864\r\n");
  EXPECT_EQ(text_.readUntil("END\r\n").rfind("STAT maxconns 1024\r\n", 0), 0u);
  EXPECT_EQ(text_.call("stats reset x\r\n"), "RESET\r\n");
  EXPECT_EQ(text_.call("stats detail on x\r\n"), "OK\r\n");
  EXPECT_EQ(text_.callUntil("stats sizes x\r\n", "END\r\n"),
            "STAT sizes_status disabled\r\nEND\r\n");
}

TEST_F(TextStatsTest, ResetAndUnknownGroups) {
  EXPECT_EQ(fetch("get nope\r\n"), "END\r\n");
  EXPECT_EQ(text_.call("stats reset\r\n"), "RESET\r\n");
  const auto m = statMap(text_);
  EXPECT_EQ(num(m, "cmd_get"), 0);
  EXPECT_EQ(num(m, "get_misses"), 0);
  EXPECT_EQ(text_.call("stats malloc\r\n"), "ERROR\r\n");
  EXPECT_EQ(text_.call("stats noreply\r\n"), "ERROR\r\n");
  EXPECT_EQ(text_.call("stats bogus\r\n"), "ERROR\r\n");
  EXPECT_EQ(text_.call("mn\r\n"), "MN\r\n");
}

}  // namespace
}  // namespace memkv::test
