#pragma once
// Request validation before dispatch (docs/architecture.md invariant 7).
#include "protocol/frame_info.h"
#include "protocol/limits.h"
#include "protocol/request.h"
#include "protocol/status.h"

namespace memkv::mcbp {

enum class Verdict : uint8_t {
  kOk,
  kUnknownCommand,  // reply UNKNOWN_COMMAND, skip the body, keep the connection
  kInvalid,         // reply EINVAL and close (memcached 1.6 behaviour)
};

// Checks a request header against the opcode's spec: extras length, key
// presence and length, whether a value may follow. max_key_length grows by
// the collection-id prefix once Collections is negotiated.
Verdict validateHeader(const RequestHeader& header, size_t max_key_length = kMaxKeyLength);

// Checks a request's frame infos (alternative format) once its body is here:
// Success, UnknownFrameInfo, Einval (malformed, repeated, or not allowed for
// the opcode), or DurabilityInvalidLevel (a level memkv cannot meet, see
// durabilityLevelSupported). Framing is intact either way: the connection
// stays open.
Status validateFrameInfos(const Request& request, FrameInfos* out);

}  // namespace memkv::mcbp
