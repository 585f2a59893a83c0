#pragma once
// Self-describing values for --verify. A value is a pure function of
// (key, version, length), and carries enough of its own origin that a reader
// can check any value it gets back without state shared with the writer:
//
//   0        4             12            20        24
//   | magic  | key hash    | version     | length  | fill ... (length - 24 bytes)
//     "MKBV"   FNV-1a(key)   writer's id   total     SplitMix seeded from the
//                                          bytes     hash, version and length
//
// All header fields are big-endian. The item's flags hold the low 32 bits of
// the version, so a reader also notices flags that came from another write.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace memkv::bench {

inline constexpr size_t kValueHeaderSize = 24;

enum class ValueCheck : uint8_t {
  kOk,
  kTooShort,       // shorter than the header: cannot be ours
  kBadMagic,       // not written by memkv-bench, or the header is corrupt
  kWrongKey,       // a value written for another key
  kBadLength,      // the length it claims differs from the length received
  kFlagsMismatch,  // flags from a different write than the value
  kBadFill,        // header fine, payload corrupt
};

std::string_view valueCheckName(ValueCheck check);

uint64_t keyHash(std::string_view key);

// Fills out (its whole length, at least kValueHeaderSize) for (key_hash, version).
void encodeValue(uint64_t key_hash, uint64_t version, std::span<uint8_t> out);

// The flags a writer stores with the value of this version.
inline uint32_t flagsForVersion(uint64_t version) {
  return static_cast<uint32_t>(version);
}

ValueCheck checkValue(uint64_t key_hash, uint32_t flags, std::span<const uint8_t> value);

}  // namespace memkv::bench
