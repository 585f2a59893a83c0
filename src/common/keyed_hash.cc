#include "common/keyed_hash.h"

#include <cstring>
#include <random>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

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

namespace {

struct ProcessKeys {
  SipKey sip;
  alignas(16) uint8_t aes[4][16];
  bool use_aes;
};

const ProcessKeys& processKeys() {
  static const ProcessKeys keys = [] {
    std::random_device random;
    ProcessKeys k{};
    auto draw = [&random] { return uint64_t{random()} << 32 | random(); };
    k.sip = {draw(), draw()};
    for (auto& round_key : k.aes) {
      for (size_t i = 0; i < 16; i += 8) {
        const uint64_t bits = draw();
        std::memcpy(round_key + i, &bits, 8);
      }
    }
#if defined(__x86_64__)
    k.use_aes = __builtin_cpu_supports("aes") && __builtin_cpu_supports("sse4.1");
#else
    k.use_aes = false;
#endif
    return k;
  }();
  return keys;
}

#if defined(__x86_64__)
__attribute__((target("aes,sse4.1"))) __m128i mixBlock(__m128i state, __m128i block, __m128i k1,
                                                       __m128i k2, __m128i k3) {
  state = _mm_aesenc_si128(_mm_xor_si128(state, block), k1);
  state = _mm_aesenc_si128(state, k2);
  return _mm_aesenc_si128(state, k3);
}

__attribute__((target("aes,sse4.1"))) uint64_t aesHash(const ProcessKeys& k, const uint8_t* p,
                                                       size_t size) {
  const __m128i k0 = _mm_load_si128(reinterpret_cast<const __m128i*>(k.aes[0]));
  const __m128i k1 = _mm_load_si128(reinterpret_cast<const __m128i*>(k.aes[1]));
  const __m128i k2 = _mm_load_si128(reinterpret_cast<const __m128i*>(k.aes[2]));
  const __m128i k3 = _mm_load_si128(reinterpret_cast<const __m128i*>(k.aes[3]));
  // The length goes in first: keys that differ only by trailing zero bytes
  // (the padding of the last block) hash apart.
  __m128i state = _mm_xor_si128(k0, _mm_set1_epi64x(static_cast<int64_t>(size)));
  for (; size >= 16; size -= 16, p += 16) {
    state = mixBlock(state, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), k1, k2, k3);
  }
  alignas(16) uint8_t tail[16] = {};
  if (size != 0) std::memcpy(tail, p, size);
  state = mixBlock(state, _mm_load_si128(reinterpret_cast<const __m128i*>(tail)), k1, k2, k3);
  state = _mm_aesenc_si128(state, k0);
  return static_cast<uint64_t>(_mm_cvtsi128_si64(state)) ^
         static_cast<uint64_t>(_mm_extract_epi64(state, 1));
}
#endif

}  // namespace

uint64_t keyedHash(std::string_view bytes) {
  const ProcessKeys& k = processKeys();
#if defined(__x86_64__)
  if (k.use_aes) return aesHash(k, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
#endif
  return sipHash13(k.sip, bytes.data(), bytes.size());
}

bool keyedHashUsesAes() {
  return processKeys().use_aes;
}

}  // namespace memkv
