// Three memkv processes serving one cluster map (docs/cluster.md), made by the real
// memkv-admin: every node's GET_CLUSTER_CONFIG lists all three with thisNode on itself and
// the file's vbucket map; a document command reaches only the node owning its vbucket, and
// the others answer NOT_MY_VBUCKET with the config as the body; a bad map or node index
// stops the server at startup with a message; SIGHUP takes a newer map that still names the
// node; a bucket with its own table follows it. memkv only.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "integration/cluster_fixture.h"
#include "support/text_client.h"

namespace memkv::test {
namespace {

TEST_F(ClusterServeTest, EveryNodeServesTheWholeMapAndMarksItself) {
  const std::vector<int> owners = fileOwners();
  ASSERT_EQ(owners.size(), kVBuckets);
  std::set<int> owning_nodes(owners.begin(), owners.end());
  EXPECT_EQ(owning_nodes, (std::set<int>{0, 1, 2})) << "memkv-admin's balanced map";
  for (size_t i = 0; i < kNodes; ++i) {
    McbpClient c = connect(i);
    const nlohmann::json config = clusterConfig(c);
    ASSERT_FALSE(config.is_discarded());
    EXPECT_EQ(config["rev"], 1) << "the map's rev, on every node";
    EXPECT_EQ(config["revEpoch"], 1);
    EXPECT_EQ(config["name"], "default");
    const nlohmann::json& nodes = config["nodesExt"];
    ASSERT_TRUE(nodes.is_array());
    ASSERT_EQ(nodes.size(), kNodes);
    for (size_t j = 0; j < kNodes; ++j) {
      EXPECT_EQ(nodes[j]["hostname"], "127.0.0.1") << "node " << j << " as the map names it";
      EXPECT_EQ(nodes[j]["services"]["kv"], ports_[j]);
      EXPECT_FALSE(nodes[j]["services"].contains("kvSSL")) << "the map has no tls_port";
      EXPECT_EQ(nodes[j].value("thisNode", false), i == j) << "node " << i << " entry " << j;
    }
    const nlohmann::json& server_list = config["vBucketServerMap"]["serverList"];
    ASSERT_EQ(server_list.size(), kNodes);
    for (size_t j = 0; j < kNodes; ++j) {
      EXPECT_EQ(server_list[j], "127.0.0.1:" + std::to_string(ports_[j]));
    }
    EXPECT_EQ(config["vBucketServerMap"]["numReplicas"], 0);
    EXPECT_EQ(configOwners(config), owners) << "node " << i << " serves the file's map";
  }
}

TEST_F(ClusterServeTest, AKeyIsServedByItsOwnerOnly) {
  const std::vector<int> owners = fileOwners();
  ASSERT_EQ(owners.size(), kVBuckets);
  std::vector<McbpClient> clients;
  for (size_t i = 0; i < kNodes; ++i) clients.push_back(connect(i));
  for (int k = 0; k < 60; ++k) {
    const std::string key = "doc-" + std::to_string(k);
    const uint16_t vb = cb::vbucketOf(key);
    const auto owner = static_cast<size_t>(owners[vb]);
    Request set = makeStore(op::kSet, key, "value-" + std::to_string(k));
    set.vbucket = vb;
    ASSERT_EQ(clients[owner].call(set).status, status::kSuccess) << key << " on its owner";
    Request get = makeKeyOnly(op::kGet, key);
    get.vbucket = vb;
    const Response hit = clients[owner].call(get);
    ASSERT_EQ(hit.status, status::kSuccess);
    EXPECT_EQ(hit.value, "value-" + std::to_string(k));
    for (size_t other = 0; other < kNodes; ++other) {
      if (other == owner) continue;
      const Response refused = clients[other].call(set);
      ASSERT_EQ(refused.status, kNotMyVbucket)
          << key << " (vbucket " << vb << ") on node " << other << ", owned by " << owner;
      EXPECT_EQ(refused.data_type, cb::datatype::kJson) << "the SDK reads a JSON body only";
      const nlohmann::json config = nlohmann::json::parse(refused.value, nullptr, false);
      ASSERT_FALSE(config.is_discarded()) << "the body is the config: " << refused.value;
      EXPECT_EQ(config["rev"], 1);
      EXPECT_EQ(configOwners(config), owners);
      EXPECT_TRUE(config["nodesExt"][other].value("thisNode", false));
      EXPECT_EQ(clients[other].call(get).status, kNotMyVbucket);
    }
  }
  // Nothing was stored where it was refused: each node holds its own keys only.
  for (size_t i = 0; i < kNodes; ++i) {
    const auto stats = clients[i].stats();
    size_t mine = 0;
    for (int k = 0; k < 60; ++k) {
      if (owners[cb::vbucketOf("doc-" + std::to_string(k))] == static_cast<int>(i)) ++mine;
    }
    EXPECT_EQ(stats.at("curr_items"), std::to_string(mine)) << "node " << i;
    // Each refusal counted once: a SET and a GET of every key it does not own.
    EXPECT_EQ(stats.at("not_my_vbucket"), std::to_string(2 * (60 - mine))) << "node " << i;
  }
}

TEST_F(ClusterServeTest, EveryDocumentCommandChecksTheVbucket) {
  const std::string key = keyOwnedBy(1);
  ASSERT_FALSE(key.empty());
  const uint16_t vb = cb::vbucketOf(key);
  McbpClient owner = connect(1);
  McbpClient other = connect(2);
  Request set = makeStore(op::kSet, key, "1");
  set.vbucket = vb;
  ASSERT_EQ(owner.call(set).status, status::kSuccess);

  std::vector<Request> requests = {makeKeyOnly(op::kGet, key),
                                   makeKeyOnly(op::kGetK, key),
                                   makeStore(op::kAdd, key, "x"),
                                   makeStore(op::kReplace, key, "x"),
                                   makeConcat(op::kAppend, key, "x"),
                                   makeConcat(op::kPrepend, key, "x"),
                                   makeKeyOnly(op::kDelete, key),
                                   makeArith(op::kIncrement, key, 1, 0, 0),
                                   makeArith(op::kDecrement, key, 1, 0, 0),
                                   makeTouch(op::kTouch, key, 100),
                                   makeTouch(op::kGat, key, 100),
                                   cb::makeGetLocked(key, 5),
                                   cb::makeUnlock(key, 1),
                                   makeStore(op::kSetQ, key, "quiet"),
                                   makeKeyOnly(op::kGetQ, key)};
  for (Request& r : requests) {
    r.vbucket = vb;
    const Response refused = other.call(r);
    EXPECT_EQ(refused.status, kNotMyVbucket) << "opcode 0x" << std::hex << int{r.opcode};
    EXPECT_FALSE(refused.value.empty()) << "opcode 0x" << std::hex << int{r.opcode};
  }
  // The value on the owner is untouched, and commands without a document work on any node
  // whatever the header's vbucket says.
  Request get = makeKeyOnly(op::kGet, key);
  get.vbucket = vb;
  EXPECT_EQ(owner.call(get).value, "1");
  Request noop = makeKeyOnly(op::kNoop, "");
  noop.vbucket = vb;
  EXPECT_EQ(other.call(noop).status, status::kSuccess);
  EXPECT_EQ(other.call(cb::makeRequest(cb::op::kGetClusterConfig)).status, status::kSuccess);

  // A vbucket number beyond the map belongs to no node.
  Request beyond = makeKeyOnly(op::kGet, key);
  beyond.vbucket = kVBuckets;
  EXPECT_EQ(owner.call(beyond).status, kNotMyVbucket);
  beyond.vbucket = 0xffff;
  EXPECT_EQ(owner.call(beyond).status, kNotMyVbucket);
}

TEST_F(ClusterServeTest, CollectionKeysAreCheckedByTheirVbucket) {
  const std::string key = keyOwnedBy(0, 7);
  ASSERT_FALSE(key.empty());
  const uint16_t vb = cb::vbucketOf(key);
  McbpClient owner = connect(0, true);
  McbpClient other = connect(1, true);
  Request set = makeStore(op::kSet, cb::collectionKey(key), "v");
  set.vbucket = vb;
  EXPECT_EQ(owner.call(set).status, status::kSuccess);
  EXPECT_EQ(other.call(set).status, kNotMyVbucket);
}

TEST_F(ClusterServeTest, GetReplicaIsNotMyVbucketWithoutReplicas) {
  // numReplicas is 0: no node holds a replica, so even the owner answers as kv_engine does
  // for a vbucket that is not a replica there, and the SDK's replica reads fall back to GET.
  const std::string key = keyOwnedBy(0);
  ASSERT_FALSE(key.empty());
  McbpClient c = connect(0);
  Request get_replica = makeKeyOnly(0x83, key);
  get_replica.vbucket = cb::vbucketOf(key);
  const Response r = c.call(get_replica);
  EXPECT_EQ(r.status, kNotMyVbucket);
  EXPECT_EQ(nlohmann::json::parse(r.value, nullptr, false)["rev"], 1);
}

TEST_F(ClusterServeTest, TextClientsAreServedWhateverTheKeyByDefault) {
  // Classic clients shard by themselves (ketama, twemproxy): every node takes every key.
  const std::string elsewhere = keyOwnedBy(1);
  ASSERT_FALSE(elsewhere.empty());
  TextClient t;
  ASSERT_TRUE(t.connect(ports_[0]));
  EXPECT_EQ(t.call("set " + elsewhere + " 0 0 1\r\nv\r\n"), "STORED\r\n");
  EXPECT_EQ(t.callUntil("get " + elsewhere + "\r\n", "END\r\n"),
            "VALUE " + elsewhere + " 0 1\r\nv\r\nEND\r\n");
  const std::string settings = t.callUntil("stats settings\r\n", "END\r\n");
  EXPECT_NE(settings.find("STAT strict_vbuckets no\r\n"), std::string::npos) << settings;
  EXPECT_NE(settings.find("STAT cluster_map " + map_path_ + "\r\n"), std::string::npos);
}

// --strict-vbuckets: text and meta commands for another node's key are refused visibly.
class ClusterStrictTest : public ClusterServeTest {
 protected:
  std::vector<std::string> extraArgs() override { return {"--strict-vbuckets"}; }
};

TEST_F(ClusterStrictTest, TextCommandsForAnotherNodesKeyGetServerError) {
  const std::string mine = keyOwnedBy(0);
  const std::string elsewhere = keyOwnedBy(1);
  ASSERT_FALSE(mine.empty());
  ASSERT_FALSE(elsewhere.empty());
  const std::string refused = "SERVER_ERROR not my vbucket\r\n";
  TextClient t;
  ASSERT_TRUE(t.connect(ports_[0]));
  EXPECT_EQ(t.call("set " + mine + " 0 0 1\r\nv\r\n"), "STORED\r\n");
  EXPECT_EQ(t.callUntil("get " + mine + "\r\n", "END\r\n"),
            "VALUE " + mine + " 0 1\r\nv\r\nEND\r\n");
  // The value block is consumed with the refused command: the next line is a command.
  EXPECT_EQ(t.call("set " + elsewhere + " 0 0 1\r\nv\r\n"), refused);
  EXPECT_EQ(t.call("get " + elsewhere + "\r\n"), refused);
  EXPECT_EQ(t.call("get " + mine + " " + elsewhere + "\r\n"), refused)
      << "a multi-get with one foreign key is refused whole, before any VALUE";
  EXPECT_EQ(t.call("delete " + elsewhere + "\r\n"), refused);
  EXPECT_EQ(t.call("incr " + elsewhere + " 1\r\n"), refused);
  EXPECT_EQ(t.call("touch " + elsewhere + " 10\r\n"), refused);
  EXPECT_EQ(t.call("mg " + elsewhere + " v\r\n"), refused);
  EXPECT_EQ(t.call("ms " + elsewhere + " 1 q\r\nv\r\n"), refused) << "meta q shows errors";
  EXPECT_EQ(t.call("md " + elsewhere + "\r\n"), refused);
  EXPECT_EQ(t.call("ma " + elsewhere + "\r\n"), refused);
  EXPECT_EQ(t.call("mn\r\n"), "MN\r\n");
  ASSERT_TRUE(t.send("set " + elsewhere + " 0 0 1 noreply\r\nv\r\n"));
  EXPECT_EQ(t.call("version\r\n").rfind("VERSION ", 0), 0u) << "noreply stays silent";
  // Every refusal counted, the silent one too; the setting shows.
  EXPECT_NE(t.callUntil("stats\r\n", "END\r\n").find("STAT not_my_vbucket 11\r\n"),
            std::string::npos);
  EXPECT_NE(t.callUntil("stats settings\r\n", "END\r\n").find("STAT strict_vbuckets yes\r\n"),
            std::string::npos);
  // Its owner serves it.
  TextClient owner;
  ASSERT_TRUE(owner.connect(ports_[1]));
  EXPECT_EQ(owner.call("set " + elsewhere + " 0 0 1\r\nw\r\n"), "STORED\r\n");
}

TEST_F(ClusterServeTest, WithoutJsonTheBodyIsStillTheConfig) {
  const std::string key = keyOwnedBy(0);
  ASSERT_FALSE(key.empty());
  McbpClient plain;  // no HELLO: a memcached client
  ASSERT_TRUE(plain.connect(ports_[2]));
  Request get = makeKeyOnly(op::kGet, key);
  get.vbucket = cb::vbucketOf(key);
  const Response refused = plain.call(get);
  EXPECT_EQ(refused.status, kNotMyVbucket);
  EXPECT_EQ(refused.data_type, cb::datatype::kRaw) << "JSON was not negotiated";
  EXPECT_FALSE(nlohmann::json::parse(refused.value, nullptr, false).is_discarded());
}

TEST_F(ClusterServeTest, SighupTakesANewerMapThatStillNamesTheNode) {
  const std::vector<int> before = fileOwners();
  ASSERT_EQ(before.size(), kVBuckets);
  // Node 2 leaves: its vbuckets move to nodes 0 and 1, at rev 2, in the file every node reads.
  const std::string two =
      "127.0.0.1:" + std::to_string(ports_[0]) + ",127.0.0.1:" + std::to_string(ports_[1]);
  const Finished made = runToExit(
      {MEMKV_ADMIN_BIN, "cluster-map", "--nodes", two, "--from", map_path_, "--out", map_path_},
      dir_ + "/admin.out", scaled(std::chrono::seconds(30)));
  ASSERT_EQ(made.status, 0) << made.output;
  const std::vector<int> after = fileOwners();
  ASSERT_EQ(after.size(), kVBuckets);
  for (auto& server : servers_) ASSERT_EQ(::kill(server->pid(), SIGHUP), 0);

  for (size_t i = 0; i < kNodes; ++i) {
    McbpClient c = connect(i);
    // Node 2 is not in the new map: its reload fails and it keeps serving the old one.
    const bool stays = i == 2;
    uint64_t last = 0;
    ASSERT_TRUE(waitForStat(
        c, stays ? "cluster_map_reload_errors" : "cluster_map_reloads",
        [](uint64_t v) { return v >= 1; }, scaled(std::chrono::seconds(10)), &last))
        << "node " << i << " did not count the reload";
    EXPECT_EQ(statU64(c, "cluster_map_rev"), stays ? 1u : 2u) << "node " << i;
    const nlohmann::json config = clusterConfig(c);
    ASSERT_FALSE(config.is_discarded());
    EXPECT_EQ(config["rev"], stays ? 1 : 2);
    ASSERT_EQ(config["nodesExt"].size(), stays ? kNodes : 2);
    EXPECT_TRUE(config["nodesExt"][i].value("thisNode", false)) << "node " << i;
    EXPECT_EQ(configOwners(config), stays ? before : after) << "node " << i;
  }

  // A key node 2 owned is now served by its new owner, and refused by the other survivor.
  std::string key;
  for (int k = 0; k < 10000 && key.empty(); ++k) {
    const std::string candidate = "moved-" + std::to_string(k);
    if (before[cb::vbucketOf(candidate)] == 2) key = candidate;
  }
  ASSERT_FALSE(key.empty());
  const uint16_t vb = cb::vbucketOf(key);
  const auto owner = static_cast<size_t>(after[vb]);
  ASSERT_LT(owner, 2u);
  Request set = makeStore(op::kSet, key, "moved");
  set.vbucket = vb;
  McbpClient new_owner = connect(owner);
  McbpClient survivor = connect(1 - owner);
  EXPECT_EQ(new_owner.call(set).status, status::kSuccess);
  EXPECT_EQ(survivor.call(set).status, kNotMyVbucket);

  // The same file again is not newer: refused, counted, and rev 2 stays.
  ASSERT_EQ(::kill(servers_[0]->pid(), SIGHUP), 0);
  McbpClient c = connect(0);
  uint64_t last = 0;
  ASSERT_TRUE(waitForStat(
      c, "cluster_map_reload_errors", [](uint64_t v) { return v >= 1; },
      scaled(std::chrono::seconds(10)), &last));
  EXPECT_EQ(statU64(c, "cluster_map_reloads"), 1u);
  EXPECT_EQ(statU64(c, "cluster_map_rev"), 2u);
}

// Node 0 loses some of its vbuckets to node 1 and later gets them back: what they held is
// emptied in the background (counted, memory freed, the rest untouched), and a vbucket that
// comes back starts empty: an old value is never served again.
TEST_F(ClusterServeTest, VbucketsANodeLosesAreEmptiedAndComeBackEmpty) {
  const std::vector<int> owners = fileOwners();
  ASSERT_EQ(owners.size(), kVBuckets);
  McbpClient node0 = connect(0);
  // Mutation tokens: the vbucket uuid of each store comes back in its extras.
  McbpClient tokens;
  ASSERT_TRUE(tokens.connect(ports_[0]));
  cb::hello(tokens, {cb::feature::kMutationSeqno});
  std::vector<std::string> keys;
  std::set<uint16_t> moved;  // every other vbucket of node 0 that holds a key
  size_t moved_keys = 0;
  for (int k = 0; keys.size() < 400 && k < 100000; ++k) {
    const std::string key = "drop-" + std::to_string(k);
    const uint16_t vb = cb::vbucketOf(key);
    if (owners[vb] != 0) continue;
    Request set = makeStore(op::kSet, key, std::string(500, 'v'));
    set.vbucket = vb;
    ASSERT_EQ(node0.call(set).status, status::kSuccess);
    keys.push_back(key);
    if (vb % 2 == 0) {
      moved.insert(vb);
      ++moved_keys;
    }
  }
  ASSERT_EQ(keys.size(), 400u);
  ASSERT_GT(moved_keys, 50u);
  const uint64_t bytes_before = statU64(node0, "bytes");
  // The uuid a store in a vbucket about to move reports (bytes 0-7 of the token).
  const uint16_t probe_vb = *moved.begin();
  std::string probe_key;
  for (const std::string& key : keys) {
    if (cb::vbucketOf(key) == probe_vb) probe_key = key;
  }
  const auto storeUuid = [&]() {
    Request set = makeStore(op::kSet, probe_key, "token");
    set.vbucket = probe_vb;
    const Response r = tokens.call(set);
    EXPECT_EQ(r.status, status::kSuccess);
    EXPECT_EQ(r.extras.size(), 16u);
    return r.extras.substr(0, 8);
  };
  const std::string uuid_before = storeUuid();

  // rev 2: the even vbuckets of node 0 that hold keys go to node 1; rev 3: they come back.
  const auto publish = [&](int rev, int owner_of_moved) {
    std::ifstream in(map_path_);
    nlohmann::json file = nlohmann::json::parse(in, nullptr, false);
    ASSERT_FALSE(file.is_discarded());
    for (const uint16_t vb : moved) file["vbuckets"][vb] = owner_of_moved;
    file["rev"] = rev;
    std::ofstream out(map_path_ + ".new", std::ios::trunc);
    out << file.dump();
    ASSERT_TRUE(static_cast<bool>(out.flush()));
    out.close();
    fs::rename(map_path_ + ".new", map_path_);
    ASSERT_EQ(::kill(servers_[0]->pid(), SIGHUP), 0);
  };
  publish(2, 1);
  uint64_t last = 0;
  ASSERT_TRUE(waitForStat(
      node0, "cluster_items_dropped", [&](uint64_t v) { return v == moved_keys; },
      scaled(std::chrono::seconds(10)), &last))
      << "dropped " << last << " items, expected " << moved_keys;
  EXPECT_EQ(statU64(node0, "cluster_vbuckets_dropped"), moved.size());
  EXPECT_EQ(statU64(node0, "curr_items"), keys.size() - moved_keys);
  // The sweep frees them without any traffic on their keys.
  ASSERT_TRUE(waitForStat(
      node0, "flushed_unreclaimed", [](uint64_t v) { return v == 0; },
      scaled(std::chrono::seconds(10)), &last))
      << last << " dropped items still allocated";
  EXPECT_LT(statU64(node0, "bytes"), bytes_before - moved_keys * 500);
  Request failover_log = cb::makeRequest(0x54);  // DCP_GET_FAILOVER_LOG
  failover_log.vbucket = probe_vb;
  EXPECT_EQ(tokens.call(failover_log).status, kNotMyVbucket) << "another node's history";
  for (const std::string& key : keys) {
    Request get = makeKeyOnly(op::kGet, key);
    get.vbucket = cb::vbucketOf(key);
    const uint16_t want = moved.contains(get.vbucket) ? kNotMyVbucket : status::kSuccess;
    ASSERT_EQ(node0.call(get).status, want) << key << " in vbucket " << get.vbucket;
  }

  publish(3, 0);
  ASSERT_TRUE(waitForStat(
      node0, "cluster_map_rev", [](uint64_t v) { return v == 3; }, scaled(std::chrono::seconds(10)),
      &last));
  for (const std::string& key : keys) {
    Request get = makeKeyOnly(op::kGet, key);
    get.vbucket = cb::vbucketOf(key);
    const Response r = node0.call(get);
    if (moved.contains(get.vbucket)) {
      EXPECT_EQ(r.status, status::kKeyEnoent) << key << ": its vbucket came back with an old value";
    } else {
      EXPECT_EQ(r.status, status::kSuccess) << key;
      EXPECT_EQ(r.value, std::string(500, 'v'));
    }
  }
  // Nothing more to drop: rev 3 took nothing from node 0.
  EXPECT_EQ(statU64(node0, "cluster_vbuckets_dropped"), moved.size());
  // The vbucket came back with a new history: a token from before no longer matches, and
  // the failover log has a new branch, newest first, starting at a seqno past everything
  // from before (the purge seqno: a consumer from before rolls back to 0).
  const std::string uuid_after = storeUuid();
  EXPECT_NE(uuid_after, uuid_before);
  const Response history = tokens.call(failover_log);
  ASSERT_EQ(history.status, status::kSuccess);
  ASSERT_EQ(history.value.size(), 32u);
  EXPECT_EQ(history.value.substr(0, 8), uuid_after);
  EXPECT_NE(history.value.substr(8, 8), std::string(8, '\0'));
  EXPECT_EQ(history.value.substr(16, 8), uuid_before);
  EXPECT_EQ(history.value.substr(24, 8), std::string(8, '\0'));
}

// A bucket with its own table in the map ("buckets"), created after startup on every node:
// its config and its NOT_MY_VBUCKET follow that table, the default bucket's the default one.
const cb::TestUser kAdmin[] = {{"admin", "admin-pw", "admin"}};

class ClusterBucketsTest : public ClusterServeTest {
 protected:
  std::vector<std::string> extraArgs() override {
    std::string error;
    return {"--users-file", cb::sharedUsersFile(MEMKV_ADMIN_BIN, kAdmin, &error).path()};
  }

  // travel: each vbucket on the node after its default owner.
  bool editMap(std::string* error) override {
    nlohmann::json file;
    {
      std::ifstream in(map_path_);
      file = nlohmann::json::parse(in, nullptr, false);
    }
    if (file.is_discarded() || !file["vbuckets"].is_array()) {
      *error = "memkv-admin wrote no vbuckets table";
      return false;
    }
    nlohmann::json travel = nlohmann::json::array();
    for (const auto& owner : file["vbuckets"]) travel.push_back((owner.get<int>() + 1) % 3);
    file["buckets"] = {{"travel", travel}};
    std::ofstream out(map_path_, std::ios::trunc);
    out << file.dump();
    return static_cast<bool>(out.flush());
  }

  std::vector<int> travelOwners() const {
    std::ifstream in(map_path_);
    const nlohmann::json file = nlohmann::json::parse(in, nullptr, false);
    std::vector<int> owners;
    if (file.is_discarded()) return owners;
    for (const auto& owner : file["buckets"]["travel"]) owners.push_back(owner.get<int>());
    return owners;
  }

  McbpClient admin(size_t node) {
    McbpClient c = connect(node);
    EXPECT_EQ(cb::saslPlain(c, kAdmin[0].name, kAdmin[0].password).status, status::kSuccess);
    return c;
  }
};

TEST_F(ClusterBucketsTest, ABucketCreatedLaterFollowsItsOwnTable) {
  const std::vector<int> owners = fileOwners();
  const std::vector<int> travel = travelOwners();
  ASSERT_EQ(owners.size(), kVBuckets);
  ASSERT_EQ(travel.size(), kVBuckets);
  for (size_t i = 0; i < kNodes; ++i) {
    McbpClient c = admin(i);
    ASSERT_EQ(c.call(cb::makeRequest(cb::op::kCreateBucket, "travel")).status, status::kSuccess);
    ASSERT_EQ(cb::selectBucket(c, "travel").status, status::kSuccess);
    const nlohmann::json config = clusterConfig(c);
    ASSERT_FALSE(config.is_discarded());
    EXPECT_EQ(config["name"], "travel");
    EXPECT_EQ(configOwners(config), travel) << "node " << i;
    ASSERT_EQ(cb::selectBucket(c, "default").status, status::kSuccess);
    EXPECT_EQ(configOwners(clusterConfig(c)), owners) << "node " << i;
  }
  // A key of node 0 in default is node 1's in travel.
  const std::string key = keyOwnedBy(0, 3);
  ASSERT_FALSE(key.empty());
  const uint16_t vb = cb::vbucketOf(key);
  ASSERT_EQ(travel[vb], 1);
  Request set = makeStore(op::kSet, key, "v");
  set.vbucket = vb;
  McbpClient zero = admin(0);
  McbpClient one = admin(1);
  EXPECT_EQ(zero.call(set).status, status::kSuccess) << "default: node 0's";
  EXPECT_EQ(one.call(set).status, kNotMyVbucket);
  ASSERT_EQ(cb::selectBucket(zero, "travel").status, status::kSuccess);
  ASSERT_EQ(cb::selectBucket(one, "travel").status, status::kSuccess);
  const Response refused = zero.call(set);
  EXPECT_EQ(refused.status, kNotMyVbucket) << "travel: node 1's";
  const nlohmann::json config = nlohmann::json::parse(refused.value, nullptr, false);
  ASSERT_FALSE(config.is_discarded());
  EXPECT_EQ(config["name"], "travel") << "the body is the selected bucket's config";
  EXPECT_EQ(one.call(set).status, status::kSuccess);
}

// Startup refusals: no node is started by the fixture's map for these, so they use their own
// files and -p 0.
class ClusterStartupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (targetFromEnv() == ServerKind::kMemcached) GTEST_SKIP() << "memkv-only: cluster map";
    const char* bin = std::getenv("MEMKV_BIN");
    ASSERT_TRUE(bin != nullptr && *bin != '\0') << "MEMKV_BIN is not set";
    bin_ = bin;
    std::string tmpl = (fs::temp_directory_path() / "memkv-cluster-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    map_path_ = dir_ + "/map.json";
    const Finished made =
        runToExit({MEMKV_ADMIN_BIN, "cluster-map", "--nodes",
                   "127.0.0.1:11210,127.0.0.1:11211,127.0.0.1:11212", "--out", map_path_},
                  dir_ + "/admin.out", scaled(std::chrono::seconds(30)));
    ASSERT_EQ(made.status, 0) << made.output;
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // memkv with these options must exit at once with a failure status and `message` on stderr.
  void expectRefused(const std::vector<std::string>& options, const std::string& message) {
    std::vector<std::string> args = {bin_, "-p", "0", "-l", "127.0.0.1", "-t", "1"};
    args.insert(args.end(), options.begin(), options.end());
    const Finished run = runToExit(args, dir_ + "/memkv.out", scaled(std::chrono::seconds(10)));
    ASSERT_NE(run.status, -1) << "memkv did not exit: it started with a bad cluster setup";
    EXPECT_TRUE(WIFEXITED(run.status) && WEXITSTATUS(run.status) != 0) << run.status;
    EXPECT_NE(run.output.find(message), std::string::npos) << run.output;
  }

  std::string bin_;
  std::string dir_;
  std::string map_path_;
};

TEST_F(ClusterStartupTest, NodeIndexBeyondTheMap) {
  expectRefused({"--cluster-map", map_path_, "--node-index", "3"},
                "--node-index 3: the cluster map " + map_path_ + " has 3 nodes");
}

TEST_F(ClusterStartupTest, NodeIndexNotANumber) {
  expectRefused({"--cluster-map", map_path_, "--node-index", "first"}, "--node-index");
}

TEST_F(ClusterStartupTest, MapWithoutNodeIndexAndIndexWithoutMap) {
  expectRefused({"--cluster-map", map_path_}, "--cluster-map and --node-index go together");
  expectRefused({"--node-index", "0"}, "--cluster-map and --node-index go together");
}

TEST_F(ClusterStartupTest, MissingMapFile) {
  expectRefused({"--cluster-map", dir_ + "/absent.json", "--node-index", "0"}, "--cluster-map");
}

TEST_F(ClusterStartupTest, StrictVbucketsWithoutAMap) {
  expectRefused({"--strict-vbuckets"}, "--strict-vbuckets needs --cluster-map");
}

TEST_F(ClusterStartupTest, InvalidMapFile) {
  {
    std::ofstream out(dir_ + "/bad.json");
    out << R"({"version": 1, "rev": 0, "nodes": [], "vbuckets": "balanced"})";
  }
  expectRefused({"--cluster-map", dir_ + "/bad.json", "--node-index", "0"}, "--cluster-map: ");
}

}  // namespace
}  // namespace memkv::test
