#include "support/scram_client.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>
#include <vector>

namespace memkv::test {
namespace {

const EVP_MD* md(int hash) {
  return hash == 1 ? EVP_sha1() : hash == 256 ? EVP_sha256() : EVP_sha512();
}

const unsigned char* u8(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

std::string hmacOf(int hash, std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(md(hash), key.data(), static_cast<int>(key.size()), u8(data), data.size(), out, &len) ==
      nullptr) {
    throw std::runtime_error("HMAC failed");
  }
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string hashOf(int hash, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out, &len, md(hash), nullptr) != 1) {
    throw std::runtime_error("digest failed");
  }
  return std::string(reinterpret_cast<char*>(out), len);
}

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> out;
  while (true) {
    const size_t comma = s.find(',');
    out.push_back(s.substr(0, comma));
    if (comma == std::string_view::npos) return out;
    s.remove_prefix(comma + 1);
  }
}

std::string_view value(std::string_view field, char name, std::string_view server_first) {
  if (field.size() < 2 || field[0] != name || field[1] != '=') {
    throw std::runtime_error("server-first has unexpected attribute: " + std::string(server_first));
  }
  return field.substr(2);
}

}  // namespace

std::string base64EncodeForTest(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), u8(bytes),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string base64DecodeForTest(std::string_view text) {
  if (text.size() % 4 != 0) throw std::runtime_error("bad base64 length");
  std::string out(text.size() / 4 * 3 + 1, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), u8(text),
                                static_cast<int>(text.size()));
  if (n < 0) throw std::runtime_error("bad base64");
  // EVP_DecodeBlock counts padding as zero bytes.
  size_t len = static_cast<size_t>(n);
  if (!text.empty() && text.back() == '=') --len;
  if (text.size() > 1 && text[text.size() - 2] == '=') --len;
  out.resize(len);
  return out;
}

ScramClient::ScramClient(std::string_view mechanism, std::string cnonce, std::string gs2_header)
    : cnonce_(std::move(cnonce)), gs2_header_(std::move(gs2_header)) {
  if (mechanism == "SCRAM-SHA1") {
    hash_ = 1;
  } else if (mechanism == "SCRAM-SHA256") {
    hash_ = 256;
  } else if (mechanism == "SCRAM-SHA512") {
    hash_ = 512;
  } else {
    throw std::invalid_argument("unknown SCRAM mechanism " + std::string(mechanism));
  }
  if (cnonce_.empty()) {
    unsigned char raw[18];
    if (RAND_bytes(raw, sizeof(raw)) != 1) throw std::runtime_error("RAND_bytes failed");
    cnonce_ = base64EncodeForTest(std::string_view(reinterpret_cast<char*>(raw), sizeof(raw)));
  }
}

std::string ScramClient::escapeName(std::string_view user) {
  std::string out;
  for (char c : user) {
    if (c == ',') {
      out += "=2C";
    } else if (c == '=') {
      out += "=3D";
    } else {
      out += c;
    }
  }
  return out;
}

std::string ScramClient::clientFirst(std::string_view user) {
  client_first_bare_ = "n=" + escapeName(user) + ",r=" + cnonce_;
  return gs2_header_ + client_first_bare_;
}

std::string ScramClient::clientFinal(std::string_view server_first, std::string_view password) {
  const auto fields = split(server_first);
  if (fields.size() != 3) {
    throw std::runtime_error("server-first must have exactly r, s, i: " +
                             std::string(server_first));
  }
  const std::string_view nonce = value(fields[0], 'r', server_first);
  const std::string salt = base64DecodeForTest(value(fields[1], 's', server_first));
  const std::string iterations_text(value(fields[2], 'i', server_first));
  if (nonce.size() <= cnonce_.size() || nonce.substr(0, cnonce_.size()) != cnonce_) {
    throw std::runtime_error("server nonce does not extend the client nonce");
  }
  size_t parsed = 0;
  const unsigned long iterations = std::stoul(iterations_text, &parsed);
  if (parsed != iterations_text.size() || iterations == 0) {
    throw std::runtime_error("bad iteration count " + iterations_text);
  }
  nonce_ = std::string(nonce);

  const size_t size = static_cast<size_t>(EVP_MD_get_size(md(hash_)));
  std::string salted(size, '\0');
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), u8(salt),
                        static_cast<int>(salt.size()), static_cast<int>(iterations), md(hash_),
                        static_cast<int>(size),
                        reinterpret_cast<unsigned char*>(salted.data())) != 1) {
    throw std::runtime_error("PBKDF2 failed");
  }
  const std::string client_key = hmacOf(hash_, salted, "Client Key");
  const std::string stored_key = hashOf(hash_, client_key);
  const std::string server_key = hmacOf(hash_, salted, "Server Key");
  const std::string without_proof = "c=" + base64EncodeForTest(gs2_header_) + ",r=" + nonce_;
  const std::string auth_message =
      client_first_bare_ + "," + std::string(server_first) + "," + without_proof;
  std::string proof = hmacOf(hash_, stored_key, auth_message);
  for (size_t i = 0; i < proof.size(); ++i) {
    proof[i] = static_cast<char>(proof[i] ^ client_key[i]);
  }
  expected_server_signature_ = hmacOf(hash_, server_key, auth_message);
  return without_proof + ",p=" + base64EncodeForTest(proof);
}

bool ScramClient::verifyServerFinal(std::string_view server_final) const {
  return !expected_server_signature_.empty() &&
         server_final == "v=" + base64EncodeForTest(expected_server_signature_);
}

std::string plainAuthPayload(std::string_view user, std::string_view password) {
  std::string out;
  out += '\0';
  out += user;
  out += '\0';
  out += password;
  return out;
}

}  // namespace memkv::test
