// Document commands under the features a Couchbase SDK negotiates: collection-prefixed keys,
// the JSON datatype, mutation tokens (MutationSeqno), GET_LOCKED/UNLOCK with and without
// XERROR, and GET_COLLECTION_ID. Open server: every connection uses "default".
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "integration/server_fixture.h"
#include "support/couchbase_client.h"
#include "support/test_env.h"

namespace memkv::test {
namespace {

namespace cb = couchbase;
using std::chrono::milliseconds;
using Codes = std::vector<uint16_t>;

class SessionDocumentsTest : public ServerTest {
 protected:
  void SetUp() override {
    if (targetFromEnv() == ServerKind::kMemcached) GTEST_SKIP() << "memkv-only: Couchbase features";
    ServerTest::SetUp();
  }

  // A new connection granted exactly `features` (asserted).
  McbpClient withFeatures(const Codes& features) {
    McbpClient c = newClient();
    EXPECT_EQ(cb::hello(c, features), features);
    return c;
  }

  static Request withDatatype(Request r, uint8_t datatype) {
    r.data_type = datatype;
    return r;
  }

  static void expectUsable(McbpClient& c) {
    EXPECT_EQ(c.noop().status, status::kSuccess) << "the connection must stay usable";
  }
};

// ---------------------------------------------------------------------------------------------
// Collections

TEST_F(SessionDocumentsTest, DefaultCollectionPrefixNamesTheSameDocumentAsARawKey) {
  McbpClient cc = withFeatures({cb::feature::kCollections});
  ASSERT_EQ(cc.set(cb::collectionKey("user::1"), "from-collections", 7).status, status::kSuccess);
  const Response g = cc.get(cb::collectionKey("user::1"));
  ASSERT_EQ(g.status, status::kSuccess);
  EXPECT_EQ(g.value, "from-collections");
  EXPECT_EQ(g.extras, be32(7));

  // A client without Collections sends the raw key and sees the same document.
  const Response raw = client_.get("user::1");
  ASSERT_EQ(raw.status, status::kSuccess);
  EXPECT_EQ(raw.value, "from-collections");
  ASSERT_EQ(client_.set("user::2", "raw").status, status::kSuccess);
  EXPECT_EQ(cc.get(cb::collectionKey("user::2")).value, "raw");

  // Without the grant the prefix byte is just part of the key.
  EXPECT_EQ(client_.get(cb::collectionKey("user::1")).status, status::kKeyEnoent);
}

TEST_F(SessionDocumentsTest, EveryKeyedCommandTakesThePrefix) {
  McbpClient cc = withFeatures({cb::feature::kCollections, cb::feature::kXerror});
  const std::string k = cb::collectionKey("doc");
  EXPECT_EQ(cc.add(k, "a").status, status::kSuccess);
  EXPECT_EQ(cc.replace(k, "b").status, status::kSuccess);
  EXPECT_EQ(cc.append(k, "c").status, status::kSuccess);
  EXPECT_EQ(cc.prepend(k, "d").status, status::kSuccess);
  EXPECT_EQ(cc.get(k).value, "dbc");
  EXPECT_EQ(cc.touch(k, 100).status, status::kSuccess);
  EXPECT_EQ(cc.gat(k, 100).value, "dbc");
  const Response getk = cc.call(makeKeyOnly(op::kGetK, k));
  EXPECT_EQ(getk.status, status::kSuccess);
  EXPECT_EQ(getk.value, "dbc");
  const Response locked = cc.call(cb::makeGetLocked(k, 5));
  ASSERT_EQ(locked.status, status::kSuccess);
  EXPECT_EQ(cc.call(cb::makeUnlock(k, locked.cas)).status, status::kSuccess);
  EXPECT_EQ(cc.remove(k).status, status::kSuccess);
  EXPECT_EQ(client_.get("doc").status, status::kKeyEnoent);

  const std::string n = cb::collectionKey("n");
  const Response inc = cc.incr(n, 5, 10);
  ASSERT_EQ(inc.status, status::kSuccess);
  EXPECT_EQ(readBe64(inc.value), 10u);
  EXPECT_EQ(readBe64(cc.incr(n, 5).value), 15u);
  EXPECT_EQ(readBe64(cc.decr(n, 3).value), 12u);
  EXPECT_EQ(client_.get("n").value, "12");
}

TEST_F(SessionDocumentsTest, NonDefaultCollectionIsUnknownForEveryKeyedCommand) {
  McbpClient cc = withFeatures({cb::feature::kCollections});
  ASSERT_EQ(client_.set("doc", "v").status, status::kSuccess);
  for (const uint32_t cid : {1u, 8u, 0x7fu, 0x80u, 0xffffffffu}) {
    SCOPED_TRACE("collection " + std::to_string(cid));
    const std::string k = cb::collectionKey("doc", cid);
    const std::vector<std::pair<const char*, Request>> requests = {
        {"GET", makeKeyOnly(op::kGet, k)},
        {"GETK", makeKeyOnly(op::kGetK, k)},
        {"SET", makeStore(op::kSet, k, "x")},
        {"ADD", makeStore(op::kAdd, k, "x")},
        {"REPLACE", makeStore(op::kReplace, k, "x")},
        {"APPEND", makeConcat(op::kAppend, k, "x")},
        {"PREPEND", makeConcat(op::kPrepend, k, "x")},
        {"DELETE", makeKeyOnly(op::kDelete, k)},
        {"INCR", makeArith(op::kIncrement, k, 1, 0, 0)},
        {"DECR", makeArith(op::kDecrement, k, 1, 0, 0)},
        {"TOUCH", makeTouch(op::kTouch, k, 10)},
        {"GAT", makeTouch(op::kGat, k, 10)},
        {"GET_LOCKED", cb::makeGetLocked(k, 5)},
        {"UNLOCK", cb::makeUnlock(k, 1)},
    };
    for (const auto& [name, req] : requests) {
      SCOPED_TRACE(name);
      EXPECT_EQ(cc.call(req).status, cb::status::kUnknownCollection);
    }
  }
  EXPECT_EQ(client_.get("doc").value, "v") << "nothing reached the default collection";
}

TEST_F(SessionDocumentsTest, MalformedPrefixIsEinvalAndTheConnectionStaysUsable) {
  McbpClient cc = withFeatures({cb::feature::kCollections});
  const std::vector<std::pair<const char*, std::string>> bad = {
      {"prefix only", std::string(1, '\0')},
      {"truncated LEB128", std::string(1, '\x80')},
      {"truncated LEB128 of 4 bytes", std::string("\xff\xff\xff\xff", 4)},
      {"LEB128 longer than 5 bytes", std::string("\x80\x80\x80\x80\x80\x00k", 7)},
      {"LEB128 above 32 bits", std::string("\xff\xff\xff\xff\x7f"
                                           "k",
                                           6)},
  };
  for (const auto& [name, key] : bad) {
    SCOPED_TRACE(name);
    EXPECT_EQ(cc.get(key).status, status::kEinval);
    EXPECT_EQ(cc.set(key, "v").status, status::kEinval);
    expectUsable(cc);
  }
}

TEST_F(SessionDocumentsTest, LongestKeyFitsBesideThePrefix) {
  McbpClient cc = withFeatures({cb::feature::kCollections});
  const std::string longest(250, 'k');
  ASSERT_EQ(cc.set(cb::collectionKey(longest), "v").status, status::kSuccess);
  EXPECT_EQ(cc.get(cb::collectionKey(longest)).value, "v");
  EXPECT_EQ(client_.get(longest).value, "v");
  // One byte more is not a key, prefixed or not.
  EXPECT_EQ(cc.set(cb::collectionKey(longest + "k"), "v").status, status::kEinval);
  expectUsable(cc);
}

TEST_F(SessionDocumentsTest, GetCollectionIdKnowsOnlyTheDefaultCollection) {
  const Response ok =
      client_.call(cb::makeRequest(cb::op::kGetCollectionId, "", "_default._default", 3));
  EXPECT_EQ(ok.opcode, cb::op::kGetCollectionId);
  EXPECT_EQ(ok.opaque, 3u);
  ASSERT_EQ(ok.status, status::kSuccess);
  EXPECT_EQ(ok.extras, std::string(12, '\0')) << "manifest uid 0, collection id 0";
  EXPECT_TRUE(ok.value.empty());

  EXPECT_EQ(client_.call(cb::makeRequest(cb::op::kGetCollectionId, "", "_default.other")).status,
            cb::status::kUnknownCollection);
  EXPECT_EQ(
      client_.call(cb::makeRequest(cb::op::kGetCollectionId, "", "inventory._default")).status,
      cb::status::kUnknownCollection);
  EXPECT_EQ(client_.call(cb::makeRequest(cb::op::kGetCollectionId, "", "nodot")).status,
            status::kEinval);
  EXPECT_EQ(client_.call(cb::makeRequest(cb::op::kGetCollectionId, "", "a.b.c")).status,
            status::kEinval);
  expectUsable(client_);

  // With Collections granted too: the SDK's range scan asks for it either way.
  McbpClient cc = withFeatures({cb::feature::kCollections});
  EXPECT_EQ(cc.call(cb::makeRequest(cb::op::kGetCollectionId, "", "_default._default")).status,
            status::kSuccess);
}

// ---------------------------------------------------------------------------------------------
// JSON datatype

TEST_F(SessionDocumentsTest, JsonGrantValidatesAndKeepsTheDatatype) {
  McbpClient json = withFeatures({cb::feature::kJson});
  EXPECT_EQ(
      json.call(withDatatype(makeStore(op::kSet, "bad", "{not json"), cb::datatype::kJson)).status,
      status::kEinval);
  EXPECT_EQ(json.get("bad").status, status::kKeyEnoent) << "an invalid JSON SET stores nothing";
  expectUsable(json);

  const std::string doc = R"({"name":"memkv","tags":[1,2,3]})";
  ASSERT_EQ(
      json.call(withDatatype(makeStore(op::kSet, "doc", doc, 0x02000000), cb::datatype::kJson))
          .status,
      status::kSuccess);
  const Response g = json.get("doc");
  ASSERT_EQ(g.status, status::kSuccess);
  EXPECT_EQ(g.data_type, cb::datatype::kJson);
  EXPECT_EQ(g.value, doc);
  EXPECT_EQ(g.extras, be32(0x02000000));

  // A client that did not negotiate JSON must never see the bit.
  const Response plain = client_.get("doc");
  ASSERT_EQ(plain.status, status::kSuccess);
  EXPECT_EQ(plain.data_type, cb::datatype::kRaw);
  EXPECT_EQ(plain.value, doc);

  // Raw values stay raw for the JSON client.
  ASSERT_EQ(json.set("text", "hello").status, status::kSuccess);
  EXPECT_EQ(json.get("text").data_type, cb::datatype::kRaw);
}

TEST_F(SessionDocumentsTest, JsonGrantRefusesDatatypesNotNegotiated) {
  McbpClient json = withFeatures({cb::feature::kJson});
  for (const uint8_t datatype : {cb::datatype::kSnappy, cb::datatype::kXattr, uint8_t{0x03},
                                 uint8_t{0x07}, uint8_t{0x08}, uint8_t{0x80}}) {
    SCOPED_TRACE("datatype " + std::to_string(datatype));
    EXPECT_EQ(json.call(withDatatype(makeStore(op::kSet, "k", "{}"), datatype)).status,
              status::kEinval);
    expectUsable(json);
  }
  EXPECT_EQ(json.get("k").status, status::kKeyEnoent);
}

TEST_F(SessionDocumentsTest, WithoutTheJsonGrantTheDatatypeIsIgnored) {
  // memcached behaviour: the byte is not looked at and not kept.
  ASSERT_EQ(
      client_.call(withDatatype(makeStore(op::kSet, "k", "{not json"), cb::datatype::kJson)).status,
      status::kSuccess);
  ASSERT_EQ(
      client_.call(withDatatype(makeStore(op::kSet, "s", "abc"), cb::datatype::kSnappy)).status,
      status::kSuccess);
  McbpClient json = withFeatures({cb::feature::kJson});
  const Response g = json.get("k");
  ASSERT_EQ(g.status, status::kSuccess);
  EXPECT_EQ(g.data_type, cb::datatype::kRaw) << "stored as raw bytes";
  EXPECT_EQ(g.value, "{not json");
  EXPECT_EQ(json.get("s").data_type, cb::datatype::kRaw);
  EXPECT_EQ(json.get("s").value, "abc");
}

// ---------------------------------------------------------------------------------------------
// Mutation tokens

// `count` distinct keys that all hash to one vbucket.
std::vector<std::string> keysInOneVbucket(std::size_t count, uint16_t* vbucket) {
  std::map<uint16_t, std::vector<std::string>> by_vb;
  for (int i = 0; i < 100000; ++i) {
    const std::string key = "key-" + std::to_string(i);
    auto& keys = by_vb[cb::vbucketOf(key)];
    keys.push_back(key);
    if (keys.size() == count) {
      *vbucket = cb::vbucketOf(key);
      return keys;
    }
  }
  return {};
}

TEST_F(SessionDocumentsTest, VbucketRuleMatchesCouchbase) {
  // Known values of ((crc32 >> 16) & 0x7fff) % 1024 (CRC-32/IEEE of "123456789" = 0xcbf43926).
  EXPECT_EQ(cb::vbucketOf("123456789"), ((0xcbf43926u >> 16) & 0x7fff) % 1024);
  EXPECT_EQ(cb::vbucketOf(""), 0);
}

TEST_F(SessionDocumentsTest, EveryMutationCarriesATokenWithGrowingSeqnos) {
  uint16_t vb = 0;
  const std::vector<std::string> keys = keysInOneVbucket(3, &vb);
  ASSERT_EQ(keys.size(), 3u);
  McbpClient c = withFeatures({cb::feature::kMutationSeqno});
  const std::string& a = keys[0];
  const std::string& b = keys[1];
  const std::string& n = keys[2];
  const std::vector<std::pair<const char*, std::function<Response()>>> mutations = {
      {"SET", [&] { return c.set(a, "1"); }},
      {"ADD", [&] { return c.add(b, "2"); }},
      {"REPLACE", [&] { return c.replace(a, "3"); }},
      {"APPEND", [&] { return c.append(a, "4"); }},
      {"PREPEND", [&] { return c.prepend(b, "5"); }},
      {"INCR (create)", [&] { return c.incr(n, 1, 100); }},
      {"INCR", [&] { return c.incr(n, 1); }},
      {"DECR", [&] { return c.decr(n, 10); }},
      {"DELETE", [&] { return c.remove(b); }},
      {"SET again", [&] { return c.set(b, "6"); }},
  };
  uint64_t uuid = 0;
  uint64_t last_seqno = 0;
  for (const auto& [name, run] : mutations) {
    SCOPED_TRACE(name);
    const Response r = run();
    ASSERT_EQ(r.status, status::kSuccess);
    ASSERT_EQ(r.extras.size(), 16u) << "[vbucket uuid u64][seqno u64]";
    const uint64_t this_uuid = readBe64(r.extras);
    const uint64_t seqno = readBe64(std::string_view(r.extras).substr(8));
    if (uuid == 0) uuid = this_uuid;
    EXPECT_EQ(this_uuid, uuid) << "one vbucket, one uuid";
    EXPECT_GT(seqno, last_seqno) << "seqnos grow within vbucket " << vb;
    last_seqno = seqno;
  }
  EXPECT_NE(uuid, 0u);
  // The counter's value is still where it was.
  const Response inc = c.incr(n, 1);
  EXPECT_EQ(readBe64(inc.value), 92u);
  // Reads carry no token.
  const Response g = c.get(a);
  EXPECT_EQ(g.extras.size(), 4u) << "GET extras are the flags only";
}

TEST_F(SessionDocumentsTest, FailedMutationsCarryNoTokenAndWithoutTheGrantNoneDo) {
  McbpClient c = withFeatures({cb::feature::kMutationSeqno});
  const Response miss = c.replace("absent", "v");
  EXPECT_EQ(miss.status, status::kKeyEnoent);
  EXPECT_TRUE(miss.extras.empty());

  const Response s = client_.set("k", "v");
  ASSERT_EQ(s.status, status::kSuccess);
  EXPECT_TRUE(s.extras.empty());
  const Response inc = client_.incr("n", 1, 1);
  ASSERT_EQ(inc.status, status::kSuccess);
  EXPECT_TRUE(inc.extras.empty());
  EXPECT_EQ(inc.value.size(), 8u);
  const Response d = client_.remove("k");
  ASSERT_EQ(d.status, status::kSuccess);
  EXPECT_TRUE(d.extras.empty());
}

TEST_F(SessionDocumentsTest, QuietMutationsStayQuietWithTokens) {
  McbpClient c = withFeatures({cb::feature::kMutationSeqno});
  std::string bytes = encode(makeStore(op::kSetQ, "q", "v", 0, 0, 0, 1));
  bytes += encode(makeKeyOnly(op::kNoop, "", 2));
  ASSERT_TRUE(c.sendRaw(bytes));
  const Response r = c.next();
  EXPECT_EQ(r.opaque, 2u) << "SETQ must not answer on success";
  EXPECT_EQ(r.opcode, op::kNoop);
}

// ---------------------------------------------------------------------------------------------
// GET_LOCKED / UNLOCK

struct LockStatuses {
  bool xerror;
  uint16_t write_locked;  // a write without the lock's CAS
  uint16_t lock_locked;   // GET_LOCKED, TOUCH, GAT of a locked document; UNLOCK, wrong CAS
  uint16_t not_locked;    // UNLOCK of a document that is not locked
};

class SessionLockTest : public SessionDocumentsTest,
                        public ::testing::WithParamInterface<LockStatuses> {
 protected:
  void SetUp() override {
    SessionDocumentsTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    if (GetParam().xerror) {
      ASSERT_EQ(cb::hello(client_, {cb::feature::kXerror}), Codes{cb::feature::kXerror});
    }
  }

  Response lock(const std::string& key, std::optional<uint32_t> seconds = 15) {
    return client_.call(cb::makeGetLocked(key, seconds));
  }
  Response unlock(const std::string& key, uint64_t cas) {
    return client_.call(cb::makeUnlock(key, cas));
  }
};

TEST_P(SessionLockTest, GetLockedReturnsTheDocumentAndHidesTheCasFromOthers) {
  const Response s = client_.set("doc", "value", 0xabcd);
  ASSERT_EQ(s.status, status::kSuccess);
  const Response l = lock("doc");
  EXPECT_EQ(l.opcode, cb::op::kGetLocked);
  ASSERT_EQ(l.status, status::kSuccess);
  EXPECT_EQ(l.value, "value");
  EXPECT_EQ(l.extras, be32(0xabcd));
  EXPECT_NE(l.cas, 0u);
  EXPECT_NE(l.cas, cb::kLockedCas);

  McbpClient other = newClient();
  const Response g = other.get("doc");
  ASSERT_EQ(g.status, status::kSuccess) << "a locked document can still be read";
  EXPECT_EQ(g.value, "value");
  EXPECT_EQ(g.cas, cb::kLockedCas);
  EXPECT_EQ(client_.get("doc").cas, cb::kLockedCas) << "the locker too";
}

TEST_P(SessionLockTest, WritesNeedTheLockCas) {
  const Response s = client_.set("doc", "11");  // a number, so INCR would succeed
  const Response l = lock("doc");
  ASSERT_EQ(l.status, status::kSuccess);
  const uint16_t refused = GetParam().write_locked;
  EXPECT_EQ(client_.set("doc", "x").status, refused);
  EXPECT_EQ(client_.set("doc", "x", 0, 0, s.cas).status, refused) << "the pre-lock CAS";
  EXPECT_EQ(client_.replace("doc", "x").status, refused);
  EXPECT_EQ(client_.append("doc", "x").status, refused);
  EXPECT_EQ(client_.prepend("doc", "x").status, refused);
  EXPECT_EQ(client_.remove("doc").status, refused);
  EXPECT_EQ(client_.incr("doc", 1).status, refused);
  EXPECT_EQ(client_.add("doc", "x").status, status::kKeyEexists) << "ADD: the key exists";
  EXPECT_EQ(client_.get("doc").value, "11") << "no refused write took effect";

  // The lock's CAS writes and unlocks.
  const Response w = client_.set("doc", "v2", 0, 0, l.cas);
  ASSERT_EQ(w.status, status::kSuccess);
  const Response g = client_.get("doc");
  EXPECT_EQ(g.value, "v2");
  EXPECT_EQ(g.cas, w.cas) << "unlocked: the real CAS shows again";
  EXPECT_EQ(client_.set("doc", "v3").status, status::kSuccess);
}

TEST_P(SessionLockTest, LockingALockedDocumentOrTouchingItIsRefused) {
  ASSERT_EQ(client_.set("doc", "v").status, status::kSuccess);
  const Response l = lock("doc");
  ASSERT_EQ(l.status, status::kSuccess);
  EXPECT_EQ(lock("doc").status, GetParam().lock_locked);
  EXPECT_EQ(client_.touch("doc", 100).status, GetParam().lock_locked);
  EXPECT_EQ(client_.gat("doc", 100).status, GetParam().lock_locked);
  EXPECT_EQ(client_.call(makeTouch(op::kGatQ, "doc", 100)).status, GetParam().lock_locked);
  EXPECT_EQ(lock("missing").status, status::kKeyEnoent);
}

TEST_P(SessionLockTest, UnlockNeedsTheLockCas) {
  ASSERT_EQ(client_.set("doc", "v").status, status::kSuccess);
  const Response l = lock("doc");
  ASSERT_EQ(l.status, status::kSuccess);
  const Response wrong = unlock("doc", l.cas + 1);
  EXPECT_EQ(wrong.opcode, cb::op::kUnlockKey);
  EXPECT_EQ(wrong.status, GetParam().lock_locked) << "UNLOCK with a wrong CAS";
  EXPECT_EQ(unlock("doc", 0).status, GetParam().lock_locked) << "UNLOCK with CAS 0";
  EXPECT_EQ(client_.set("doc", "x").status, GetParam().write_locked) << "still locked";

  const Response right = unlock("doc", l.cas);
  EXPECT_EQ(right.status, status::kSuccess);
  EXPECT_EQ(client_.set("doc", "x").status, status::kSuccess) << "unlocked";
  EXPECT_EQ(unlock("doc", l.cas).status, GetParam().not_locked) << "UNLOCK when not locked";
  EXPECT_EQ(unlock("missing", 1).status, status::kKeyEnoent);
}

TEST_P(SessionLockTest, DeleteWithTheLockCasWorks) {
  ASSERT_EQ(client_.set("doc", "v").status, status::kSuccess);
  const Response l = lock("doc");
  ASSERT_EQ(l.status, status::kSuccess);
  EXPECT_EQ(client_.remove("doc", l.cas).status, status::kSuccess);
  EXPECT_EQ(client_.get("doc").status, status::kKeyEnoent);
  ASSERT_EQ(client_.set("doc", "new").status, status::kSuccess) << "the lock left with the doc";
  EXPECT_EQ(client_.get("doc").cas == cb::kLockedCas, false);
}

TEST_P(SessionLockTest, LocksExpireAndTheDefaultIsLong) {
  for (const char* key : {"short", "zero", "too-long", "no-extras"}) {
    ASSERT_EQ(client_.set(key, "v").status, status::kSuccess);
  }
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(lock("short", 1).status, status::kSuccess);
  ASSERT_EQ(lock("zero", 0).status, status::kSuccess) << "0: the default (15 s)";
  ASSERT_EQ(lock("too-long", 31).status, status::kSuccess) << "above 30: the default";
  ASSERT_EQ(lock("no-extras", std::nullopt).status, status::kSuccess);
  EXPECT_EQ(client_.set("short", "x").status, GetParam().write_locked);

  // The 1 s lock goes within a bounded wait (the server's clock ticks in seconds).
  const auto deadline = t0 + scaled(milliseconds(4000));
  uint16_t st = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    st = client_.set("short", "after").status;
    if (st == status::kSuccess) break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_EQ(st, status::kSuccess) << "a 1 s lock still held after " << secondsSince(t0) << " s";
  EXPECT_EQ(client_.get("short").value, "after");

  // The others hold for their 15 s.
  for (const char* key : {"zero", "too-long", "no-extras"}) {
    SCOPED_TRACE(key);
    EXPECT_EQ(client_.set(key, "x").status, GetParam().write_locked);
    EXPECT_EQ(client_.get(key).cas, cb::kLockedCas);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Xerror, SessionLockTest,
    ::testing::Values(
        LockStatuses{true, cb::status::kLocked, cb::status::kLocked, cb::status::kNotLocked},
        LockStatuses{false, status::kKeyEexists, cb::status::kEtmpfail, cb::status::kEtmpfail}),
    [](const ::testing::TestParamInfo<LockStatuses>& param_info) {
      return std::string(param_info.param.xerror ? "WithXerror" : "WithoutXerror");
    });

}  // namespace
}  // namespace memkv::test
