#pragma once
// The hash tables' slot index: a hash keyed with random bits drawn once per
// process, so a client cannot choose keys that all land in one chain (hash
// flooding); the vbucket stays Couchbase's CRC32 rule, which clients compute
// themselves and anyone can collide. Hand-written: it runs once per request
// on the hot path, and OpenSSL's EVP_MAC SipHash allocates a context per
// call.
//
// keyedHash uses AES rounds where the CPU has AES-NI (three rounds of keyed
// AES per 16-byte block and one more at the end, as Go's runtime hashes map
// keys: about 20 instructions for a short key) and SipHash-1-3 elsewhere
// (about 140). Both depend on the process's random key through nonlinear
// steps, so no set of keys collides for every key.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace memkv {

struct SipKey {
  uint64_t k0;
  uint64_t k1;
};

uint64_t sipHash13(const SipKey& key, const void* data, size_t size);

// The process's hash of these bytes (random key, set on first use; any thread).
uint64_t keyedHash(std::string_view bytes);

// Whether keyedHash uses the AES rounds on this CPU (for tests and STAT).
bool keyedHashUsesAes();

}  // namespace memkv
