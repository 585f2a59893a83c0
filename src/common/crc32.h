#pragma once
// CRC-32 (IEEE 802.3: reflected polynomial 0xEDB88320, init and final xor
// 0xFFFFFFFF), the checksum Couchbase clients use to map keys to vbuckets.
// Hand-written (slicing-by-8) because it runs once per request on the hot path
// and zlib's generic entry point costs a call plus table setup checks.
#include <cstddef>
#include <cstdint>

namespace memkv {

uint32_t crc32(const void* data, size_t size);

}  // namespace memkv
