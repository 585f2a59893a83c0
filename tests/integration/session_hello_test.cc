// HELLO feature negotiation and GET_ERROR_MAP, as a Couchbase SDK meets them at bootstrap
// (docs/couchbase.md). Open server: both work before
// and without authentication.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "integration/server_fixture.h"
#include "support/couchbase_client.h"

namespace memkv::test {
namespace {

namespace cb = couchbase;
using Codes = std::vector<uint16_t>;

class SessionHelloTest : public ServerTest {
 protected:
  void SetUp() override {
    if (targetFromEnv() == ServerKind::kMemcached) GTEST_SKIP() << "memkv-only: Couchbase HELLO";
    ServerTest::SetUp();
  }

  void expectUsable(McbpClient& c) {
    const Response r = c.noop();
    EXPECT_EQ(r.status, status::kSuccess) << "the connection must stay usable";
  }
};

TEST_F(SessionHelloTest, GrantsSupportedFeaturesInRequestOrder) {
  const Codes wanted = {cb::feature::kCollections, cb::feature::kJson,
                        cb::feature::kXerror,      cb::feature::kMutationSeqno,
                        cb::feature::kTcpNodelay,  cb::feature::kSelectBucket,
                        cb::feature::kAltRequest,  cb::feature::kSyncReplication,
                        cb::feature::kPreserveTtl};
  const Response r = client_.call(cb::makeHello(wanted, "agent", 0x4242));
  EXPECT_EQ(r.magic, kResponseMagic);
  EXPECT_EQ(r.opcode, cb::op::kHello);
  EXPECT_EQ(r.opaque, 0x4242u);
  ASSERT_EQ(r.status, status::kSuccess);
  EXPECT_TRUE(r.extras.empty());
  EXPECT_EQ(cb::featureCodes(r.value), wanted);
  EXPECT_EQ(r.value.size(), 2 * wanted.size());
}

TEST_F(SessionHelloTest, TheSdksRequestGetsTheRecommendedGrant) {
  // The feature list couchbase@4.7.1 sends, in its order (reference §1.3).
  const Codes sdk = {0x03, 0x06, 0x07, 0x08, 0x0b, 0x0c, 0x10, 0x0f, 0x11, 0x15,
                     0x12, 0x17, 0x14, 0x1c, 0x21, 0x0e, 0x0d, 0x1e, 0x0a, 0x04};
  const Codes granted = cb::hello(client_, sdk);
  EXPECT_EQ(granted,
            (Codes{0x03, 0x07, 0x08, 0x0b, 0x0c, 0x10, 0x11, 0x12, 0x14, 0x0d, 0x1e, 0x04}))
      << "snappy, tracing, unordered execution and xattr must not be granted: the client "
         "would send or expect bytes memkv does not produce";
}

TEST_F(SessionHelloTest, UnknownAndUnimplementedCodesAreIgnored) {
  const Codes asked = {cb::feature::kSnappy,
                       cb::feature::kXerror,
                       cb::feature::kUnorderedExecution,
                       0xffff,
                       cb::feature::kTracing,
                       cb::feature::kXattr,
                       0x01,
                       0x02,
                       0x05,
                       cb::feature::kVattr,
                       0x0100,
                       0x8012};
  EXPECT_EQ(cb::hello(client_, asked), (Codes{cb::feature::kXerror}));
}

TEST_F(SessionHelloTest, DuplicatesAreGrantedOnce) {
  const Codes asked = {cb::feature::kXerror, cb::feature::kXerror, cb::feature::kJson,
                       cb::feature::kXerror, cb::feature::kJson};
  EXPECT_EQ(cb::hello(client_, asked), (Codes{cb::feature::kXerror, cb::feature::kJson}));
}

TEST_F(SessionHelloTest, EmptyHelloWithOrWithoutAgentGrantsNothing) {
  const Response anonymous = client_.call(cb::makeHello({}, ""));
  EXPECT_EQ(anonymous.status, status::kSuccess);
  EXPECT_TRUE(anonymous.value.empty());
  const std::string agent =
      R"json({"a":"nodejs/4.7.1 (cxx/1.3.2;Linux/x86_64)","i":"0123/4567"})json";
  const Response named = client_.call(cb::makeHello({}, agent));
  EXPECT_EQ(named.status, status::kSuccess);
  EXPECT_TRUE(named.value.empty());
}

TEST_F(SessionHelloTest, OddLengthValueIsEinvalAndTheConnectionStaysUsable) {
  Request r = cb::makeHello({cb::feature::kXerror}, "agent", 9);
  r.value += '\x0b';
  const Response bad = client_.call(r);
  EXPECT_EQ(bad.opcode, cb::op::kHello);
  EXPECT_EQ(bad.opaque, 9u);
  EXPECT_EQ(bad.status, status::kEinval);
  expectUsable(client_);
  EXPECT_EQ(cb::hello(client_, {cb::feature::kXerror}), (Codes{cb::feature::kXerror}));

  // A one-byte value too.
  const Response one =
      client_.call(cb::makeRequest(cb::op::kHello, "agent", std::string(1, '\x07')));
  EXPECT_EQ(one.status, status::kEinval);
  expectUsable(client_);
}

TEST_F(SessionHelloTest, ConfigPushNeedsDuplexInTheSameHello) {
  ASSERT_EQ(cb::hello(client_, {cb::feature::kXerror, cb::feature::kJson}),
            (Codes{cb::feature::kXerror, cb::feature::kJson}));
  // kv_engine refuses the whole HELLO: a server request would reach a client that does not
  // expect one. What the first HELLO granted stays.
  const Response refused =
      client_.call(cb::makeHello({cb::feature::kClustermapNotification, cb::feature::kXerror}));
  EXPECT_EQ(refused.status, status::kEinval);
  expectUsable(client_);
  const Response config = client_.call(cb::makeRequest(cb::op::kGetClusterConfig));
  ASSERT_EQ(config.status, status::kSuccess);
  EXPECT_EQ(config.data_type, cb::datatype::kJson) << "JSON is still negotiated";

  EXPECT_EQ(cb::hello(client_, {cb::feature::kClustermapNotification, cb::feature::kDuplex,
                                cb::feature::kDedupeNotMyVbucket}),
            (Codes{cb::feature::kClustermapNotification, cb::feature::kDuplex,
                   cb::feature::kDedupeNotMyVbucket}));
  expectUsable(client_);
}

TEST_F(SessionHelloTest, SecondHelloReplacesTheFirst) {
  ASSERT_EQ(cb::hello(client_, {cb::feature::kCollections, cb::feature::kMutationSeqno}),
            (Codes{cb::feature::kCollections, cb::feature::kMutationSeqno}));
  const Response prefixed = client_.set(cb::collectionKey("doc"), "v1");
  ASSERT_EQ(prefixed.status, status::kSuccess);
  EXPECT_EQ(prefixed.extras.size(), 16u) << "mutation token with MutationSeqno";

  // Neither Collections nor MutationSeqno any more: keys are raw, no tokens.
  EXPECT_EQ(cb::hello(client_, {cb::feature::kXerror}), (Codes{cb::feature::kXerror}));
  const Response raw = client_.set("doc", "v2");
  ASSERT_EQ(raw.status, status::kSuccess);
  EXPECT_TRUE(raw.extras.empty());
  const Response g = client_.get("doc");
  ASSERT_EQ(g.status, status::kSuccess);
  EXPECT_EQ(g.value, "v2") << "the raw key names the document the prefixed key named before";

  // And an empty HELLO clears everything.
  EXPECT_EQ(cb::hello(client_, {}), Codes{});
  const Response locked_miss = client_.call(cb::makeUnlock("nothing-here", 1));
  EXPECT_EQ(locked_miss.status, status::kKeyEnoent);
}

TEST_F(SessionHelloTest, HelloNeedsNoPriorCommandsAndCanBePipelined) {
  // HELLO, ERROR_MAP and NOOP back to back, as the SDK does: answers in order.
  std::string bytes = encode(cb::makeHello({cb::feature::kXerror, cb::feature::kJson}, "a", 1));
  Request map = cb::makeRequest(cb::op::kGetErrorMap, "", be16(2), 2);
  bytes += encode(map);
  bytes += encode(makeKeyOnly(op::kNoop, "", 3));
  ASSERT_TRUE(client_.sendRaw(bytes));
  for (uint32_t opaque = 1; opaque <= 3; ++opaque) {
    const Response r = client_.next();
    EXPECT_EQ(r.opaque, opaque);
    EXPECT_EQ(r.status, status::kSuccess);
  }
}

// ---------------------------------------------------------------------------------------------
// GET_ERROR_MAP

class SessionErrorMapTest : public SessionHelloTest {
 protected:
  nlohmann::json fetch(uint16_t version) {
    const Response r = client_.call(cb::makeRequest(cb::op::kGetErrorMap, "", be16(version), 5));
    EXPECT_EQ(r.opcode, cb::op::kGetErrorMap);
    EXPECT_EQ(r.opaque, 5u);
    EXPECT_EQ(r.status, status::kSuccess);
    EXPECT_TRUE(r.extras.empty());
    const nlohmann::json json = nlohmann::json::parse(r.value, nullptr, false);
    EXPECT_FALSE(json.is_discarded()) << "not JSON: " << r.value;
    return json;
  }
};

TEST_F(SessionErrorMapTest, VersionsOneAndTwoAreWellFormedAndListEveryStatusSent) {
  for (const uint16_t version : {uint16_t{1}, uint16_t{2}}) {
    SCOPED_TRACE("version " + std::to_string(version));
    const nlohmann::json map = fetch(version);
    ASSERT_TRUE(map.is_object());
    ASSERT_TRUE(map.contains("version"));
    EXPECT_EQ(map["version"], version);
    // The SDK's parser throws std::out_of_range (and can take the client down) without these.
    ASSERT_TRUE(map.contains("revision"));
    EXPECT_TRUE(map["revision"].is_number_integer());
    ASSERT_TRUE(map.contains("errors"));
    ASSERT_TRUE(map["errors"].is_object());
    for (const auto& [code, entry] : map["errors"].items()) {
      SCOPED_TRACE("status " + code);
      EXPECT_FALSE(code.empty());
      EXPECT_EQ(code.find_first_not_of("0123456789abcdef"), std::string::npos)
          << "keys are lower-case hex";
      EXPECT_TRUE(code == "0" || code[0] != '0') << "no leading zeros";
      ASSERT_TRUE(entry.is_object());
      ASSERT_TRUE(entry.contains("name"));
      EXPECT_TRUE(entry["name"].is_string());
      ASSERT_TRUE(entry.contains("desc"));
      EXPECT_TRUE(entry["desc"].is_string());
      ASSERT_TRUE(entry.contains("attrs"));
      ASSERT_TRUE(entry["attrs"].is_array());
      for (const auto& attr : entry["attrs"]) EXPECT_TRUE(attr.is_string());
    }
    // Every status this server answers with.
    for (const char* code : {"0", "1", "2", "3", "4", "5", "6", "8", "9", "e", "20", "21", "24",
                             "81", "82", "86", "88"}) {
      EXPECT_TRUE(map["errors"].contains(code)) << "missing status " << code;
    }
    EXPECT_EQ(map["errors"]["9"]["name"], "LOCKED");
    EXPECT_EQ(map["errors"]["86"]["name"], "ETMPFAIL");
    EXPECT_EQ(map["errors"]["88"]["name"], "UNKNOWN_COLLECTION");
  }
}

TEST_F(SessionErrorMapTest, NewerVersionsGetTheNewestTheServerHas) {
  EXPECT_EQ(fetch(3)["version"], 2);
  EXPECT_EQ(fetch(0xffff)["version"], 2);
}

TEST_F(SessionErrorMapTest, VersionZeroOrAWrongLengthIsEinval) {
  const std::vector<std::string> bad = {be16(0), "", std::string(1, '\x02'),
                                        std::string("\x00\x02\x00", 3), be32(2)};
  for (const std::string& value : bad) {
    SCOPED_TRACE("value of " + std::to_string(value.size()) + " bytes");
    const Response r = client_.call(cb::makeRequest(cb::op::kGetErrorMap, "", value, 6));
    EXPECT_EQ(r.opaque, 6u);
    EXPECT_EQ(r.status, status::kEinval);
    expectUsable(client_);
  }
}

TEST_F(SessionErrorMapTest, NeedsNoXerrorGrant) {
  // The SDK only asks after XERROR was granted, but any client may.
  EXPECT_TRUE(fetch(2).contains("errors"));
}

}  // namespace
}  // namespace memkv::test
