#include "client_codec.h"

#include <cstring>

#include "common/byte_order.h"
#include "protocol/magic.h"

namespace memkv::bench {
namespace {

void encodeHeader(uint8_t* out, mcbp::Opcode opcode, uint16_t key_length, uint8_t extras_length,
                  uint32_t body_length, uint32_t opaque, uint16_t vbucket = 0) {
  out[0] = static_cast<uint8_t>(mcbp::Magic::ClientRequest);
  out[1] = static_cast<uint8_t>(opcode);
  storeBe16(out + 2, key_length);
  out[4] = extras_length;
  out[5] = 0;  // datatype: raw
  storeBe16(out + 6, vbucket);
  storeBe32(out + 8, body_length);
  storeBe32(out + 12, opaque);
  storeBe64(out + 16, 0);  // cas: unconditional
}

}  // namespace

void encodeGet(uint8_t* out, std::string_view key, uint32_t opaque, uint16_t vbucket) {
  const auto key_length = static_cast<uint16_t>(key.size());
  encodeHeader(out, mcbp::Opcode::Get, key_length, 0, key_length, opaque, vbucket);
  std::memcpy(out + mcbp::kHeaderSize, key.data(), key.size());
}

void encodeSetPrefix(uint8_t* out, std::string_view key, uint32_t value_length, uint32_t flags,
                     uint32_t opaque, uint16_t vbucket) {
  const auto key_length = static_cast<uint16_t>(key.size());
  encodeHeader(out, mcbp::Opcode::Set, key_length, kSetExtrasSize,
               static_cast<uint32_t>(kSetExtrasSize + key.size() + value_length), opaque, vbucket);
  storeBe32(out + mcbp::kHeaderSize, flags);
  storeBe32(out + mcbp::kHeaderSize + 4, 0);  // expiry: never
  std::memcpy(out + mcbp::kHeaderSize + kSetExtrasSize, key.data(), key.size());
}

void encodeNoop(uint8_t* out, uint32_t opaque) {
  encodeHeader(out, mcbp::Opcode::Noop, 0, 0, 0, opaque);
}

ResponseMagic decodeResponseHeader(const uint8_t* in, mcbp::ResponseHeader* out) {
  if (in[0] != static_cast<uint8_t>(mcbp::Magic::ClientResponse)) return ResponseMagic::kBad;
  out->opcode = in[1];
  out->key_length = loadBe16(in + 2);
  out->extras_length = in[4];
  out->datatype = in[5];
  out->status = static_cast<mcbp::Status>(loadBe16(in + 6));
  out->body_length = loadBe32(in + 8);
  out->opaque = loadBe32(in + 12);
  out->cas = loadBe64(in + 16);
  if (static_cast<uint64_t>(out->key_length) + out->extras_length > out->body_length) {
    return ResponseMagic::kBad;
  }
  return ResponseMagic::kOk;
}

}  // namespace memkv::bench
