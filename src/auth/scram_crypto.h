#pragma once
// The cryptographic primitives of SCRAM (RFC 5802) and the users file: PBKDF2, HMAC and
// digests over OpenSSL's EVP layer, plus strict base64.
//
// Why hand-written around OpenSSL rather than a SASL library: no Debian package provides a
// SCRAM *server* we could drive with our own credential store (cyrus-sasl's SCRAM plugin
// reads and writes its own sasldb password store, gsasl wants callbacks that hand it
// plaintext or its own salted-password format), and the SCRAM arithmetic is a handful of
// calls into libcrypto, which memkv links anyway. The protocol framing lives in sasl.cc.
//
// All functions are pure and thread-safe. Byte strings travel in std::string.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace memkv::auth {

enum class ScramHash : uint8_t { kSha1, kSha256, kSha512 };
inline constexpr ScramHash kAllScramHashes[] = {ScramHash::kSha512, ScramHash::kSha256,
                                                ScramHash::kSha1};

// What the server keeps per user and hash (RFC 5802 §3): never the password, and nothing a
// client could replay (the ClientKey is not derivable from StoredKey).
struct ScramCredential {
  std::string salt;  // raw bytes
  uint32_t iterations = 0;
  std::string stored_key;  // H(ClientKey), raw, digestSize() bytes
  std::string server_key;  // HMAC(SaltedPassword, "Server Key"), raw, digestSize() bytes
};

// Bytes of output of the hash: 20, 32 or 64.
size_t digestSize(ScramHash hash);
// "SCRAM-SHA512" etc., the SASL mechanism name Couchbase uses.
std::string_view mechanismName(ScramHash hash);
// The inverse of mechanismName(); nullopt for any other string (case-sensitive).
std::optional<ScramHash> hashForMechanism(std::string_view mechanism);
// "SHA512" etc., the key under "scram" in the users file.
std::string_view credentialName(ScramHash hash);

// The primitives return an empty string only if libcrypto fails (allocation failure), which
// callers treat as an authentication failure; no valid output is ever empty.
std::string digest(ScramHash hash, std::string_view data);
std::string hmac(ScramHash hash, std::string_view key, std::string_view data);
// SaltedPassword = Hi(password, salt, iterations), digestSize() bytes. The password is
// taken as bytes: memkv does no SASLprep, like the Couchbase SDKs and cbsasl.
std::string saltedPassword(ScramHash hash, std::string_view password, std::string_view salt,
                           uint32_t iterations);

// Derives the stored credential from a password. Empty keys on libcrypto failure.
ScramCredential makeCredential(ScramHash hash, std::string_view password, std::string salt,
                               uint32_t iterations);

// Cryptographically random bytes (RAND_bytes); empty on failure.
std::string randomBytes(size_t size);

// Constant-time equality of two byte strings (CRYPTO_memcmp); sizes are not secret.
bool constantTimeEqual(std::string_view a, std::string_view b);

// RFC 4648 base64 with padding.
std::string base64Encode(std::string_view bytes);
// Strict decoding: the length is a multiple of 4, only the standard alphabet, '=' only as
// the final one or two characters, and unused bits of the last symbol zero (the canonical
// encoding, which every encoder produces). No whitespace. False on any violation.
bool base64Decode(std::string_view text, std::string* out);

}  // namespace memkv::auth
