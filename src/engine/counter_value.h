#pragma once
// INCR/DECR operate on values holding ASCII decimal numbers, as in memcached.
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace memkv::engine {

// memcached's rule: 1..22 bytes, optional leading blanks and '+', digits, then
// the end or whitespace; no sign, no overflow past 2^64-1.
std::optional<uint64_t> parseCounter(std::span<const uint8_t> value);

// Writes the decimal form into out (at least 20 bytes); returns its length.
size_t formatCounter(uint64_t value, char* out);

}  // namespace memkv::engine
