#include "common/keyed_hash.h"

#include <cstring>
#include <random>

namespace memkv {
namespace {

inline uint64_t rotl(uint64_t x, int b) {
  return (x << b) | (x >> (64 - b));
}

struct SipState {
  uint64_t v0, v1, v2, v3;
  void round() {
    v0 += v1;
    v1 = rotl(v1, 13);
    v1 ^= v0;
    v0 = rotl(v0, 32);
    v2 += v3;
    v3 = rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = rotl(v1, 17);
    v1 ^= v2;
    v2 = rotl(v2, 32);
  }
  void compress(uint64_t m) {
    v3 ^= m;
    round();  // c = 1
    v0 ^= m;
  }
};

}  // namespace

uint64_t sipHash13(const SipKey& key, const void* data, size_t size) {
  SipState s{key.k0 ^ 0x736f6d6570736575ull, key.k1 ^ 0x646f72616e646f6dull,
             key.k0 ^ 0x6c7967656e657261ull, key.k1 ^ 0x7465646279746573ull};
  const auto* p = static_cast<const uint8_t*>(data);
  const size_t whole = size & ~size_t{7};
  for (size_t i = 0; i < whole; i += 8) {
    uint64_t m;
    std::memcpy(&m, p + i, 8);  // little-endian hosts only (x86_64, aarch64)
    s.compress(m);
  }
  uint64_t last = static_cast<uint64_t>(size) << 56;
  for (size_t i = 0; i < (size & 7); ++i) last |= static_cast<uint64_t>(p[whole + i]) << (8 * i);
  s.compress(last);
  s.v2 ^= 0xff;
  for (int i = 0; i < 3; ++i) s.round();  // d = 3
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

const SipKey& processHashKey() {
  static const SipKey key = [] {
    std::random_device random;
    auto draw = [&random] { return uint64_t{random()} << 32 | random(); };
    return SipKey{draw(), draw()};
  }();
  return key;
}

}  // namespace memkv
