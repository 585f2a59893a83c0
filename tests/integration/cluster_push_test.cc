// What a Couchbase SDK learns of a map change without polling (docs/cluster.md "Changing the
// map"), against three memkv processes serving one map: a connection that negotiated Duplex
// and ClustermapChangeNotification gets the new map pushed (server request 0x82/0x01) when
// SIGHUP loads it, and may answer it; one that negotiated DedupeNotMyVbucketClustermap gets
// each map's config in NOT_MY_VBUCKET once; GET_CLUSTER_CONFIG with the version the client
// has answers only a newer one. memkv only.
#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "integration/cluster_fixture.h"

namespace memkv::test {
namespace {

constexpr uint8_t kServerRequestMagic = 0x82;
constexpr uint8_t kServerResponseMagic = 0x83;
constexpr uint8_t kClustermapChangeNotification = 0x01;

class ClusterPushTest : public ClusterServeTest {
 protected:
  // A client of node i negotiating what the SDK does for config changes, or only JSON.
  McbpClient connectWith(size_t node, const std::vector<uint16_t>& features) {
    McbpClient c;
    EXPECT_TRUE(c.connect(ports_[node]));
    EXPECT_EQ(cb::hello(c, features), features);
    return c;
  }
  McbpClient pushClient(size_t node) {
    return connectWith(
        node, {cb::feature::kJson, cb::feature::kDuplex, cb::feature::kClustermapNotification,
               cb::feature::kDedupeNotMyVbucket});
  }

  // Writes the map again with `rev` and vbucket `moved` given to node `to`, then signals
  // node `node` and waits until it counted the reload (or the failed one, if `expect_error`).
  void publish(int rev, uint16_t moved, int to, size_t node, bool expect_error = false) {
    nlohmann::json file;
    {
      std::ifstream in(map_path_);
      file = nlohmann::json::parse(in, nullptr, false);
    }
    ASSERT_FALSE(file.is_discarded());
    file["rev"] = rev;
    file["vbuckets"][moved] = to;
    {
      std::ofstream out(map_path_, std::ios::trunc);
      out << file.dump();
      ASSERT_TRUE(out.flush());
    }
    McbpClient stats = connectWith(node, {});
    const std::string counter = expect_error ? "cluster_map_reload_errors" : "cluster_map_reloads";
    const uint64_t before = statU64(stats, counter);
    ASSERT_EQ(::kill(servers_[node]->pid(), SIGHUP), 0);
    uint64_t last = 0;
    ASSERT_TRUE(waitForStat(
        stats, counter, [before](uint64_t v) { return v > before; },
        scaled(std::chrono::seconds(10)), &last))
        << "node " << node << " did not count the reload";
  }

  // A document request for `key` on node `node` that the node does not own.
  static Request setOn(const std::string& key) {
    Request set = makeStore(op::kSet, key, "v");
    set.vbucket = cb::vbucketOf(key);
    return set;
  }
};

TEST_F(ClusterPushTest, ANewMapIsPushedToConnectionsThatAskedAndCanBeAnswered) {
  McbpClient push = pushClient(0);
  McbpClient plain = connectWith(0, {cb::feature::kJson, cb::feature::kXerror});
  const std::string key = keyOwnedBy(1);
  ASSERT_FALSE(key.empty());
  const uint16_t vb = cb::vbucketOf(key);

  publish(2, vb, 0, 0);
  Response pushed;
  ASSERT_EQ(push.read(&pushed, scaled(std::chrono::seconds(10))), ReadStatus::kOk)
      << "no push within 10 s of the reload";
  EXPECT_EQ(pushed.magic, kServerRequestMagic);
  EXPECT_EQ(pushed.opcode, kClustermapChangeNotification);
  EXPECT_EQ(pushed.key, "default") << "the key names the bucket the config is for";
  EXPECT_EQ(pushed.extras, be64(1) + be64(2)) << "revEpoch and rev, as kv_engine sends them";
  EXPECT_EQ(pushed.data_type, cb::datatype::kJson);
  const nlohmann::json config = nlohmann::json::parse(pushed.value, nullptr, false);
  ASSERT_FALSE(config.is_discarded());
  EXPECT_EQ(config["rev"], 2);
  EXPECT_EQ(config["name"], "default");
  EXPECT_EQ(configOwners(config)[vb], 0) << "the pushed map is the new one";

  // The SDK may answer a server request (magic 0x83); memkv drops the answer.
  Request answer = makeKeyOnly(op::kNoop, "", 0);
  answer.magic = kServerResponseMagic;
  answer.opcode = kClustermapChangeNotification;
  answer.value = "ignored";
  ASSERT_TRUE(push.send(answer));
  EXPECT_EQ(push.noop().status, status::kSuccess) << "the answer must not break framing";
  // The key is this node's now; and the pushed map is not sent again in NOT_MY_VBUCKET.
  EXPECT_EQ(push.call(setOn(key)).status, status::kSuccess);
  const std::string other = keyOwnedBy(2);
  ASSERT_FALSE(other.empty());
  const Response refused = push.call(setOn(other));
  EXPECT_EQ(refused.status, kNotMyVbucket);
  EXPECT_TRUE(refused.value.empty()) << "rev 2 was pushed: DedupeNotMyVbucketClustermap";

  EXPECT_TRUE(plain.silentFor(std::chrono::milliseconds(300)))
      << "a connection without ClustermapChangeNotification gets no server request";
  EXPECT_EQ(plain.noop().status, status::kSuccess);

  // A refused reload (the same rev again) pushes nothing.
  publish(2, vb, 0, 0, /*expect_error=*/true);
  EXPECT_TRUE(push.silentFor(std::chrono::milliseconds(300)));
  // Other nodes were not signalled: nothing pushed there.
  McbpClient elsewhere = pushClient(1);
  EXPECT_TRUE(elsewhere.silentFor(std::chrono::milliseconds(300)));
}

TEST_F(ClusterPushTest, EveryPushClientOfTheNodeGetsTheMapOnce) {
  // Several connections, spread over the node's workers, and one in the middle of a batch.
  std::vector<McbpClient> clients;
  for (int i = 0; i < 8; ++i) clients.push_back(pushClient(0));
  ASSERT_TRUE(clients[0].sendRaw(encode(makeKeyOnly(op::kNoop, "", 7))));
  publish(2, 0, 2, 0);
  for (size_t i = 0; i < clients.size(); ++i) {
    bool got_push = false;
    for (int frames = 0; frames < 3 && !got_push; ++frames) {
      Response r;
      ASSERT_EQ(clients[i].read(&r, scaled(std::chrono::seconds(10))), ReadStatus::kOk)
          << "client " << i;
      got_push = r.magic == kServerRequestMagic;
      if (!got_push) {
        EXPECT_EQ(r.opaque, 7u) << "client " << i << ": only the NOOP answer";
      }
    }
    EXPECT_TRUE(got_push) << "client " << i;
  }
  for (McbpClient& c : clients) {
    const Response r = c.noop();
    EXPECT_EQ(r.magic, kResponseMagic) << "exactly one push, then the answer";
    EXPECT_EQ(r.status, status::kSuccess);
  }
}

// The brief push (HELLO 0x1f) carries the version and the bucket, no config; a connection
// without a bucket (the SDK's cluster-level one) gets the global config: key empty, no
// "name", no vbucket map.
TEST_F(ClusterPushTest, BriefPushesAndBucketlessConnectionsGetWhatTheyAskedFor) {
  McbpClient brief = connectWith(
      0, {cb::feature::kJson, cb::feature::kDuplex, cb::feature::kClustermapNotificationBrief});
  McbpClient bucketless = pushClient(0);
  // A bucket that does not exist leaves the connection without one.
  ASSERT_EQ(bucketless.call(cb::makeRequest(cb::op::kSelectBucket, "no-such-bucket")).status,
            cb::status::kEaccess);
  publish(2, 0, 2, 0);

  Response pushed;
  ASSERT_EQ(brief.read(&pushed, scaled(std::chrono::seconds(10))), ReadStatus::kOk);
  EXPECT_EQ(pushed.magic, kServerRequestMagic);
  EXPECT_EQ(pushed.opcode, kClustermapChangeNotification);
  EXPECT_EQ(pushed.key, "default");
  EXPECT_EQ(pushed.extras, be64(1) + be64(2));
  EXPECT_TRUE(pushed.value.empty()) << "brief: the client fetches the config itself";
  EXPECT_EQ(clusterConfig(brief)["rev"], 2);

  Response global;
  ASSERT_EQ(bucketless.read(&global, scaled(std::chrono::seconds(10))), ReadStatus::kOk);
  EXPECT_EQ(global.magic, kServerRequestMagic);
  EXPECT_EQ(global.opcode, kClustermapChangeNotification);
  EXPECT_EQ(global.key, "") << "no bucket: the key is empty, as the SDK expects";
  EXPECT_EQ(global.extras, be64(1) + be64(2));
  EXPECT_EQ(global.data_type, cb::datatype::kJson);
  const nlohmann::json config = nlohmann::json::parse(global.value, nullptr, false);
  ASSERT_FALSE(config.is_discarded()) << global.value;
  EXPECT_EQ(config["rev"], 2);
  EXPECT_FALSE(config.contains("name"));
  EXPECT_FALSE(config.contains("vBucketServerMap"));
  EXPECT_EQ(config["nodesExt"].size(), kNodes);
  EXPECT_EQ(bucketless.noop().magic, kResponseMagic) << "one push, then the answer";
}

// With a users file, a connection that asked for pushes but never logged in gets none:
// GET_CLUSTER_CONFIG needs a login, and a push must not tell more than it would.
const cb::TestUser kPushAdmin[] = {{"admin", "admin-pw", "admin"}};

class ClusterPushAuthTest : public ClusterPushTest {
 protected:
  std::vector<std::string> extraArgs() override {
    std::string error;
    return {"--users-file", cb::sharedUsersFile(MEMKV_ADMIN_BIN, kPushAdmin, &error).path()};
  }
};

TEST_F(ClusterPushAuthTest, NoPushBeforeLogin) {
  const std::vector<uint16_t> features = {cb::feature::kJson, cb::feature::kDuplex,
                                          cb::feature::kClustermapNotification};
  McbpClient anonymous = connectWith(0, features);
  McbpClient admin = connectWith(0, features);
  ASSERT_EQ(cb::saslPlain(admin, kPushAdmin[0].name, kPushAdmin[0].password).status,
            status::kSuccess);
  nlohmann::json file;
  {
    std::ifstream in(map_path_);
    file = nlohmann::json::parse(in, nullptr, false);
  }
  ASSERT_FALSE(file.is_discarded());
  file["rev"] = 2;
  {
    std::ofstream out(map_path_, std::ios::trunc);
    out << file.dump();
    ASSERT_TRUE(out.flush());
  }
  ASSERT_EQ(::kill(servers_[0]->pid(), SIGHUP), 0);
  Response pushed;
  ASSERT_EQ(admin.read(&pushed, scaled(std::chrono::seconds(10))), ReadStatus::kOk)
      << "the logged-in connection gets the push";
  EXPECT_EQ(pushed.magic, kServerRequestMagic);
  EXPECT_TRUE(anonymous.silentFor(std::chrono::milliseconds(300)))
      << "a connection that never logged in must not learn the map";
}

TEST_F(ClusterPushTest, DedupeSendsEachMapOnceInNotMyVbucket) {
  McbpClient dedupe = connectWith(0, {cb::feature::kJson, cb::feature::kDedupeNotMyVbucket});
  McbpClient every = connectWith(0, {cb::feature::kJson});
  const std::string key = keyOwnedBy(1);
  ASSERT_FALSE(key.empty());

  const Response first = dedupe.call(setOn(key));
  ASSERT_EQ(first.status, kNotMyVbucket);
  EXPECT_EQ(first.data_type, cb::datatype::kJson);
  EXPECT_EQ(nlohmann::json::parse(first.value, nullptr, false)["rev"], 1);
  const Response second = dedupe.call(setOn(key));
  ASSERT_EQ(second.status, kNotMyVbucket);
  EXPECT_TRUE(second.value.empty()) << "this connection already has rev 1";
  EXPECT_EQ(second.data_type, cb::datatype::kRaw);
  for (int i = 0; i < 2; ++i) {
    const Response r = every.call(setOn(key));
    ASSERT_EQ(r.status, kNotMyVbucket);
    EXPECT_FALSE(r.value.empty()) << "without the feature every answer has the config";
  }

  // A new map (no push asked): the next NOT_MY_VBUCKET carries it, once.
  const std::string other = keyOwnedBy(2);
  ASSERT_FALSE(other.empty());
  publish(2, cb::vbucketOf(key), 0, 0);
  const Response after = dedupe.call(setOn(other));
  ASSERT_EQ(after.status, kNotMyVbucket);
  EXPECT_EQ(nlohmann::json::parse(after.value, nullptr, false)["rev"], 2);
  EXPECT_TRUE(dedupe.call(setOn(other)).value.empty());

  // Another bucket selected is another config: reset (the default bucket again here).
  ASSERT_EQ(dedupe.call(cb::makeRequest(cb::op::kSelectBucket, "default")).status,
            status::kSuccess);
  EXPECT_FALSE(dedupe.call(setOn(other)).value.empty());
}

TEST_F(ClusterPushTest, GetClusterConfigWithAKnownVersionAnswersOnlyANewerOne) {
  McbpClient c = connectWith(0, {cb::feature::kJson, cb::feature::kClusterConfigKnownVersion});
  const auto ask = [&](int64_t epoch, int64_t rev) {
    Request r = cb::makeRequest(cb::op::kGetClusterConfig);
    r.extras = be64(static_cast<uint64_t>(epoch)) + be64(static_cast<uint64_t>(rev));
    return c.call(r);
  };
  for (const auto& [epoch, rev] : {std::pair<int64_t, int64_t>{1, 1}, {1, 5}, {2, 0}}) {
    const Response r = ask(epoch, rev);
    EXPECT_EQ(r.status, status::kSuccess);
    EXPECT_TRUE(r.value.empty()) << "the client has (" << epoch << ", " << rev << ")";
  }
  for (const auto& [epoch, rev] : {std::pair<int64_t, int64_t>{1, 0}, {0, 7}}) {
    const Response r = ask(epoch, rev);
    EXPECT_EQ(r.status, status::kSuccess);
    EXPECT_EQ(nlohmann::json::parse(r.value, nullptr, false)["rev"], 1)
        << "the client has (" << epoch << ", " << rev << ")";
  }
  EXPECT_EQ(clusterConfig(c)["rev"], 1) << "no extras: the config, always";
}

TEST_F(ClusterPushTest, AServerResponseWithoutDuplexEndsTheConnection) {
  McbpClient c = connectWith(0, {cb::feature::kJson});
  Request answer = makeKeyOnly(op::kNoop, "", 0);
  answer.magic = kServerResponseMagic;
  answer.opcode = kClustermapChangeNotification;
  ASSERT_TRUE(c.send(answer));
  EXPECT_TRUE(c.connectionClosed(scaled(std::chrono::seconds(5))))
      << "no server request was sent: the client lost MCBP framing";
}

}  // namespace
}  // namespace memkv::test
