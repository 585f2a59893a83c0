#include "auth/users.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace memkv::auth {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxBucketNameLength = 100;
// Salts beyond this are a sign of a broken file, and they travel in every server-first.
constexpr size_t kMaxSaltLength = 256;

struct PrivilegeName {
  std::string_view name;
  Privilege bit;
};
constexpr PrivilegeName kPrivilegeNames[] = {
    {"read", kRead}, {"write", kWrite}, {"manage", kManage}, {"stats", kStats}, {"dcp", kDcp}};

std::optional<Privilege> privilegeFromName(std::string_view name) {
  for (const auto& p : kPrivilegeNames) {
    if (p.name == name) return p.bit;
  }
  return std::nullopt;
}

size_t hashIndex(ScramHash hash) {
  return static_cast<size_t>(hash);
}

// Every parse error names the user it is about, so an operator can find it in a long file.
std::string userContext(const std::string& name, size_t index) {
  return name.empty() ? "user #" + std::to_string(index + 1) : "user \"" + name + "\"";
}

bool parseCredential(const Json& j, ScramHash hash, ScramCredential* out, std::string* error) {
  const std::string what = "scram." + std::string(credentialName(hash));
  if (!j.is_object()) {
    *error = what + " is not an object";
    return false;
  }
  for (const auto& [key, value] : j.items()) {
    if (key != "salt" && key != "iterations" && key != "stored_key" && key != "server_key") {
      *error = what + " has unknown key \"" + key + "\"";
      return false;
    }
  }
  const auto b64 = [&](const char* key, std::string* dest) {
    const auto it = j.find(key);
    if (it == j.end() || !it->is_string()) {
      *error = what + "." + key + " is missing or not a string";
      return false;
    }
    if (!base64Decode(it->get_ref<const std::string&>(), dest)) {
      *error = what + "." + key + " is not valid base64";
      return false;
    }
    return true;
  };
  ScramCredential c;
  if (!b64("salt", &c.salt) || !b64("stored_key", &c.stored_key) ||
      !b64("server_key", &c.server_key)) {
    return false;
  }
  if (c.salt.empty() || c.salt.size() > kMaxSaltLength) {
    *error = what + ".salt must be 1.." + std::to_string(kMaxSaltLength) + " bytes";
    return false;
  }
  if (c.stored_key.size() != digestSize(hash) || c.server_key.size() != digestSize(hash)) {
    *error = what + " keys must be " + std::to_string(digestSize(hash)) + " bytes";
    return false;
  }
  const auto it = j.find("iterations");
  if (it == j.end() || !it->is_number_integer() || it->get<int64_t>() < kMinIterations ||
      it->get<int64_t>() > kMaxIterations) {
    *error = what + ".iterations must be an integer in " + std::to_string(kMinIterations) + ".." +
             std::to_string(kMaxIterations);
    return false;
  }
  c.iterations = static_cast<uint32_t>(it->get<int64_t>());
  *out = std::move(c);
  return true;
}

std::optional<User> parseUser(const Json& j, size_t index, std::string* error) {
  if (!j.is_object()) {
    *error = userContext("", index) + " is not an object";
    return std::nullopt;
  }
  const auto name_it = j.find("name");
  if (name_it == j.end() || !name_it->is_string()) {
    *error = userContext("", index) + ": \"name\" is missing or not a string";
    return std::nullopt;
  }
  const std::string& name = name_it->get_ref<const std::string&>();
  std::string why;
  if (!validUserName(name, &why)) {
    *error = userContext("", index) + ": " + why;
    return std::nullopt;
  }
  const std::string ctx = userContext(name, index);
  for (const auto& [key, value] : j.items()) {
    if (key != "name" && key != "admin" && key != "buckets" && key != "scram") {
      *error = ctx + ": unknown key \"" + key + "\"";
      return std::nullopt;
    }
  }

  bool admin = false;
  if (const auto it = j.find("admin"); it != j.end()) {
    if (!it->is_boolean()) {
      *error = ctx + ": \"admin\" is not true or false";
      return std::nullopt;
    }
    admin = it->get<bool>();
  }

  BucketPrivileges buckets;
  if (const auto it = j.find("buckets"); it != j.end()) {
    if (!it->is_object()) {
      *error = ctx + ": \"buckets\" is not an object";
      return std::nullopt;
    }
    for (const auto& [bucket, privs] : it->items()) {
      if (!validBucketName(bucket)) {
        *error = ctx + ": invalid bucket name \"" + bucket + "\"";
        return std::nullopt;
      }
      if (!privs.is_array()) {
        *error = ctx + ": privileges of bucket \"" + bucket + "\" are not an array";
        return std::nullopt;
      }
      uint8_t bits = 0;
      for (const auto& p : privs) {
        const auto bit =
            p.is_string() ? privilegeFromName(p.get_ref<const std::string&>()) : std::nullopt;
        if (!bit) {
          *error = ctx + ": unknown privilege " + p.dump() + " on bucket \"" + bucket +
                   "\" (expected read, write, manage or stats)";
          return std::nullopt;
        }
        bits |= *bit;
      }
      buckets.emplace(bucket, bits);
    }
  }

  User user(name, admin, std::move(buckets));
  const auto scram = j.find("scram");
  if (scram == j.end() || !scram->is_object()) {
    *error = ctx + ": \"scram\" is missing or not an object";
    return std::nullopt;
  }
  for (const auto& [key, value] : scram->items()) {
    bool known = false;
    for (ScramHash h : kAllScramHashes) known = known || key == credentialName(h);
    if (!known) {
      *error = ctx + ": unknown SCRAM hash \"" + key + "\" (expected SHA512, SHA256 or SHA1)";
      return std::nullopt;
    }
  }
  for (ScramHash h : kAllScramHashes) {
    const auto it = scram->find(std::string(credentialName(h)));
    if (it == scram->end()) continue;
    ScramCredential c;
    if (!parseCredential(*it, h, &c, &why)) {
      *error = ctx + ": " + why;
      return std::nullopt;
    }
    user.setCredential(h, std::move(c));
  }
  // PLAIN verifies against the SHA512 credential, and SDKs default to SCRAM-SHA512.
  if (user.credential(ScramHash::kSha512) == nullptr) {
    *error = ctx + ": no SHA512 credential";
    return std::nullopt;
  }
  return user;
}

Json credentialJson(const ScramCredential& c) {
  return Json{{"salt", base64Encode(c.salt)},
              {"iterations", c.iterations},
              {"stored_key", base64Encode(c.stored_key)},
              {"server_key", base64Encode(c.server_key)}};
}

}  // namespace

bool validUserName(std::string_view name, std::string* error) {
  if (name.empty()) {
    *error = "user name is empty";
    return false;
  }
  if (name.size() > kMaxUserNameLength) {
    *error = "user name is longer than " + std::to_string(kMaxUserNameLength) + " bytes";
    return false;
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      *error = "user name contains a control character";
      return false;
    }
  }
  return true;
}

bool validBucketName(std::string_view name) {
  if (name == "*") return true;
  if (name.empty() || name.size() > kMaxBucketNameLength) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '%' || c == '-';
  });
}

uint8_t User::privileges(std::string_view bucket) const {
  if (admin_) return kAllPrivileges;
  uint8_t bits = 0;
  if (const auto it = buckets_.find(bucket); it != buckets_.end()) bits |= it->second;
  if (const auto it = buckets_.find(std::string_view("*")); it != buckets_.end()) {
    bits |= it->second;
  }
  return bits;
}

const ScramCredential* User::credential(ScramHash hash) const {
  const auto& c = credentials_[hashIndex(hash)];
  return c ? &*c : nullptr;
}

void User::setCredential(ScramHash hash, ScramCredential credential) {
  credentials_[hashIndex(hash)] = std::move(credential);
}

std::unique_ptr<const UserDatabase> UserDatabase::load(const std::string& path,
                                                       std::string* error) {
  try {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      *error = "users file " + path + ": cannot open for reading";
      return nullptr;
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) {
      *error = "users file " + path + ": read error";
      return nullptr;
    }
    std::string why;
    auto db = parse(text.str(), &why);
    if (!db) *error = "users file " + path + ": " + why;
    return db;
  } catch (const std::exception& e) {
    *error = "users file " + path + ": " + e.what();
    return nullptr;
  }
}

std::unique_ptr<const UserDatabase> UserDatabase::parse(std::string_view text, std::string* error) {
  try {
    const Json j = Json::parse(text, /*cb=*/nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      *error = "not valid JSON";
      return nullptr;
    }
    if (!j.is_object()) {
      *error = "the top level is not a JSON object";
      return nullptr;
    }
    for (const auto& [key, value] : j.items()) {
      if (key != "version" && key != "users") {
        *error = "unknown top-level key \"" + key + "\"";
        return nullptr;
      }
    }
    const auto version = j.find("version");
    if (version == j.end() || !version->is_number_integer() || version->get<int64_t>() != 1) {
      *error = "\"version\" is missing or not 1 (the only version this memkv reads)";
      return nullptr;
    }
    const auto list = j.find("users");
    if (list == j.end() || !list->is_array()) {
      *error = "\"users\" is missing or not an array";
      return nullptr;
    }
    std::vector<User> users;
    users.reserve(list->size());
    for (size_t i = 0; i < list->size(); ++i) {
      auto user = parseUser((*list)[i], i, error);
      if (!user) return nullptr;
      users.push_back(std::move(*user));
    }
    return create(std::move(users), error);
  } catch (const std::exception& e) {
    *error = e.what();
    return nullptr;
  }
}

std::unique_ptr<const UserDatabase> UserDatabase::create(std::vector<User> users,
                                                         std::string* error) {
  std::string why;
  // The first credential met fixes the file's count; see users.h for why there is one.
  const User* first = nullptr;
  uint32_t iterations = kDefaultIterations;
  for (const User& u : users) {
    if (!validUserName(u.name(), &why)) {
      *error = why;
      return nullptr;
    }
    if (u.credential(ScramHash::kSha512) == nullptr) {
      *error = "user \"" + u.name() + "\": no SHA512 credential";
      return nullptr;
    }
    for (const auto& [bucket, bits] : u.buckets()) {
      if (!validBucketName(bucket) || (bits & ~kAllPrivileges) != 0) {
        *error = "user \"" + u.name() + "\": invalid role on bucket \"" + bucket + "\"";
        return nullptr;
      }
    }
    for (ScramHash h : kAllScramHashes) {
      const ScramCredential* c = u.credential(h);
      if (c == nullptr) continue;
      if (first == nullptr) {
        first = &u;
        iterations = c->iterations;
      } else if (c->iterations != iterations) {
        *error = "user \"" + u.name() + "\": scram." + std::string(credentialName(h)) + " has " +
                 std::to_string(c->iterations) + " iterations but user \"" + first->name() +
                 "\" has " + std::to_string(iterations) +
                 "; every credential of a users file must use the same count (re-add the "
                 "users with one --iterations)";
        return nullptr;
      }
    }
  }
  std::sort(users.begin(), users.end(),
            [](const User& a, const User& b) { return a.name() < b.name(); });
  const auto dup = std::adjacent_find(users.begin(), users.end(), [](const User& a, const User& b) {
    return a.name() == b.name();
  });
  if (dup != users.end()) {
    *error = "duplicate user \"" + dup->name() + "\"";
    return nullptr;
  }
  return std::make_unique<const UserDatabase>(Checked{}, std::move(users), iterations);
}

const User* UserDatabase::find(std::string_view name) const {
  const auto it = std::lower_bound(users_.begin(), users_.end(), name,
                                   [](const User& u, std::string_view n) { return u.name() < n; });
  return it != users_.end() && it->name() == name ? &*it : nullptr;
}

std::string UserDatabase::toJson() const {
  Json list = Json::array();
  for (const User& u : users_) {
    Json buckets = Json::object();
    for (const auto& [bucket, bits] : u.buckets()) {
      Json privs = Json::array();
      for (const auto& p : kPrivilegeNames) {
        if (bits & p.bit) privs.push_back(p.name);
      }
      buckets[bucket] = std::move(privs);
    }
    Json scram = Json::object();
    for (ScramHash h : kAllScramHashes) {
      if (const ScramCredential* c = u.credential(h)) {
        scram[std::string(credentialName(h))] = credentialJson(*c);
      }
    }
    list.push_back(
        Json{{"name", u.name()}, {"admin", u.admin()}, {"buckets", buckets}, {"scram", scram}});
  }
  return Json{{"version", 1}, {"users", list}}.dump(2) + "\n";
}

bool parseRoles(std::string_view roles, bool* admin, BucketPrivileges* buckets,
                std::string* error) {
  bool is_admin = false;
  BucketPrivileges result;
  const auto trim = [](std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return s;
  };
  if (trim(roles).empty()) {
    *error = "empty role list";
    return false;
  }
  while (true) {
    const size_t comma = roles.find(',');
    const std::string_view token = trim(roles.substr(0, comma));
    if (token == "admin") {
      is_admin = true;
    } else {
      const size_t open = token.find('[');
      if (token.empty() || open == std::string_view::npos || token.back() != ']') {
        *error = "bad role \"" + std::string(token) +
                 "\": expected admin or read|write|manage|stats[BUCKET]";
        return false;
      }
      const auto priv = privilegeFromName(token.substr(0, open));
      if (!priv) {
        *error = "bad role \"" + std::string(token) + "\": unknown privilege \"" +
                 std::string(token.substr(0, open)) + "\" (expected read, write, manage or stats)";
        return false;
      }
      const std::string_view bucket = token.substr(open + 1, token.size() - open - 2);
      if (!validBucketName(bucket)) {
        *error = "bad role \"" + std::string(token) + "\": invalid bucket name \"" +
                 std::string(bucket) + "\"";
        return false;
      }
      result[std::string(bucket)] |= *priv;
    }
    if (comma == std::string_view::npos) break;
    roles.remove_prefix(comma + 1);
  }
  *admin = is_admin;
  *buckets = std::move(result);
  return true;
}

std::string formatRoles(const User& user) {
  std::string out = user.admin() ? "admin" : "";
  for (const auto& [bucket, bits] : user.buckets()) {
    for (const auto& p : kPrivilegeNames) {
      if ((bits & p.bit) == 0) continue;
      if (!out.empty()) out += ',';
      out += std::string(p.name) + "[" + bucket + "]";
    }
  }
  return out;
}

}  // namespace memkv::auth
