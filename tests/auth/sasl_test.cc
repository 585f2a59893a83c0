#include "auth/sasl.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>

#include "auth/scram_crypto.h"
#include "support/scram_client.h"
#include "test_users.h"

namespace memkv::auth {
namespace {

using memkv::test::plainAuthPayload;
using memkv::test::ScramClient;
using test::makeDatabase;
using test::makeUser;

constexpr std::string_view kSha512 = "SCRAM-SHA512";
constexpr std::string_view kSha256 = "SCRAM-SHA256";
constexpr std::string_view kSha1 = "SCRAM-SHA1";
constexpr std::string_view kScramMechanisms[] = {kSha512, kSha256, kSha1};

std::string decode(std::string_view b64) {
  std::string out;
  EXPECT_TRUE(base64Decode(b64, &out)) << b64;
  return out;
}

// The RFC examples' user "user" with password "pencil", under the salt and iteration count of
// the example for `hash`; a SHA512 credential as well because every user needs one (with the
// same count: a users file has one).
std::unique_ptr<const UserDatabase> rfcDatabase(ScramHash hash, std::string_view salt_b64) {
  User user("user", false, {});
  user.setCredential(hash, makeCredential(hash, "pencil", decode(salt_b64), 4096));
  if (hash != ScramHash::kSha512) {
    user.setCredential(ScramHash::kSha512,
                       makeCredential(ScramHash::kSha512, "pencil", "other salt", 4096));
  }
  std::vector<User> users;
  users.push_back(std::move(user));
  return makeDatabase(std::move(users));
}

std::string rfc5802Nonce() {
  return "3rfcNHYJY1ZVvWVs7j";
}
std::string rfc7677Nonce() {
  return "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
}

TEST(SaslScramTest, Rfc5802ScramSha1Example) {
  const auto db = rfcDatabase(ScramHash::kSha1, "QSXCR+Q6sek8bf92");
  SaslServer server(*db, &rfc5802Nonce);
  SaslResult first = server.start(kSha1, "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL");
  ASSERT_EQ(first.outcome, SaslOutcome::kContinue);
  EXPECT_EQ(first.payload,
            "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096");
  SaslResult final = server.step(
      kSha1, "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=");
  ASSERT_EQ(final.outcome, SaslOutcome::kOk);
  EXPECT_EQ(final.payload, "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=");
  EXPECT_EQ(final.user, db->find("user"));
  EXPECT_FALSE(server.inProgress());
}

TEST(SaslScramTest, Rfc7677ScramSha256Example) {
  const auto db = rfcDatabase(ScramHash::kSha256, "W22ZaJ0SNY7soEsUEjb6gQ==");
  SaslServer server(*db, &rfc7677Nonce);
  SaslResult first = server.start(kSha256, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  ASSERT_EQ(first.outcome, SaslOutcome::kContinue);
  EXPECT_EQ(first.payload,
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,"
            "i=4096");
  SaslResult final = server.step(kSha256,
                                 "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                                 "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  ASSERT_EQ(final.outcome, SaslOutcome::kOk);
  EXPECT_EQ(final.payload, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
}

TEST(SaslScramTest, Sha512VectorComputedWithPythonHashlib) {
  // The RFC 7677 exchange with SHA-512; proof and signature from Python's hashlib.pbkdf2_hmac
  // and hmac, an implementation independent of this one.
  const auto db = rfcDatabase(ScramHash::kSha512, "W22ZaJ0SNY7soEsUEjb6gQ==");
  SaslServer server(*db, &rfc7677Nonce);
  ASSERT_EQ(server.start(kSha512, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO").outcome,
            SaslOutcome::kContinue);
  SaslResult final = server.step(
      kSha512,
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
      "p=gMGXRcevScNtxZ6/8lQYpGtnsNAc3mGcmNomv+xnoOMw+3R2xNJdMNnzMlTN8PPC6wdp6dybEmDYXYTxwnYPJQ==");
  ASSERT_EQ(final.outcome, SaslOutcome::kOk);
  EXPECT_EQ(
      final.payload,
      "v=ZQnYEgWQMFmmsM8aQMF0nDDCy/AgCzkwk8CmMZYcMg0vSVlKDanekLtifDSeVGT4+5ZxXnJq199RVG2rR7N7Zw==");
}

class SaslTest : public ::testing::Test {
 protected:
  SaslTest()
      : db_(makeDatabase({makeUser("alice", "secret", false, {{"default", kRead | kWrite}}),
                          makeUser("bob", "hunter2", true), makeUser("al,ice", "comma"),
                          makeUser("b=ob", "equals"), makeUser("=2C", "literal")})),
        server_(*db_) {}

  // A complete SCRAM exchange; the outcome of the final step.
  SaslResult scram(std::string_view mechanism, std::string_view user, std::string_view password,
                   ScramClient* client) {
    SaslResult first = server_.start(mechanism, client->clientFirst(user));
    if (first.outcome != SaslOutcome::kContinue) return first;
    EXPECT_TRUE(server_.inProgress());
    return server_.step(mechanism, client->clientFinal(first.payload, password));
  }
  SaslResult scram(std::string_view mechanism, std::string_view user, std::string_view password) {
    ScramClient client(mechanism);
    return scram(mechanism, user, password, &client);
  }

  // The client-final message of a fresh exchange, left pending on the server.
  std::string pendingFinal(ScramClient* client, std::string_view user = "alice",
                           std::string_view password = "secret") {
    SaslResult first = server_.start(kSha512, client->clientFirst(user));
    EXPECT_EQ(first.outcome, SaslOutcome::kContinue);
    return client->clientFinal(first.payload, password);
  }

  std::unique_ptr<const UserDatabase> db_;
  SaslServer server_;
};

TEST_F(SaslTest, FullExchangeForEveryHash) {
  for (std::string_view mech : kScramMechanisms) {
    ScramClient client(mech);
    SaslResult r = scram(mech, "alice", "secret", &client);
    ASSERT_EQ(r.outcome, SaslOutcome::kOk) << mech;
    EXPECT_TRUE(client.verifyServerFinal(r.payload)) << mech;
    ASSERT_EQ(r.user, db_->find("alice"));
    EXPECT_TRUE(r.user->has("default", kRead | kWrite));
    EXPECT_FALSE(server_.inProgress());
  }
}

TEST_F(SaslTest, WrongPasswordFails) {
  for (std::string_view mech : kScramMechanisms) {
    SaslResult r = scram(mech, "alice", "Secret");
    EXPECT_EQ(r.outcome, SaslOutcome::kFail) << mech;
    EXPECT_TRUE(r.payload.empty());
    EXPECT_EQ(r.user, nullptr);
  }
  EXPECT_EQ(scram(kSha512, "alice", "hunter2").outcome, SaslOutcome::kFail);  // bob's
}

TEST_F(SaslTest, UnknownUserGetsAWellFormedChallengeThenFails) {
  for (std::string_view mech : kScramMechanisms) {
    ScramClient client(mech);
    SaslResult first = server_.start(mech, client.clientFirst("mallory"));
    ASSERT_EQ(first.outcome, SaslOutcome::kContinue) << mech;
    // Looks like a real user's: a 32-byte salt as memkv-admin makes, the file's iterations.
    const std::string expected_tail = ",i=" + std::to_string(test::kTestIterations);
    EXPECT_TRUE(first.payload.ends_with(expected_tail)) << first.payload;
    std::string final;
    ASSERT_NO_THROW(final = client.clientFinal(first.payload, "guess"));
    const size_t s = first.payload.find(",s=") + 3;
    EXPECT_EQ(decode(first.payload.substr(s, first.payload.find(",i=") - s)).size(), 32u);
    EXPECT_EQ(server_.step(mech, final).outcome, SaslOutcome::kFail);
  }
}

TEST(SaslIterationsTest, UnknownAndRealUsersAnnounceTheFilesCount) {
  // A count that is not the default: the announcement must follow the file, not a constant.
  constexpr uint32_t kCount = 4096;
  std::vector<User> users;
  users.push_back(makeUser("alice", "secret", false, {}, kCount));
  const auto db = makeDatabase(std::move(users));
  ASSERT_NE(db, nullptr);
  SaslServer server(*db);
  for (std::string_view mech : kScramMechanisms) {
    for (std::string_view name : {"alice", "mallory"}) {
      ScramClient client(mech);
      const SaslResult first = server.start(mech, client.clientFirst(name));
      ASSERT_EQ(first.outcome, SaslOutcome::kContinue) << mech << " " << name;
      EXPECT_TRUE(first.payload.ends_with(",i=" + std::to_string(kCount)))
          << mech << " " << name << ": " << first.payload;
    }
  }
}

TEST(SaslIterationsTest, PlainForAnUnknownUserCostsWhatARealUserCosts) {
  // A count far from the default, so that a fake at another count would cost a tenth. The
  // fastest of a few runs each, and a generous ratio: only a fake that skipped most of the
  // PBKDF2 fails this.
  constexpr uint32_t kCount = 100'000;
  std::vector<User> users;
  users.push_back(makeUser("alice", "secret", false, {}, kCount));
  const auto db = makeDatabase(std::move(users));
  ASSERT_NE(db, nullptr);
  SaslServer server(*db);
  const auto fastest = [&](std::string_view name) {
    auto best = std::chrono::steady_clock::duration::max();
    for (int i = 0; i < 3; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      EXPECT_EQ(server.start("PLAIN", plainAuthPayload(name, "wrong")).outcome, SaslOutcome::kFail);
      best = std::min(best, std::chrono::steady_clock::now() - t0);
    }
    return best;
  };
  const auto real = fastest("alice");
  const auto fake = fastest("mallory");
  EXPECT_GE(fake * 3, real) << "unknown user: "
                            << std::chrono::duration<double, std::milli>(fake).count()
                            << " ms, real user: "
                            << std::chrono::duration<double, std::milli>(real).count() << " ms";
}

TEST_F(SaslTest, UnknownUserSaltIsStablePerNameAndMechanism) {
  const auto saltOf = [&](std::string_view mech, std::string_view user) {
    ScramClient client(mech, "fixednonce");
    std::string payload = server_.start(mech, client.clientFirst(user)).payload;
    const size_t s = payload.find(",s=");
    return payload.substr(s, payload.find(",i=") - s);
  };
  EXPECT_EQ(saltOf(kSha512, "mallory"), saltOf(kSha512, "mallory"));
  EXPECT_NE(saltOf(kSha512, "mallory"), saltOf(kSha512, "trudy"));
  EXPECT_NE(saltOf(kSha512, "mallory"), saltOf(kSha256, "mallory"));
  // And a second server in the same process says the same about the same name.
  SaslServer other(*db_);
  ScramClient client(kSha512, "fixednonce");
  const std::string payload = other.start(kSha512, client.clientFirst("mallory")).payload;
  EXPECT_NE(payload.find(saltOf(kSha512, "mallory")), std::string::npos);
}

TEST_F(SaslTest, UserWithoutCredentialForTheHashIsTreatedAsUnknown) {
  User u("sha512only", false, {});
  u.setCredential(ScramHash::kSha512, makeCredential(ScramHash::kSha512, "pw", "salt", 64));
  std::vector<User> users;
  users.push_back(std::move(u));
  const auto db = makeDatabase(std::move(users));
  SaslServer server(*db);
  ScramClient client(kSha1);
  SaslResult first = server.start(kSha1, client.clientFirst("sha512only"));
  ASSERT_EQ(first.outcome, SaslOutcome::kContinue);
  EXPECT_EQ(server.step(kSha1, client.clientFinal(first.payload, "pw")).outcome,
            SaslOutcome::kFail);
  ScramClient good(kSha512);
  first = server.start(kSha512, good.clientFirst("sha512only"));
  EXPECT_EQ(server.step(kSha512, good.clientFinal(first.payload, "pw")).outcome, SaslOutcome::kOk);
}

TEST_F(SaslTest, EscapedUserNames) {
  EXPECT_EQ(ScramClient::escapeName("al,ice"), "al=2Cice");
  EXPECT_EQ(ScramClient::escapeName("b=ob"), "b=3Dob");
  EXPECT_EQ(scram(kSha512, "al,ice", "comma").user, db_->find("al,ice"));
  EXPECT_EQ(scram(kSha256, "b=ob", "equals").user, db_->find("b=ob"));
  // "=3D2C" is the name "=2C", not ",".
  EXPECT_EQ(scram(kSha1, "=2C", "literal").user, db_->find("=2C"));
  EXPECT_EQ(scram(kSha1, ",", "literal").outcome, SaslOutcome::kFail);
}

TEST_F(SaslTest, ClientNonceWithSpacesAsTheNodeSdkSendsIt) {
  ScramClient client(kSha512, "0x38 0xffffffaa 0xffffffaa 0x1f 0x6b");
  SaslResult r = scram(kSha512, "alice", "secret", &client);
  ASSERT_EQ(r.outcome, SaslOutcome::kOk);
  EXPECT_TRUE(client.verifyServerFinal(r.payload));
  EXPECT_TRUE(client.nonce().starts_with("0x38 0xffffffaa 0xffffffaa 0x1f 0x6b"));
}

TEST_F(SaslTest, GS2HeaderYAndAuthzidOfTheSameUser) {
  for (std::string gs2 : {"y,,", "n,a=alice,"}) {
    ScramClient client(kSha512, "", gs2);
    SaslResult r = scram(kSha512, "alice", "secret", &client);
    EXPECT_EQ(r.outcome, SaslOutcome::kOk) << gs2;
    EXPECT_TRUE(client.verifyServerFinal(r.payload)) << gs2;
  }
}

TEST_F(SaslTest, ServerNoncesAreRandomAndPrintable) {
  std::set<std::string> nonces;
  for (int i = 0; i < 20; ++i) {
    ScramClient client(kSha512, "cnonce");
    const std::string payload = server_.start(kSha512, client.clientFirst("alice")).payload;
    const std::string nonce = payload.substr(2, payload.find(",s=") - 2);
    ASSERT_TRUE(nonce.starts_with("cnonce"));
    EXPECT_GE(nonce.size(), std::string("cnonce").size() + 24);
    for (char c : nonce) EXPECT_TRUE(c > 0x20 && c < 0x7f && c != ',') << nonce;
    nonces.insert(nonce);
  }
  EXPECT_EQ(nonces.size(), 20u);
}

TEST_F(SaslTest, Plain) {
  SaslResult ok = server_.start("PLAIN", plainAuthPayload("alice", "secret"));
  EXPECT_EQ(ok.outcome, SaslOutcome::kOk);
  EXPECT_EQ(ok.user, db_->find("alice"));
  EXPECT_FALSE(server_.inProgress());
  EXPECT_EQ(server_.start("PLAIN", std::string("alice\0alice\0secret", 18)).user,
            db_->find("alice"));
  EXPECT_EQ(server_.start("PLAIN", plainAuthPayload("al,ice", "comma")).user, db_->find("al,ice"));

  const std::string bad[] = {
      plainAuthPayload("alice", "wrong"),
      plainAuthPayload("alice", "secre"),
      plainAuthPayload("alice", "secret\n"),
      plainAuthPayload("mallory", "secret"),
      plainAuthPayload("alice", ""),
      plainAuthPayload("", "secret"),
      plainAuthPayload("al=2Cice", "comma"),  // PLAIN names are not escaped
      std::string("bob\0alice\0secret", 16),  // acting as another user
      std::string("\0alice", 6),
      std::string("alice secret"),
      std::string("\0alice\0secret\0", 14),
      "",
      plainAuthPayload(std::string(129, 'a'), "x"),
      plainAuthPayload("alice", std::string(1100, 'x')),
  };
  for (const auto& data : bad) {
    SaslResult r = server_.start("PLAIN", data);
    EXPECT_EQ(r.outcome, SaslOutcome::kFail) << data;
    EXPECT_EQ(r.user, nullptr);
    EXPECT_TRUE(r.payload.empty());
  }
  EXPECT_EQ(server_.step("PLAIN", plainAuthPayload("alice", "secret")).outcome, SaslOutcome::kFail);
}

TEST_F(SaslTest, StepOutOfSequenceFails) {
  EXPECT_EQ(server_.step(kSha512, "c=biws,r=x,p=AAAA").outcome, SaslOutcome::kFail);

  ScramClient client(kSha512);
  const std::string final = pendingFinal(&client);
  EXPECT_EQ(server_.step(kSha256, final).outcome, SaslOutcome::kFail);  // other mechanism
  EXPECT_FALSE(server_.inProgress());
  EXPECT_EQ(server_.step(kSha512, final).outcome, SaslOutcome::kFail);  // exchange was dropped

  ScramClient again(kSha512);
  const std::string good = pendingFinal(&again);
  EXPECT_EQ(server_.step(kSha512, good).outcome, SaslOutcome::kOk);
  EXPECT_EQ(server_.step(kSha512, good).outcome, SaslOutcome::kFail);  // replay
}

TEST_F(SaslTest, StartAbandonsAnUnfinishedExchange) {
  ScramClient first(kSha512);
  const std::string stale = pendingFinal(&first);
  ScramClient second(kSha512);
  const std::string fresh = pendingFinal(&second);
  EXPECT_EQ(server_.step(kSha512, stale).outcome, SaslOutcome::kFail);
  EXPECT_FALSE(server_.inProgress());

  ScramClient third(kSha512);
  pendingFinal(&third);
  EXPECT_EQ(server_.start("PLAIN", plainAuthPayload("alice", "secret")).outcome, SaslOutcome::kOk);
  EXPECT_FALSE(server_.inProgress());
}

TEST_F(SaslTest, UnknownMechanismFails) {
  ScramClient client(kSha512);
  for (std::string_view mech : {"", "SCRAM-SHA-512", "scram-sha512", "CRAM-MD5", "plain",
                                "SCRAM-SHA512-PLUS", "OAUTHBEARER"}) {
    EXPECT_EQ(server_.start(mech, client.clientFirst("alice")).outcome, SaslOutcome::kFail) << mech;
  }
}

TEST_F(SaslTest, MalformedClientFirstFails) {
  const std::string huge_nonce(kMaxSaslMessage, 'a');
  const std::string bad[] = {
      "",
      "n,,",
      "n,,r=abc",                                  // no name
      "n,,n=alice",                                // no nonce
      "n,,n=alice,r=",                             // empty nonce
      "n,,r=abc,n=alice",                          // order
      "p=tls-unique,,n=alice,r=abc",               // channel binding required by the client
      "x,,n=alice,r=abc",                          // bad gs2 flag
      "N,,n=alice,r=abc",                          // flags are case-sensitive
      "n,n=alice,r=abc",                           // truncated gs2 header
      "n,a=bob,n=alice,r=abc",                     // authzid of another user
      "n,b=alice,n=alice,r=abc",                   // not an authzid
      "n,,m=ext,n=alice,r=abc",                    // mandatory extension
      "n,,n=alice,r=abc,m=x",                      // mandatory extension after the nonce
      "n,,n=alice,r=abc,",                         // trailing empty attribute
      "n,,n=alice,r=abc,1=x",                      // extension names are letters
      "n,,n=al=2Xice,r=abc",                       // bad escape
      "n,,n=al=2cice,r=abc",                       // escapes are upper case
      "n,,n=alice=,r=abc",                         // truncated escape
      "n,,n=alice=3,r=abc",                        // truncated escape
      "n,,n=,r=abc",                               // empty name
      "n,,n=" + std::string(129, 'a') + ",r=abc",  // name too long
      "n,,n=a\tb,r=abc",                           // control character in name
      "n,,n=alice,r=ab\x01"
      "c",  // control character in nonce
      std::string("n,,n=alice,r=abc\0", 17),
      "n,,n=alice,r=" + huge_nonce,  // over 1 KiB
      "n,,n=alice,r=abc\x80",        // non-ASCII nonce
      "n,,n=alice r=abc",            // space is not a separator
  };
  for (const auto& data : bad) {
    SaslResult r = server_.start(kSha512, data);
    EXPECT_EQ(r.outcome, SaslOutcome::kFail) << data;
    EXPECT_TRUE(r.payload.empty()) << data;
    EXPECT_FALSE(server_.inProgress()) << data;
  }
}

TEST_F(SaslTest, MalformedClientFinalFails) {
  // Each case gets a fresh exchange and tampers with its correct client-final.
  struct Case {
    const char* what;
    std::string (*tamper)(const std::string& good, const ScramClient& client);
  };
  const Case cases[] = {
      {"empty", [](const std::string&, const ScramClient&) { return std::string(); }},
      {"no c", [](const std::string& g, const ScramClient&) { return g.substr(7); }},
      {"c bad base64",
       [](const std::string& g, const ScramClient&) { return "c=biw" + g.substr(6); }},
      {"c of another header",
       [](const std::string& g, const ScramClient&) { return "c=eSws" + g.substr(6); }},
      {"c with channel binding",
       [](const std::string& g, const ScramClient&) {
         return "c=cD10bHMtdW5pcXVlLCw=" + g.substr(6);
       }},
      {"c empty", [](const std::string& g, const ScramClient&) { return "c=" + g.substr(6); }},
      {"nonce is only the client's",
       [](const std::string& g, const ScramClient&) {
         const size_t p = g.find(",p=");
         return "c=biws,r=cn0nce" + g.substr(p);
       }},
      {"nonce extended",
       [](const std::string& g, const ScramClient& c) {
         return "c=biws,r=" + c.nonce() + "x" + g.substr(g.find(",p="));
       }},
      {"no nonce",
       [](const std::string& g, const ScramClient&) { return "c=biws" + g.substr(g.find(",p=")); }},
      {"no proof",
       [](const std::string& g, const ScramClient&) { return g.substr(0, g.find(",p=")); }},
      {"empty proof",
       [](const std::string& g, const ScramClient&) { return g.substr(0, g.find(",p=") + 3); }},
      {"proof not last", [](const std::string& g, const ScramClient&) { return g + ",x=1"; }},
      {"proof bad base64",
       [](const std::string& g, const ScramClient&) { return g.substr(0, g.size() - 3) + "*=="; }},
      {"proof short",
       [](const std::string& g, const ScramClient&) {
         return g.substr(0, g.find(",p=")) + ",p=" + base64Encode(std::string(63, 'x'));
       }},
      {"proof one bit off",
       [](const std::string& g, const ScramClient&) {
         std::string proof = decode(g.substr(g.find(",p=") + 3));
         proof[10] = static_cast<char>(proof[10] ^ 1);
         return g.substr(0, g.find(",p=")) + ",p=" + base64Encode(proof);
       }},
      {"truncated",
       [](const std::string& g, const ScramClient&) { return g.substr(0, g.size() / 2); }},
      {"mandatory extension",
       [](const std::string& g, const ScramClient&) {
         const size_t p = g.find(",p=");
         return g.substr(0, p) + ",m=1" + g.substr(p);
       }},
      {"huge",
       [](const std::string& g, const ScramClient&) {
         const size_t p = g.find(",p=");
         return g.substr(0, p) + ",x=" + std::string(kMaxSaslMessage, 'x') + g.substr(p);
       }},
      {"client-first again",
       [](const std::string&, const ScramClient&) { return std::string("n,,n=alice,r=abc"); }},
      {"trailing comma", [](const std::string& g, const ScramClient&) { return g + ","; }},
  };
  for (const auto& c : cases) {
    ScramClient client(kSha512, "cn0nce");
    const std::string good = pendingFinal(&client);
    const std::string data = c.tamper(good, client);
    ASSERT_NE(data, good) << c.what;
    SaslResult r = server_.step(kSha512, data);
    EXPECT_EQ(r.outcome, SaslOutcome::kFail) << c.what << ": " << data;
    EXPECT_TRUE(r.payload.empty()) << c.what;
    EXPECT_EQ(r.user, nullptr) << c.what;
    EXPECT_FALSE(server_.inProgress()) << c.what;
  }
}

}  // namespace
}  // namespace memkv::auth
