#pragma once
// ItemStore: the memory of one bucket's items, log-structured.
//
// Items are carved from segments (1 MiB by default, aligned to their size),
// appended in order, each 8-aligned with no allocator header:
//
//   +----------------+--------+--------+-----+--------+-------------+
//   | Segment (64 B) | item 1 | item 2 | ... | item n | unused tail |
//   +----------------+--------+--------+-----+--------+-------------+
//
// An item too big for a quarter segment gets a block of its own size, with
// the same 64-byte header in front ("large"). Segments sit in two FIFO
// queues, S3-FIFO's small and main (Yang et al., SOSP '23): new items go
// to the small queue unless their key is in the ghost (recently evicted
// from small), and eviction takes a whole segment from the back of a queue:
// the bucket walks its items and, under each item's vbucket lock, evicts
// it or copies it to main's open segment (Bucket::evictSegment decides).
// So there is no per-item list, no lock on a read, no size classes to
// calcify (freed segments serve any size), and the limit counts every byte
// of item memory: segments in use, cached free segments and large blocks.
//
// Items are refcounted (ItemRef). A segment's memory is reused only after
// the last reference to its last item went: an item still being sent, or in
// a range scan's snapshot, keeps its whole segment (invariant 4), which is
// charged to the limit until then.
//
// Threads: any. One mutex guards the queues, the open segments' write
// offsets and the accounting; item bytes are written outside it. Lock
// order: a vbucket mutex may be held while calling in, never the reverse.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string_view>

#include "engine/item.h"

namespace memkv::engine {

class ItemStore final {
 public:
  enum class Queue : uint8_t { kSmall, kMain };

  struct Segment {
    ItemStore* store;
    Segment* prev;  // towards newer; the store mutex guards the links
    Segment* next;  // towards older
    uint32_t used;  // end of the last item (from the segment's start)
    uint32_t capacity;
    uint32_t items;  // allocated in it (under the store mutex until sealed)
    // Items not destroyed yet, plus one while the segment is queued or
    // open: whoever takes it to zero hands the segment back.
    std::atomic<uint32_t> live;
    // Items allocated and not yet linked or dropped (Item::kPending): the
    // evictor waits for none before it walks (their headers and links are
    // then final).
    std::atomic<uint32_t> writers;
    Queue queue;
    bool large;
    bool queued;  // in a queue's list (the store mutex guards it)
  };
  static constexpr size_t kHeader = 64;
  static_assert(sizeof(Segment) <= kHeader);

  // Heap-allocated by its bucket; lives until retire() and the last item.
  // segment_size 0 picks one from the limit (a power of two, 64 KiB to 1 MiB).
  static ItemStore* create(size_t limit, size_t segment_size);
  // The bucket is gone (every item unlinked): frees what is not pinned now,
  // the rest as its references go, then itself.
  void retire();

  // Allocates an item of refcount 1 in `queue`'s open segment (or a large
  // block), its key and metadata written, its value left to the caller.
  // nullptr when it does not fit without eviction. `reserve`: the evictor
  // moving a hot item may use the last segment of the limit, which normal
  // allocation leaves free so that eviction can always make progress.
  Item* allocate(std::string_view key, size_t value_length, const Item::Meta& meta,
                 uint16_t vbucket, Queue queue, bool reserve);
  // The item was linked (under its vbucket mutex): its segment's evictor
  // need not wait for it any more.
  static void published(Item* item);

  // The oldest sealed segment of the small queue while that holds more
  // than its share (a tenth of the limit), else of main; out of its queue,
  // and with no item pending. nullptr when no segment can be taken.
  Segment* takeVictim();
  // The oldest sealed segment of either queue if at most half of its items
  // are alive (overwritten and deleted ones are not), taken like a victim;
  // nullptr otherwise. Compacting it keeps memory near the live data when
  // a workload overwrites a small key set, where a log would otherwise grow
  // to the limit. `anywhere`: the oldest such segment of any age (for -M,
  // where only compaction makes room; a walk over segment headers).
  Segment* takeSparseVictim(bool anywhere = false);
  // Segments opened so far: callers look for sparse ones once per segment.
  uint64_t segmentsOpened() const { return segments_opened_.load(std::memory_order_relaxed); }
  // Calls fn(Item*) for each item of a victim that may still be linked.
  template <typename Fn>
  static void forEachItem(Segment* segment, Fn&& fn) {
    char* base = reinterpret_cast<char*>(segment);
    for (uint32_t at = kHeader; at < segment->used;) {
      Item* item = reinterpret_cast<Item*>(base + at);
      at += static_cast<uint32_t>(item->footprint());
      if (item->refcount() != 0) fn(item);
    }
  }
  // The walk is over: the segment's memory comes back once no item in it
  // is referenced.
  void releaseVictim(Segment* segment);
  // The victim keeps its items: back at the front (newest end) of main.
  void requeueVictim(Segment* segment);

  // S3-FIFO's ghost: hashes of keys recently evicted from the small queue.
  // Approximate (direct-mapped fingerprints): a collision costs one item a
  // trip through the small queue, nothing else.
  void addGhost(uint64_t hash);
  bool takeGhost(uint64_t hash);

  static bool isLarge(const Item* item) { return (item->bits_ & Item::kLarge) != 0; }
  static Segment* segmentOf(const Item* item);

  size_t limit() const { return limit_.load(std::memory_order_relaxed); }
  // memcached's cache_memlimit: a lower limit is reached by eviction as
  // items are allocated, never by freeing at once.
  void setLimit(size_t limit) { limit_.store(limit, std::memory_order_relaxed); }
  size_t segmentSize() const { return segment_size_; }
  // Bytes of items not destroyed yet (memcached's `bytes`).
  size_t itemBytes() const { return item_bytes_.load(std::memory_order_relaxed); }
  // Times the system refused memory the limit allowed (mmap, malloc).
  uint64_t systemFailures() const { return system_failures_.load(std::memory_order_relaxed); }
  struct Usage {
    size_t in_use;  // segments open, queued or draining, and large blocks
    size_t cached;  // free segments kept for reuse
    size_t small;   // of in_use, the small queue's
    size_t segments;
  };
  Usage usage();

 private:
  friend class Item;
  ItemStore(size_t limit, size_t segment_size);
  ~ItemStore();
  static void destroyItem(Item* item);
  // A segment whose last item went: cached for reuse, or unmapped.
  void recycle(Segment* segment);
  // A large block's item went: if the block sits in its queue it is freed
  // now, not when eviction reaches it (overwritten 1 MiB values would
  // otherwise hold the whole limit); if an evictor holds it, its release
  // frees it.
  void destroyLarge(Segment* segment);
  // A fresh segment for an open slot, or nullptr (mutex held).
  Segment* newSegmentLocked(Queue queue, bool reserve);
  bool fitsLocked(size_t bytes, bool reserve) const;
  void pushFrontLocked(Segment* segment);
  void unlinkLocked(Segment* segment);
  // Out of its queue, then waits until no item in it is pending.
  Segment* detachLocked(Segment* victim);
  static void waitForWriters(Segment* victim);
  void freeBlock(Segment* segment);  // mutex not held

  const size_t segment_size_;
  std::atomic<size_t> limit_;
  std::atomic<size_t> item_bytes_{0};
  std::atomic<uint64_t> system_failures_{0};
  std::atomic<uint64_t> segments_opened_{0};

  std::mutex mutex_;
  // Guarded by mutex_:
  Segment* open_[2] = {nullptr, nullptr};  // small, main: where items are appended
  Segment* newest_[2] = {nullptr, nullptr};
  Segment* oldest_[2] = {nullptr, nullptr};
  Segment* free_ = nullptr;  // cached segments, linked by next
  size_t in_use_ = 0;
  size_t cached_ = 0;
  size_t queue_bytes_[2] = {0, 0};
  size_t segments_ = 0;  // blocks allocated and not yet returned to the system
  bool retired_ = false;

  uint32_t* ghost_ = nullptr;  // mapped lazily by the kernel: untouched pages cost no RSS
  size_t ghost_mask_ = 0;
};

}  // namespace memkv::engine
