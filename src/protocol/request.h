#pragma once
// A parsed MCBP request: a view into bytes owned by the caller (the
// connection's read buffer). Nothing here outlives the bytes it points at.
//
// Classic request header (24 bytes, big-endian):
//   0      1      2      3      4      5      6      7
//   magic  opcode keylen------  extlen dtype  vbucket-----
//   8 .. 11  total body length     12 .. 15 opaque
//   16 .. 23 cas
//   body: [extras][key][value]
#include <cstdint>
#include <span>
#include <string_view>

#include "protocol/limits.h"
#include "protocol/magic.h"
#include "protocol/opcode.h"

namespace memkv::mcbp {

struct RequestHeader {
  Magic magic;
  uint8_t opcode;
  uint16_t key_length;
  uint8_t extras_length;
  uint8_t datatype;
  uint16_t vbucket;
  uint32_t body_length;
  uint32_t opaque;
  uint64_t cas;

  size_t frameSize() const { return kHeaderSize + body_length; }
};

struct Request {
  RequestHeader header;
  std::span<const uint8_t> extras;
  std::string_view key;
  std::span<const uint8_t> value;

  Opcode opcode() const { return static_cast<Opcode>(header.opcode); }
};

enum class HeaderStatus : uint8_t {
  kOk,
  kBadMagic,    // framing is lost: close without a reply
  kBadLengths,  // extras + key exceed the body: reply EINVAL and close
};

// Decodes the first kHeaderSize bytes of `bytes` (the caller checks size).
HeaderStatus parseHeader(std::span<const uint8_t> bytes, RequestHeader* out);

// Splits a complete frame (header + body, frameSize() bytes) into its parts.
Request splitFrame(const RequestHeader& header, std::span<const uint8_t> frame);

}  // namespace memkv::mcbp
