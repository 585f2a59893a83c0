#pragma once
// A parsed MCBP request: a view into bytes owned by the caller (the
// connection's read buffer). Nothing here outlives the bytes it points at.
//
// Classic request header (24 bytes, big-endian), magic 0x80:
//   0      1      2      3      4      5      6      7
//   magic  opcode keylen------  extlen dtype  vbucket-----
//   8 .. 11  total body length     12 .. 15 opaque
//   16 .. 23 cas
//   body: [extras][key][value]
// Alternative request (magic 0x08): byte 2 is the framing-extras length and
// byte 3 a one-byte key length; body: [framing extras][extras][key][value].
#include <cstdint>
#include <span>
#include <string_view>

#include "common/byte_order.h"
#include "protocol/limits.h"
#include "protocol/magic.h"
#include "protocol/opcode.h"

namespace memkv::mcbp {

struct RequestHeader {
  Magic magic;
  uint8_t opcode;
  uint8_t framing_extras_length;  // 0 for the classic format
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
  std::span<const uint8_t> framing_extras;  // frame infos (alternative format)
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
// Inline: it runs once per request (callgrind: a call per frame was 5% of
// the pipelined GET path).
inline HeaderStatus parseHeader(std::span<const uint8_t> bytes, RequestHeader* out) {
  const uint8_t* p = bytes.data();
  if (p[0] == static_cast<uint8_t>(Magic::ClientRequest)) {
    out->magic = Magic::ClientRequest;
    out->framing_extras_length = 0;
    out->key_length = loadBe16(p + 2);
  } else if (p[0] == static_cast<uint8_t>(Magic::AltClientRequest)) {
    out->magic = Magic::AltClientRequest;
    out->framing_extras_length = p[2];
    out->key_length = p[3];
  } else if (p[0] == static_cast<uint8_t>(Magic::ServerResponse) ||
             p[0] == static_cast<uint8_t>(Magic::ClientResponse)) {
    // A client's answer to a server request: a Duplex client's (0x83), or
    // a DCP consumer's to its producer's messages (0x81: DCP predates
    // Duplex, so its producer sends client requests and the consumer
    // answers as a server would). Framed as a response (the status where a
    // request has its vbucket); the caller decides whether this connection
    // may send one.
    out->magic = static_cast<Magic>(p[0]);
    out->framing_extras_length = 0;
    out->key_length = loadBe16(p + 2);
  } else {
    return HeaderStatus::kBadMagic;
  }
  out->opcode = p[1];
  out->extras_length = p[4];
  out->datatype = p[5];
  out->vbucket = loadBe16(p + 6);
  out->body_length = loadBe32(p + 8);
  out->opaque = loadBe32(p + 12);
  out->cas = loadBe64(p + 16);
  if (static_cast<uint64_t>(out->framing_extras_length) + out->key_length + out->extras_length >
      out->body_length) {
    return HeaderStatus::kBadLengths;
  }
  return HeaderStatus::kOk;
}

// Splits a complete frame (header + body, frameSize() bytes) into its parts.
inline Request splitFrame(const RequestHeader& header, std::span<const uint8_t> frame) {
  const uint8_t* framing = frame.data() + kHeaderSize;
  const uint8_t* body = framing + header.framing_extras_length;
  const size_t value_length =
      header.body_length - header.framing_extras_length - header.extras_length - header.key_length;
  Request r;
  r.header = header;
  r.framing_extras = {framing, header.framing_extras_length};
  r.extras = {body, header.extras_length};
  r.key = {reinterpret_cast<const char*>(body + header.extras_length), header.key_length};
  r.value = {body + header.extras_length + header.key_length, value_length};
  return r;
}

}  // namespace memkv::mcbp
