#pragma once
// Requests a DCP consumer sends (reference dcp.md), for the integration tests.
#include <cstdint>
#include <string>

#include "support/couchbase_client.h"
#include "support/mcbp.h"

namespace memkv::test::dcp {

namespace cb = couchbase;

inline constexpr uint8_t kDcpOpen = 0x50;
inline constexpr uint8_t kDcpControl = 0x5e;
inline constexpr uint8_t kGetFailoverLog = 0x54;
inline constexpr uint16_t kNotSupported = 0x83;

inline constexpr uint32_t kProducer = 0x1;
inline constexpr uint32_t kIncludeXattrs = 0x4;
inline constexpr uint32_t kIncludeDeleteTimes = 0x20;

inline Request dcpOpen(const std::string& name, uint32_t flags) {
  Request r = cb::makeRequest(kDcpOpen, name);
  r.extras.assign(8, '\0');
  for (int i = 0; i < 4; ++i) r.extras[4 + i] = static_cast<char>(flags >> (24 - 8 * i));
  return r;
}

inline Request dcpControl(const std::string& key, const std::string& value) {
  return cb::makeRequest(kDcpControl, key, value);
}

inline uint64_t dcpProducers(McbpClient& c) {
  return std::stoull(c.stats("dcp").at("dcp_producers"));
}

inline constexpr uint8_t kStreamReq = 0x53;
inline constexpr uint8_t kCloseStream = 0x52;
inline constexpr uint8_t kBufferAck = 0x5d;
inline constexpr uint8_t kStreamEnd = 0x55;
inline constexpr uint8_t kSnapshotMarker = 0x56;
inline constexpr uint8_t kMutation = 0x57;
inline constexpr uint8_t kDeletion = 0x58;
inline constexpr uint8_t kNoop = 0x5c;
inline constexpr uint16_t kRollback = 0x23;
inline constexpr uint16_t kKeyEexists = 0x02;
inline constexpr uint64_t kSeqnoMax = ~uint64_t{0};
inline constexpr uint32_t kToLatest = 0x4;

inline Request streamReq(uint16_t vbucket, uint32_t opaque, uint64_t start, uint64_t end,
                         uint64_t uuid, uint32_t flags = 0) {
  Request r = cb::makeRequest(kStreamReq);
  r.vbucket = vbucket;
  r.opaque = opaque;
  r.extras =
      be32(flags) + be32(0) + be64(start) + be64(end) + be64(uuid) + be64(start) + be64(start);
  return r;
}

inline Request bufferAck(uint32_t bytes) {
  Request r = cb::makeRequest(kBufferAck);
  r.extras = be32(bytes);
  return r;
}

}  // namespace memkv::test::dcp
