#pragma once
// A vbucket: one partition of a bucket's keys, with its own lock, hash table
// and CAS counter. Keys map here by the Couchbase CRC32 rule.
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "engine/change_log.h"
#include "engine/hash_table.h"
#include "engine/tombstones.h"
#include "engine/vbucket_lock.h"

namespace memkv::engine {

inline constexpr uint16_t kVBucketCount = 1024;

// Couchbase: vb = ((crc32(key) >> 16) & 0x7fff) % count.
inline uint16_t vbucketOf(uint32_t crc, uint16_t count) {
  return static_cast<uint16_t>(((crc >> 16) & 0x7fff) % count);
}

// Documents locked by GET_LOCKED. Locks are rare, so a vbucket without any
// pays one null pointer; the table is bound to item identity and an entry
// goes when its item leaves the hash table (see Bucket::unlinkLocked), so a
// freed item's address can never look locked.
struct LockEntry {
  const Item* item;
  uint32_t until;     // absolute seconds; the lock is gone at this time
  uint64_t lock_cas;  // what the locker got, and what unlocks it
};

class LockTable final {
 public:
  // The live lock on `item`, or nullptr; drops an expired one.
  const LockEntry* find(const Item* item, uint32_t now) {
    auto it = entries_.find(item);
    if (it == entries_.end()) return nullptr;
    if (it->second.until <= now) {
      entries_.erase(it);
      return nullptr;
    }
    return &it->second;
  }
  // Also forgets locks that expired on items nobody touched since, so the
  // table holds live locks, not history.
  void add(const LockEntry& entry, uint32_t now) {
    if (entries_.size() >= 64 && entries_.size() % 64 == 0) {
      std::erase_if(entries_, [now](const auto& e) { return e.second.until <= now; });
    }
    entries_[entry.item] = entry;
  }
  void erase(const Item* item) { entries_.erase(item); }
  // The evictor copied a locked item: the lock follows the copy.
  void rekey(const Item* old, const Item* fresh) {
    auto node = entries_.extract(old);
    if (node.empty()) return;
    node.key() = fresh;
    node.mapped().item = fresh;
    entries_.insert(std::move(node));
  }

 private:
  std::unordered_map<const Item*, LockEntry> entries_;
};

struct alignas(64) VBucket {
  VBucketLock mutex;
  HashTable table;          // guarded by mutex
  uint64_t last_cas = 0;    // guarded by mutex
  uint64_t high_seqno = 0;  // guarded by mutex; one per mutation, as Couchbase's seqnos
  uint64_t uuid = 0;        // guarded by mutex; history id (mutation tokens): failover.back().uuid
  // Change-stream history (tombstones.h), all guarded by mutex: the
  // branches oldest first (a new one at creation, flush and drop), the
  // highest seqno whose deletion is no longer in `tombstones`, and the
  // tombstones themselves (null until the bucket keeps them).
  std::vector<FailoverEntry> failover;
  uint64_t purge_seqno = 0;
  std::unique_ptr<TombstoneLog> tombstones;
  // The recent changes, while a change stream follows this vbucket
  // (change_log.h); null otherwise. Guarded by mutex.
  std::unique_ptr<ChangeLog> changes;
  std::unique_ptr<LockTable> locks;  // guarded by mutex; null while nothing is locked
  // FLUSH without touching items: every item whose CAS is at or below this
  // mark was stored before a flush and is gone for readers (CAS values only
  // grow within a vbucket, and a store takes its CAS under this mutex after
  // the mark). Such items stay linked until met or swept (Bucket::
  // reclaimFlushed); `dead_items` counts them. All guarded by mutex.
  uint64_t flushed_cas = 0;
  size_t dead_items = 0;
  uint32_t flush_id = 0;  // the newest flush applied here (Bucket::settleFlush)
};

}  // namespace memkv::engine
