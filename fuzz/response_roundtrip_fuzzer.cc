// Takes every ResponseHeader field from the input, encodes it with
// encodeResponseHeader into exactly kHeaderSize bytes of heap (ASan sees any
// write past them), then decodes the bytes twice and traps on a difference:
//   - by hand, from the layout in response.h (the oracle);
//   - with memkv-bench's decodeResponseHeader, the client that measures the
//     server, which must read what the server writes.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "memkv-bench/client_codec.h"
#include "protocol/limits.h"
#include "protocol/magic.h"
#include "protocol/response.h"
#include "protocol/status.h"

namespace {

using memkv::mcbp::kHeaderSize;
using memkv::mcbp::ResponseHeader;
using memkv::mcbp::Status;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// Deliberately not common/byte_order.h: the oracle decodes on its own.
uint64_t be(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

// Fields in the order of struct ResponseHeader, packed, host byte order.
constexpr size_t kFieldBytes = 1 + 2 + 1 + 2 + 4 + 4 + 8 + 1;

class FieldReader {
 public:
  explicit FieldReader(const uint8_t* p) : p_(p) {}
  template <typename T>
  T next() {
    T v;
    std::memcpy(&v, p_, sizeof v);
    p_ += sizeof v;
    return v;
  }

 private:
  const uint8_t* p_;
};

bool sameHeader(const ResponseHeader& a, const ResponseHeader& b) {
  return a.opcode == b.opcode && a.status == b.status && a.extras_length == b.extras_length &&
         a.key_length == b.key_length && a.body_length == b.body_length && a.opaque == b.opaque &&
         a.cas == b.cas && a.datatype == b.datatype;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  uint8_t fields[kFieldBytes] = {};
  std::memcpy(fields, data, size < kFieldBytes ? size : kFieldBytes);
  FieldReader in(fields);
  ResponseHeader h;
  h.opcode = in.next<uint8_t>();
  // Any 16-bit value: the enum's underlying type is uint16_t, and a server
  // must be able to pass through statuses it does not name.
  h.status = static_cast<Status>(in.next<uint16_t>());
  h.extras_length = in.next<uint8_t>();
  h.key_length = in.next<uint16_t>();
  h.body_length = in.next<uint32_t>();
  h.opaque = in.next<uint32_t>();
  h.cas = in.next<uint64_t>();
  h.datatype = in.next<uint8_t>();

  const auto wire = std::make_unique<uint8_t[]>(kHeaderSize);
  memkv::mcbp::encodeResponseHeader(wire.get(), h);
  const uint8_t* w = wire.get();

  // Response header (24 bytes): magic, opcode, keylen(2), extlen, datatype,
  // status(2), bodylen(4), opaque(4), cas(8); big-endian.
  check(w[0] == static_cast<uint8_t>(memkv::mcbp::Magic::ClientResponse));
  check(w[1] == h.opcode);
  check(be(w + 2, 2) == h.key_length);
  check(w[4] == h.extras_length);
  check(w[5] == h.datatype);
  check(be(w + 6, 2) == static_cast<uint16_t>(h.status));
  check(be(w + 8, 4) == h.body_length);
  check(be(w + 12, 4) == h.opaque);
  check(be(w + 16, 8) == h.cas);

  ResponseHeader decoded{};
  const auto verdict = memkv::bench::decodeResponseHeader(w, &decoded);
  const bool parts_fit = uint64_t{h.extras_length} + h.key_length <= h.body_length;
  check((verdict == memkv::bench::ResponseMagic::kOk) == parts_fit);
  check(sameHeader(decoded, h));

  // Encoding is a pure function of the fields: a second run gives the same bytes.
  uint8_t again[kHeaderSize];
  memkv::mcbp::encodeResponseHeader(again, h);
  check(std::memcmp(again, w, kHeaderSize) == 0);
  return 0;
}
