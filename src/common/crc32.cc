#include "common/crc32.h"

#include <array>
#include <cstring>

namespace memkv {
namespace {

using Tables = std::array<std::array<uint32_t, 256>, 8>;

constexpr Tables buildTables() {
  Tables t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i) {
    for (size_t s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
  }
  return t;
}

constexpr Tables kTables = buildTables();

}  // namespace

uint32_t crc32(const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t crc = 0xFFFFFFFFu;
  while (size >= 8) {
    uint32_t lo;
    uint32_t hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
    lo ^= crc;  // little-endian hosts only (x86_64, aarch64)
    crc = kTables[7][lo & 0xff] ^ kTables[6][(lo >> 8) & 0xff] ^ kTables[5][(lo >> 16) & 0xff] ^
          kTables[4][lo >> 24] ^ kTables[3][hi & 0xff] ^ kTables[2][(hi >> 8) & 0xff] ^
          kTables[1][(hi >> 16) & 0xff] ^ kTables[0][hi >> 24];
    p += 8;
    size -= 8;
  }
  // Keys are short (10 to 20 bytes is typical), so the tail matters as much
  // as the 8-byte steps: four bytes at once, then the last three.
  if (size >= 4) {
    uint32_t word;
    std::memcpy(&word, p, 4);
    word ^= crc;
    crc = kTables[3][word & 0xff] ^ kTables[2][(word >> 8) & 0xff] ^
          kTables[1][(word >> 16) & 0xff] ^ kTables[0][word >> 24];
    p += 4;
    size -= 4;
  }
  while (size--) crc = (crc >> 8) ^ kTables[0][(crc ^ *p++) & 0xff];
  return ~crc;
}

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "crc32 slicing assumes little endian");

}  // namespace memkv
