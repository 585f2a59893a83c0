#pragma once
// SipHash-1-3 with a key drawn once per process: the hash tables' slot index.
// A keyed hash, so a client cannot choose keys that all land in one chain
// (hash flooding); the vbucket stays Couchbase's CRC32 rule, which clients
// compute themselves and anyone can collide. Hand-written: it runs once per
// request on the hot path, and OpenSSL's EVP_MAC SipHash allocates a context
// per call.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace memkv {

struct SipKey {
  uint64_t k0;
  uint64_t k1;
};

uint64_t sipHash13(const SipKey& key, const void* data, size_t size);

// The process's key: random, set on first use (thread-safe).
const SipKey& processHashKey();

inline uint64_t keyedHash(std::string_view bytes) {
  return sipHash13(processHashKey(), bytes.data(), bytes.size());
}

}  // namespace memkv
