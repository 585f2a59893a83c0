#pragma once
// Request validation before dispatch (ARCHITECTURE.md invariant 7).
#include "protocol/request.h"
#include "protocol/status.h"

namespace memkv::mcbp {

enum class Verdict : uint8_t {
  kOk,
  kUnknownCommand,  // reply UNKNOWN_COMMAND, skip the body, keep the connection
  kInvalid,         // reply EINVAL and close (memcached 1.6 behaviour)
};

// Checks a request header against the opcode's spec: extras length, key
// presence and length, whether a value may follow.
Verdict validateHeader(const RequestHeader& header);

}  // namespace memkv::mcbp
