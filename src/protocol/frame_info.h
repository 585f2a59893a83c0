#pragma once
// Frame infos: the "framing extras" of the alternative request format
// (magic 0x08). Each starts with one byte, id in the high nibble and length
// in the low one; a nibble of 15 escapes to 15 + the next byte (the id's
// escape byte comes first).
//
//   [id:4|len:4] [id escape]? [len escape]? [len bytes of data] ...
#include <cstdint>
#include <optional>
#include <span>

namespace memkv::mcbp {

// Request frame info ids (kv_engine include/mcbp/protocol/request.h).
enum class FrameInfoId : uint16_t {
  Barrier = 0,
  DurabilityRequirement = 1,
  DcpStreamId = 2,
  OpenTracingContext = 3,  // retired
  Impersonate = 4,
  PreserveTtl = 5,
  ImpersonateExtraPrivilege = 6,
  ImpersonateWithTokenAuthDataId = 7,
};

// Bit per id, for the per-opcode allowed set.
constexpr uint16_t frameInfoBit(FrameInfoId id) {
  return uint16_t{1} << static_cast<uint16_t>(id);
}

// Durability levels (kv_engine include/memcached/durability_spec.h).
enum class DurabilityLevel : uint8_t {
  Majority = 1,
  MajorityAndPersistOnMaster = 2,
  PersistToMajority = 3,
};

struct DurabilityRequirement {
  DurabilityLevel level;
  std::optional<uint16_t> timeout_ms;
};

// Whether memkv can meet a durability level. It keeps nothing on disk, like a
// Couchbase ephemeral bucket: Majority holds (one node is the majority of
// one, and a write is in memory when it is acknowledged); the levels that
// promise persistence would be a lie, so they are refused with
// DURABILITY_INVALID_LEVEL as Couchbase refuses them on ephemeral buckets.
constexpr bool durabilityLevelSupported(DurabilityLevel level) {
  return level == DurabilityLevel::Majority;
}

// The frame infos of one request, decoded.
struct FrameInfos {
  bool barrier = false;
  bool preserve_ttl = false;
  std::optional<DurabilityRequirement> durability;
  uint16_t present = 0;  // frameInfoBit() of every id seen
};

enum class FrameInfoStatus : uint8_t {
  kOk,
  kInvalid,  // overrun, bad length or bad value: EINVAL
  kUnknown,  // an id memkv does not know: UNKNOWN_FRAME_INFO
};

// Decodes every frame info in `bytes`.
FrameInfoStatus parseFrameInfos(std::span<const uint8_t> bytes, FrameInfos* out);

}  // namespace memkv::mcbp
