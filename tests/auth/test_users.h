#pragma once
// Users databases for the auth tests, built in memory with few PBKDF2 iterations.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "auth/users.h"

namespace memkv::auth::test {

inline constexpr uint32_t kTestIterations = 64;

// A user with credentials for every hash, each with a different salt, as memkv-admin makes.
inline User makeUser(std::string name, std::string_view password, bool admin = false,
                     BucketPrivileges buckets = {}, uint32_t iterations = kTestIterations) {
  User user(std::move(name), admin, std::move(buckets));
  for (ScramHash h : kAllScramHashes) {
    std::string salt = "salt-" + std::string(credentialName(h)) + "-" + user.name();
    user.setCredential(h, makeCredential(h, password, std::move(salt), iterations));
  }
  return user;
}

inline std::unique_ptr<const UserDatabase> makeDatabase(std::vector<User> users) {
  std::string error;
  auto db = UserDatabase::create(std::move(users), &error);
  EXPECT_NE(db, nullptr) << error;
  return db;
}

}  // namespace memkv::auth::test
