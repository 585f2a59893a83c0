#include "protocol/frame_info.h"

#include "common/byte_order.h"

namespace memkv::mcbp {

namespace {
constexpr uint8_t kEscape = 15;
constexpr uint16_t kLastKnownId =
    static_cast<uint16_t>(FrameInfoId::ImpersonateWithTokenAuthDataId);
}  // namespace

FrameInfoStatus parseFrameInfos(std::span<const uint8_t> bytes, FrameInfos* out) {
  size_t i = 0;
  while (i < bytes.size()) {
    const uint8_t first = bytes[i++];
    uint16_t id = first >> 4;
    size_t length = first & 0x0f;
    if (id == kEscape) {
      if (i >= bytes.size()) return FrameInfoStatus::kInvalid;
      id = static_cast<uint16_t>(kEscape + bytes[i++]);
    }
    if (length == kEscape) {
      if (i >= bytes.size()) return FrameInfoStatus::kInvalid;
      length = kEscape + bytes[i++];
    }
    if (length > bytes.size() - i) return FrameInfoStatus::kInvalid;
    const std::span<const uint8_t> data = bytes.subspan(i, length);
    i += length;
    if (id > kLastKnownId || id == static_cast<uint16_t>(FrameInfoId::OpenTracingContext)) {
      return FrameInfoStatus::kUnknown;
    }
    const auto known = static_cast<FrameInfoId>(id);
    if (out->present & frameInfoBit(known)) return FrameInfoStatus::kInvalid;  // repeated
    out->present |= frameInfoBit(known);
    switch (known) {
      case FrameInfoId::Barrier:
        if (!data.empty()) return FrameInfoStatus::kInvalid;
        out->barrier = true;
        break;
      case FrameInfoId::PreserveTtl:
        if (!data.empty()) return FrameInfoStatus::kInvalid;
        out->preserve_ttl = true;
        break;
      case FrameInfoId::DurabilityRequirement: {
        if (data.size() != 1 && data.size() != 3) return FrameInfoStatus::kInvalid;
        if (data[0] < static_cast<uint8_t>(DurabilityLevel::Majority) ||
            data[0] > static_cast<uint8_t>(DurabilityLevel::PersistToMajority)) {
          return FrameInfoStatus::kInvalid;
        }
        DurabilityRequirement d{static_cast<DurabilityLevel>(data[0]), std::nullopt};
        if (data.size() == 3) {
          const uint16_t timeout = loadBe16(data.data() + 1);
          // 0 and 0xffff are reserved (kv_engine rejects both).
          if (timeout == 0 || timeout == 0xffff) return FrameInfoStatus::kInvalid;
          d.timeout_ms = timeout;
        }
        out->durability = d;
        break;
      }
      case FrameInfoId::DcpStreamId:
      case FrameInfoId::ImpersonateWithTokenAuthDataId:
        if (data.size() != 2) return FrameInfoStatus::kInvalid;
        break;
      case FrameInfoId::Impersonate:
        if (data.empty()) return FrameInfoStatus::kInvalid;
        break;
      case FrameInfoId::ImpersonateExtraPrivilege:
        if (data.empty()) return FrameInfoStatus::kInvalid;
        break;
      case FrameInfoId::OpenTracingContext:
        return FrameInfoStatus::kUnknown;
    }
  }
  return FrameInfoStatus::kOk;
}

}  // namespace memkv::mcbp
