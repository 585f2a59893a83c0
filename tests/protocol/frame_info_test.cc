#include "protocol/frame_info.h"

#include <gtest/gtest.h>

#include <vector>

#include "protocol/request.h"
#include "protocol/validate.h"

namespace memkv::mcbp {
namespace {

FrameInfoStatus parse(std::vector<uint8_t> bytes, FrameInfos* out) {
  return parseFrameInfos(bytes, out);
}

TEST(FrameInfoTest, DecodesKnownInfos) {
  FrameInfos f;
  // Barrier (id 0, len 0); PreserveTtl (id 5, len 0); Durability (id 1, len 3).
  ASSERT_EQ(parse({0x00, 0x50, 0x13, 0x02, 0x01, 0x00}, &f), FrameInfoStatus::kOk);
  EXPECT_TRUE(f.barrier);
  EXPECT_TRUE(f.preserve_ttl);
  ASSERT_TRUE(f.durability);
  EXPECT_EQ(f.durability->level, DurabilityLevel::MajorityAndPersistOnMaster);
  EXPECT_EQ(f.durability->timeout_ms, 256);
}

TEST(FrameInfoTest, EmptyIsFine) {
  FrameInfos f;
  EXPECT_EQ(parse({}, &f), FrameInfoStatus::kOk);
  EXPECT_EQ(f.present, 0);
}

TEST(FrameInfoTest, EscapedIdsAndLengths) {
  FrameInfos f;
  // id 15 + 3 = 18 (unknown to memkv): UNKNOWN_FRAME_INFO, after parsing it safely.
  EXPECT_EQ(parse({0xf0, 0x03}, &f), FrameInfoStatus::kUnknown);
  // Escaped length: id 4 (Impersonate), len 15 + 1 = 16 bytes.
  std::vector<uint8_t> bytes{0x4f, 0x01};
  bytes.resize(bytes.size() + 16, 'u');
  FrameInfos g;
  EXPECT_EQ(parse(bytes, &g), FrameInfoStatus::kOk);
  EXPECT_TRUE(g.present & frameInfoBit(FrameInfoId::Impersonate));
}

TEST(FrameInfoTest, OverrunsAreInvalidNotReadPastTheEnd) {
  FrameInfos f;
  EXPECT_EQ(parse({0x13, 0x02}, &f), FrameInfoStatus::kInvalid);  // len 3, 1 byte left
  FrameInfos g;
  EXPECT_EQ(parse({0xf0}, &g), FrameInfoStatus::kInvalid);  // id escape byte missing
  FrameInfos h;
  EXPECT_EQ(parse({0x4f}, &h), FrameInfoStatus::kInvalid);  // length escape byte missing
  FrameInfos i;
  EXPECT_EQ(parse({0x4f, 0xff, 'x'}, &i), FrameInfoStatus::kInvalid);  // 270 bytes claimed
}

TEST(FrameInfoTest, BadValuesAreInvalid) {
  for (const std::vector<uint8_t>& bytes : std::vector<std::vector<uint8_t>>{
           {0x11, 0x00},              // durability level 0
           {0x11, 0x04},              // durability level 4
           {0x13, 0x01, 0x00, 0x00},  // timeout 0
           {0x13, 0x01, 0xff, 0xff},  // timeout 0xffff
           {0x12, 0x01, 0x00},        // durability of 2 bytes
           {0x01, 0x00},              // barrier with data
           {0x51, 0x00},              // preserve-ttl with data
           {0x00, 0x00},              // barrier twice
       }) {
    FrameInfos f;
    EXPECT_EQ(parse(bytes, &f), FrameInfoStatus::kInvalid) << int{bytes[0]};
  }
  FrameInfos f;
  EXPECT_EQ(parse({0x30}, &f), FrameInfoStatus::kUnknown);  // retired OpenTracing id
}

TEST(FrameInfoTest, AlternativeHeaderParsesAndSplits) {
  // magic 0x08, SET, framing 2, key 1, extras 8, body = 2 + 8 + 1 + 3.
  std::vector<uint8_t> f{0x08, 0x01, 0x02, 0x01, 0x08, 0x00, 0x00, 0x00, 0, 0, 0, 14,
                         0,    0,    0,    7,    0,    0,    0,    0,    0, 0, 0, 0};
  for (uint8_t b : {0x00, 0x50}) f.push_back(b);  // barrier, preserve-ttl
  for (int i = 0; i < 8; ++i) f.push_back(0);
  f.push_back('k');
  for (char c : std::string("val")) f.push_back(static_cast<uint8_t>(c));
  RequestHeader h;
  ASSERT_EQ(parseHeader(f, &h), HeaderStatus::kOk);
  EXPECT_EQ(h.magic, Magic::AltClientRequest);
  EXPECT_EQ(h.framing_extras_length, 2);
  EXPECT_EQ(h.key_length, 1);
  EXPECT_EQ(validateHeader(h), Verdict::kOk);
  Request r = splitFrame(h, f);
  EXPECT_EQ(r.framing_extras.size(), 2u);
  EXPECT_EQ(r.key, "k");
  EXPECT_EQ(std::string(r.value.begin(), r.value.end()), "val");
  FrameInfos infos;
  EXPECT_EQ(validateFrameInfos(r, &infos), Status::Success);
  EXPECT_TRUE(infos.preserve_ttl);
}

TEST(FrameInfoTest, InfosNotAllowedForTheOpcodeAreEinval) {
  std::vector<uint8_t> f{0x08, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0, 0, 0, 2,
                         0,    0,    0,    0,    0,    0,    0,    0,    0, 0, 0, 0};
  f.push_back(0x50);  // preserve-ttl on a GET
  f.push_back('k');
  RequestHeader h;
  ASSERT_EQ(parseHeader(f, &h), HeaderStatus::kOk);
  Request r = splitFrame(h, f);
  FrameInfos infos;
  EXPECT_EQ(validateFrameInfos(r, &infos), Status::Einval);
}

// A DELETE (no extras, no value) with one durability frame info of `level`.
Status validateDeleteWithDurability(uint8_t level) {
  std::vector<uint8_t> f{0x08, 0x04, 0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0, 0, 0, 3,
                         0,    0,    0,    0,    0,    0,    0,    0,    0, 0, 0, 0};
  f.push_back(0x11);  // durability, 1 byte
  f.push_back(level);
  f.push_back('k');
  RequestHeader h;
  EXPECT_EQ(parseHeader(f, &h), HeaderStatus::kOk);
  Request r = splitFrame(h, f);
  FrameInfos infos;
  return validateFrameInfos(r, &infos);
}

TEST(FrameInfoTest, OnlyMajorityDurabilityIsMetAndPersistenceLevelsAreInvalidLevel) {
  EXPECT_EQ(validateDeleteWithDurability(1), Status::Success);  // majority
  EXPECT_EQ(validateDeleteWithDurability(2), Status::DurabilityInvalidLevel);
  EXPECT_EQ(validateDeleteWithDurability(3), Status::DurabilityInvalidLevel);
  EXPECT_EQ(validateDeleteWithDurability(0), Status::Einval);  // not a level
  EXPECT_EQ(validateDeleteWithDurability(4), Status::Einval);
}

TEST(FrameInfoTest, FramingPlusKeyBeyondBodyIsBadLengths) {
  std::vector<uint8_t> f{0x08, 0x00, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00, 0, 0, 0, 5,
                         0,    0,    0,    0,    0,    0,    0,    0,    0, 0, 0, 0};
  RequestHeader h;
  EXPECT_EQ(parseHeader(f, &h), HeaderStatus::kBadLengths);
}

}  // namespace
}  // namespace memkv::mcbp
