#pragma once
// MCBP datatype bits.
#include <cstdint>

namespace memkv::mcbp {

namespace datatype {
inline constexpr uint8_t kRaw = 0x00;
inline constexpr uint8_t kJson = 0x01;
inline constexpr uint8_t kSnappy = 0x02;
inline constexpr uint8_t kXattr = 0x04;
}  // namespace datatype

}  // namespace memkv::mcbp
