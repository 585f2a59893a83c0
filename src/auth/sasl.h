#pragma once
// The server side of SASL over MCBP (SASL_AUTH, then SASL_STEP until done): PLAIN and
// SCRAM-SHA512/SHA256/SHA1 (RFC 5802) against a UserDatabase.
//
// Every failure is the same kFail with an empty payload, whatever went wrong (unknown user,
// wrong password, malformed message): the caller answers AUTH_ERROR and must not tell the
// client more. For SCRAM an unknown user still gets a well-formed server-first message,
// with a salt that is stable per name and the file's iteration count, and PLAIN spends the
// same PBKDF2 on it, so the exchange does not reveal which users exist.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "auth/users.h"

namespace memkv::auth {

// The LIST_MECHS reply.
inline constexpr std::string_view kMechanisms = "SCRAM-SHA512 SCRAM-SHA256 SCRAM-SHA1 PLAIN";
// Longest client message accepted; real ones are under 300 bytes.
inline constexpr size_t kMaxSaslMessage = 1024;

enum class SaslOutcome : uint8_t {
  kOk,        // authenticated as `user`; payload is the final server message (may be empty)
  kContinue,  // reply AUTH_CONTINUE with payload; expect a SASL_STEP
  kFail,      // reply AUTH_ERROR; the exchange is over
};

struct SaslResult {
  SaslOutcome outcome = SaslOutcome::kFail;
  std::string payload;
  const User* user = nullptr;  // set on kOk; owned by the UserDatabase
  // The user name the client gave, once the exchange parsed one (valid: no control
  // characters), for the audit log; empty if the message did not get that far.
  std::string user_name;
};

// One authentication exchange at a time on one connection. Not thread-safe: its steps run one
// at a time, each on an auth-pool thread while the connection is parked (the session holds it
// between steps). The database must outlive the server and every User it returns: the
// shared_ptr constructor makes it so (the server's users may be reloaded while an exchange
// runs on another thread, and the connection may close meanwhile).
// Between exchanges it holds a few pointers and nothing else; the state of a SCRAM exchange
// (bounded by the message limit, a few hundred bytes in practice) is allocated by start() and
// freed when the exchange ends.
class SaslServer final {
 public:
  // Returns the server's part of a SCRAM nonce: printable ASCII without ','; empty on failure.
  // The default draws 24 random bytes and base64-encodes them. Tests substitute a fixed nonce
  // to replay the RFC examples.
  using NonceSource = std::string (*)();

  explicit SaslServer(const UserDatabase& db);
  SaslServer(const UserDatabase& db, NonceSource nonce_source);
  // Shares ownership of db; nullptr is not allowed.
  explicit SaslServer(std::shared_ptr<const UserDatabase> db);
  ~SaslServer();
  SaslServer(const SaslServer&) = delete;
  SaslServer& operator=(const SaslServer&) = delete;

  // SASL_AUTH: starts a new exchange, abandoning any unfinished one.
  SaslResult start(std::string_view mechanism, std::string_view data) noexcept;
  // SASL_STEP: continues the exchange started with the same mechanism. A step with no
  // exchange under way, or with another mechanism, fails.
  SaslResult step(std::string_view mechanism, std::string_view data) noexcept;

  // The database shared with the constructor that took one (null otherwise): what keeps
  // a kOk result's user alive.
  const std::shared_ptr<const UserDatabase>& database() const { return owner_; }

  // True between a kContinue and the step that ends the exchange.
  bool inProgress() const { return exchange_ != nullptr; }

 private:
  struct ScramExchange;

  SaslResult plain(std::string_view data);
  SaslResult scramFirst(ScramHash hash, std::string_view data);
  SaslResult scramFinal(std::string_view data);

  std::shared_ptr<const UserDatabase> owner_;  // null with the reference constructors
  const UserDatabase& db_;
  NonceSource nonce_source_;
  std::unique_ptr<ScramExchange> exchange_;
  std::string user_name_;  // of the current or last exchange; see SaslResult::user_name
};

}  // namespace memkv::auth
