#include "auth/scram_crypto.h"

#include <gtest/gtest.h>

#include <string>

#include "support/scram_client.h"

namespace memkv::auth {
namespace {

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

TEST(Base64Test, Rfc4648Vectors) {
  const std::pair<std::string, std::string> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64Encode(plain), encoded);
    std::string decoded = "junk";
    ASSERT_TRUE(base64Decode(encoded, &decoded)) << encoded;
    EXPECT_EQ(decoded, plain);
  }
}

TEST(Base64Test, AllByteValuesRoundTripAndMatchOpenSsl) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (size_t len = 0; len <= all.size(); len += 37) {
    const std::string part = all.substr(0, len);
    const std::string encoded = base64Encode(part);
    EXPECT_EQ(encoded, memkv::test::base64EncodeForTest(part));
    std::string decoded;
    ASSERT_TRUE(base64Decode(encoded, &decoded));
    EXPECT_EQ(decoded, part);
  }
}

TEST(Base64Test, StrictDecodingRejects) {
  const char* bad[] = {
      "Zg",        // no padding
      "Zg=",       // short padding
      "Z===",      // three pads
      "=Zg=",      // padding first
      "Zg==Zg==",  // padding mid-string
      "Zm9v\n",    // whitespace
      "Zm 9",      // space
      "Zh==",      // non-zero unused bits (canonical is Zg==)
      "Zm9=",      // non-zero unused bits (canonical is Zm8=)
      "Zm9v-_==",  // URL-safe alphabet
      "Zm9\x80",   // high byte
  };
  for (const char* text : bad) {
    std::string out = "unchanged";
    EXPECT_FALSE(base64Decode(text, &out)) << text;
    EXPECT_EQ(out, "unchanged");
  }
}

TEST(ScramCryptoTest, Pbkdf2Rfc6070Vectors) {
  EXPECT_EQ(hex(saltedPassword(ScramHash::kSha1, "password", "salt", 1)),
            "0c60c80f961f0e71f3a9b524af6012062fe037a6");
  EXPECT_EQ(hex(saltedPassword(ScramHash::kSha1, "password", "salt", 4096)),
            "4b007901b765489abead49d926f721d065a429c1");
}

TEST(ScramCryptoTest, HmacRfc4231Case2) {
  const std::string data = "what do ya want for nothing?";
  EXPECT_EQ(hex(hmac(ScramHash::kSha256, "Jefe", data)),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(hex(hmac(ScramHash::kSha512, "Jefe", data)),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f"
            "65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
}

TEST(ScramCryptoTest, MakeCredentialFollowsRfc5802) {
  // The RFC 5802 example user: StoredKey = H(HMAC(SaltedPassword, "Client Key")).
  std::string salt;
  ASSERT_TRUE(base64Decode("QSXCR+Q6sek8bf92", &salt));
  const ScramCredential c = makeCredential(ScramHash::kSha1, "pencil", salt, 4096);
  const std::string salted = saltedPassword(ScramHash::kSha1, "pencil", salt, 4096);
  EXPECT_EQ(c.salt, salt);
  EXPECT_EQ(c.iterations, 4096u);
  EXPECT_EQ(c.stored_key, digest(ScramHash::kSha1, hmac(ScramHash::kSha1, salted, "Client Key")));
  EXPECT_EQ(c.server_key, hmac(ScramHash::kSha1, salted, "Server Key"));
  EXPECT_EQ(c.stored_key.size(), 20u);
}

TEST(ScramCryptoTest, Names) {
  EXPECT_EQ(mechanismName(ScramHash::kSha512), "SCRAM-SHA512");
  EXPECT_EQ(credentialName(ScramHash::kSha256), "SHA256");
  EXPECT_EQ(hashForMechanism("SCRAM-SHA1"), ScramHash::kSha1);
  EXPECT_FALSE(hashForMechanism("SCRAM-SHA-1"));
  EXPECT_FALSE(hashForMechanism("scram-sha512"));
  EXPECT_FALSE(hashForMechanism("PLAIN"));
  for (ScramHash h : kAllScramHashes) EXPECT_EQ(digest(h, "x").size(), digestSize(h));
}

TEST(ScramCryptoTest, ConstantTimeEqual) {
  EXPECT_TRUE(constantTimeEqual("abc", "abc"));
  EXPECT_FALSE(constantTimeEqual("abc", "abd"));
  EXPECT_FALSE(constantTimeEqual("abc", "ab"));
  EXPECT_TRUE(constantTimeEqual("", ""));
}

TEST(ScramCryptoTest, RandomBytesDiffer) {
  const std::string a = randomBytes(32);
  const std::string b = randomBytes(32);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace memkv::auth
