#include "protocol/request.h"

#include <gtest/gtest.h>

#include <vector>

#include "common/byte_order.h"

namespace memkv::mcbp {
namespace {

std::vector<uint8_t> frame(uint8_t magic, uint8_t opcode, std::string_view key,
                           std::vector<uint8_t> extras, std::string_view value,
                           uint32_t opaque = 0x01020304, uint64_t cas = 0x1122334455667788) {
  std::vector<uint8_t> f;
  f.reserve(kHeaderSize + extras.size() + key.size() + value.size());
  f.resize(kHeaderSize);
  f[0] = magic;
  f[1] = opcode;
  storeBe16(&f[2], static_cast<uint16_t>(key.size()));
  f[4] = static_cast<uint8_t>(extras.size());
  f[5] = 0x01;
  storeBe16(&f[6], 0x0203);
  storeBe32(&f[8], static_cast<uint32_t>(extras.size() + key.size() + value.size()));
  storeBe32(&f[12], opaque);
  storeBe64(&f[16], cas);
  f.insert(f.end(), extras.begin(), extras.end());
  f.insert(f.end(), key.begin(), key.end());
  f.insert(f.end(), value.begin(), value.end());
  return f;
}

TEST(RequestTest, ParsesEveryHeaderFieldAndSplitsTheBody) {
  auto f = frame(0x80, 0x01, "key", {0, 0, 0, 7, 0, 0, 0, 9}, "value");
  RequestHeader h;
  ASSERT_EQ(parseHeader(f, &h), HeaderStatus::kOk);
  EXPECT_EQ(h.opcode, 0x01);
  EXPECT_EQ(h.key_length, 3);
  EXPECT_EQ(h.extras_length, 8);
  EXPECT_EQ(h.datatype, 0x01);
  EXPECT_EQ(h.vbucket, 0x0203);
  EXPECT_EQ(h.body_length, 16u);
  EXPECT_EQ(h.opaque, 0x01020304u);
  EXPECT_EQ(h.cas, 0x1122334455667788u);
  EXPECT_EQ(h.frameSize(), f.size());
  Request r = splitFrame(h, f);
  EXPECT_EQ(r.key, "key");
  ASSERT_EQ(r.extras.size(), 8u);
  EXPECT_EQ(loadBe32(r.extras.data()), 7u);
  EXPECT_EQ(std::string(r.value.begin(), r.value.end()), "value");
}

TEST(RequestTest, BadMagicIsReported) {
  for (uint8_t magic : {0x00, 0x18, 0x82, 0xff}) {
    auto f = frame(magic, 0x00, "k", {}, "");
    RequestHeader h;
    EXPECT_EQ(parseHeader(f, &h), HeaderStatus::kBadMagic) << int{magic};
  }
}

TEST(RequestTest, AServerResponseIsFramedForTheSessionToJudge) {
  auto f = frame(0x83, 0x01, "", {}, "xy");
  RequestHeader h;
  ASSERT_EQ(parseHeader(f, &h), HeaderStatus::kOk);
  EXPECT_EQ(h.magic, Magic::ServerResponse);
  EXPECT_EQ(h.opcode, 0x01);
  EXPECT_EQ(h.frameSize(), f.size());
}

TEST(RequestTest, ADcpConsumersAnswerIsFramedForTheSessionToJudge) {
  auto f = frame(0x81, 0x5c, "", {}, "");
  RequestHeader h;
  ASSERT_EQ(parseHeader(f, &h), HeaderStatus::kOk);
  EXPECT_EQ(h.magic, Magic::ClientResponse);
  EXPECT_EQ(h.opcode, 0x5c);
  EXPECT_EQ(h.frameSize(), f.size());
}

TEST(RequestTest, KeyPlusExtrasBeyondBodyIsReported) {
  auto f = frame(0x80, 0x00, "key", {}, "");
  storeBe32(&f[8], 2);  // body shorter than the key
  RequestHeader h;
  EXPECT_EQ(parseHeader(f, &h), HeaderStatus::kBadLengths);
  f = frame(0x80, 0x01, "k", {1, 2, 3, 4, 5, 6, 7, 8}, "");
  storeBe32(&f[8], 8);  // extras fit, key does not
  EXPECT_EQ(parseHeader(f, &h), HeaderStatus::kBadLengths);
}

TEST(RequestTest, MaximumLengthsDoNotOverflow) {
  auto f = frame(0x80, 0x01, "", {}, "");
  storeBe16(&f[2], 0xffff);
  f[4] = 0xff;
  storeBe32(&f[8], 0xffffffff);
  RequestHeader h;
  ASSERT_EQ(parseHeader(f, &h), HeaderStatus::kOk);
  EXPECT_EQ(h.frameSize(), kHeaderSize + 0xffffffffull);
}

}  // namespace
}  // namespace memkv::mcbp
