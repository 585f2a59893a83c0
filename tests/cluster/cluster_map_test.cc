// The cluster map file: what it accepts, what it refuses (with a message
// naming the part), and rebalancing that moves only what it must.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "cluster/cluster_map.h"

namespace memkv::cluster {
namespace {

std::string owners(const std::string& fill) {
  std::string out = "[";
  for (size_t vb = 0; vb < kVBuckets; ++vb) out += (vb ? "," : "") + fill;
  return out + "]";
}

const std::string kThree = R"("nodes":[{"host":"127.0.0.1","port":12000},
    {"host":"127.0.0.1","port":12001,"tls_port":12101},{"host":"node3.example","port":11210}])";

std::unique_ptr<const ClusterMap> parseOk(const std::string& json) {
  std::string error;
  auto map = ClusterMap::parse(json, &error);
  EXPECT_NE(map, nullptr) << error;
  return map;
}

std::string parseError(const std::string& json) {
  std::string error;
  auto map = ClusterMap::parse(json, &error);
  EXPECT_EQ(map, nullptr) << json.substr(0, 200);
  return error;
}

TEST(ClusterMapTest, BalancedFileSpreadsVBucketsRoundRobin) {
  auto map = parseOk(R"({"version":1,"rev":7,)" + kThree + R"(,"vbuckets":"balanced"})");
  ASSERT_TRUE(map);
  EXPECT_EQ(map->rev(), 7);
  EXPECT_EQ(map->epoch(), 1) << "revEpoch defaults to 1";
  ASSERT_EQ(map->nodes().size(), 3u);
  EXPECT_EQ(map->nodes()[1].tls_port, 12101);
  EXPECT_EQ(map->nodes()[0].tls_port, 0);
  EXPECT_EQ(map->owners("default")[0], 0);
  EXPECT_EQ(map->owners("default")[4], 1);
  EXPECT_EQ(map->ownedBy("default", 0), 342u);
  EXPECT_EQ(map->ownedBy("default", 1), 341u);
  EXPECT_EQ(map->ownedBy("default", 2), 341u);
  EXPECT_EQ(map->nodeIndex("127.0.0.1", 12001), 1);
  EXPECT_EQ(map->nodeIndex("127.0.0.1", 12101), 1) << "found by its TLS port too";
  EXPECT_EQ(map->nodeIndex("127.0.0.1", 11210), -1);
}

TEST(ClusterMapTest, PerBucketTablesOverrideTheDefault) {
  auto map = parseOk(R"({"version":1,"rev":1,"revEpoch":3,)" + kThree +
                     R"(,"vbuckets":"balanced","buckets":{"travel":)" + owners("2") + "}}");
  ASSERT_TRUE(map);
  EXPECT_EQ(map->epoch(), 3);
  EXPECT_EQ(map->ownedBy("travel", 2), kVBuckets);
  EXPECT_EQ(map->ownedBy("default", 2), 341u);
}

TEST(ClusterMapTest, ToJsonParsesBackToTheSameMap) {
  auto map = parseOk(R"({"version":1,"rev":5,"revEpoch":2,)" + kThree +
                     R"(,"vbuckets":"balanced","buckets":{"b1":)" + owners("1") + "}}");
  ASSERT_TRUE(map);
  auto again = parseOk(map->toJson());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->rev(), 5);
  EXPECT_EQ(again->epoch(), 2);
  EXPECT_EQ(again->nodes(), map->nodes());
  EXPECT_EQ(again->defaultOwners(), map->defaultOwners());
  EXPECT_EQ(again->owners("b1"), map->owners("b1"));
}

TEST(ClusterMapTest, RefusesWhatWouldMisrouteClients) {
  const std::string ok_nodes = kThree;
  const std::string head = R"({"version":1,"rev":1,)";
  struct Case {
    std::string json;
    std::string message;  // a part of the error
  };
  const std::vector<Case> cases = {
      {"not json", "not a JSON object"},
      {"[1]", "not a JSON object"},
      {R"({"version":2,"rev":1,)" + ok_nodes + R"(,"vbuckets":"balanced"})", "version"},
      {R"({"version":1,)" + ok_nodes + R"(,"vbuckets":"balanced"})", "rev"},
      {R"({"version":1,"rev":0,)" + ok_nodes + R"(,"vbuckets":"balanced"})", "rev"},
      {head + R"("revEpoch":-1,)" + ok_nodes + R"(,"vbuckets":"balanced"})", "revEpoch"},
      {head + ok_nodes + "}", "vbuckets: missing"},
      {head + ok_nodes + R"(,"vbucket":"balanced"})", "unknown key \"vbucket\""},
      {head + R"("nodes":[],"vbuckets":"balanced"})", "nodes"},
      {head + R"("nodes":[{"host":"a b","port":1}],"vbuckets":"balanced"})", "host"},
      {head + R"("nodes":[{"host":"a","port":0}],"vbuckets":"balanced"})", "port"},
      {head + R"("nodes":[{"host":"a","port":70000}],"vbuckets":"balanced"})", "port"},
      {head + R"("nodes":[{"host":"a","port":1,"tls":2}],"vbuckets":"balanced"})", "unknown key"},
      {head + R"("nodes":[{"host":"a","port":1},{"host":"a","port":1}],"vbuckets":"balanced"})",
       "listed twice"},
      {head + R"("nodes":[{"host":"a","port":1,"tls_port":2},{"host":"a","port":2}],)" +
           R"("vbuckets":"balanced"})",
       "listed twice"},
      {head + ok_nodes + R"(,"vbuckets":[0,1,2]})", "1024"},
      {head + ok_nodes + R"(,"vbuckets":)" + owners("3") + "}", "names no node"},
      {head + ok_nodes + R"(,"vbuckets":)" + owners("-1") + "}", "names no node"},
      {head + ok_nodes + R"(,"vbuckets":)" + owners("\"0\"") + "}", "names no node"},
      {head + ok_nodes + R"(,"vbuckets":"balanced","buckets":{"bad name":"balanced"}})",
       "not a bucket name"},
      {head + ok_nodes + R"(,"vbuckets":"balanced","buckets":[]})", "buckets"},
  };
  for (const Case& c : cases) {
    const std::string error = parseError(c.json);
    EXPECT_NE(error.find(c.message), std::string::npos)
        << "error \"" << error << "\" for " << c.json.substr(0, 160);
  }
}

std::vector<Node> nodes(size_t n) {
  std::vector<Node> out;
  for (size_t i = 0; i < n; ++i) out.push_back({"127.0.0.1", static_cast<uint16_t>(12000 + i), 0});
  return out;
}

TEST(ClusterMapTest, AddingANodeMovesOnlyItsShare) {
  std::string error;
  auto three = ClusterMap::balanced(nodes(3), 1, 1, &error);
  ASSERT_TRUE(three) << error;
  size_t moved = 0;
  auto four = ClusterMap::rebalanced(*three, nodes(4), 0, &moved, &error);
  ASSERT_TRUE(four) << error;
  EXPECT_EQ(four->rev(), 2);
  EXPECT_EQ(moved, 256u);
  for (int n = 0; n < 4; ++n) EXPECT_EQ(four->ownedBy("default", n), 256u) << n;
  // Every vbucket that moved went to the new node.
  for (size_t vb = 0; vb < kVBuckets; ++vb) {
    const int16_t now = four->defaultOwners()[vb];
    EXPECT_TRUE(now == three->defaultOwners()[vb] || now == 3) << vb;
  }
}

TEST(ClusterMapTest, RemovingANodeMovesOnlyItsVBuckets) {
  std::string error;
  auto four = ClusterMap::balanced(nodes(4), 4, 1, &error);
  ASSERT_TRUE(four) << error;
  std::vector<Node> without = nodes(4);
  without.erase(without.begin() + 1);  // 12001 leaves; 12002 and 12003 become 1 and 2
  size_t moved = 0;
  auto three = ClusterMap::rebalanced(*four, without, 9, &moved, &error);
  ASSERT_TRUE(three) << error;
  EXPECT_EQ(three->rev(), 9);
  EXPECT_EQ(moved, 256u);
  for (size_t vb = 0; vb < kVBuckets; ++vb) {
    const Node& before = four->nodes()[static_cast<size_t>(four->defaultOwners()[vb])];
    const Node& after = three->nodes()[static_cast<size_t>(three->defaultOwners()[vb])];
    if (before.port != 12001) {
      EXPECT_EQ(before, after) << vb;
    }
  }
  std::vector<size_t> counts;
  for (int n = 0; n < 3; ++n) counts.push_back(three->ownedBy("default", n));
  std::sort(counts.begin(), counts.end());
  EXPECT_EQ(counts, (std::vector<size_t>{341, 341, 342}));
  EXPECT_EQ(ClusterMap::rebalanced(*four, without, 4, &moved, &error), nullptr);
  EXPECT_NE(error.find("rev"), std::string::npos) << error;
}

// Any change of node count: balanced within one vbucket, and no more moves
// than the vbuckets of leaving nodes plus what kept nodes hold above the
// larger share.
TEST(ClusterMapTest, RandomChangesStayBalancedAndMoveLittle) {
  std::mt19937 rng(15);
  Owners owners(kVBuckets);
  size_t count = 3;
  for (size_t vb = 0; vb < kVBuckets; ++vb) owners[vb] = static_cast<int16_t>(vb % count);
  for (int step = 0; step < 200; ++step) {
    const size_t next = 1 + rng() % 12;
    // Each old node survives with probability 3/4 at a random new slot.
    std::vector<int> slots(next);
    for (size_t i = 0; i < next; ++i) slots[i] = static_cast<int>(i);
    std::shuffle(slots.begin(), slots.end(), rng);
    std::vector<int> old_to_new(count, -1);
    size_t used = 0;
    for (size_t i = 0; i < count && used < next; ++i) {
      if (rng() % 4 != 0) old_to_new[i] = slots[used++];
    }
    std::vector<size_t> kept(next, 0);
    size_t leaving = 0;
    for (const int16_t o : owners) {
      if (old_to_new[o] >= 0) {
        ++kept[static_cast<size_t>(old_to_new[o])];
      } else {
        ++leaving;
      }
    }
    size_t bound = leaving;
    for (const size_t k : kept) bound += k > kVBuckets / next ? k - kVBuckets / next : 0;
    size_t moved = 0;
    const Owners out = rebalance(owners, old_to_new, next, &moved);
    ASSERT_LE(moved, bound) << "step " << step;
    std::vector<size_t> now(next, 0);
    for (const int16_t o : out) {
      ASSERT_GE(o, 0);
      ASSERT_LT(static_cast<size_t>(o), next);
      ++now[static_cast<size_t>(o)];
    }
    const auto [lo, hi] = std::minmax_element(now.begin(), now.end());
    ASSERT_LE(*hi - *lo, 1u) << "step " << step;
    size_t changed = 0;
    for (size_t vb = 0; vb < kVBuckets; ++vb) {
      if (old_to_new[owners[vb]] != out[vb]) ++changed;
    }
    ASSERT_EQ(changed, moved) << "step " << step;
    owners = out;
    count = next;
  }
}

TEST(ClusterMapTest, HostPortParsing) {
  Node n;
  EXPECT_TRUE(parseHostPort("127.0.0.1:11210", &n));
  EXPECT_EQ(n.host, "127.0.0.1");
  EXPECT_EQ(n.port, 11210);
  EXPECT_TRUE(parseHostPort("[::1]:12000", &n));
  EXPECT_EQ(n.host, "::1");
  EXPECT_EQ(n.port, 12000);
  for (const char* bad :
       {"", "host", "host:", ":1", "host:0", "host:65536", "host:12a", "[::1]12000", "a b:1"}) {
    EXPECT_FALSE(parseHostPort(bad, &n)) << bad;
  }
}

}  // namespace
}  // namespace memkv::cluster
