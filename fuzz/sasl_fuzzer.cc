// libFuzzer target for SaslServer: arbitrary SASL_AUTH and SASL_STEP payloads against a small
// fixed users database. The server nonce is fixed, so the fuzzer can learn a nonce that
// passes and reach the proof check of the final step.
//
// Input: byte 0 picks the mechanism (low 3 bits) and whether the exchange starts from a
// valid client-first (bit 3); the rest is split on 0xff into the start payload (unless a
// valid one was chosen) and then one payload per step.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "auth/sasl.h"
#include "auth/scram_crypto.h"
#include "auth/users.h"

namespace {

using memkv::auth::SaslOutcome;
using memkv::auth::SaslResult;
using memkv::auth::SaslServer;
using memkv::auth::ScramHash;
using memkv::auth::User;
using memkv::auth::UserDatabase;

const UserDatabase& database() {
  static const auto db = [] {
    std::vector<User> users;
    for (const char* name : {"alice", "b,o=b"}) {
      User user(name, false, {{"default", memkv::auth::kRead}});
      for (ScramHash h : memkv::auth::kAllScramHashes) {
        user.setCredential(h, memkv::auth::makeCredential(h, "pw", "salt", 2));
      }
      users.push_back(std::move(user));
    }
    std::string error;
    return UserDatabase::create(std::move(users), &error);
  }();
  return *db;
}

std::string fixedNonce() {
  return "fuzz";
}

constexpr std::string_view kMechs[] = {"SCRAM-SHA512", "SCRAM-SHA256", "SCRAM-SHA1",
                                       "PLAIN",        "SCRAM-SHA-1",  "",
                                       "PLAIN",        "SCRAM-SHA512"};

void check(const SaslResult& r) {
  // Failures carry nothing; success always names the user.
  if (r.outcome == SaslOutcome::kFail && (!r.payload.empty() || r.user != nullptr))
    __builtin_trap();
  if (r.outcome == SaslOutcome::kOk && r.user == nullptr) __builtin_trap();
  if (r.outcome == SaslOutcome::kContinue && r.payload.empty()) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view mech = kMechs[data[0] & 7];
  const bool valid_start = (data[0] & 8) != 0;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::vector<std::string_view> parts;
  while (true) {
    const size_t sep = rest.find('\xff');
    parts.push_back(rest.substr(0, sep));
    if (sep == std::string_view::npos) break;
    rest.remove_prefix(sep + 1);
  }

  SaslServer server(database(), &fixedNonce);
  size_t next = 0;
  if (valid_start) {
    check(server.start(mech, "n,,n=alice,r=client"));
  } else {
    check(server.start(mech, parts[next++]));
  }
  for (; next < parts.size(); ++next) check(server.step(mech, parts[next]));
  return 0;
}
