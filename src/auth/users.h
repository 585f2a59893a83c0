#pragma once
// Users, their privileges per bucket, and their SCRAM credentials, loaded from the users
// file (format: docs/users-file.md). A UserDatabase is immutable once built, so the
// connection threads share one without locks; `User` pointers stay valid as long as the
// database they came from.
//
// Users file (version 1), JSON; passwords are never stored, only SCRAM credentials:
//   {"version": 1,
//    "users": [
//      {"name": "alice",                  // 1..128 bytes, no control characters
//       "admin": false,                   // optional; true grants every privilege everywhere
//       "buckets": {"default": ["read", "write"], "*": ["read"]},   // optional
//       "scram": {"SHA512": {"salt": "<b64>", "iterations": 10000,
//                            "stored_key": "<b64>", "server_key": "<b64>"},  // required
//                 "SHA256": {...}, "SHA1": {...}}}]}                          // optional
// Unknown keys are rejected rather than ignored: a misspelt "bucket" must not silently
// leave a user without the privileges the operator meant to grant.
// Every credential of a file has the same iteration count: the server announces it (SCRAM's
// i=) and spends it (PLAIN's PBKDF2) for names it does not know too, so neither the
// announcement nor the time taken tells a real user from a made-up one.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/scram_crypto.h"

namespace memkv::auth {

// kStats: the bucket's statistics (STAT, the metrics endpoint's per-bucket series) and
// nothing of its documents; read includes it for STAT. kDcp: opening a DCP producer on the
// bucket (Couchbase's "DCP data read"); its streams send documents, so a stream also needs
// kRead.
enum Privilege : uint8_t { kRead = 1, kWrite = 2, kManage = 4, kStats = 8, kDcp = 16 };
inline constexpr uint8_t kAllPrivileges = kRead | kWrite | kManage | kStats | kDcp;

// Bucket name (or "*", every bucket) -> union of Privilege bits.
using BucketPrivileges = std::map<std::string, uint8_t, std::less<>>;

inline constexpr size_t kMaxUserNameLength = 128;
inline constexpr uint32_t kMinIterations = 1;
inline constexpr uint32_t kMaxIterations = 1'000'000;
// What memkv-admin uses for a new file unless told otherwise, and the count of an empty file.
inline constexpr uint32_t kDefaultIterations = 10'000;

// True if `name` may name a user: 1..128 bytes, no ASCII control characters. Otherwise
// false with *error saying why.
bool validUserName(std::string_view name, std::string* error);
// True if `name` may name a bucket in a role: 1..100 bytes of [A-Za-z0-9._%-] (Couchbase's
// rule), or "*".
bool validBucketName(std::string_view name);

class User final {
 public:
  User(std::string name, bool admin, BucketPrivileges buckets)
      : name_(std::move(name)), admin_(admin), buckets_(std::move(buckets)) {}

  const std::string& name() const { return name_; }
  bool admin() const { return admin_; }
  const BucketPrivileges& buckets() const { return buckets_; }

  // Admin: every privilege. Otherwise the union of the entry for `bucket` and the "*" entry.
  uint8_t privileges(std::string_view bucket) const;
  // True if every bit of `privs` is granted on `bucket`.
  bool has(std::string_view bucket, uint8_t privs) const {
    return (privileges(bucket) & privs) == privs;
  }

  // nullptr if the user has no credential for that hash.
  const ScramCredential* credential(ScramHash hash) const;
  void setCredential(ScramHash hash, ScramCredential credential);

 private:
  std::string name_;
  bool admin_;
  BucketPrivileges buckets_;
  std::optional<ScramCredential> credentials_[3];  // indexed by ScramHash
};

class UserDatabase final {
 public:
  // Reads and parses the users file. nullptr with *error (one line, naming the file and the
  // problem) on failure. Never throws.
  static std::unique_ptr<const UserDatabase> load(const std::string& path, std::string* error);
  static std::unique_ptr<const UserDatabase> parse(std::string_view json, std::string* error);
  // Builds a database from users (memkv-admin's path), with the same checks as parse().
  static std::unique_ptr<const UserDatabase> create(std::vector<User> users, std::string* error);

  const User* find(std::string_view name) const;  // nullptr if none
  size_t size() const { return users_.size(); }
  // The PBKDF2 iteration count every credential of this database uses (kDefaultIterations
  // when there are no users).
  uint32_t iterations() const { return iterations_; }
  // Sorted by name.
  const std::vector<User>& users() const { return users_; }

  // The users-file text of this database; parse(toJson()) gives it back.
  std::string toJson() const;

 private:
  // Only the factories above construct a database: they are where it gets checked.
  struct Checked {
    explicit Checked() = default;
  };

 public:
  UserDatabase(Checked, std::vector<User> users, uint32_t iterations)
      : users_(std::move(users)), iterations_(iterations) {}

 private:
  std::vector<User> users_;
  uint32_t iterations_;
};

// Role syntax for the command line: comma-separated tokens, each `admin` or PRIV[BUCKET] where
// PRIV is read|write|manage|stats and BUCKET a bucket name or `*`, e.g.
// "read[default],write[default]". Spaces around tokens are allowed. On success sets *admin and
// *buckets (privileges merged per bucket); false with *error on bad syntax, leaving them untouched.
bool parseRoles(std::string_view roles, bool* admin, BucketPrivileges* buckets, std::string* error);
// The inverse of parseRoles() for display: "admin", "read[default],write[default]", or "" for
// a user with no privileges.
std::string formatRoles(const User& user);

}  // namespace memkv::auth
