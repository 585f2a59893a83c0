#include "auth/scram_crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <climits>
#include <utility>

namespace memkv::auth {
namespace {

const EVP_MD* evpDigest(ScramHash hash) {
  switch (hash) {
    case ScramHash::kSha1:
      return EVP_sha1();
    case ScramHash::kSha256:
      return EVP_sha256();
    case ScramHash::kSha512:
      return EVP_sha512();
  }
  return EVP_sha512();
}

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

unsigned char* mutableBytes(std::string& s) {
  return reinterpret_cast<unsigned char*>(s.data());
}

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// 0..63 for an alphabet character, -1 otherwise ('=' included: padding is handled apart).
constexpr std::array<int8_t, 256> makeDecodeTable() {
  std::array<int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (int i = 0; i < 64; ++i)
    table[static_cast<unsigned char>(kBase64Alphabet[i])] = static_cast<int8_t>(i);
  return table;
}
constexpr std::array<int8_t, 256> kBase64Decode = makeDecodeTable();

}  // namespace

size_t digestSize(ScramHash hash) {
  switch (hash) {
    case ScramHash::kSha1:
      return 20;
    case ScramHash::kSha256:
      return 32;
    case ScramHash::kSha512:
      return 64;
  }
  return 64;
}

std::string_view mechanismName(ScramHash hash) {
  switch (hash) {
    case ScramHash::kSha1:
      return "SCRAM-SHA1";
    case ScramHash::kSha256:
      return "SCRAM-SHA256";
    case ScramHash::kSha512:
      return "SCRAM-SHA512";
  }
  return "SCRAM-SHA512";
}

std::optional<ScramHash> hashForMechanism(std::string_view mechanism) {
  for (ScramHash h : kAllScramHashes) {
    if (mechanism == mechanismName(h)) return h;
  }
  return std::nullopt;
}

std::string_view credentialName(ScramHash hash) {
  // The mechanism name without its "SCRAM-" prefix.
  return mechanismName(hash).substr(6);
}

std::string digest(ScramHash hash, std::string_view data) {
  std::string out(digestSize(hash), '\0');
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), mutableBytes(out), &len, evpDigest(hash), nullptr) !=
          1 ||
      len != out.size()) {
    return {};
  }
  return out;
}

std::string hmac(ScramHash hash, std::string_view key, std::string_view data) {
  if (key.size() > INT_MAX) return {};
  std::string out(digestSize(hash), '\0');
  unsigned int len = 0;
  if (HMAC(evpDigest(hash), key.data(), static_cast<int>(key.size()), bytes(data), data.size(),
           mutableBytes(out), &len) == nullptr ||
      len != out.size()) {
    return {};
  }
  return out;
}

std::string saltedPassword(ScramHash hash, std::string_view password, std::string_view salt,
                           uint32_t iterations) {
  if (password.size() > INT_MAX || salt.size() > INT_MAX || iterations == 0 ||
      iterations > INT_MAX) {
    return {};
  }
  std::string out(digestSize(hash), '\0');
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), bytes(salt),
                        static_cast<int>(salt.size()), static_cast<int>(iterations),
                        evpDigest(hash), static_cast<int>(out.size()), mutableBytes(out)) != 1) {
    return {};
  }
  return out;
}

ScramCredential makeCredential(ScramHash hash, std::string_view password, std::string salt,
                               uint32_t iterations) {
  ScramCredential c;
  c.iterations = iterations;
  const std::string salted = saltedPassword(hash, password, salt, iterations);
  c.salt = std::move(salt);
  if (salted.empty()) return c;
  const std::string client_key = hmac(hash, salted, "Client Key");
  if (client_key.empty()) return c;
  c.stored_key = digest(hash, client_key);
  c.server_key = hmac(hash, salted, "Server Key");
  return c;
}

std::string randomBytes(size_t size) {
  if (size > INT_MAX) return {};
  std::string out(size, '\0');
  if (RAND_bytes(mutableBytes(out), static_cast<int>(size)) != 1) return {};
  return out;
}

bool constantTimeEqual(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string base64Encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << 16 |
                       static_cast<uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8 |
                       static_cast<unsigned char>(in[i + 2]);
    out += kBase64Alphabet[v >> 18];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += kBase64Alphabet[(v >> 6) & 63];
    out += kBase64Alphabet[v & 63];
  }
  const size_t rest = in.size() - i;
  if (rest > 0) {
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << 16;
    if (rest == 2) v |= static_cast<uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
    out += kBase64Alphabet[v >> 18];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += rest == 2 ? kBase64Alphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

bool base64Decode(std::string_view text, std::string* out) {
  if (text.size() % 4 != 0) return false;
  std::string result;
  result.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    // Padding: only in the last quantum, "xx==" or "xxx=".
    size_t pad = 0;
    if (last && text[i + 3] == '=') pad = text[i + 2] == '=' ? 2 : 1;
    uint32_t v = 0;
    for (size_t k = 0; k < 4 - pad; ++k) {
      const int8_t d = kBase64Decode[static_cast<unsigned char>(text[i + k])];
      if (d < 0) return false;
      v |= static_cast<uint32_t>(d) << (18 - 6 * k);
    }
    result += static_cast<char>(v >> 16);
    if (pad < 2) result += static_cast<char>((v >> 8) & 0xff);
    if (pad < 1) result += static_cast<char>(v & 0xff);
    // Non-canonical: bits below the last decoded byte must be zero.
    if ((pad == 2 && (v & 0xffff) != 0) || (pad == 1 && (v & 0xff) != 0)) return false;
  }
  *out = std::move(result);
  return true;
}

}  // namespace memkv::auth
