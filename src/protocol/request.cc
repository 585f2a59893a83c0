#include "protocol/request.h"

#include "common/byte_order.h"

namespace memkv::mcbp {

HeaderStatus parseHeader(std::span<const uint8_t> bytes, RequestHeader* out) {
  const uint8_t* p = bytes.data();
  if (p[0] != static_cast<uint8_t>(Magic::ClientRequest)) return HeaderStatus::kBadMagic;
  out->magic = Magic::ClientRequest;
  out->opcode = p[1];
  out->key_length = loadBe16(p + 2);
  out->extras_length = p[4];
  out->datatype = p[5];
  out->vbucket = loadBe16(p + 6);
  out->body_length = loadBe32(p + 8);
  out->opaque = loadBe32(p + 12);
  out->cas = loadBe64(p + 16);
  if (static_cast<uint64_t>(out->key_length) + out->extras_length > out->body_length) {
    return HeaderStatus::kBadLengths;
  }
  return HeaderStatus::kOk;
}

Request splitFrame(const RequestHeader& header, std::span<const uint8_t> frame) {
  const uint8_t* body = frame.data() + kHeaderSize;
  const size_t value_length = header.body_length - header.extras_length - header.key_length;
  Request r;
  r.header = header;
  r.extras = {body, header.extras_length};
  r.key = {reinterpret_cast<const char*>(body + header.extras_length), header.key_length};
  r.value = {body + header.extras_length + header.key_length, value_length};
  return r;
}

}  // namespace memkv::mcbp
