#include "protocol/response.h"

#include "common/byte_order.h"
#include "protocol/magic.h"

namespace memkv::mcbp {

void encodeResponseHeader(uint8_t* out, const ResponseHeader& h) {
  out[0] = static_cast<uint8_t>(Magic::ClientResponse);
  out[1] = h.opcode;
  storeBe16(out + 2, h.key_length);
  out[4] = h.extras_length;
  out[5] = h.datatype;
  storeBe16(out + 6, static_cast<uint16_t>(h.status));
  storeBe32(out + 8, h.body_length);
  storeBe32(out + 12, h.opaque);
  storeBe64(out + 16, h.cas);
}

void encodeServerRequestHeader(uint8_t* out, const ServerRequestHeader& h) {
  out[0] = static_cast<uint8_t>(Magic::ServerRequest);
  out[1] = static_cast<uint8_t>(h.opcode);
  storeBe16(out + 2, h.key_length);
  out[4] = h.extras_length;
  out[5] = h.datatype;
  storeBe16(out + 6, 0);
  storeBe32(out + 8, h.body_length);
  storeBe32(out + 12, h.opaque);
  storeBe64(out + 16, 0);
}

}  // namespace memkv::mcbp
