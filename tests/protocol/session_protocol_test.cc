// HELLO negotiation and LEB128.
#include <gtest/gtest.h>

#include <vector>

#include "protocol/hello.h"
#include "protocol/leb128.h"

namespace memkv::mcbp {
namespace {

std::vector<uint8_t> codes(std::initializer_list<uint16_t> list) {
  std::vector<uint8_t> out;
  for (uint16_t c : list) {
    out.push_back(static_cast<uint8_t>(c >> 8));
    out.push_back(static_cast<uint8_t>(c & 0xff));
  }
  return out;
}

TEST(HelloTest, GrantsOnlyImplementedFeaturesInRequestOrder) {
  // The Couchbase Node SDK's list (reference §1.3).
  const auto request = codes({0x03, 0x06, 0x07, 0x08, 0x0b, 0x0c, 0x10, 0x0f, 0x11, 0x15,
                              0x12, 0x17, 0x14, 0x1c, 0x21, 0x0e, 0x0d, 0x1e, 0x0a, 0x04});
  const HelloOutcome out = negotiate(request);
  const auto expected =
      codes({0x03, 0x07, 0x08, 0x0b, 0x0c, 0x10, 0x11, 0x12, 0x14, 0x0d, 0x1e, 0x04});
  EXPECT_EQ(std::vector<uint8_t>(out.reply.begin(), out.reply.end()), expected);
  EXPECT_TRUE(out.granted.has(Feature::Collections));
  EXPECT_TRUE(out.granted.has(Feature::Json));
  EXPECT_FALSE(out.granted.has(Feature::Snappy));
  EXPECT_FALSE(out.granted.has(Feature::UnorderedExecution));
  EXPECT_FALSE(out.granted.has(Feature::Tracing));
  EXPECT_TRUE(out.granted.has(Feature::Duplex));
  EXPECT_TRUE(out.granted.has(Feature::ClustermapChangeNotification));
  EXPECT_TRUE(out.granted.has(Feature::DedupeNotMyVbucketClustermap));
  EXPECT_EQ(out.error, nullptr);
}

TEST(HelloTest, ConfigPushWithoutDuplexRefusesTheHello) {
  // kv_engine's rule: a server request would reach a client that does not expect one.
  const HelloOutcome out = negotiate(codes({0x07, 0x0d, 0x1e}));
  ASSERT_NE(out.error, nullptr);
  EXPECT_TRUE(out.reply.empty());
  EXPECT_EQ(out.granted.bits(), 0u);
  // The brief variant needs Duplex too.
  EXPECT_NE(negotiate(codes({0x07, 0x1f})).error, nullptr);
  const HelloOutcome brief = negotiate(codes({0x0c, 0x1f, 0x1d}));
  EXPECT_EQ(brief.error, nullptr);
  EXPECT_EQ(brief.reply, std::string("\x00\x0c\x00\x1f\x00\x1d", 6));
}

TEST(HelloTest, AskedForBothPushesTheBriefOneIsKept) {
  // kv_engine's rule: one push per map change, the brief one.
  const HelloOutcome out = negotiate(codes({0x0d, 0x0c, 0x1f, 0x07}));
  EXPECT_EQ(out.error, nullptr);
  EXPECT_EQ(out.reply, std::string("\x00\x0c\x00\x1f\x00\x07", 6));
  EXPECT_FALSE(out.granted.has(Feature::ClustermapChangeNotification));
  EXPECT_TRUE(out.granted.has(Feature::ClustermapChangeNotificationBrief));
  EXPECT_TRUE(out.granted.has(Feature::Duplex));
  EXPECT_TRUE(out.granted.has(Feature::Xerror));
}

TEST(HelloTest, UnknownAndDuplicateCodesAreIgnored) {
  const HelloOutcome out = negotiate(codes({0xffff, 0x07, 0x07, 0x2f, 0x8007}));
  EXPECT_EQ(out.reply, std::string("\x00\x07", 2));
  EXPECT_TRUE(out.granted.has(Feature::Xerror));
  EXPECT_EQ(out.granted.bits(), FeatureSet().bits() | (1u << 7));
}

TEST(Leb128Test, RoundTripsAndRejectsMalformed) {
  for (uint64_t v : {0ull, 1ull, 127ull, 128ull, 300ull, 16383ull, 16384ull, 0xffffffffull}) {
    std::string enc;
    appendLeb128(enc, v);
    enc += "key";
    auto dec = decodeLeb128({reinterpret_cast<const uint8_t*>(enc.data()), enc.size()});
    ASSERT_TRUE(dec) << v;
    EXPECT_EQ(dec->value, v);
    EXPECT_EQ(enc.substr(dec->length), "key");
  }
  const uint8_t truncated[] = {0x80, 0x80};
  EXPECT_FALSE(decodeLeb128(truncated));
  const uint8_t too_long[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
  EXPECT_FALSE(decodeLeb128(too_long));
  const uint8_t too_big[] = {0xff, 0xff, 0xff, 0xff, 0x1f};  // 2^35 - 1
  EXPECT_FALSE(decodeLeb128(too_big));
  EXPECT_FALSE(decodeLeb128({}));
}

}  // namespace
}  // namespace memkv::mcbp
