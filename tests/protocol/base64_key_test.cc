// Base64 keys of the meta protocol (b flag): RFC 4648 with padding, as
// memcached's; mg k answers a key stored that way re-encoded.
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <string_view>

#include "protocol/text_request.h"

namespace memkv::text {
namespace {

std::string encode(std::string_view in) {
  std::array<char, kMaxBase64KeyLength> out;
  return {out.data(), encodeBase64Key(in, out)};
}

TEST(Base64KeyTest, EncodesRfc4648TestVectors) {
  EXPECT_EQ(encode("f"), "Zg==");
  EXPECT_EQ(encode("fo"), "Zm8=");
  EXPECT_EQ(encode("foo"), "Zm9v");
  EXPECT_EQ(encode("foob"), "Zm9vYg==");
  EXPECT_EQ(encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(encode(std::string("\xff\xfe\x00", 3)), "//4A");
}

TEST(Base64KeyTest, RoundTripsEveryLengthUpToTheKeyLimit) {
  std::string key;
  for (size_t n = 1; n <= kMaxKeyLength; ++n) {
    key.push_back(static_cast<char>(n * 37));
    const std::string encoded = encode(key);
    ASSERT_EQ(encoded.size(), (n + 2) / 3 * 4);
    std::array<uint8_t, kMaxKeyLength> decoded;
    ASSERT_EQ(decodeBase64Key(encoded, decoded), n);
    EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(decoded.data()), n), key);
  }
}

TEST(Base64KeyTest, StopsWhereTheOutputEnds) {
  std::array<char, 4> small;
  EXPECT_EQ(encodeBase64Key("foobar", small), 4u);  // whole groups only
}

}  // namespace
}  // namespace memkv::text
