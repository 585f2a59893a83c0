#pragma once
// A memkv server with a users file (couchbase::sharedUsersFile: written once per test
// process with the built memkv-admin), for the tests of authenticated sessions. memkv only:
// memcached has no users file.
#include <gtest/gtest.h>

#include <span>
#include <string>
#include <vector>

#include "integration/server_fixture.h"
#include "support/couchbase_client.h"
#include "support/test_env.h"

#ifndef MEMKV_ADMIN_BIN
#error "MEMKV_ADMIN_BIN must name the memkv-admin binary"
#endif

namespace memkv::test {

class UsersServerTest : public ServerTest {
 protected:
  // `users` must outlive the test (a namespace-scope array); `extra` are more server flags.
  explicit UsersServerTest(std::span<const couchbase::TestUser> users,
                           std::vector<std::string> extra = {})
      : ServerTest(args(users, std::move(extra))), users_(users) {}

  // Skips against memcached; a derived SetUp returns when IsSkipped() or HasFatalFailure().
  void SetUp() override {
    if (targetFromEnv() == ServerKind::kMemcached) GTEST_SKIP() << "memkv-only: a users file";
    std::string error;
    couchbase::sharedUsersFile(MEMKV_ADMIN_BIN, users_, &error);
    ASSERT_TRUE(error.empty()) << error;
    ServerTest::SetUp();
  }

  // A new connection authenticated (SASL PLAIN) as `user`, on the default bucket.
  McbpClient loggedIn(const char* user, const char* password) {
    McbpClient c = newClient();
    EXPECT_EQ(couchbase::saslPlain(c, user, password).status, status::kSuccess);
    EXPECT_EQ(couchbase::selectBucket(c, "default").status, status::kSuccess);
    return c;
  }

 private:
  static std::vector<std::string> args(std::span<const couchbase::TestUser> users,
                                       std::vector<std::string> extra) {
    std::string error;  // reported by SetUp, which asks again
    extra.push_back("--users-file");
    extra.push_back(couchbase::sharedUsersFile(MEMKV_ADMIN_BIN, users, &error).path());
    return extra;
  }

  std::span<const couchbase::TestUser> users_;
};

}  // namespace memkv::test
