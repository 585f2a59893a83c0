#include "value_codec.h"

#include <cstring>

#include "common/byte_order.h"
#include "split_mix.h"

namespace memkv::bench {
namespace {

constexpr uint32_t kMagic = 0x4d4b4256;  // "MKBV"

uint64_t fillSeed(uint64_t key_hash, uint64_t version, uint64_t length) {
  return key_hash ^ (version * 0x9e3779b97f4a7c15ULL) ^ (length << 40);
}

// Writes the fill for out, 8 bytes per draw; a short tail takes a prefix.
void writeFill(uint64_t seed, std::span<uint8_t> out) {
  SplitMix rng(seed);
  size_t i = 0;
  for (; i + 8 <= out.size(); i += 8) {
    const uint64_t word = rng.next();
    std::memcpy(out.data() + i, &word, 8);
  }
  if (i < out.size()) {
    const uint64_t word = rng.next();
    std::memcpy(out.data() + i, &word, out.size() - i);
  }
}

bool fillMatches(uint64_t seed, std::span<const uint8_t> fill) {
  SplitMix rng(seed);
  size_t i = 0;
  for (; i + 8 <= fill.size(); i += 8) {
    const uint64_t word = rng.next();
    if (std::memcmp(fill.data() + i, &word, 8) != 0) return false;
  }
  if (i < fill.size()) {
    const uint64_t word = rng.next();
    if (std::memcmp(fill.data() + i, &word, fill.size() - i) != 0) return false;
  }
  return true;
}

}  // namespace

std::string_view valueCheckName(ValueCheck check) {
  switch (check) {
    case ValueCheck::kOk:
      return "ok";
    case ValueCheck::kTooShort:
      return "too_short";
    case ValueCheck::kBadMagic:
      return "bad_magic";
    case ValueCheck::kWrongKey:
      return "wrong_key";
    case ValueCheck::kBadLength:
      return "bad_length";
    case ValueCheck::kFlagsMismatch:
      return "flags_mismatch";
    case ValueCheck::kBadFill:
      return "bad_fill";
  }
  return "unknown";
}

uint64_t keyHash(std::string_view key) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : key) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

void encodeValue(uint64_t key_hash, uint64_t version, std::span<uint8_t> out) {
  uint8_t* p = out.data();
  storeBe32(p, kMagic);
  storeBe64(p + 4, key_hash);
  storeBe64(p + 12, version);
  storeBe32(p + 20, static_cast<uint32_t>(out.size()));
  writeFill(fillSeed(key_hash, version, out.size()), out.subspan(kValueHeaderSize));
}

ValueCheck checkValue(uint64_t key_hash, uint32_t flags, std::span<const uint8_t> value) {
  if (value.size() < kValueHeaderSize) return ValueCheck::kTooShort;
  const uint8_t* p = value.data();
  if (loadBe32(p) != kMagic) return ValueCheck::kBadMagic;
  if (loadBe64(p + 4) != key_hash) return ValueCheck::kWrongKey;
  const uint64_t version = loadBe64(p + 12);
  if (loadBe32(p + 20) != static_cast<uint32_t>(value.size())) return ValueCheck::kBadLength;
  if (flags != flagsForVersion(version)) return ValueCheck::kFlagsMismatch;
  if (!fillMatches(fillSeed(key_hash, version, value.size()), value.subspan(kValueHeaderSize))) {
    return ValueCheck::kBadFill;
  }
  return ValueCheck::kOk;
}

}  // namespace memkv::bench
