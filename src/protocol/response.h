#pragma once
// MCBP response encoding into caller-provided memory. The caller reserves
// responseSize(...) bytes once and hands the pointer here (docs/architecture.md
// invariant 3): header, extras and key are written contiguously.
//
// Response header (24 bytes): magic 0x81, opcode, keylen(2), extlen, datatype,
// status(2), bodylen(4), opaque(4), cas(8).
#include <cstddef>
#include <cstdint>

#include "protocol/limits.h"
#include "protocol/opcode.h"
#include "protocol/status.h"

namespace memkv::mcbp {

struct ResponseHeader {
  uint8_t opcode;
  Status status;
  uint8_t extras_length;
  uint16_t key_length;
  uint32_t body_length;  // extras + key + value
  uint32_t opaque;
  uint64_t cas;
  uint8_t datatype;
};

// Writes kHeaderSize bytes at out.
void encodeResponseHeader(uint8_t* out, const ResponseHeader& h);

// A server request (magic 0x82, Duplex connections): the request layout,
// with the vbucket field zero.
struct ServerRequestHeader {
  ServerOpcode opcode;
  uint8_t extras_length;
  uint16_t key_length;
  uint32_t body_length;  // extras + key + value
  uint32_t opaque;
  uint8_t datatype;
};

// Writes kHeaderSize bytes at out.
void encodeServerRequestHeader(uint8_t* out, const ServerRequestHeader& h);

}  // namespace memkv::mcbp
