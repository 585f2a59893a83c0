// SASL over MCBP against a server started with --users-file (made by the real memkv-admin):
// mechanisms, PLAIN, SCRAM-SHA1/256/512 checked with an independent client, what an
// unauthenticated connection may do, the auth timeout, and privileges per bucket. Plus the
// open server (no users file), where memcached clients must work unchanged.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "integration/server_fixture.h"
#include "support/couchbase_client.h"
#include "support/scram_client.h"
#include "support/test_env.h"

#ifndef MEMKV_ADMIN_BIN
#error "MEMKV_ADMIN_BIN must name the memkv-admin binary"
#endif

namespace memkv::test {
namespace {

namespace cb = couchbase;
using std::chrono::milliseconds;

using cb::TestUser;

const TestUser kUsers[] = {
    {"admin", "admin-pw", "admin"},
    {"app", "app pw:\xc3\xbc", "read[default],write[default]"},
    {"reader", "reader-pw", "read[default]"},
    {"outsider", "outsider-pw", "read[other],write[other]"},
    {"we,ird=user", "weird-pw", "read[default],write[default]"},
};
const TestUser& kAdmin = kUsers[0];
const TestUser& kApp = kUsers[1];
const TestUser& kReader = kUsers[2];
const TestUser& kOutsider = kUsers[3];
const TestUser& kWeird = kUsers[4];

const cb::UsersFile& sharedUsers(std::string* error) {
  return cb::sharedUsersFile(MEMKV_ADMIN_BIN, kUsers, error);
}

class SessionAuthTest : public ServerTest {
 protected:
  explicit SessionAuthTest(std::vector<std::string> extra = {})
      : ServerTest(args(std::move(extra))) {}

  static std::vector<std::string> args(std::vector<std::string> extra) {
    std::string error;
    std::vector<std::string> out = {"--users-file", sharedUsers(&error).path()};
    out.insert(out.end(), extra.begin(), extra.end());
    return out;
  }

  void SetUp() override {
    if (targetFromEnv() == ServerKind::kMemcached) GTEST_SKIP() << "memkv-only: SASL users";
    std::string error;
    sharedUsers(&error);
    ASSERT_TRUE(error.empty()) << error;
    ServerTest::SetUp();
  }

  // A new connection authenticated with PLAIN.
  McbpClient loggedIn(const TestUser& user) {
    McbpClient c = newClient();
    const Response r = cb::saslPlain(c, user.name, user.password);
    EXPECT_EQ(r.status, status::kSuccess) << "PLAIN as " << user.name;
    return c;
  }

  static void expectUnauthenticated(McbpClient& c) {
    const Response r = c.get("k");
    EXPECT_EQ(r.status, cb::status::kEaccess) << "GET must be refused before authentication";
  }

  static void expectCanReadAndWrite(McbpClient& c) {
    EXPECT_EQ(c.set("probe", "v").status, status::kSuccess);
    const Response g = c.get("probe");
    EXPECT_EQ(g.status, status::kSuccess);
    EXPECT_EQ(g.value, "v");
  }
};

TEST_F(SessionAuthTest, ListMechsNamesTheScramFamilyAndPlain) {
  const Response r = client_.call(cb::makeRequest(cb::op::kSaslListMechs, "", "", 3));
  EXPECT_EQ(r.opcode, cb::op::kSaslListMechs);
  EXPECT_EQ(r.opaque, 3u);
  ASSERT_EQ(r.status, status::kSuccess);
  EXPECT_EQ(r.value, "SCRAM-SHA512 SCRAM-SHA256 SCRAM-SHA1 PLAIN");
}

TEST_F(SessionAuthTest, PlainAuthenticatesAndMemcachedClientsNeedNoSelectBucket) {
  expectUnauthenticated(client_);
  const Response r = cb::saslPlain(client_, kApp.name, kApp.password);
  EXPECT_EQ(r.opcode, cb::op::kSaslAuth);
  ASSERT_EQ(r.status, status::kSuccess);
  // No SELECT_BUCKET: "app" names no bucket, so the session lands in "default".
  expectCanReadAndWrite(client_);
  EXPECT_EQ(client_.incr("counter", 1, 10).status, status::kSuccess);
  EXPECT_EQ(client_.remove("probe").status, status::kSuccess);
  const std::map<std::string, std::string> stats = client_.stats();
  EXPECT_TRUE(stats.contains("pid"));

  // The same data is seen by the admin (who also lands in "default").
  McbpClient admin = loggedIn(kAdmin);
  const Response g = admin.get("counter");
  EXPECT_EQ(g.status, status::kSuccess);
  EXPECT_EQ(g.value, "10");
}

TEST_F(SessionAuthTest, PlainWrongPasswordOrUnknownUserIsAuthErrorAndARetryWorks) {
  const Response wrong = cb::saslPlain(client_, kApp.name, "not the password");
  EXPECT_EQ(wrong.status, cb::status::kAuthError);
  expectUnauthenticated(client_);
  const Response unknown = cb::saslPlain(client_, "nobody", "whatever");
  EXPECT_EQ(unknown.status, cb::status::kAuthError);
  expectUnauthenticated(client_);
  const Response prefix = cb::saslPlain(client_, kApp.name, std::string(kApp.password).substr(1));
  EXPECT_EQ(prefix.status, cb::status::kAuthError);
  // Same connection, right password.
  ASSERT_EQ(cb::saslPlain(client_, kApp.name, kApp.password).status, status::kSuccess);
  expectCanReadAndWrite(client_);
}

class SessionScramTest : public SessionAuthTest,
                         public ::testing::WithParamInterface<const char*> {};

TEST_P(SessionScramTest, ExchangeSucceedsAndTheServerProvesItKnowsThePassword) {
  const cb::ScramOutcome out = cb::saslScram(client_, GetParam(), kApp.name, kApp.password);
  EXPECT_EQ(out.first.status, cb::status::kAuthContinue);
  EXPECT_EQ(out.first.opcode, cb::op::kSaslAuth);
  ASSERT_TRUE(out.step.has_value()) << "server-first: " << out.first.value;
  EXPECT_EQ(out.step->opcode, cb::op::kSaslStep);
  ASSERT_EQ(out.step->status, status::kSuccess);
  EXPECT_EQ(out.step->value.rfind("v=", 0), 0u) << out.step->value;
  EXPECT_TRUE(out.server_verified) << "server-final " << out.step->value;
  expectCanReadAndWrite(client_);
}

TEST_P(SessionScramTest, WrongPasswordFailsAtTheStepAndARetryWorks) {
  const cb::ScramOutcome bad = cb::saslScram(client_, GetParam(), kApp.name, "wrong");
  EXPECT_EQ(bad.first.status, cb::status::kAuthContinue);
  ASSERT_TRUE(bad.step.has_value());
  EXPECT_EQ(bad.step->status, cb::status::kAuthError);
  EXPECT_TRUE(bad.step->value.find("v=") == std::string::npos);
  expectUnauthenticated(client_);
  const cb::ScramOutcome good = cb::saslScram(client_, GetParam(), kApp.name, kApp.password);
  EXPECT_EQ(good.finalStatus(), status::kSuccess);
  EXPECT_TRUE(good.server_verified);
  expectCanReadAndWrite(client_);
}

TEST_P(SessionScramTest, UnknownUserLooksLikeAWrongPassword) {
  // Whether the user exists must not show before the final step.
  const cb::ScramOutcome out = cb::saslScram(client_, GetParam(), "nobody", "whatever");
  EXPECT_EQ(out.first.status, cb::status::kAuthContinue)
      << "server-first must come for unknown users too";
  ASSERT_TRUE(out.step.has_value());
  EXPECT_EQ(out.step->status, cb::status::kAuthError);
  expectUnauthenticated(client_);
}

INSTANTIATE_TEST_SUITE_P(Mechanisms, SessionScramTest,
                         ::testing::Values("SCRAM-SHA512", "SCRAM-SHA256", "SCRAM-SHA1"),
                         [](const ::testing::TestParamInfo<const char*>& param_info) {
                           std::string name = param_info.param;
                           std::erase(name, '-');
                           return name;
                         });

TEST_F(SessionAuthTest, ScramAndPlainAcceptNamesWithCommaAndEquals) {
  const cb::ScramOutcome scram =
      cb::saslScram(client_, "SCRAM-SHA512", kWeird.name, kWeird.password);
  EXPECT_EQ(scram.finalStatus(), status::kSuccess);
  EXPECT_TRUE(scram.server_verified);
  expectCanReadAndWrite(client_);
  McbpClient plain = newClient();
  EXPECT_EQ(cb::saslPlain(plain, kWeird.name, kWeird.password).status, status::kSuccess);
}

// Each case drives one bad exchange on a fresh connection; every one must end in AUTH_ERROR,
// leave the connection unauthenticated and open, and let a correct PLAIN succeed after it.
struct BadExchange {
  const char* name;
  std::function<Response(McbpClient&)> run;  // returns the response that ends the exchange
};

Response authRaw(McbpClient& c, const std::string& mech, const std::string& value) {
  return c.call(cb::makeRequest(cb::op::kSaslAuth, mech, value));
}

Response stepRaw(McbpClient& c, const std::string& mech, const std::string& value) {
  return c.call(cb::makeRequest(cb::op::kSaslStep, mech, value));
}

// Runs a SCRAM-SHA512 client-first for "app" and returns the client-final the password
// implies, with `edit` applied; the step's response.
Response tamperedFinal(McbpClient& c, const std::function<std::string(std::string)>& edit,
                       const std::string& step_mech = "SCRAM-SHA512") {
  ScramClient scram("SCRAM-SHA512");
  const Response first = authRaw(c, "SCRAM-SHA512", scram.clientFirst(kApp.name));
  if (first.status != cb::status::kAuthContinue) return first;
  const std::string final_message = scram.clientFinal(first.value, kApp.password);
  return stepRaw(c, step_mech, edit(final_message));
}

std::string replaceAttribute(const std::string& message, char attr, const std::string& value) {
  const std::string tag = std::string(1, attr) + "=";
  std::size_t at = message.rfind("," + tag);
  at = at == std::string::npos ? 0 : at + 1;
  const std::size_t end = message.find(',', at);
  return message.substr(0, at) + tag + value +
         (end == std::string::npos ? "" : message.substr(end));
}

TEST_F(SessionAuthTest, MalformedSaslMessagesAreAuthErrorAndTheConnectionStaysUsable) {
  const std::vector<BadExchange> cases = {
      {"garbage client-first", [](McbpClient& c) { return authRaw(c, "SCRAM-SHA512", "garbage"); }},
      {"binary garbage",
       [](McbpClient& c) { return authRaw(c, "SCRAM-SHA256", std::string("\0\xff,,=\x80", 6)); }},
      {"empty client-first", [](McbpClient& c) { return authRaw(c, "SCRAM-SHA512", ""); }},
      {"missing r=", [](McbpClient& c) { return authRaw(c, "SCRAM-SHA512", "n,,n=app"); }},
      {"missing n=", [](McbpClient& c) { return authRaw(c, "SCRAM-SHA512", "n,,r=abcdef"); }},
      {"channel binding required",
       [](McbpClient& c) { return authRaw(c, "SCRAM-SHA512", "p=tls-unique,,n=app,r=abcdef"); }},
      {"oversized user name (10 KiB in a 16 KiB frame)",
       [](McbpClient& c) {
         return authRaw(c, "SCRAM-SHA512", "n,,n=" + std::string(10 << 10, 'a') + ",r=abcdef");
       }},
      {"wrong nonce",
       [](McbpClient& c) {
         return tamperedFinal(c, [](std::string m) {
           const std::size_t r = m.find(",r=") + 3;
           m.insert(r, "x");  // a nonce that is not the server's
           return m;
         });
       }},
      {"nonce of the client only",
       [](McbpClient& c) {
         ScramClient scram("SCRAM-SHA512", "clientnonce");
         const Response first = authRaw(c, "SCRAM-SHA512", scram.clientFirst(kApp.name));
         if (first.status != cb::status::kAuthContinue) return first;
         const std::string m = scram.clientFinal(first.value, kApp.password);
         return stepRaw(c, "SCRAM-SHA512", replaceAttribute(m, 'r', "clientnonce"));
       }},
      {"bad base64 proof",
       [](McbpClient& c) {
         return tamperedFinal(
             c, [](const std::string& m) { return replaceAttribute(m, 'p', "!!!*"); });
       }},
      {"proof of the wrong length",
       [](McbpClient& c) {
         return tamperedFinal(c, [](const std::string& m) {
           return replaceAttribute(m, 'p', base64EncodeForTest("short"));
         });
       }},
      {"channel binding data differs from the gs2 header",
       [](McbpClient& c) {
         return tamperedFinal(c, [](const std::string& m) {
           return replaceAttribute(m, 'c', base64EncodeForTest("y,,"));
         });
       }},
      {"missing proof",
       [](McbpClient& c) {
         return tamperedFinal(c, [](const std::string& m) { return m.substr(0, m.rfind(",p=")); });
       }},
      {"step without auth",
       [](McbpClient& c) { return stepRaw(c, "SCRAM-SHA512", "c=biws,r=abcdef,p=AAAA"); }},
      {"step with a different mechanism",
       [](McbpClient& c) {
         return tamperedFinal(
             c, [](std::string m) { return m; }, "SCRAM-SHA256");
       }},
      {"step after a failed step",
       [](McbpClient& c) {
         ScramClient scram("SCRAM-SHA512");
         const Response first = authRaw(c, "SCRAM-SHA512", scram.clientFirst(kApp.name));
         const std::string good = scram.clientFinal(first.value, kApp.password);
         const Response bad = stepRaw(c, "SCRAM-SHA512", replaceAttribute(good, 'p', "AAAA"));
         EXPECT_EQ(bad.status, cb::status::kAuthError);
         return stepRaw(c, "SCRAM-SHA512", good);  // the exchange is over: no second chance
       }},
      {"unknown mechanism", [](McbpClient& c) { return authRaw(c, "CRAM-MD5", "app"); }},
      {"PLAIN without separators", [](McbpClient& c) { return authRaw(c, "PLAIN", "appapp-pw"); }},
      {"PLAIN with an empty password",
       [](McbpClient& c) { return authRaw(c, "PLAIN", plainAuthPayload(kApp.name, "")); }},
      {"PLAIN with an empty value", [](McbpClient& c) { return authRaw(c, "PLAIN", ""); }},
  };
  for (const BadExchange& bad : cases) {
    SCOPED_TRACE(bad.name);
    McbpClient c = newClient();
    ASSERT_TRUE(c.connected());
    const Response r = bad.run(c);
    EXPECT_EQ(r.status, cb::status::kAuthError) << "value: " << r.value;
    expectUnauthenticated(c);
    ASSERT_EQ(cb::saslPlain(c, kApp.name, kApp.password).status, status::kSuccess)
        << "a correct retry on the same connection";
    expectCanReadAndWrite(c);
  }
}

TEST_F(SessionAuthTest, BeforeAuthOnlyTheHandshakeIsAllowed) {
  // Allowed: HELLO, SASL_*, NOOP, VERSION, GET_ERROR_MAP.
  EXPECT_EQ(cb::hello(client_, {cb::feature::kXerror}),
            (std::vector<uint16_t>{cb::feature::kXerror}));
  EXPECT_EQ(client_.noop().status, status::kSuccess);
  EXPECT_EQ(client_.version().status, status::kSuccess);
  EXPECT_EQ(client_.call(cb::makeRequest(cb::op::kGetErrorMap, "", be16(2))).status,
            status::kSuccess);
  EXPECT_EQ(client_.call(cb::makeRequest(cb::op::kSaslListMechs)).status, status::kSuccess);

  // Everything else: EACCESS, and the connection stays open.
  const std::vector<std::pair<const char*, Request>> refused = {
      {"GET", makeKeyOnly(op::kGet, "k")},
      {"GETK", makeKeyOnly(op::kGetK, "k")},
      {"SET", makeStore(op::kSet, "k", "v")},
      {"ADD", makeStore(op::kAdd, "k", "v")},
      {"DELETE", makeKeyOnly(op::kDelete, "k")},
      {"INCR", makeArith(op::kIncrement, "k", 1, 0, 0)},
      {"APPEND", makeConcat(op::kAppend, "k", "v")},
      {"TOUCH", makeTouch(op::kTouch, "k", 10)},
      {"GAT", makeTouch(op::kGat, "k", 10)},
      {"FLUSH", makeFlush(op::kFlush)},
      {"STAT", makeKeyOnly(op::kStat, "")},
      {"VERBOSITY",
       [] {
         Request r = makeKeyOnly(op::kVerbosity, "");
         r.extras = be32(1);
         return r;
       }()},
      {"SELECT_BUCKET", cb::makeSelectBucket("default")},
      {"LIST_BUCKETS", cb::makeRequest(cb::op::kListBuckets)},
      {"CREATE_BUCKET", cb::makeRequest(cb::op::kCreateBucket, "newbucket")},
      {"DELETE_BUCKET", cb::makeRequest(cb::op::kDeleteBucket, "default")},
      {"GET_CLUSTER_CONFIG", cb::makeRequest(cb::op::kGetClusterConfig)},
      {"GET_COLLECTION_ID", cb::makeRequest(cb::op::kGetCollectionId, "", "_default._default")},
      {"GET_LOCKED", cb::makeGetLocked("k", std::nullopt)},
      {"UNLOCK", cb::makeUnlock("k", 1)},
  };
  uint32_t opaque = 100;
  for (auto [name, req] : refused) {
    SCOPED_TRACE(name);
    req.opaque = ++opaque;
    const Response r = client_.call(req);
    EXPECT_EQ(r.opaque, opaque);
    EXPECT_EQ(r.opcode, req.opcode);
    EXPECT_EQ(r.status, cb::status::kEaccess);
  }
  // Still connected and still able to authenticate.
  EXPECT_EQ(client_.noop().status, status::kSuccess);
  ASSERT_EQ(cb::saslPlain(client_, kApp.name, kApp.password).status, status::kSuccess);
  expectCanReadAndWrite(client_);
}

TEST_F(SessionAuthTest, QuitWorksBeforeAuth) {
  ASSERT_TRUE(client_.send(makeKeyOnly(op::kQuit, "", 4)));
  Response r;
  ASSERT_EQ(client_.read(&r), ReadStatus::kOk);
  EXPECT_EQ(r.status, status::kSuccess);
  EXPECT_TRUE(client_.connectionClosed(scaled(milliseconds(2000))));
}

TEST_F(SessionAuthTest, PreAuthFrameOver16KiBIsE2bigAndClosesTheConnection) {
  // Exactly 16 KiB of body is still read (and fails as SASL, not as framing).
  const std::string payload = std::string(16384 - 5, 'x');
  const Response at_limit = authRaw(client_, "PLAIN", payload);
  EXPECT_EQ(at_limit.status, cb::status::kAuthError);
  EXPECT_EQ(client_.noop().status, status::kSuccess);

  // One byte more: answered from the header alone, then closed. Only the header is sent so
  // that no unread body turns the close into a reset that could eat the answer.
  Request big = makeStore(op::kSet, "k", std::string(16384, 'v'), 0, 0, 0, 77);
  const std::string frame = encode(big);
  ASSERT_TRUE(client_.sendRaw(std::string_view(frame).substr(0, kHeaderSize)));
  Response r;
  ASSERT_EQ(client_.read(&r), ReadStatus::kOk);
  EXPECT_EQ(r.opaque, 77u);
  EXPECT_EQ(r.status, status::kE2big);
  EXPECT_TRUE(client_.connectionClosed(scaled(milliseconds(2000))));

  // A large SASL_AUTH too, on another connection.
  McbpClient c = newClient();
  const std::string sasl =
      encode(cb::makeRequest(cb::op::kSaslAuth, "PLAIN", std::string(20000, 'p'), 78));
  ASSERT_TRUE(c.sendRaw(std::string_view(sasl).substr(0, kHeaderSize)));
  ASSERT_EQ(c.read(&r), ReadStatus::kOk);
  EXPECT_EQ(r.opaque, 78u);
  EXPECT_EQ(r.status, status::kE2big);
  EXPECT_TRUE(c.connectionClosed(scaled(milliseconds(2000))));
}

TEST_F(SessionAuthTest, AfterAuthFramesOfFullSizeAreAccepted) {
  ASSERT_EQ(cb::saslPlain(client_, kApp.name, kApp.password).status, status::kSuccess);
  const std::string value(512 << 10, 'v');
  ASSERT_EQ(client_.set("big", value).status, status::kSuccess);
  const Response g = client_.get("big");
  ASSERT_EQ(g.status, status::kSuccess);
  EXPECT_EQ(g.value, value);
}

TEST_F(SessionAuthTest, FrameLimitLiftsForFramesPipelinedBehindTheAuthentication) {
  // One write: SASL_AUTH, then a 100 KiB SET. The SET's header is judged after the
  // authentication ran, so it is not refused as a pre-auth frame.
  const std::string value(100 << 10, 'p');
  std::string bytes = encode(
      cb::makeRequest(cb::op::kSaslAuth, "PLAIN", plainAuthPayload(kApp.name, kApp.password), 1));
  bytes += encode(makeStore(op::kSet, "pipelined", value, 0, 0, 0, 2));
  ASSERT_TRUE(client_.sendRaw(bytes));
  const Response auth = client_.next();
  EXPECT_EQ(auth.opaque, 1u);
  EXPECT_EQ(auth.status, status::kSuccess);
  const Response set = client_.next();
  EXPECT_EQ(set.opaque, 2u);
  EXPECT_EQ(set.status, status::kSuccess);
  EXPECT_EQ(client_.get("pipelined").value, value);
}

TEST_F(SessionAuthTest, ReadOnlyUserCanGetButNotWrite) {
  McbpClient admin = loggedIn(kAdmin);
  ASSERT_EQ(admin.set("shared", "from-admin", 5).status, status::kSuccess);

  ASSERT_EQ(cb::saslPlain(client_, kReader.name, kReader.password).status, status::kSuccess);
  const Response g = client_.get("shared");
  ASSERT_EQ(g.status, status::kSuccess);
  EXPECT_EQ(g.value, "from-admin");
  EXPECT_EQ(g.extras, be32(5));
  EXPECT_EQ(client_.get("missing").status, status::kKeyEnoent);
  EXPECT_EQ(client_.set("shared", "mine").status, cb::status::kEaccess);
  EXPECT_EQ(client_.add("new", "mine").status, cb::status::kEaccess);
  EXPECT_EQ(client_.remove("shared").status, cb::status::kEaccess);
  EXPECT_EQ(client_.incr("n", 1, 1).status, cb::status::kEaccess);
  EXPECT_EQ(client_.append("shared", "x").status, cb::status::kEaccess);
  EXPECT_EQ(client_.flush().status, cb::status::kEaccess);
  EXPECT_EQ(client_.call(cb::makeRequest(cb::op::kCreateBucket, "mine")).status,
            cb::status::kEaccess);
  EXPECT_EQ(admin.get("shared").value, "from-admin") << "nothing the reader tried took effect";
  EXPECT_EQ(admin.get("new").status, status::kKeyEnoent);
}

TEST_F(SessionAuthTest, UserWithoutAccessToDefaultHasNoBucket) {
  ASSERT_EQ(cb::saslPlain(client_, kOutsider.name, kOutsider.password).status, status::kSuccess);
  EXPECT_EQ(cb::selectBucket(client_, "default").status, cb::status::kEaccess);
  EXPECT_EQ(client_.get("k").status, cb::status::kNoBucket);
  EXPECT_EQ(client_.set("k", "v").status, cb::status::kNoBucket);
  EXPECT_EQ(client_.noop().status, status::kSuccess);
}

TEST_F(SessionAuthTest, AuthenticatingAgainReplacesTheUser) {
  ASSERT_EQ(cb::saslPlain(client_, kApp.name, kApp.password).status, status::kSuccess);
  expectCanReadAndWrite(client_);
  ASSERT_EQ(cb::saslPlain(client_, kReader.name, kReader.password).status, status::kSuccess);
  EXPECT_EQ(client_.set("probe", "again").status, cb::status::kEaccess);
  EXPECT_EQ(client_.get("probe").value, "v");
}

TEST_F(SessionAuthTest, SdkBootstrapSequenceWorksPipelined) {
  // What couchbase@4.7.1 sends (reference §1.2): HELLO, LIST_MECHS and SASL_AUTH before
  // reading any reply; then the SCRAM step; then error map, SELECT_BUCKET and the config.
  ScramClient scram("SCRAM-SHA512");
  std::string first_batch = encode(
      cb::makeHello({cb::feature::kTcpNodelay, cb::feature::kXerror, cb::feature::kSelectBucket,
                     cb::feature::kJson, cb::feature::kAltRequest, cb::feature::kCollections,
                     cb::feature::kMutationSeqno},
                    R"({"a":"memkv-test","i":"1/2"})", 1));
  first_batch += encode(cb::makeRequest(cb::op::kSaslListMechs, "", "", 2));
  first_batch +=
      encode(cb::makeRequest(cb::op::kSaslAuth, "SCRAM-SHA512", scram.clientFirst(kApp.name), 3));
  ASSERT_TRUE(client_.sendRaw(first_batch));
  const Response hello = client_.next();
  const Response mechs = client_.next();
  const Response first = client_.next();
  EXPECT_EQ(hello.opaque, 1u);
  EXPECT_EQ(hello.status, status::kSuccess);
  EXPECT_EQ(mechs.opaque, 2u);
  EXPECT_EQ(mechs.status, status::kSuccess);
  EXPECT_EQ(first.opaque, 3u);
  ASSERT_EQ(first.status, cb::status::kAuthContinue);

  const Response step = client_.call(cb::makeRequest(
      cb::op::kSaslStep, "SCRAM-SHA512", scram.clientFinal(first.value, kApp.password), 4));
  ASSERT_EQ(step.status, status::kSuccess);
  EXPECT_TRUE(scram.verifyServerFinal(step.value));

  std::string second_batch = encode(cb::makeRequest(cb::op::kGetErrorMap, "", be16(2), 5));
  second_batch += encode(cb::makeSelectBucket("default", 6));
  second_batch += encode(cb::makeRequest(cb::op::kGetClusterConfig, "", "", 7));
  ASSERT_TRUE(client_.sendRaw(second_batch));
  for (uint32_t opaque = 5; opaque <= 7; ++opaque) {
    const Response r = client_.next();
    EXPECT_EQ(r.opaque, opaque);
    EXPECT_EQ(r.status, status::kSuccess) << "opaque " << opaque;
    if (opaque == 7) {
      EXPECT_EQ(r.data_type, cb::datatype::kJson);
      EXPECT_NE(r.value.find("\"vBucketServerMap\""), std::string::npos);
    }
  }
  const Response set = client_.set(cb::collectionKey("user::1"), R"({"n":1})");
  EXPECT_EQ(set.status, status::kSuccess);
  EXPECT_EQ(set.extras.size(), 16u);
}

// ---------------------------------------------------------------------------------------------

class SessionAuthTimeoutTest : public SessionAuthTest {
 protected:
  SessionAuthTimeoutTest() : SessionAuthTest({"--auth-timeout", "1"}) {}
};

TEST_F(SessionAuthTimeoutTest, UnauthenticatedConnectionsAreClosedAuthenticatedOnesStayOpen) {
  const auto t0 = std::chrono::steady_clock::now();
  McbpClient authed = newClient();
  McbpClient failed = newClient();
  ASSERT_EQ(cb::saslPlain(authed, kApp.name, kApp.password).status, status::kSuccess);
  EXPECT_EQ(cb::saslPlain(failed, kApp.name, "wrong").status, cb::status::kAuthError);
  // Keep the never-authenticated one busy with allowed commands: activity does not count.
  EXPECT_EQ(client_.noop().status, status::kSuccess);

  EXPECT_TRUE(client_.connectionClosed(scaled(milliseconds(4000))))
      << "an unauthenticated connection must be closed after --auth-timeout";
  const double closed_after = secondsSince(t0);
  EXPECT_GE(closed_after, 0.8) << "closed before the timeout";
  EXPECT_TRUE(failed.connectionClosed(scaled(milliseconds(2000))))
      << "a failed authentication does not stop the clock";

  // Past the deadline: the authenticated connection still works.
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(authed.noop().status, status::kSuccess);
  expectCanReadAndWrite(authed);
  EXPECT_EQ(statU64(authed, "auth_timeout_disconnects"), 2u);
}

// ---------------------------------------------------------------------------------------------
// The open server: no users file, so memcached clients keep working as before.

class SessionOpenServerTest : public ServerTest {
 protected:
  void SetUp() override {
    if (targetFromEnv() == ServerKind::kMemcached) GTEST_SKIP() << "memkv-only";
    ServerTest::SetUp();
  }
};

TEST_F(SessionOpenServerTest, SaslIsAnUnknownCommand) {
  EXPECT_EQ(client_.call(cb::makeRequest(cb::op::kSaslListMechs)).status, status::kUnknownCommand);
  EXPECT_EQ(cb::saslPlain(client_, "app", "pw").status, status::kUnknownCommand);
  EXPECT_EQ(client_.call(cb::makeRequest(cb::op::kSaslStep, "PLAIN", "x")).status,
            status::kUnknownCommand);
  EXPECT_EQ(client_.noop().status, status::kSuccess);
}

TEST_F(SessionOpenServerTest, MemcachedClientsWorkUnchangedAndHelloStillWorks) {
  const Response s = client_.set("k", "v", 3);
  ASSERT_EQ(s.status, status::kSuccess);
  EXPECT_TRUE(s.extras.empty());
  const Response g = client_.get("k");
  EXPECT_EQ(g.value, "v");
  EXPECT_EQ(g.extras, be32(3));
  EXPECT_EQ(g.data_type, 0);
  EXPECT_EQ(client_.incr("n", 5, 1).status, status::kSuccess);
  EXPECT_FALSE(client_.stats().empty());

  EXPECT_EQ(cb::hello(client_, {cb::feature::kXerror, cb::feature::kSelectBucket}),
            (std::vector<uint16_t>{cb::feature::kXerror, cb::feature::kSelectBucket}));
  EXPECT_EQ(cb::selectBucket(client_, "default").status, status::kSuccess);
  EXPECT_EQ(client_.get("k").value, "v");
  const Response list = client_.call(cb::makeRequest(cb::op::kListBuckets));
  EXPECT_EQ(list.status, status::kSuccess);
  EXPECT_EQ(list.value, "default");
}

TEST_F(SessionOpenServerTest, AnonymousClientsCannotRemoveTheDefaultBucket) {
  // Without users nobody is an administrator. If anyone could delete "default", every
  // memcached client after it would get NO_BUCKET, a status memcached never sends.
  McbpClient anonymous = newClient();
  const Response del = anonymous.call(cb::makeRequest(cb::op::kDeleteBucket, "default"));
  EXPECT_NE(del.status, status::kSuccess) << "DELETE_BUCKET default by an anonymous client";
  McbpClient memcached_client = newClient();
  EXPECT_EQ(memcached_client.set("k", "v").status, status::kSuccess);
  EXPECT_EQ(memcached_client.get("k").value, "v");
}

TEST_F(SessionOpenServerTest, LargeFramesNeedNoAuthentication) {
  const std::string value(100 << 10, 'x');
  ASSERT_EQ(client_.set("big", value).status, status::kSuccess);
  EXPECT_EQ(client_.get("big").value, value);
}

}  // namespace
}  // namespace memkv::test
