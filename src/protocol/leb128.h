#pragma once
// Unsigned LEB128, as collection ids prefix keys once Collections is
// negotiated: 7 bits a byte, least significant first, high bit = more.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace memkv::mcbp {

struct Leb128 {
  uint32_t value;
  size_t length;  // bytes it took
};

// Decodes a u32 from the front of `bytes`; nullopt if it is truncated, longer
// than 5 bytes or above 32 bits.
inline std::optional<Leb128> decodeLeb128(std::span<const uint8_t> bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < bytes.size() && i < 5; ++i) {
    value |= uint64_t{bytes[i] & 0x7fu} << (7 * i);
    if ((bytes[i] & 0x80) == 0) {
      if (value > UINT32_MAX) return std::nullopt;
      return Leb128{static_cast<uint32_t>(value), i + 1};
    }
  }
  return std::nullopt;
}

// Bytes the encoding of `value` takes (1 to 10).
constexpr size_t leb128Size(uint64_t value) {
  size_t bytes = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++bytes;
  }
  return bytes;
}

// Writes `value` at `out`, which has room for leb128Size(value) bytes;
// returns the byte after it.
inline uint8_t* encodeLeb128(uint8_t* out, uint64_t value) {
  do {
    uint8_t byte = value & 0x7f;
    value >>= 7;
    if (value != 0) byte |= 0x80;
    *out++ = byte;
  } while (value != 0);
  return out;
}

inline void appendLeb128(std::string& out, uint64_t value) {
  uint8_t bytes[10];
  out.append(reinterpret_cast<const char*>(bytes),
             static_cast<size_t>(encodeLeb128(bytes, value) - bytes));
}

}  // namespace memkv::mcbp
