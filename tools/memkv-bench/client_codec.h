#pragma once
// The client's side of MCBP: encoding the few requests memkv-bench sends and
// decoding response headers. Opcodes, magic, status and sizes come from
// src/protocol, their one home; this file only lays them out.
//
// Request: 24-byte header, then [extras][key][value]. A SET's extras are
// flags(4) and expiry(4); GET and NOOP carry none.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/limits.h"
#include "protocol/opcode.h"
#include "protocol/response.h"

namespace memkv::bench {

inline constexpr size_t kSetExtrasSize = 8;
inline constexpr size_t kGetHitExtrasSize = 4;

inline size_t getRequestSize(std::string_view key) {
  return mcbp::kHeaderSize + key.size();
}
// Everything of a SET but its value.
inline size_t setPrefixSize(std::string_view key) {
  return mcbp::kHeaderSize + kSetExtrasSize + key.size();
}

void encodeGet(uint8_t* out, std::string_view key, uint32_t opaque, uint16_t vbucket = 0);
void encodeSetPrefix(uint8_t* out, std::string_view key, uint32_t value_length, uint32_t flags,
                     uint32_t opaque, uint16_t vbucket = 0);
void encodeNoop(uint8_t* out, uint32_t opaque);

enum class ResponseMagic : uint8_t { kOk, kBad };

// Decodes the kHeaderSize bytes at in. kBad: not a classic response header,
// framing is lost.
ResponseMagic decodeResponseHeader(const uint8_t* in, mcbp::ResponseHeader* out);

}  // namespace memkv::bench
