// Buckets over the wire: CREATE/DELETE/LIST/SELECT_BUCKET with privileges, data and memory
// kept apart per bucket, a bucket deleted under connections that use it, and the cluster
// config (GET_CLUSTER_CONFIG) the Couchbase SDK bootstraps from.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "integration/users_fixture.h"
#include "support/couchbase_client.h"
#include "support/scram_client.h"
#include "support/slow_reader.h"
#include "support/test_env.h"

namespace memkv::test {
namespace {

namespace cb = couchbase;
using cb::TestUser;
using std::chrono::milliseconds;

const TestUser kUsers[] = {
    {"admin", "admin-pw", "admin"},
    {"app", "app-pw", "read[default],write[default]"},
    {"reader", "reader-pw", "read[default]"},
    {"b2", "b2-pw", "read[b2],write[b2]"},
    {"manager", "manager-pw", "read[*],write[*],manage[*]"},
};
const TestUser& kAdmin = kUsers[0];
const TestUser& kApp = kUsers[1];
const TestUser& kReader = kUsers[2];
const TestUser& kB2User = kUsers[3];
const TestUser& kManager = kUsers[4];

std::set<std::string> words(const std::string& s) {
  std::set<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;) out.insert(w);
  return out;
}

class SessionBucketsTest : public UsersServerTest {
 protected:
  SessionBucketsTest() : UsersServerTest(kUsers) {}

  void SetUp() override {
    UsersServerTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_EQ(cb::saslPlain(client_, kAdmin.name, kAdmin.password).status, status::kSuccess);
  }

  McbpClient loggedIn(const TestUser& user) {
    McbpClient c = newClient();
    EXPECT_EQ(cb::saslPlain(c, user.name, user.password).status, status::kSuccess) << user.name;
    return c;
  }

  static Response create(McbpClient& c, const std::string& name, const std::string& config = "") {
    return c.call(cb::makeRequest(cb::op::kCreateBucket, name, config));
  }
  static Response remove(McbpClient& c, const std::string& name) {
    return c.call(cb::makeRequest(cb::op::kDeleteBucket, name));
  }
  static std::set<std::string> list(McbpClient& c) {
    const Response r = c.call(cb::makeRequest(cb::op::kListBuckets));
    EXPECT_EQ(r.status, status::kSuccess);
    return words(r.value);
  }
  static nlohmann::json clusterConfig(McbpClient& c, uint8_t* datatype = nullptr) {
    const Response r = c.call(cb::makeRequest(cb::op::kGetClusterConfig, "", "", 0xb5));
    EXPECT_EQ(r.status, status::kSuccess);
    EXPECT_EQ(r.opaque, 0xb5u);
    if (datatype) *datatype = r.data_type;
    const nlohmann::json json = nlohmann::json::parse(r.value, nullptr, false);
    EXPECT_FALSE(json.is_discarded()) << r.value;
    return json;
  }
};

TEST_F(SessionBucketsTest, CreatedBucketsKeepTheirDataApart) {
  ASSERT_EQ(create(client_, "b1", R"({"memory_limit":16777216})").status, status::kSuccess);
  ASSERT_EQ(create(client_, "b2", "").status, status::kSuccess) << "empty value: the defaults";
  ASSERT_EQ(create(client_, "b3", R"({"memory_limit":4194304,"evict":true})").status,
            status::kSuccess);

  ASSERT_EQ(client_.set("k", "in-default").status, status::kSuccess);
  ASSERT_EQ(cb::selectBucket(client_, "b1").status, status::kSuccess);
  EXPECT_EQ(client_.get("k").status, status::kKeyEnoent) << "b1 must not see default's key";
  ASSERT_EQ(client_.set("k", "in-b1").status, status::kSuccess);
  ASSERT_EQ(cb::selectBucket(client_, "b2").status, status::kSuccess);
  ASSERT_EQ(client_.set("k", "in-b2").status, status::kSuccess);
  ASSERT_EQ(client_.flush().status, status::kSuccess);  // flushes b2 only
  EXPECT_EQ(client_.get("k").status, status::kKeyEnoent);

  ASSERT_EQ(cb::selectBucket(client_, "default").status, status::kSuccess);
  EXPECT_EQ(client_.get("k").value, "in-default");
  ASSERT_EQ(cb::selectBucket(client_, "b1").status, status::kSuccess);
  EXPECT_EQ(client_.get("k").value, "in-b1");

  // Another connection of another user sees the same buckets.
  McbpClient b2 = loggedIn(kB2User);
  ASSERT_EQ(cb::selectBucket(b2, "b2").status, status::kSuccess);
  ASSERT_EQ(b2.set("k", "b2-again").status, status::kSuccess);
  EXPECT_EQ(client_.get("k").value, "in-b1");
}

TEST_F(SessionBucketsTest, UserNamedAfterABucketLandsInIt) {
  // Couchbase's rule for clients that never select: the bucket named after the user.
  ASSERT_EQ(create(client_, "b2").status, status::kSuccess);
  ASSERT_EQ(cb::selectBucket(client_, "b2").status, status::kSuccess);
  ASSERT_EQ(client_.set("k", "in-b2").status, status::kSuccess);
  McbpClient c = loggedIn(kB2User);
  EXPECT_EQ(c.get("k").value, "in-b2");
}

TEST_F(SessionBucketsTest, CreatingAnExistingBucketIsKeyEexists) {
  EXPECT_EQ(create(client_, "default").status, status::kKeyEexists);
  ASSERT_EQ(create(client_, "b1").status, status::kSuccess);
  EXPECT_EQ(create(client_, "b1", R"({"memory_limit":2097152})").status, status::kKeyEexists);
}

TEST_F(SessionBucketsTest, BadConfigurationsAreEinval) {
  const std::vector<std::string> bad = {
      "{",
      "not json",
      "[]",
      "42",
      R"("memory_limit")",
      R"({"memory_limit":1000})",
      R"({"memory_limit":1048575})",
      R"({"memory_limit":-5})",
      R"({"memory_limit":"16777216"})",
      R"({"memory_limit":16777216.5})",
      R"({"memory_limit":null})",
      R"({"evict":1})",
      R"({"evict":"false"})",
      R"({"unknown_field":1})",
      R"({"memory_limit":16777216,"typo":true})",
  };
  for (const std::string& config : bad) {
    SCOPED_TRACE(config);
    EXPECT_EQ(create(client_, "b1", config).status, status::kEinval);
    EXPECT_EQ(client_.noop().status, status::kSuccess) << "the connection stays usable";
  }
  EXPECT_EQ(list(client_), (std::set<std::string>{"default"})) << "no bad config made a bucket";
  EXPECT_EQ(create(client_, "b1", R"({"memory_limit":1048576})").status, status::kSuccess)
      << "1 MiB is the smallest limit";
}

TEST_F(SessionBucketsTest, BadNamesAreEinval) {
  for (const std::string& name :
       {std::string("bad name!"), std::string(".x"), std::string(101, 'a'), std::string("a/b"),
        std::string("a\0b", 3), std::string("caf\xc3\xa9")}) {
    SCOPED_TRACE("name '" + name + "'");
    EXPECT_EQ(create(client_, name).status, status::kEinval);
    EXPECT_EQ(client_.noop().status, status::kSuccess);
  }
  // The limits of the rule: 100 characters, '.', '%', '-', '_' after the first.
  EXPECT_EQ(create(client_, std::string(100, 'a')).status, status::kSuccess);
  EXPECT_EQ(create(client_, "A-b_c.d%9").status, status::kSuccess);
  EXPECT_EQ(list(client_), (std::set<std::string>{"default", std::string(100, 'a'), "A-b_c.d%9"}));
}

TEST_F(SessionBucketsTest, EmptyBucketNameIsAFramingError) {
  const Response r = create(client_, "");
  EXPECT_EQ(r.status, status::kEinval);
  EXPECT_TRUE(client_.connectionClosed(scaled(milliseconds(2000))))
      << "a request without its required key loses the framing: the server hangs up";
}

TEST_F(SessionBucketsTest, OnlyAdministratorsCreateAndDeleteBuckets) {
  for (const TestUser* user : {&kApp, &kReader, &kManager}) {
    SCOPED_TRACE(user->name);
    McbpClient c = loggedIn(*user);
    EXPECT_EQ(create(c, "mine").status, cb::status::kEaccess);
    EXPECT_EQ(remove(c, "default").status, cb::status::kEaccess);
    EXPECT_EQ(c.noop().status, status::kSuccess);
  }
  EXPECT_EQ(list(client_), (std::set<std::string>{"default"}));
  EXPECT_EQ(client_.get("k").status, status::kKeyEnoent) << "default survived";
}

TEST_F(SessionBucketsTest, ListBucketsShowsWhatTheUserMayUse) {
  ASSERT_EQ(create(client_, "b1").status, status::kSuccess);
  ASSERT_EQ(create(client_, "b2").status, status::kSuccess);
  EXPECT_EQ(list(client_), (std::set<std::string>{"default", "b1", "b2"}));
  McbpClient reader = loggedIn(kReader);
  EXPECT_EQ(list(reader), (std::set<std::string>{"default"}));
  McbpClient b2 = loggedIn(kB2User);
  EXPECT_EQ(list(b2), (std::set<std::string>{"b2"}));
  McbpClient manager = loggedIn(kManager);
  EXPECT_EQ(list(manager), (std::set<std::string>{"default", "b1", "b2"}));
}

TEST_F(SessionBucketsTest, SelectingAMissingOrForbiddenBucketIsEaccess) {
  EXPECT_EQ(cb::selectBucket(client_, "nosuch").status, cb::status::kEaccess);
  EXPECT_EQ(client_.get("k").status, cb::status::kNoBucket)
      << "a failed SELECT_BUCKET leaves no bucket selected";
  ASSERT_EQ(create(client_, "b2").status, status::kSuccess);
  McbpClient app = loggedIn(kApp);
  EXPECT_EQ(cb::selectBucket(app, "b2").status, cb::status::kEaccess)
      << "an existing bucket without privileges looks like a missing one";
  McbpClient b2 = loggedIn(kB2User);
  EXPECT_EQ(cb::selectBucket(b2, "b2").status, status::kSuccess);
  EXPECT_EQ(cb::selectBucket(b2, "default").status, cb::status::kEaccess);
}

TEST_F(SessionBucketsTest, DeleteBucketAndWhatItsUsersSee) {
  ASSERT_EQ(create(client_, "gone").status, status::kSuccess);
  McbpClient user = loggedIn(kManager);
  ASSERT_EQ(cb::selectBucket(user, "gone").status, status::kSuccess);
  ASSERT_EQ(user.set("k", "v").status, status::kSuccess);

  EXPECT_EQ(remove(client_, "gone").status, status::kSuccess);
  EXPECT_EQ(remove(client_, "gone").status, status::kKeyEnoent);
  EXPECT_EQ(remove(client_, "never-was").status, status::kKeyEnoent);

  EXPECT_EQ(user.get("k").status, cb::status::kNoBucket);
  EXPECT_EQ(user.set("k", "v").status, cb::status::kNoBucket);
  EXPECT_EQ(cb::selectBucket(user, "gone").status, cb::status::kEaccess);
  ASSERT_EQ(cb::selectBucket(user, "default").status, status::kSuccess);
  EXPECT_EQ(user.set("k", "in-default").status, status::kSuccess);

  // A new bucket of the same name starts empty.
  ASSERT_EQ(create(client_, "gone").status, status::kSuccess);
  ASSERT_EQ(cb::selectBucket(user, "gone").status, status::kSuccess);
  EXPECT_EQ(user.get("k").status, status::kKeyEnoent);
  EXPECT_EQ(list(client_), (std::set<std::string>{"default", "gone"}));
}

TEST_F(SessionBucketsTest, MemoryQuotaIsPerBucket) {
  ASSERT_EQ(create(client_, "small", R"({"memory_limit":2097152,"evict":false})").status,
            status::kSuccess);
  ASSERT_EQ(cb::selectBucket(client_, "small").status, status::kSuccess);
  const std::size_t kValue = 64 << 10;
  std::size_t stored = 0;
  uint16_t last = status::kSuccess;
  for (int i = 0; i < 128 && last == status::kSuccess; ++i) {  // at most 8 MiB
    last = client_.set("v" + std::to_string(i), valueBytes(i, kValue)).status;
    if (last == status::kSuccess) stored += kValue;
  }
  EXPECT_EQ(last, status::kEnomem) << "a 2 MiB bucket without eviction must fill up";
  EXPECT_GE(stored, std::size_t{1} << 20) << "the bucket held far less than its quota";
  EXPECT_LE(stored, std::size_t{2} << 20) << "the bucket held more than its quota";
  EXPECT_EQ(client_.get("v0").value, valueBytes(0, kValue)) << "nothing was evicted";

  // default has its own quota.
  McbpClient app = loggedIn(kApp);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(app.set("d" + std::to_string(i), valueBytes(i, kValue)).status, status::kSuccess);
  }
  // Deleting the full bucket gives its memory back to nobody else, but makes room for a new one.
  EXPECT_EQ(remove(client_, "small").status, status::kSuccess);
  ASSERT_EQ(create(client_, "small", R"({"memory_limit":2097152,"evict":false})").status,
            status::kSuccess);
  ASSERT_EQ(cb::selectBucket(client_, "small").status, status::kSuccess);
  EXPECT_EQ(client_.set("again", valueBytes(1, kValue)).status, status::kSuccess);
}

TEST_F(SessionBucketsTest, DeletingABucketWhileItsLargeValuesAreBeingSent) {
  // Under ASan this is the point: values in flight when their bucket is flushed and freed.
  ASSERT_EQ(create(client_, "big").status, status::kSuccess);
  ASSERT_EQ(cb::selectBucket(client_, "big").status, status::kSuccess);
  const std::size_t kValue = 512 << 10;
  const int kKeys = 4;
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_EQ(client_.set("big" + std::to_string(i), valueBytes(i, kValue)).status,
              status::kSuccess);
  }

  SlowReaderOptions options;
  options.rcvbuf = 16 << 10;
  options.min_chunk = 1 << 10;
  options.max_chunk = 64 << 10;
  options.sleep_per_mille = 20;
  options.max_sleep = std::chrono::microseconds(2000);
  SlowReader reader;
  ASSERT_TRUE(reader.connect(server_->port(), options));
  std::string setup = encode(cb::makeRequest(
      cb::op::kSaslAuth, "PLAIN", plainAuthPayload(kManager.name, kManager.password), 1));
  setup += encode(cb::makeSelectBucket("big", 2));
  ASSERT_EQ(reader.exchange(setup, 2,
                            [](Response&& r) {
                              EXPECT_EQ(r.status, status::kSuccess) << "opaque " << r.opaque;
                              return r.status == status::kSuccess;
                            }),
            ReadStatus::kOk);

  const int kGets = 20;
  std::string gets;
  for (int i = 0; i < kGets; ++i) {
    gets += encode(makeKeyOnly(op::kGet, "big" + std::to_string(i % kKeys), 100 + i));
  }
  int complete = 0;
  int no_bucket = 0;
  bool deleted = false;
  uint32_t expected_opaque = 100;
  const ReadStatus st = reader.exchange(
      gets, kGets,
      [&](Response&& r) {
        EXPECT_EQ(r.opaque, expected_opaque) << "responses in request order";
        const int i = static_cast<int>(r.opaque) - 100;
        ++expected_opaque;
        if (r.status == status::kSuccess) {
          EXPECT_EQ(no_bucket, 0) << "a value after NO_BUCKET";
          EXPECT_EQ(r.value.size(), kValue);
          EXPECT_TRUE(r.value == valueBytes(i % kKeys, kValue)) << "value of GET " << i;
          ++complete;
        } else {
          EXPECT_EQ(r.status, cb::status::kNoBucket) << "GET " << i;
          ++no_bucket;
        }
        if (!deleted) {
          // The first response is in: delete the bucket while the rest are queued or
          // being written.
          deleted = true;
          EXPECT_EQ(remove(client_, "big").status, status::kSuccess);
        }
        return true;
      },
      scaled(milliseconds(5000)));
  EXPECT_EQ(st, ReadStatus::kOk) << reader.lastError();
  EXPECT_TRUE(deleted);
  EXPECT_EQ(complete + no_bucket, kGets);
  EXPECT_GE(complete, 1);

  // Later requests on that connection: no bucket; the server is fine.
  const std::string after = encode(makeKeyOnly(op::kGet, "big0", 999));
  ASSERT_EQ(reader.exchange(after, 1,
                            [](Response&& r) {
                              EXPECT_EQ(r.status, cb::status::kNoBucket);
                              return true;
                            }),
            ReadStatus::kOk);
  McbpClient fresh = loggedIn(kApp);
  EXPECT_EQ(fresh.set("k", "v").status, status::kSuccess);
  EXPECT_EQ(client_.noop().status, status::kSuccess);
}

// ---------------------------------------------------------------------------------------------
// GET_CLUSTER_CONFIG

TEST_F(SessionBucketsTest, BucketConfigDescribesOneNodeOwningEveryVbucket) {
  ASSERT_EQ(cb::selectBucket(client_, "default").status, status::kSuccess);
  uint8_t datatype = 0xff;
  const nlohmann::json config = clusterConfig(client_, &datatype);
  EXPECT_EQ(datatype, cb::datatype::kRaw) << "JSON datatype only once JSON is negotiated";
  ASSERT_TRUE(config.is_object());
  EXPECT_TRUE(config["rev"].is_number_integer());
  EXPECT_EQ(config["name"], "default");
  EXPECT_EQ(config["nodeLocator"], "vbucket");
  ASSERT_TRUE(config["bucketCapabilities"].is_array());
  ASSERT_TRUE(config["nodesExt"].is_array());
  ASSERT_EQ(config["nodesExt"].size(), 1u);
  const nlohmann::json& node = config["nodesExt"][0];
  EXPECT_EQ(node["services"]["kv"], server_->port());
  // No TLS listener, so no kvSSL (an SDK over couchbases:// finds no node).
  EXPECT_FALSE(node["services"].contains("kvSSL"));
  EXPECT_EQ(node["hostname"], "$HOST");
  EXPECT_EQ(node["thisNode"], true);
  const nlohmann::json& map = config["vBucketServerMap"];
  ASSERT_TRUE(map.is_object());
  EXPECT_EQ(map["hashAlgorithm"], "CRC");
  ASSERT_TRUE(map["vBucketMap"].is_array());
  ASSERT_EQ(map["vBucketMap"].size(), 1024u);
  for (const auto& entry : map["vBucketMap"]) {
    ASSERT_EQ(entry, nlohmann::json::array({0}));
  }

  // With JSON negotiated, the datatype says so.
  ASSERT_EQ(cb::hello(client_, {cb::feature::kJson}), (std::vector<uint16_t>{cb::feature::kJson}));
  const nlohmann::json again = clusterConfig(client_, &datatype);
  EXPECT_EQ(datatype, cb::datatype::kJson);
  EXPECT_EQ(again["rev"], config["rev"]) << "nothing changed";
}

TEST_F(SessionBucketsTest, ConfigNamesTheSelectedBucket) {
  ASSERT_EQ(create(client_, "b1").status, status::kSuccess);
  ASSERT_EQ(cb::selectBucket(client_, "b1").status, status::kSuccess);
  const nlohmann::json config = clusterConfig(client_);
  EXPECT_EQ(config["name"], "b1");
  EXPECT_EQ(config["vBucketServerMap"]["vBucketMap"].size(), 1024u);
}

TEST_F(SessionBucketsTest, WithoutABucketTheConfigIsGlobal) {
  McbpClient c = loggedIn(kB2User);  // no access to default, so no bucket yet
  const nlohmann::json config = clusterConfig(c);
  ASSERT_TRUE(config.is_object());
  EXPECT_TRUE(config["rev"].is_number_integer());
  EXPECT_FALSE(config.contains("vBucketServerMap"));
  ASSERT_TRUE(config["nodesExt"].is_array());
  ASSERT_EQ(config["nodesExt"].size(), 1u);
  EXPECT_EQ(config["nodesExt"][0]["services"]["kv"], server_->port());
  EXPECT_EQ(config["nodesExt"][0]["hostname"], "$HOST");
}

TEST_F(SessionBucketsTest, RevisionGrowsWithEveryBucketCreatedOrDeleted) {
  const int64_t rev0 = clusterConfig(client_)["rev"].get<int64_t>();
  ASSERT_EQ(create(client_, "b1").status, status::kSuccess);
  const int64_t rev1 = clusterConfig(client_)["rev"].get<int64_t>();
  EXPECT_GT(rev1, rev0);
  ASSERT_EQ(remove(client_, "b1").status, status::kSuccess);
  const int64_t rev2 = clusterConfig(client_)["rev"].get<int64_t>();
  EXPECT_GT(rev2, rev1);
  // Failed operations change nothing.
  EXPECT_EQ(remove(client_, "b1").status, status::kKeyEnoent);
  EXPECT_EQ(create(client_, "default").status, status::kKeyEexists);
  EXPECT_EQ(clusterConfig(client_)["rev"].get<int64_t>(), rev2);
}

TEST_F(SessionBucketsTest, ClusterConfigNeedsAuthenticationOnly) {
  McbpClient anonymous = newClient();
  EXPECT_EQ(anonymous.call(cb::makeRequest(cb::op::kGetClusterConfig)).status,
            cb::status::kEaccess);
  McbpClient reader = loggedIn(kReader);
  EXPECT_EQ(clusterConfig(reader)["name"], "default");
}

}  // namespace
}  // namespace memkv::test
