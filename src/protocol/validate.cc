#include "protocol/validate.h"

#include "protocol/opcode_spec.h"

namespace memkv::mcbp {

Verdict validateHeader(const RequestHeader& h, size_t max_key_length) {
  const OpcodeSpec& spec = opcodeSpec(h.opcode);
  if (!spec.known()) return Verdict::kUnknownCommand;
  if (h.key_length > max_key_length) return Verdict::kInvalid;
  if (h.extras_length != spec.extras_a && h.extras_length != spec.extras_b) {
    return Verdict::kInvalid;
  }
  switch (spec.key) {
    case KeyRule::kForbidden:
      if (h.key_length != 0) return Verdict::kInvalid;
      break;
    case KeyRule::kRequired:
      if (h.key_length == 0) return Verdict::kInvalid;
      break;
    case KeyRule::kOptional:
      break;
  }
  const uint64_t value_length = static_cast<uint64_t>(h.body_length) - h.framing_extras_length -
                                h.extras_length - h.key_length;
  if (!spec.value_allowed && value_length != 0) return Verdict::kInvalid;
  return Verdict::kOk;
}

Status validateFrameInfos(const Request& request, FrameInfos* out) {
  switch (parseFrameInfos(request.framing_extras, out)) {
    case FrameInfoStatus::kOk:
      break;
    case FrameInfoStatus::kUnknown:
      return Status::UnknownFrameInfo;
    case FrameInfoStatus::kInvalid:
      return Status::Einval;
  }
  const uint16_t allowed = opcodeSpec(request.header.opcode).frame_infos;
  if ((out->present & ~allowed) != 0) return Status::Einval;
  if (out->durability && !durabilityLevelSupported(out->durability->level)) {
    return Status::DurabilityInvalidLevel;
  }
  return Status::Success;
}

}  // namespace memkv::mcbp
