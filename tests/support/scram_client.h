#pragma once
// The client side of SASL for tests: SCRAM (RFC 5802) as the Couchbase SDKs speak it, and
// the PLAIN payload. Written against OpenSSL directly and sharing no code with src/auth, so
// that a bug in the server's SCRAM cannot hide behind the same bug in its test client.
#include <string>
#include <string_view>

namespace memkv::test {

// One SCRAM exchange. Throws std::invalid_argument for an unknown mechanism and
// std::runtime_error for a server-first the SDKs would reject.
class ScramClient {
 public:
  // mechanism: "SCRAM-SHA512", "SCRAM-SHA256" or "SCRAM-SHA1". cnonce: the client nonce
  // (printable, no ','), or empty for a random one. gs2_header: "n,," normally.
  explicit ScramClient(std::string_view mechanism, std::string cnonce = "",
                       std::string gs2_header = "n,,");

  // gs2-header "n=" escaped(user) ",r=" cnonce.
  std::string clientFirst(std::string_view user);
  // Checks server-first the way the Couchbase SDK does (attributes exactly r, s, i, in that
  // order; the nonce extends ours) and returns "c=... ,r=...,p=<proof>".
  std::string clientFinal(std::string_view server_first, std::string_view password);
  // True if server-final is "v=" + base64(HMAC(ServerKey, AuthMessage)).
  bool verifyServerFinal(std::string_view server_final) const;

  // The parts of the last exchange, for tests that tamper with messages.
  const std::string& clientFirstBare() const { return client_first_bare_; }
  const std::string& nonce() const { return nonce_; }

  // saslname escaping: ',' -> "=2C", '=' -> "=3D".
  static std::string escapeName(std::string_view user);

 private:
  int hash_;  // 1, 256 or 512
  std::string cnonce_;
  std::string gs2_header_;
  std::string client_first_bare_;
  std::string nonce_;
  std::string expected_server_signature_;
};

// The SASL_AUTH value for PLAIN: NUL user NUL password.
std::string plainAuthPayload(std::string_view user, std::string_view password);

// base64 through OpenSSL's EVP codec (padding kept, no newlines); decode throws
// std::runtime_error on malformed input.
std::string base64EncodeForTest(std::string_view bytes);
std::string base64DecodeForTest(std::string_view text);

}  // namespace memkv::test
