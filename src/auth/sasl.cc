#include "auth/sasl.h"

#include <string>
#include <utility>
#include <vector>

namespace memkv::auth {
namespace {

// Size of the server's random nonce part: 24 bytes, 32 base64 characters.
constexpr size_t kServerNonceBytes = 24;
constexpr std::string_view kPlain = "PLAIN";

std::string randomNonce() {
  return base64Encode(randomBytes(kServerNonceBytes));
}

SaslResult fail() {
  return SaslResult{SaslOutcome::kFail, {}, nullptr, {}};
}

// Key for the fake salts of unknown users: random per process, so that the salts cannot be
// precomputed by a client, yet stable for the process's lifetime, so that asking twice
// about the same name gives the same answer, as it would for a real user. Empty if the
// random generator failed, which fails the exchange.
const std::string& fakeSaltKey() {
  static const std::string key = randomBytes(32);
  return key;
}

// A credential for a user who does not exist: a salt derived from the name and the
// mechanism (real users have a separate salt per hash as well, of the same 32 bytes as
// memkv-admin's), the file's iteration count (every real user has it too, see users.h), and
// keys no proof can match. It goes through the same computation as a real one, PBKDF2
// included, so that the reply time does not tell the cases apart either.
ScramCredential fakeCredential(ScramHash hash, std::string_view name, uint32_t iterations) {
  ScramCredential c;
  if (!fakeSaltKey().empty()) {
    std::string input(mechanismName(hash));
    input += '\0';
    input += name;
    c.salt = hmac(ScramHash::kSha256, fakeSaltKey(), input);
  }
  c.iterations = iterations;
  c.stored_key.assign(digestSize(hash), '\0');
  c.server_key.assign(digestSize(hash), '\0');
  return c;
}

// Splits on ',' only. Node SDK nonces contain spaces, so no other character may delimit.
std::vector<std::string_view> splitFields(std::string_view s) {
  std::vector<std::string_view> fields;
  while (true) {
    const size_t comma = s.find(',');
    fields.push_back(s.substr(0, comma));
    if (comma == std::string_view::npos) return fields;
    s.remove_prefix(comma + 1);
  }
}

// True if `field` is "<name>=<value>"; sets *value.
bool attribute(std::string_view field, char name, std::string_view* value) {
  if (field.size() < 2 || field[0] != name || field[1] != '=') return false;
  *value = field.substr(2);
  return true;
}

// RFC 5802 allows optional extensions "<letter>=<value>"; "m=" is reserved for mandatory
// ones, which a server that knows none must refuse.
bool ignorableExtension(std::string_view field) {
  if (field.size() < 2 || field[1] != '=' || field[0] == 'm') return false;
  const char c = field[0];
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// saslname: ',' and '=' travel as "=2C" and "=3D"; any other '=' is malformed.
bool unescapeSaslName(std::string_view in, std::string* out) {
  std::string name;
  name.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '=') {
      name += in[i];
      continue;
    }
    const std::string_view code = in.substr(i + 1, 2);
    if (code == "2C") {
      name += ',';
    } else if (code == "3D") {
      name += '=';
    } else {
      return false;
    }
    i += 2;
  }
  *out = std::move(name);
  return true;
}

// RFC 5802 nonces are printable ASCII without ','; the space is allowed as well because the
// Couchbase Node SDK sends it.
bool validNonce(std::string_view nonce) {
  if (nonce.empty()) return false;
  for (char c : nonce) {
    if (c < 0x20 || c > 0x7e || c == ',') return false;
  }
  return true;
}

}  // namespace

struct SaslServer::ScramExchange {
  ScramHash hash;
  const User* user;         // nullptr if unknown or without a credential for `hash`
  std::string name;         // as unescaped, for the fake credential
  std::string gs2_header;   // e.g. "n,,", which c= must echo
  std::string nonce;        // client nonce + server nonce
  std::string auth_prefix;  // client-first-bare "," server-first ","
};

SaslServer::SaslServer(const UserDatabase& db) : SaslServer(db, &randomNonce) {}

SaslServer::SaslServer(const UserDatabase& db, NonceSource nonce_source)
    : db_(db), nonce_source_(nonce_source) {}

SaslServer::SaslServer(std::shared_ptr<const UserDatabase> db)
    : owner_(std::move(db)), db_(*owner_), nonce_source_(&randomNonce) {}

SaslServer::~SaslServer() = default;

SaslResult SaslServer::start(std::string_view mechanism, std::string_view data) noexcept {
  exchange_.reset();
  user_name_.clear();
  try {
    if (data.size() > kMaxSaslMessage) return fail();
    SaslResult r = fail();
    if (mechanism == kPlain) {
      r = plain(data);
    } else if (const auto hash = hashForMechanism(mechanism)) {
      r = scramFirst(*hash, data);
      if (r.outcome != SaslOutcome::kContinue) exchange_.reset();
    }
    r.user_name = user_name_;
    return r;
  } catch (...) {
    // Only allocation can throw here; the connection survives, the exchange does not.
    exchange_.reset();
    return fail();
  }
}

SaslResult SaslServer::step(std::string_view mechanism, std::string_view data) noexcept {
  try {
    if (!exchange_ || mechanism != mechanismName(exchange_->hash) ||
        data.size() > kMaxSaslMessage) {
      exchange_.reset();
      return fail();
    }
    SaslResult r = scramFinal(data);
    exchange_.reset();  // SCRAM has one step; whatever the outcome, the exchange is over
    r.user_name = user_name_;
    return r;
  } catch (...) {
    exchange_.reset();
    return fail();
  }
}

// PLAIN (RFC 4616): [authzid] NUL authcid NUL passwd. Checked against the SHA512 credential
// the way SCRAM would derive it, so the file needs no other form of the password.
SaslResult SaslServer::plain(std::string_view data) {
  const size_t nul1 = data.find('\0');
  if (nul1 == std::string_view::npos) return fail();
  const size_t nul2 = data.find('\0', nul1 + 1);
  if (nul2 == std::string_view::npos) return fail();
  const std::string_view authzid = data.substr(0, nul1);
  const std::string_view name = data.substr(nul1 + 1, nul2 - nul1 - 1);
  const std::string_view password = data.substr(nul2 + 1);
  std::string why;
  if (!validUserName(name, &why) || password.empty() ||
      password.find('\0') != std::string_view::npos) {
    return fail();
  }
  user_name_ = name;
  // Acting as another user (proxy authorization) is not supported.
  if (!authzid.empty() && authzid != name) return fail();

  const User* user = db_.find(name);
  const ScramHash hash = ScramHash::kSha512;
  const ScramCredential fake =
      user ? ScramCredential{} : fakeCredential(hash, name, db_.iterations());
  const ScramCredential& cred = user ? *user->credential(hash) : fake;
  if (cred.salt.empty()) return fail();
  const std::string salted = saltedPassword(hash, password, cred.salt, cred.iterations);
  if (salted.empty()) return fail();
  const std::string client_key = hmac(hash, salted, "Client Key");
  if (client_key.empty()) return fail();
  const bool match = constantTimeEqual(digest(hash, client_key), cred.stored_key);
  if (!match || user == nullptr) return fail();
  return SaslResult{SaslOutcome::kOk, {}, user, {}};
}

// client-first: gs2-header client-first-bare, where
//   gs2-header = ("n" | "y") "," ["a=" saslname] ","   ("p=" channel binding is refused)
//   client-first-bare = "n=" saslname ",r=" c-nonce ["," extensions]
SaslResult SaslServer::scramFirst(ScramHash hash, std::string_view data) {
  const size_t comma1 = data.find(',');
  if (comma1 == std::string_view::npos) return fail();
  const std::string_view flag = data.substr(0, comma1);
  // "y": the client could bind but believes we cannot, which is true. "p=": it insists.
  if (flag != "n" && flag != "y") return fail();
  const size_t comma2 = data.find(',', comma1 + 1);
  if (comma2 == std::string_view::npos) return fail();
  const std::string_view authzid_field = data.substr(comma1 + 1, comma2 - comma1 - 1);
  const std::string_view gs2_header = data.substr(0, comma2 + 1);
  const std::string_view bare = data.substr(comma2 + 1);

  const std::vector<std::string_view> fields = splitFields(bare);
  std::string_view escaped_name;
  std::string_view client_nonce;
  if (fields.size() < 2 || !attribute(fields[0], 'n', &escaped_name) ||
      !attribute(fields[1], 'r', &client_nonce) || !validNonce(client_nonce)) {
    return fail();
  }
  for (size_t i = 2; i < fields.size(); ++i) {
    if (!ignorableExtension(fields[i])) return fail();
  }
  std::string name;
  std::string why;
  if (!unescapeSaslName(escaped_name, &name) || !validUserName(name, &why)) return fail();
  user_name_ = name;
  if (!authzid_field.empty()) {
    std::string_view escaped_authzid;
    std::string authzid;
    if (!attribute(authzid_field, 'a', &escaped_authzid) ||
        !unescapeSaslName(escaped_authzid, &authzid) || authzid != name) {
      return fail();
    }
  }

  const User* user = db_.find(name);
  const ScramCredential* cred = user ? user->credential(hash) : nullptr;
  if (cred == nullptr) user = nullptr;  // no credential for this hash: treat as unknown
  const ScramCredential fake =
      cred ? ScramCredential{} : fakeCredential(hash, name, db_.iterations());
  if (cred == nullptr) cred = &fake;
  if (cred->salt.empty()) return fail();

  const std::string server_nonce = nonce_source_();
  if (!validNonce(server_nonce)) return fail();

  auto exchange = std::make_unique<ScramExchange>();
  exchange->hash = hash;
  exchange->user = user;
  exchange->name = std::move(name);
  exchange->gs2_header = gs2_header;
  exchange->nonce.reserve(client_nonce.size() + server_nonce.size());
  exchange->nonce.append(client_nonce).append(server_nonce);
  // The client accepts exactly r, s and i, in this order.
  std::string server_first = "r=" + exchange->nonce + ",s=" + base64Encode(cred->salt) +
                             ",i=" + std::to_string(cred->iterations);
  exchange->auth_prefix.reserve(bare.size() + server_first.size() + 2);
  exchange->auth_prefix.append(bare).append(",").append(server_first).append(",");
  exchange_ = std::move(exchange);
  return SaslResult{SaslOutcome::kContinue, std::move(server_first), nullptr, {}};
}

// client-final = "c=" base64(gs2-header) ",r=" nonce ["," extensions] ",p=" base64(proof)
SaslResult SaslServer::scramFinal(std::string_view data) {
  const ScramExchange& ex = *exchange_;
  const std::vector<std::string_view> fields = splitFields(data);
  std::string_view cbind;
  std::string_view nonce;
  std::string_view proof_b64;
  if (fields.size() < 3 || !attribute(fields[0], 'c', &cbind) ||
      !attribute(fields[1], 'r', &nonce) || !attribute(fields.back(), 'p', &proof_b64)) {
    return fail();
  }
  for (size_t i = 2; i + 1 < fields.size(); ++i) {
    if (!ignorableExtension(fields[i])) return fail();
  }
  std::string gs2_header;
  std::string proof;
  if (!base64Decode(cbind, &gs2_header) || gs2_header != ex.gs2_header || nonce != ex.nonce ||
      !base64Decode(proof_b64, &proof) || proof.size() != digestSize(ex.hash)) {
    return fail();
  }

  const ScramCredential* real = ex.user ? ex.user->credential(ex.hash) : nullptr;
  const ScramCredential fake =
      real ? ScramCredential{} : fakeCredential(ex.hash, ex.name, db_.iterations());
  const ScramCredential& cred = real ? *real : fake;

  // The proof is ClientKey XOR ClientSignature; the server holds StoredKey = H(ClientKey),
  // so it recovers the ClientKey from the proof and checks its hash.
  const std::string_view without_proof = data.substr(0, data.size() - fields.back().size() - 1);
  std::string auth_message = ex.auth_prefix;
  auth_message.append(without_proof);
  const std::string client_signature = hmac(ex.hash, cred.stored_key, auth_message);
  if (client_signature.size() != proof.size()) return fail();
  std::string client_key = std::move(proof);
  for (size_t i = 0; i < client_key.size(); ++i) client_key[i] ^= client_signature[i];
  const bool match = constantTimeEqual(digest(ex.hash, client_key), cred.stored_key);
  if (!match || real == nullptr) return fail();

  const std::string server_signature = hmac(ex.hash, cred.server_key, auth_message);
  if (server_signature.empty()) return fail();
  return SaslResult{SaslOutcome::kOk, "v=" + base64Encode(server_signature), ex.user, {}};
}

}  // namespace memkv::auth
