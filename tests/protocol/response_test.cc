#include "protocol/response.h"

#include <gtest/gtest.h>

#include <cstring>

#include "common/byte_order.h"

namespace memkv::mcbp {
namespace {

TEST(ResponseTest, EncodesEveryField) {
  uint8_t out[kHeaderSize];
  encodeResponseHeader(out, {0x0c, Status::KeyEnoent, 4, 3, 12, 0xa1b2c3d4, 0x0102030405060708, 1});
  EXPECT_EQ(out[0], 0x81);
  EXPECT_EQ(out[1], 0x0c);
  EXPECT_EQ(loadBe16(out + 2), 3);
  EXPECT_EQ(out[4], 4);
  EXPECT_EQ(out[5], 1);
  EXPECT_EQ(loadBe16(out + 6), 0x0001);
  EXPECT_EQ(loadBe32(out + 8), 12u);
  EXPECT_EQ(loadBe32(out + 12), 0xa1b2c3d4u);
  EXPECT_EQ(loadBe64(out + 16), 0x0102030405060708u);
}

// A proxy or a newer engine may hand over a status memkv does not name: it
// must reach the wire unchanged.
TEST(ResponseTest, PassesThroughStatusesItDoesNotName) {
  uint8_t out[kHeaderSize];
  encodeResponseHeader(out, {0x00, static_cast<Status>(0xbeef), 0, 0, 0, 0, 0, 0});
  EXPECT_EQ(loadBe16(out + 6), 0xbeef);
}

// Every field at its maximum, and the encoder writes the header and not one
// byte past it.
TEST(ResponseTest, EncodesFieldMaximaWithinTheHeader) {
  uint8_t out[kHeaderSize + 8];
  std::memset(out, 0x5a, sizeof out);
  encodeResponseHeader(out, {0xff, static_cast<Status>(0xffff), 0xff, 0xffff, 0xffffffff,
                             0xffffffff, ~uint64_t{0}, 0xff});
  EXPECT_EQ(out[0], 0x81);
  EXPECT_EQ(out[1], 0xff);
  EXPECT_EQ(loadBe16(out + 2), 0xffff);
  EXPECT_EQ(out[4], 0xff);
  EXPECT_EQ(out[5], 0xff);
  EXPECT_EQ(loadBe16(out + 6), 0xffff);
  EXPECT_EQ(loadBe32(out + 8), 0xffffffffu);
  EXPECT_EQ(loadBe32(out + 12), 0xffffffffu);
  EXPECT_EQ(loadBe64(out + 16), ~uint64_t{0});
  for (size_t i = kHeaderSize; i < sizeof out; ++i) EXPECT_EQ(out[i], 0x5a) << i;
}

TEST(ResponseTest, ErrorTextsMatchMemcached) {
  EXPECT_EQ(statusText(Status::KeyEnoent), "Not found");
  EXPECT_EQ(statusText(Status::KeyEexists), "Data exists for key.");
  EXPECT_EQ(statusText(Status::E2big), "Too large.");
  EXPECT_EQ(statusText(Status::Einval), "Invalid arguments");
  EXPECT_EQ(statusText(Status::UnknownCommand), "Unknown command");
  EXPECT_EQ(statusText(Status::Success), "");
}

}  // namespace
}  // namespace memkv::mcbp
