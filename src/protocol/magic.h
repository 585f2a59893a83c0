#pragma once
// MCBP magic bytes (kv_engine include/mcbp/protocol/magic.h).
#include <cstdint>

namespace memkv::mcbp {

enum class Magic : uint8_t {
  ClientRequest = 0x80,
  AltClientRequest = 0x08,
  ClientResponse = 0x81,
  AltClientResponse = 0x18,
  // Duplex (HELLO 0x0c): the server sends requests, the client may answer.
  ServerRequest = 0x82,
  ServerResponse = 0x83,
};

}  // namespace memkv::mcbp
