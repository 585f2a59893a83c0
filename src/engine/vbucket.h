#pragma once
// A vbucket: one partition of a bucket's keys, with its own lock, hash table
// and CAS counter. Keys map here by the Couchbase CRC32 rule.
#include <cstdint>
#include "engine/hash_table.h"
#include "engine/vbucket_lock.h"

namespace memkv::engine {

inline constexpr uint16_t kVBucketCount = 1024;

// Couchbase: vb = ((crc32(key) >> 16) & 0x7fff) % count.
inline uint16_t vbucketOf(uint32_t crc, uint16_t count) {
  return static_cast<uint16_t>(((crc >> 16) & 0x7fff) % count);
}

struct alignas(64) VBucket {
  VBucketLock mutex;
  HashTable table;        // guarded by mutex
  uint64_t last_cas = 0;  // guarded by mutex
};

}  // namespace memkv::engine
