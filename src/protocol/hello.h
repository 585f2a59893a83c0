#pragma once
// HELLO (0x1f) feature codes (kv_engine include/mcbp/protocol/feature.h) and
// the set memkv grants. A feature is granted only when it is implemented:
// a client that was granted e.g. Snappy or Tracing would send or expect
// bytes memkv does not produce.
#include <cstdint>
#include <span>
#include <string>

namespace memkv::mcbp {

enum class Feature : uint16_t {
  Datatype = 0x01,  // legacy
  TLS = 0x02,
  TcpNodelay = 0x03,
  MutationSeqno = 0x04,
  TcpDelay = 0x05,
  Xattr = 0x06,
  Xerror = 0x07,
  SelectBucket = 0x08,
  Snappy = 0x0a,
  Json = 0x0b,
  Duplex = 0x0c,
  ClustermapChangeNotification = 0x0d,
  UnorderedExecution = 0x0e,
  Tracing = 0x0f,
  AltRequestSupport = 0x10,
  SyncReplication = 0x11,
  Collections = 0x12,
  PreserveTtl = 0x14,
  VAttr = 0x15,
  GetClusterConfigWithKnownVersion = 0x1d,
  DedupeNotMyVbucketClustermap = 0x1e,
  ClustermapChangeNotificationBrief = 0x1f,
};

// The granted features of one connection, one bit each.
class FeatureSet final {
 public:
  bool has(Feature f) const { return (bits_ & bit(f)) != 0; }
  void add(Feature f) { bits_ |= bit(f); }
  void clear() { bits_ = 0; }
  uint32_t bits() const { return bits_; }

 private:
  static uint32_t bit(Feature f) { return uint32_t{1} << (static_cast<uint16_t>(f) & 31); }
  uint32_t bits_ = 0;
};

// Whether memkv implements (and so grants) a feature.
bool featureSupported(Feature f);

struct HelloOutcome {
  FeatureSet granted;
  std::string reply;  // the granted codes, u16 big-endian each, in request order
  // Set when the HELLO is refused as a whole (EINVAL, nothing granted):
  // kv_engine refuses ClustermapChangeNotification without Duplex, since a
  // server request on a connection that does not expect one loses framing.
  const char* error = nullptr;
};

// Negotiates from a HELLO value (a list of u16 codes; the caller checked the
// length is even). Unknown codes are ignored; duplicates granted once.
HelloOutcome negotiate(std::span<const uint8_t> requested);

}  // namespace memkv::mcbp
