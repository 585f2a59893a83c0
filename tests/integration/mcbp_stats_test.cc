// STAT: the general group, counters, "settings", "reset" and unknown groups.
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <string>
#include <thread>

#include "integration/server_fixture.h"

namespace memkv::test {
namespace {

class StatsTest : public ServerTest {
 protected:
  StatsTest() : ServerTest({"-m", "64", "-c", "1024", "-I", "1m"}) {}

  long long stat(const std::string& name, const std::string& group = "") {
    const auto all = client_.stats(group);
    const auto it = all.find(name);
    if (it == all.end()) {
      ADD_FAILURE() << "missing stat " << name;
      return -1;
    }
    return std::atoll(it->second.c_str());
  }

  // Polls until stat `name` equals `value` (up to 3 s).
  bool waitForStat(const std::string& name, long long value) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (std::chrono::steady_clock::now() < deadline) {
      if (stat(name) == value) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
};

bool isNumber(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789.") == std::string::npos;
}

TEST_F(StatsTest, GeneralGroupIsManyResponsesEndedByEmptyKey) {
  ASSERT_TRUE(client_.send(makeKeyOnly(op::kStat, "", 0x5151)));
  int count = 0;
  for (;;) {
    const Response r = client_.next();
    ASSERT_EQ(r.magic, kResponseMagic);
    ASSERT_EQ(r.opcode, op::kStat);
    ASSERT_EQ(r.status, status::kSuccess);
    ASSERT_EQ(r.opaque, 0x5151u);
    ASSERT_TRUE(r.extras.empty());
    if (r.key.empty()) {
      EXPECT_TRUE(r.value.empty()) << "the terminator has neither key nor value";
      break;
    }
    ASSERT_LT(++count, 10000);
  }
  EXPECT_GE(count, 16);
  EXPECT_EQ(client_.noop().opcode, op::kNoop) << "nothing after the terminator";
}

TEST_F(StatsTest, GeneralGroupHasTheRequiredStats) {
  const auto s = client_.stats();
  for (const char* name : {"pid",
                           "uptime",
                           "time",
                           "version",
                           "curr_connections",
                           "total_connections",
                           "cmd_get",
                           "cmd_set",
                           "get_hits",
                           "get_misses",
                           "curr_items",
                           "total_items",
                           "bytes",
                           "limit_maxbytes",
                           "threads",
                           "evictions",
                           "rejected_connections",
                           "cmd_flush",
                           "cmd_touch",
                           "delete_hits",
                           "delete_misses",
                           "incr_hits",
                           "incr_misses",
                           "decr_hits",
                           "decr_misses",
                           "cas_hits",
                           "cas_misses",
                           "cas_badval",
                           "touch_hits",
                           "touch_misses",
                           "bytes_read",
                           "bytes_written",
                           "max_connections"}) {
    ASSERT_TRUE(s.count(name)) << "missing stat " << name;
    if (std::string(name) != "version") {
      EXPECT_TRUE(isNumber(s.at(name))) << name << "=" << s.at(name);
    }
  }
  EXPECT_EQ(std::atoll(s.at("pid").c_str()), server_->pid());
  EXPECT_EQ(s.at("version"), client_.version().value);
  EXPECT_EQ(s.at("threads"), "2");
  EXPECT_EQ(s.at("limit_maxbytes"), "67108864");
  EXPECT_EQ(s.at("max_connections"), "1024");
  EXPECT_EQ(s.at("curr_items"), "0");
  EXPECT_EQ(s.at("evictions"), "0");
  EXPECT_LE(std::atoll(s.at("uptime").c_str()), 60);
  const long long now = static_cast<long long>(std::time(nullptr));
  EXPECT_LE(std::llabs(std::atoll(s.at("time").c_str()) - now), 5);
  EXPECT_GE(std::atoll(s.at("curr_connections").c_str()), 1);
  EXPECT_GE(std::atoll(s.at("total_connections").c_str()), 1);
}

TEST_F(StatsTest, CountersMoveWithOperations) {
  const auto before = client_.stats();
  auto delta = [&before](const std::map<std::string, std::string>& after, const char* name) {
    return std::atoll(after.at(name).c_str()) - std::atoll(before.at(name).c_str());
  };
  ASSERT_EQ(client_.set("a", "12345").status, status::kSuccess);
  ASSERT_EQ(client_.set("b", "x").status, status::kSuccess);
  ASSERT_EQ(client_.set("a", "1234567890").status, status::kSuccess);  // overwrite
  ASSERT_EQ(client_.get("a").status, status::kSuccess);
  ASSERT_EQ(client_.get("nokey").status, status::kKeyEnoent);
  ASSERT_EQ(client_.get("b").status, status::kSuccess);
  ASSERT_EQ(client_.remove("b").status, status::kSuccess);
  ASSERT_EQ(client_.remove("b").status, status::kKeyEnoent);
  ASSERT_EQ(client_.incr("n", 1, 5).status, status::kSuccess);  // creates: not an incr miss
  ASSERT_EQ(client_.incr("n", 1).status, status::kSuccess);
  ASSERT_EQ(client_.incr("nokey", 1, 0, 0xffffffff).status, status::kKeyEnoent);
  ASSERT_EQ(client_.decr("n", 1).status, status::kSuccess);
  ASSERT_EQ(client_.decr("nokey", 1, 0, 0xffffffff).status, status::kKeyEnoent);
  ASSERT_EQ(client_.touch("a", 0).status, status::kSuccess);
  ASSERT_EQ(client_.touch("nokey", 0).status, status::kKeyEnoent);
  const auto after = client_.stats();
  EXPECT_EQ(delta(after, "cmd_set"), 3);
  EXPECT_EQ(delta(after, "cmd_get"), 3);
  EXPECT_EQ(delta(after, "get_hits"), 2);
  EXPECT_EQ(delta(after, "get_misses"), 1);
  EXPECT_EQ(delta(after, "delete_hits"), 1);
  EXPECT_EQ(delta(after, "delete_misses"), 1);
  EXPECT_EQ(delta(after, "incr_hits"), 1);
  EXPECT_EQ(delta(after, "incr_misses"), 1);
  EXPECT_EQ(delta(after, "decr_hits"), 1);
  EXPECT_EQ(delta(after, "decr_misses"), 1);
  EXPECT_EQ(delta(after, "touch_hits"), 1);
  EXPECT_EQ(delta(after, "touch_misses"), 1);
  EXPECT_EQ(delta(after, "cmd_touch"), 2);
  EXPECT_EQ(after.at("curr_items"), "2");  // a and n
  // 3 sets + the incr creation (memcached rewrites same-length counters in place, so later
  // incr/decr do not count; memkv may count them).
  EXPECT_GE(delta(after, "total_items"), 4);
  EXPECT_GT(std::atoll(after.at("bytes").c_str()), 0);
  EXPECT_GT(delta(after, "bytes_read"), 0);
  EXPECT_GT(delta(after, "bytes_written"), 0);
}

TEST_F(StatsTest, GetHitAddsOneToGetHits) {
  ASSERT_EQ(client_.set("k", "v").status, status::kSuccess);
  const long long hits = stat("get_hits");
  const long long gets = stat("cmd_get");
  ASSERT_EQ(client_.get("k").status, status::kSuccess);
  EXPECT_EQ(stat("get_hits"), hits + 1);
  EXPECT_EQ(stat("cmd_get"), gets + 1);
}

TEST_F(StatsTest, CasCountersAndFlushCounter) {
  const uint64_t cas = client_.set("k", "v").cas;
  ASSERT_EQ(client_.set("k", "w", 0, 0, cas).status, status::kSuccess);
  ASSERT_EQ(client_.set("k", "x", 0, 0, cas).status, status::kKeyEexists);
  ASSERT_EQ(client_.set("nokey", "x", 0, 0, cas).status, status::kKeyEnoent);
  ASSERT_EQ(client_.flush().status, status::kSuccess);
  const auto s = client_.stats();
  EXPECT_EQ(s.at("cas_hits"), "1");
  EXPECT_EQ(s.at("cas_badval"), "1");
  EXPECT_EQ(s.at("cas_misses"), "1");
  EXPECT_EQ(s.at("cmd_flush"), "1");
}

TEST_F(StatsTest, CurrConnectionsCountsClients) {
  // Closes are noticed asynchronously (including the launcher's readiness probe), so poll.
  EXPECT_TRUE(waitForStat("curr_connections", 1)) << "only this client is connected";
  const long long total = stat("total_connections");
  {
    McbpClient a = newClient();
    McbpClient b = newClient();
    ASSERT_EQ(a.noop().status, status::kSuccess);
    ASSERT_EQ(b.noop().status, status::kSuccess);
    EXPECT_EQ(stat("curr_connections"), 3);
    EXPECT_EQ(stat("total_connections"), total + 2);
  }
  EXPECT_TRUE(waitForStat("curr_connections", 1)) << "closed clients are no longer counted";
}

TEST_F(StatsTest, SettingsGroup) {
  const auto s = client_.stats("settings");
  for (const char* name : {"maxbytes", "maxconns", "tcpport", "num_threads", "item_size_max",
                           "cas_enabled", "evictions"}) {
    ASSERT_TRUE(s.count(name)) << "missing setting " << name;
  }
  EXPECT_EQ(s.at("maxbytes"), "67108864");
  EXPECT_EQ(s.at("maxconns"), "1024");
  EXPECT_EQ(s.at("tcpport"), std::to_string(server_->port()));
  EXPECT_EQ(s.at("num_threads"), "2");
  EXPECT_EQ(s.at("item_size_max"), "1048576");
  EXPECT_EQ(s.at("cas_enabled"), "yes");
  EXPECT_EQ(s.at("evictions"), "on");
}

TEST_F(StatsTest, ResetZeroesCounters) {
  ASSERT_EQ(client_.set("k", "v").status, status::kSuccess);
  ASSERT_EQ(client_.get("k").status, status::kSuccess);
  ASSERT_EQ(client_.get("x").status, status::kKeyEnoent);
  ASSERT_GT(stat("cmd_get"), 0);

  const Response r = client_.call(makeKeyOnly(op::kStat, "reset", 9));
  EXPECT_EQ(r.opcode, op::kStat);
  EXPECT_EQ(r.status, status::kSuccess);
  EXPECT_EQ(r.opaque, 9u);
  EXPECT_TRUE(r.key.empty() && r.value.empty()) << "reset answers with a single empty response";
  EXPECT_TRUE(client_.silentFor(std::chrono::milliseconds(100)));

  const auto s = client_.stats();
  EXPECT_EQ(s.at("cmd_get"), "0");
  EXPECT_EQ(s.at("get_hits"), "0");
  EXPECT_EQ(s.at("get_misses"), "0");
  EXPECT_EQ(s.at("cmd_set"), "0");
  EXPECT_EQ(s.at("curr_items"), "1") << "reset does not touch the data";
  EXPECT_EQ(client_.get("k").value, "v");
}

TEST_F(StatsTest, UnknownGroupIsKeyEnoentAndConnectionStaysOpen) {
  const Response r = client_.call(makeKeyOnly(op::kStat, "no-such-group", 4));
  EXPECT_EQ(r.opcode, op::kStat);
  EXPECT_EQ(r.status, status::kKeyEnoent);
  EXPECT_EQ(r.opaque, 4u);
  EXPECT_EQ(r.value, "Not found");
  EXPECT_TRUE(client_.silentFor(std::chrono::milliseconds(100)));
  EXPECT_EQ(client_.noop().status, status::kSuccess);
}

}  // namespace
}  // namespace memkv::test
