#include "auth/users.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "auth/scram_crypto.h"
#include "test_users.h"

namespace memkv::auth {
namespace {

using test::makeDatabase;
using test::makeUser;

// A valid SHA512 credential object as JSON text.
std::string credentialJson(size_t key_size = 64, std::string iterations = "64",
                           std::string salt = "c2FsdA==") {
  const std::string key = base64Encode(std::string(key_size, 'k'));
  return R"({"salt":")" + salt + R"(","iterations":)" + iterations + R"(,"stored_key":")" + key +
         R"(","server_key":")" + key + R"("})";
}

std::string userJson(std::string name_json, std::string extra = "") {
  return R"({"name":)" + name_json + extra + R"(,"scram":{"SHA512":)" + credentialJson() + "}}";
}

std::string fileJson(std::string users) {
  return R"({"version":1,"users":[)" + users + "]}";
}

TEST(UserDatabaseTest, ParsesTheDocumentedFormat) {
  const std::string json = R"({"version":1,"users":[
    {"name":"alice","admin":false,"buckets":{"default":["read","write"],"*":["read"],
     "feed":["dcp","read"]},
     "scram":{"SHA512":)" + credentialJson() +
                           R"(,"SHA256":)" + credentialJson(32) + R"(,"SHA1":)" +
                           credentialJson(20) + R"(}},
    {"name":"root","admin":true,"scram":{"SHA512":)" +
                           credentialJson() + "}}]}";
  std::string error;
  const auto db = UserDatabase::parse(json, &error);
  ASSERT_NE(db, nullptr) << error;
  EXPECT_EQ(db->size(), 2u);
  const User* alice = db->find("alice");
  ASSERT_NE(alice, nullptr);
  EXPECT_EQ(alice->name(), "alice");
  EXPECT_FALSE(alice->admin());
  EXPECT_EQ(alice->privileges("default"), kRead | kWrite);
  EXPECT_EQ(alice->privileges("travel"), kRead);  // from "*"
  EXPECT_EQ(alice->privileges("feed"), kDcp | kRead);
  EXPECT_TRUE(alice->has("default", kRead | kWrite));
  EXPECT_FALSE(alice->has("default", kRead | kManage));
  EXPECT_FALSE(alice->has("travel", kWrite));
  for (ScramHash h : kAllScramHashes) {
    const ScramCredential* c = alice->credential(h);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->salt, "salt");
    EXPECT_EQ(c->iterations, 64u);
    EXPECT_EQ(c->stored_key.size(), digestSize(h));
  }
  const User* root = db->find("root");
  ASSERT_NE(root, nullptr);
  EXPECT_TRUE(root->admin());
  EXPECT_EQ(root->privileges("anything"), kRead | kWrite | kManage | kStats | kDcp);
  EXPECT_EQ(root->credential(ScramHash::kSha1), nullptr);
  EXPECT_EQ(db->find("bob"), nullptr);
  EXPECT_EQ(db->find("alic"), nullptr);
}

TEST(UserDatabaseTest, EmptyUserListIsValid) {
  std::string error;
  const auto db = UserDatabase::parse(R"({"version":1,"users":[]})", &error);
  ASSERT_NE(db, nullptr) << error;
  EXPECT_EQ(db->size(), 0u);
  EXPECT_EQ(db->find("alice"), nullptr);
}

TEST(UserDatabaseTest, ToJsonRoundTrips) {
  const auto db =
      makeDatabase({makeUser("bob", "pw", false, {{"default", kRead | kManage}, {"*", kRead}}),
                    makeUser("al,i=ce", "pw2", true)});
  ASSERT_NE(db, nullptr);
  std::string error;
  const auto again = UserDatabase::parse(db->toJson(), &error);
  ASSERT_NE(again, nullptr) << error;
  EXPECT_EQ(again->toJson(), db->toJson());
  ASSERT_EQ(again->size(), 2u);
  EXPECT_EQ(again->users()[0].name(), "al,i=ce");  // sorted
  const User* bob = again->find("bob");
  ASSERT_NE(bob, nullptr);
  EXPECT_EQ(bob->buckets(), db->find("bob")->buckets());
  for (ScramHash h : kAllScramHashes) {
    EXPECT_EQ(bob->credential(h)->stored_key, db->find("bob")->credential(h)->stored_key);
    EXPECT_EQ(bob->credential(h)->server_key, db->find("bob")->credential(h)->server_key);
    EXPECT_EQ(bob->credential(h)->salt, db->find("bob")->credential(h)->salt);
  }
}

struct BadFile {
  const char* what;
  std::string json;
  const char* expected_error;  // a substring of the message
};

TEST(UserDatabaseTest, RejectsBadFilesWithAClearMessage) {
  const std::string long_name = "\"" + std::string(129, 'a') + "\"";
  const BadFile cases[] = {
      {"not JSON", "{\"version\":1,", "not valid JSON"},
      {"array at top", "[]", "top level"},
      {"no version", R"({"users":[]})", "version"},
      {"version 2", R"({"version":2,"users":[]})", "version"},
      {"version as string", R"({"version":"1","users":[]})", "version"},
      {"unknown top key", R"({"version":1,"users":[],"extra":1})", "unknown top-level key"},
      {"users not array", R"({"version":1,"users":{}})", "\"users\""},
      {"user not object", fileJson("3"), "user #1"},
      {"no name", fileJson(R"({"scram":{}})"), "\"name\""},
      {"empty name", fileJson(userJson("\"\"")), "empty"},
      {"long name", fileJson(userJson(long_name)), "longer than 128"},
      {"control char", fileJson(userJson("\"a\\tb\"")), "control character"},
      {"duplicate", fileJson(userJson("\"a\"") + "," + userJson("\"a\"")), "duplicate user \"a\""},
      {"unknown user key", fileJson(userJson("\"a\"", R"(,"bucket":{})")),
       "unknown key \"bucket\""},
      {"admin not bool", fileJson(userJson("\"a\"", R"(,"admin":1)")), "admin"},
      {"bad privilege", fileJson(userJson("\"a\"", R"(,"buckets":{"b":["read","delete"]})")),
       "unknown privilege \"delete\""},
      {"privileges not array", fileJson(userJson("\"a\"", R"(,"buckets":{"b":"read"})")),
       "not an array"},
      {"bad bucket name", fileJson(userJson("\"a\"", R"(,"buckets":{"a b":["read"]})")),
       "invalid bucket name"},
      {"no scram", fileJson(R"({"name":"a"})"), "\"scram\""},
      {"no SHA512", fileJson(R"({"name":"a","scram":{"SHA1":)" + credentialJson(20) + "}}"),
       "no SHA512"},
      {"unknown hash",
       fileJson(R"({"name":"a","scram":{"SHA512":)" + credentialJson() + R"(,"MD5":{}}})"),
       "unknown SCRAM hash \"MD5\""},
      {"iterations 0",
       fileJson(R"({"name":"a","scram":{"SHA512":)" + credentialJson(64, "0") + "}}"),
       "iterations"},
      {"iterations too many",
       fileJson(R"({"name":"a","scram":{"SHA512":)" + credentialJson(64, "1000001") + "}}"),
       "iterations"},
      {"iterations negative",
       fileJson(R"({"name":"a","scram":{"SHA512":)" + credentialJson(64, "-5") + "}}"),
       "iterations"},
      {"iterations fractional",
       fileJson(R"({"name":"a","scram":{"SHA512":)" + credentialJson(64, "1.5") + "}}"),
       "iterations"},
      {"bad base64 salt",
       fileJson(R"({"name":"a","scram":{"SHA512":)" + credentialJson(64, "64", "c2Fsd") + "}}"),
       "salt is not valid base64"},
      {"empty salt",
       fileJson(R"({"name":"a","scram":{"SHA512":)" + credentialJson(64, "64", "") + "}}"),
       "salt must be"},
      {"short key", fileJson(R"({"name":"a","scram":{"SHA512":)" + credentialJson(32) + "}}"),
       "64 bytes"},
      {"plaintext password",
       fileJson(R"({"name":"a","password":"x","scram":{"SHA512":)" + credentialJson() + "}}"),
       "unknown key \"password\""},
  };
  for (const auto& c : cases) {
    std::string error;
    EXPECT_EQ(UserDatabase::parse(c.json, &error), nullptr) << c.what;
    EXPECT_NE(error.find(c.expected_error), std::string::npos)
        << c.what << ": got \"" << error << "\"";
    EXPECT_EQ(error.find('\n'), std::string::npos) << c.what;
  }
}

TEST(UserDatabaseTest, LoadNamesTheFile) {
  std::string error;
  EXPECT_EQ(UserDatabase::load("/nonexistent/users.json", &error), nullptr);
  EXPECT_NE(error.find("/nonexistent/users.json"), std::string::npos) << error;

  char path[] = "/tmp/memkv-users-test-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  { std::ofstream(path) << R"({"version":1,"users":[)" << userJson("\"a\"") << "]}"; }
  const auto db = UserDatabase::load(path, &error);
  ASSERT_NE(db, nullptr) << error;
  EXPECT_NE(db->find("a"), nullptr);
  { std::ofstream(path) << R"({"version":7,"users":[]})"; }
  EXPECT_EQ(UserDatabase::load(path, &error), nullptr);
  EXPECT_EQ(error.rfind(std::string("users file ") + path + ": ", 0), 0u) << error;
  std::remove(path);
}

TEST(UserDatabaseTest, CreateRejectsMissingSha512) {
  User u("a", false, {});
  u.setCredential(ScramHash::kSha1, makeCredential(ScramHash::kSha1, "pw", "salt", 1));
  std::vector<User> users;
  users.push_back(u);
  std::string error;
  EXPECT_EQ(UserDatabase::create(std::move(users), &error), nullptr);
  EXPECT_NE(error.find("SHA512"), std::string::npos);
}

TEST(UserDatabaseTest, OneIterationCountPerFile) {
  std::vector<User> same;
  same.push_back(makeUser("a", "pw", false, {}, 128));
  same.push_back(makeUser("b", "pw", false, {}, 128));
  const auto db = makeDatabase(std::move(same));
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->iterations(), 128u);
  // No users: the default, which is what a made-up name would then be announced with.
  const auto empty = makeDatabase({});
  ASSERT_NE(empty, nullptr);
  EXPECT_EQ(empty->iterations(), kDefaultIterations);

  // Two users with different counts.
  std::vector<User> mixed;
  mixed.push_back(makeUser("a", "pw", false, {}, 128));
  mixed.push_back(makeUser("b", "pw", false, {}, 256));
  std::string error;
  EXPECT_EQ(UserDatabase::create(std::move(mixed), &error), nullptr);
  EXPECT_NE(error.find("same count"), std::string::npos) << error;
  EXPECT_NE(error.find("256"), std::string::npos) << error;
  EXPECT_NE(error.find("128"), std::string::npos) << error;

  // One user whose hashes differ.
  User u("c", false, {});
  u.setCredential(ScramHash::kSha512, makeCredential(ScramHash::kSha512, "pw", "salt", 64));
  u.setCredential(ScramHash::kSha1, makeCredential(ScramHash::kSha1, "pw", "salt", 65));
  std::vector<User> inner;
  inner.push_back(std::move(u));
  error.clear();
  EXPECT_EQ(UserDatabase::create(std::move(inner), &error), nullptr);
  EXPECT_NE(error.find("SHA1"), std::string::npos) << error;

  // And the file form, which is what memkv refuses at startup.
  error.clear();
  EXPECT_EQ(UserDatabase::parse(fileJson(userJson(R"("x")") + R"(,{"name":"y","scram":{"SHA512":)" +
                                         credentialJson(64, "65") + "}}"),
                                &error),
            nullptr);
  EXPECT_NE(error.find("same count"), std::string::npos) << error;
}

TEST(ParseRolesTest, Accepts) {
  struct Case {
    std::string_view roles;
    bool admin;
    BucketPrivileges buckets;
  };
  const Case cases[] = {
      {"admin", true, {}},
      {"read[default]", false, {{"default", kRead}}},
      {"read[default],write[default]", false, {{"default", kRead | kWrite}}},
      {"read[*], manage[travel-sample] ", false, {{"*", kRead}, {"travel-sample", kManage}}},
      {"admin,read[b.1_%]", true, {{"b.1_%", kRead}}},
      {"stats[*],read[b2]", false, {{"*", kStats}, {"b2", kRead}}},
  };
  for (const auto& c : cases) {
    bool admin = !c.admin;
    BucketPrivileges buckets{{"stale", kRead}};
    std::string error;
    ASSERT_TRUE(parseRoles(c.roles, &admin, &buckets, &error)) << c.roles << ": " << error;
    EXPECT_EQ(admin, c.admin) << c.roles;
    EXPECT_EQ(buckets, c.buckets) << c.roles;
  }
}

TEST(ParseRolesTest, RejectsWithoutTouchingOutputs) {
  const char* bad[] = {"",           " ",        "read",     "read[]",   "read[a b]",
                       "delete[x]",  "admin[x]", "read[x],", ",read[x]", "read[x]]",
                       "Read[x]",    "read [x]", "read[x",   "readx]",   "read[x],bogus",
                       "write[x/y]", "Stats[x]", "stat[x]"};
  for (const char* roles : bad) {
    bool admin = true;
    BucketPrivileges buckets{{"keep", kRead}};
    std::string error;
    EXPECT_FALSE(parseRoles(roles, &admin, &buckets, &error)) << roles;
    EXPECT_FALSE(error.empty()) << roles;
    EXPECT_TRUE(admin);
    EXPECT_EQ(buckets.size(), 1u);
  }
}

TEST(ParseRolesTest, FormatRolesIsTheInverse) {
  for (std::string_view roles :
       {"admin", "read[default],write[default]", "read[*],manage[travel-sample]", "admin,write[b]",
        "stats[*],read[b],stats[b]"}) {
    bool admin = false;
    BucketPrivileges buckets;
    std::string error;
    ASSERT_TRUE(parseRoles(roles, &admin, &buckets, &error)) << error;
    EXPECT_EQ(formatRoles(User("u", admin, buckets)), roles);
  }
  EXPECT_EQ(formatRoles(User("u", false, {})), "");
}

TEST(UserNameTest, Validity) {
  std::string error;
  EXPECT_TRUE(validUserName("a", &error));
  EXPECT_TRUE(validUserName(std::string(128, 'x'), &error));
  EXPECT_TRUE(validUserName("näme with spaces,=", &error));
  EXPECT_FALSE(validUserName(std::string(129, 'x'), &error));
  EXPECT_FALSE(validUserName("", &error));
  EXPECT_FALSE(validUserName(std::string("a\0b", 3), &error));
  EXPECT_FALSE(validUserName("a\x7f", &error));
}

}  // namespace
}  // namespace memkv::auth
