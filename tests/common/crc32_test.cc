#include "common/crc32.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace memkv {
namespace {

uint32_t crcOf(std::string_view s) {
  return crc32(s.data(), s.size());
}

// Bitwise reference implementation of the same polynomial.
uint32_t slowCrc(std::string_view s) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : s) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc & 1) ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
  }
  return ~crc;
}

TEST(Crc32Test, StandardCheckValue) {
  // The catalogued check value of CRC-32/ISO-HDLC.
  EXPECT_EQ(crcOf("123456789"), 0xCBF43926u);
  EXPECT_EQ(crcOf(""), 0u);
}

TEST(Crc32Test, MatchesBitwiseReferenceForEveryLengthAndAlignment) {
  std::string data;
  for (int i = 0; i < 300; ++i) data.push_back(static_cast<char>(i * 7 + 3));
  for (size_t offset = 0; offset < 8; ++offset) {
    for (size_t len = 0; len + offset <= data.size(); len += 13) {
      std::string_view view(data.data() + offset, len);
      ASSERT_EQ(crcOf(view), slowCrc(view)) << "offset " << offset << " len " << len;
    }
  }
}

}  // namespace
}  // namespace memkv
