// DCP's wire layer: the worked byte sizes of shared/reference/dcp.md §1.13
// (derived from kv_engine's struct sizes, not from memkv), kv_engine's
// DCP_OPEN / DCP_CONTROL / STREAM_REQ rules, and its rollback decision.
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "protocol/dcp.h"

namespace memkv::mcbp::dcp {
namespace {

// Decodes big-endian fields back, independently of common/byte_order.h.
uint64_t be(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

std::array<uint8_t, 8> openExtras(uint32_t flags) {
  return {0,
          0,
          0,
          0,
          static_cast<uint8_t>(flags >> 24),
          static_cast<uint8_t>(flags >> 16),
          static_cast<uint8_t>(flags >> 8),
          static_cast<uint8_t>(flags)};
}

std::vector<uint8_t> streamExtras(uint32_t flags, uint64_t start, uint64_t end, uint64_t uuid,
                                  uint64_t snap_start, uint64_t snap_end) {
  std::vector<uint8_t> out(48, 0);
  const auto put = [&](size_t at, uint64_t v, size_t n) {
    for (size_t i = 0; i < n; ++i) out[at + i] = static_cast<uint8_t>(v >> (8 * (n - 1 - i)));
  };
  put(0, flags, 4);
  put(8, start, 8);
  put(16, end, 8);
  put(24, uuid, 8);
  put(32, snap_start, 8);
  put(40, snap_end, 8);
  return out;
}

TEST(DcpEncodeTest, MutationOfHelloWorldIs65BytesOnALegacyStream) {
  std::array<uint8_t, kMaxHeadSize> buf{};
  ItemFields item;
  item.opaque = 0xdeadbeef;
  item.vbucket = 7;
  item.cas = 0x0102030405060708;
  item.datatype = 0;
  item.by_seqno = 5;
  item.rev_seqno = 1;
  item.key = "hello";
  const size_t head = encodeMutation(buf.data(), item, 0xcafe, 3600, 5);
  EXPECT_EQ(head, 24u + 31 + 5);
  EXPECT_EQ(head + 5, 65u) << "the flow-control bytes of dcp.md §1.13";
  EXPECT_EQ(buf[0], 0x80);
  EXPECT_EQ(buf[1], 0x57);
  EXPECT_EQ(be(&buf[2], 2), 5u);
  EXPECT_EQ(buf[4], 31);
  EXPECT_EQ(be(&buf[6], 2), 7u);
  EXPECT_EQ(be(&buf[8], 4), 41u) << "31 + 5 + 5";
  EXPECT_EQ(be(&buf[12], 4), 0xdeadbeefu);
  EXPECT_EQ(be(&buf[16], 8), 0x0102030405060708u);
  EXPECT_EQ(be(&buf[24], 8), 5u) << "by_seqno";
  EXPECT_EQ(be(&buf[32], 8), 1u) << "rev_seqno";
  EXPECT_EQ(be(&buf[40], 4), 0xcafeu) << "flags";
  EXPECT_EQ(be(&buf[44], 4), 3600u) << "expiration";
  EXPECT_EQ(be(&buf[48], 4), 0u) << "lock time";
  EXPECT_EQ(be(&buf[52], 2), 0u) << "nmeta must be 0";
  EXPECT_EQ(buf[54], 0) << "nru";
  EXPECT_EQ(std::string(buf.begin() + 55, buf.begin() + 60), "hello");
  EXPECT_EQ(kMutationBaseBytes, 55u);
}

TEST(DcpEncodeTest, ACollectionsStreamPrefixesTheDefaultCollection) {
  std::array<uint8_t, kMaxHeadSize> buf{};
  ItemFields item;
  item.key = "hello";
  item.collections = true;
  const size_t head = encodeMutation(buf.data(), item, 0, 0, 5);
  EXPECT_EQ(head + 5, 66u);
  EXPECT_EQ(be(&buf[2], 2), 6u);
  EXPECT_EQ(be(&buf[8], 4), 42u);
  EXPECT_EQ(std::string(buf.begin() + 55, buf.begin() + 61), std::string("\0hello", 6));
}

TEST(DcpEncodeTest, MarkerStreamEndAndNoopHaveKvEnginesSizes) {
  std::array<uint8_t, kMaxHeadSize> buf{};
  EXPECT_EQ(encodeSnapshotMarker(buf.data(), 9, 3, 5, 9, kMarkerMemory), 44u);
  EXPECT_EQ(buf[1], 0x56);
  EXPECT_EQ(buf[4], 20);
  EXPECT_EQ(be(&buf[8], 4), 20u);
  EXPECT_EQ(be(&buf[6], 2), 3u);
  EXPECT_EQ(be(&buf[24], 8), 5u);
  EXPECT_EQ(be(&buf[32], 8), 9u);
  EXPECT_EQ(be(&buf[40], 4), 1u);

  EXPECT_EQ(encodeStreamEnd(buf.data(), 9, 3, EndStatus::kClosed), 28u);
  EXPECT_EQ(buf[1], 0x55);
  EXPECT_EQ(buf[4], 4);
  EXPECT_EQ(be(&buf[8], 4), 4u);
  EXPECT_EQ(be(&buf[24], 4), 1u);

  EXPECT_EQ(encodeNoop(buf.data(), 10000000), 24u);
  EXPECT_EQ(buf[0], 0x80);
  EXPECT_EQ(buf[1], 0x5c);
  EXPECT_EQ(be(&buf[8], 4), 0u);
  EXPECT_EQ(be(&buf[12], 4), 10000000u);
}

TEST(DcpEncodeTest, DeletionV1V2AndExpiration) {
  std::array<uint8_t, kMaxHeadSize> buf{};
  ItemFields item;
  item.key = "gone";
  item.by_seqno = 12;
  item.cas = 99;
  EXPECT_EQ(encodeDeletion(buf.data(), item, false, 0), 42u + 4);
  EXPECT_EQ(buf[1], 0x58);
  EXPECT_EQ(buf[4], 18);
  EXPECT_EQ(be(&buf[8], 4), 18u + 4);
  EXPECT_EQ(be(&buf[24], 8), 12u);
  EXPECT_EQ(std::string(buf.begin() + 42, buf.begin() + 46), "gone");

  EXPECT_EQ(encodeDeletion(buf.data(), item, true, 1700000000), 45u + 4);
  EXPECT_EQ(buf[4], 21);
  EXPECT_EQ(be(&buf[40], 4), 1700000000u) << "delete time";
  EXPECT_EQ(buf[44], 0);
  EXPECT_EQ(std::string(buf.begin() + 45, buf.begin() + 49), "gone");

  EXPECT_EQ(encodeExpiration(buf.data(), item, 1700000001), 44u + 4);
  EXPECT_EQ(buf[1], 0x59);
  EXPECT_EQ(buf[4], 20);
  EXPECT_EQ(be(&buf[40], 4), 1700000001u);
}

TEST(DcpEncodeTest, FailoverLogIsNewestFirstSixteenBytesEach) {
  const std::vector<FailoverEntry> log = {{0xaaaa, 100}, {0xbbbb, 0}};
  std::array<uint8_t, 32> buf{};
  encodeFailoverLog(log, buf.data());
  EXPECT_EQ(be(&buf[0], 8), 0xaaaau);
  EXPECT_EQ(be(&buf[8], 8), 100u);
  EXPECT_EQ(be(&buf[16], 8), 0xbbbbu);
  EXPECT_EQ(be(&buf[24], 8), 0u);
}

TEST(DcpOpenTest, AProducerOpensAndTheFlagsFollowKvEnginesRules) {
  OpenRequest open;
  auto extras = openExtras(kOpenProducer | kOpenIncludeDeleteTimes);
  ASSERT_EQ(parseOpen(extras, "backup:1", 0, &open), Status::Success);
  EXPECT_EQ(open.name, "backup:1");
  EXPECT_EQ(open.flags, kOpenProducer | kOpenIncludeDeleteTimes);

  const auto status = [&](uint32_t flags, std::string_view name = "n", size_t value = 0) {
    const auto e = openExtras(flags);
    return parseOpen(e, name, value, &open);
  };
  EXPECT_EQ(status(kOpenProducer, ""), Status::Einval) << "a name is required";
  EXPECT_EQ(status(kOpenProducer, std::string(201, 'n')), Status::Einval);
  EXPECT_EQ(status(kOpenProducer, std::string(200, 'n')), Status::Success);
  EXPECT_EQ(status(kOpenProducer | kOpenInvalid), Status::Einval);
  EXPECT_EQ(status(kOpenProducer | kOpenUnused), Status::Einval);
  EXPECT_EQ(status(kOpenProducer | kOpenPiTR), Status::Einval);
  EXPECT_EQ(status(kOpenProducer | 0x400), Status::Einval) << "unknown bit";
  EXPECT_EQ(status(kOpenSkipDeletesInInitialBackfill), Status::Einval) << "needs Producer";
  EXPECT_EQ(status(kOpenProducer | kOpenNoValue | kOpenNoValueWithUnderlyingDatatype),
            Status::Einval);
  EXPECT_EQ(status(kOpenProducer | kOpenIncludeDeletedUserXattrs), Status::Einval);
  EXPECT_EQ(status(kOpenProducer, "n", 5), Status::Einval) << "a value is for consumers";
  EXPECT_EQ(status(0), Status::NotSupported) << "memkv is no consumer";
  EXPECT_EQ(status(kOpenProducer | kOpenIncludeXattrs), Status::NotSupported)
      << "memkv stores no xattrs";
  EXPECT_EQ(status(kOpenProducer | kOpenNoValue), Status::Success);
  const std::array<uint8_t, 4> short_extras{};
  EXPECT_EQ(parseOpen(short_extras, "n", 0, &open), Status::Einval);
}

TEST(DcpControlTest, KeysAndValuesAsKvEngineTakesThem) {
  ControlState s;
  EXPECT_EQ(applyControl("connection_buffer_size", "13421772", 0, &s), Status::Success);
  EXPECT_EQ(s.buffer_size, 13421772u);
  EXPECT_EQ(applyControl("connection_buffer_size", "0", 0, &s), Status::Success);
  EXPECT_EQ(s.buffer_size, 0u) << "0 turns flow control off";
  EXPECT_EQ(applyControl("connection_buffer_size", "12k", 0, &s), Status::Einval);
  EXPECT_EQ(applyControl("connection_buffer_size", "-1", 0, &s), Status::Einval);
  EXPECT_EQ(applyControl("connection_buffer_size", "4294967296", 0, &s), Status::Einval);

  EXPECT_EQ(applyControl("enable_noop", "true", 0, &s), Status::Success);
  EXPECT_TRUE(s.noop_enabled);
  EXPECT_EQ(applyControl("enable_noop", "yes", 0, &s), Status::Success);
  EXPECT_FALSE(s.noop_enabled) << "anything but true disables";
  EXPECT_EQ(applyControl("set_noop_interval", "2.5", 0, &s), Status::Success);
  EXPECT_EQ(s.noop_interval_ms, 2500u);
  EXPECT_EQ(applyControl("set_noop_interval", "0.05", 0, &s), Status::Einval);
  EXPECT_EQ(applyControl("set_noop_interval", "0.0996", 0, &s), Status::Einval)
      << "below 0.1 s before rounding";
  EXPECT_EQ(applyControl("set_noop_interval", "86400", 0, &s), Status::Success)
      << "kv_engine sets no maximum";
  EXPECT_EQ(s.noop_interval_ms, 86400000u);
  EXPECT_EQ(applyControl("enable_out_of_order_snapshots", "true", 0, &s), Status::Success);
  EXPECT_EQ(applyControl("enable_out_of_order_snapshots", "maybe", 0, &s), Status::Einval);
  EXPECT_EQ(applyControl("set_noop_interval", "soon", 0, &s), Status::Einval);

  EXPECT_EQ(applyControl("enable_expiry_opcode", "true", 0, &s), Status::Success);
  EXPECT_FALSE(s.expiry_opcode) << "silently off without IncludeDeleteTimes";
  EXPECT_EQ(applyControl("enable_expiry_opcode", "true", kOpenIncludeDeleteTimes, &s),
            Status::Success);
  EXPECT_TRUE(s.expiry_opcode);

  EXPECT_EQ(applyControl("send_stream_end_on_client_close_stream", "true", 0, &s), Status::Success);
  EXPECT_EQ(applyControl("send_stream_end_on_client_close_stream", "false", 0, &s),
            Status::Success);
  EXPECT_TRUE(s.stream_end_on_close) << "it cannot be turned off";

  EXPECT_EQ(applyControl("set_priority", "high", 0, &s), Status::Success);
  EXPECT_EQ(s.priority, Priority::kHigh);
  EXPECT_EQ(applyControl("set_priority", "urgent", 0, &s), Status::Einval);
  EXPECT_EQ(applyControl("supports_cursor_dropping_vulcan", "true", 0, &s), Status::Success);
  EXPECT_EQ(applyControl("supports_hifi_MFU", "true", 0, &s), Status::Success);
  EXPECT_EQ(applyControl("backfill_order", "sequential", 0, &s), Status::Success);
  EXPECT_EQ(applyControl("backfill_order", "random", 0, &s), Status::Einval);
  EXPECT_EQ(applyControl("stream_buffer_size", "1024", 0, &s), Status::NotSupported);
  EXPECT_EQ(applyControl("force_value_compression", "true", 0, &s), Status::Einval);
  EXPECT_EQ(applyControl("no_such_key", "true", 0, &s), Status::Einval);
}

TEST(DcpStreamRequestTest, DecodesAndRefusesWhatKvEngineRefuses) {
  StreamRequest r;
  ASSERT_EQ(parseStreamRequest(streamExtras(kStreamStrictVbUuid, 5, kSeqnoMax, 0xabc, 5, 5), &r),
            Status::Success);
  EXPECT_EQ(r.flags, kStreamStrictVbUuid);
  EXPECT_EQ(r.start, 5u);
  EXPECT_EQ(r.end, kSeqnoMax);
  EXPECT_EQ(r.vb_uuid, 0xabcu);
  EXPECT_EQ(r.snap_start, 5u);
  EXPECT_EQ(r.snap_end, 5u);
  EXPECT_EQ(parseStreamRequest(streamExtras(kStreamNoValueObsolete, 0, 1, 0, 0, 0), &r),
            Status::Einval);
  EXPECT_EQ(parseStreamRequest(streamExtras(0x200, 0, 1, 0, 0, 0), &r), Status::Einval);
  EXPECT_EQ(parseStreamRequest(streamExtras(kStreamTakeOver, 0, 1, 0, 0, 0), &r),
            Status::NotSupported);
  EXPECT_EQ(parseStreamRequest(std::vector<uint8_t>(40, 0), &r), Status::Einval);

  EXPECT_EQ(checkStreamRange({0, 0, 10, 0, 0, 0}), Status::Success);
  EXPECT_EQ(checkStreamRange({0, 11, 10, 0, 11, 11}), Status::Erange) << "start > end";
  EXPECT_EQ(checkStreamRange({0, 5, 10, 0, 6, 8}), Status::Erange) << "snap_start > start";
  EXPECT_EQ(checkStreamRange({0, 5, 10, 0, 1, 4}), Status::Erange) << "start > snap_end";
}

// Two branches: A from 0, B from seqno 100 (a restart), high seqno 150.
class DcpRollbackTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kA = 0xaaaa;
  static constexpr uint64_t kB = 0xbbbb;
  const std::vector<FailoverEntry> log_ = {{kB, 100}, {kA, 0}};
  std::optional<uint64_t> ask(uint64_t uuid, uint64_t start, uint64_t snap_start, uint64_t snap_end,
                              uint32_t flags = 0, uint64_t purge = 0) {
    return rollbackSeqno({flags, start, kSeqnoMax, uuid, snap_start, snap_end}, log_, 150, purge);
  }
};

TEST_F(DcpRollbackTest, FromZeroNeverRollsBackUnlessStrict) {
  EXPECT_EQ(ask(0x1234, 0, 0, 0), std::nullopt);
  EXPECT_EQ(ask(0, 0, 0, 0, kStreamStrictVbUuid), std::nullopt);
  EXPECT_EQ(ask(0x1234, 0, 0, 0, kStreamStrictVbUuid), 0u) << "a foreign branch, strictly";
}

TEST_F(DcpRollbackTest, AForeignUuidRollsBackToZero) {
  EXPECT_EQ(ask(0x1234, 10, 10, 10), 0u);
}

TEST_F(DcpRollbackTest, AClientWithinItsBranchResumes) {
  EXPECT_EQ(ask(kA, 50, 50, 50), std::nullopt);
  EXPECT_EQ(ask(kA, 100, 90, 100), std::nullopt) << "snapshot ends where B began";
  EXPECT_EQ(ask(kB, 150, 150, 150), std::nullopt) << "at the high seqno";
}

TEST_F(DcpRollbackTest, AClientAheadOfItsBranchRollsBackToWhereItIsWhole) {
  EXPECT_EQ(ask(kA, 120, 120, 120), 100u) << "beyond where A ended: to A's end";
  EXPECT_EQ(ask(kA, 80, 70, 120), 70u) << "an unfinished snapshot: to its start";
  EXPECT_EQ(ask(kB, 160, 160, 160), 150u) << "ahead of the high seqno";
  EXPECT_EQ(ask(kB, 140, 130, 170), 130u);
}

TEST_F(DcpRollbackTest, ForgottenDeletionsRollBackToZeroUnlessIgnored) {
  EXPECT_EQ(ask(kB, 120, 120, 120, 0, 125), 0u);
  EXPECT_EQ(ask(kB, 120, 120, 120, kStreamIgnorePurgedTombstones, 125), std::nullopt);
  EXPECT_EQ(ask(kB, 130, 130, 130, 0, 125), std::nullopt) << "nothing forgotten after 130";
}

}  // namespace
}  // namespace memkv::mcbp::dcp
