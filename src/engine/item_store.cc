#include "engine/item_store.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <new>
#include <thread>

namespace memkv::engine {

namespace {
constexpr size_t kMinSegment = size_t{64} << 10;
constexpr size_t kMaxSegment = size_t{1} << 20;
// Ghost entries per byte of limit: one per 256 bytes remembers about as
// many keys as a cache of ~250-byte items holds, at 1.6% of the limit in
// virtual memory that is touched only as items are evicted.
constexpr size_t kLimitPerGhostEntry = 256;
constexpr size_t kMinGhostEntries = 1024;
// S3-FIFO: the small queue holds a tenth of the cache.
constexpr size_t kSmallShareDivisor = 10;

size_t pickSegmentSize(size_t limit, size_t wanted) {
  if (wanted != 0) return std::bit_ceil(std::max<size_t>(wanted, 4096));
  return std::clamp(std::bit_floor(std::max<size_t>(limit / 64, 1)), kMinSegment, kMaxSegment);
}

// Segments are aligned to their size so that an item finds its header by
// masking its address: map twice the size and trim both ends.
void* mapAligned(size_t size) {
  void* raw = mmap(nullptr, size * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const auto start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + size - 1) & ~(uintptr_t{size} - 1);
  if (aligned > start) munmap(raw, aligned - start);
  const uintptr_t end = start + size * 2;
  if (end > aligned + size) munmap(reinterpret_cast<void*>(aligned + size), end - aligned - size);
  return reinterpret_cast<void*>(aligned);
}
}  // namespace

ItemStore* ItemStore::create(size_t limit, size_t segment_size) {
  return new ItemStore(limit, pickSegmentSize(limit, segment_size));
}

ItemStore::ItemStore(size_t limit, size_t segment_size)
    : segment_size_(segment_size), limit_(limit) {
  const size_t entries =
      std::bit_ceil(std::max<size_t>(limit / kLimitPerGhostEntry, kMinGhostEntries));
  void* ghost = mmap(nullptr, entries * sizeof(uint32_t), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (ghost != MAP_FAILED) {
    ghost_ = static_cast<uint32_t*>(ghost);
    ghost_mask_ = entries - 1;
  }
}

ItemStore::~ItemStore() {
  if (ghost_) munmap(ghost_, (ghost_mask_ + 1) * sizeof(uint32_t));
}

ItemStore::Segment* ItemStore::segmentOf(const Item* item) {
  const auto at = reinterpret_cast<uintptr_t>(item);
  if (isLarge(item)) return reinterpret_cast<Segment*>(at - kHeader);
  return reinterpret_cast<Segment*>(at & ~((uintptr_t{1} << item->segment_shift_) - 1));
}

bool ItemStore::fitsLocked(size_t bytes, bool reserve) const {
  const size_t limit = this->limit();
  // Normal allocation leaves one segment for the evictor's moves (when the
  // limit has room for a few), so a full cache can always copy hot items.
  const size_t kept = reserve || limit < 4 * segment_size_ ? 0 : segment_size_;
  return in_use_ + bytes + kept <= limit;
}

void ItemStore::pushFrontLocked(Segment* segment) {
  const auto q = static_cast<size_t>(segment->queue);
  segment->prev = nullptr;
  segment->next = newest_[q];
  segment->queued = true;
  if (newest_[q]) newest_[q]->prev = segment;
  newest_[q] = segment;
  if (!oldest_[q]) oldest_[q] = segment;
}

void ItemStore::unlinkLocked(Segment* segment) {
  const auto q = static_cast<size_t>(segment->queue);
  (segment->prev ? segment->prev->next : newest_[q]) = segment->next;
  (segment->next ? segment->next->prev : oldest_[q]) = segment->prev;
  segment->prev = segment->next = nullptr;
  segment->queued = false;
}

ItemStore::Segment* ItemStore::newSegmentLocked(Queue queue, bool reserve) {
  if (!fitsLocked(segment_size_, reserve)) return nullptr;
  Segment* segment = free_;
  if (segment) {
    free_ = segment->next;
    cached_ -= segment_size_;
  } else {
    // Cached segments count against the limit too: keep the sum under it.
    if (in_use_ + cached_ + segment_size_ > limit()) return nullptr;
    void* mem = mapAligned(segment_size_);
    if (!mem) {
      system_failures_.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
    segment = static_cast<Segment*>(mem);
    ++segments_;
  }
  segment->store = this;
  segment->prev = segment->next = nullptr;
  segment->used = kHeader;
  segment->capacity = static_cast<uint32_t>(segment_size_);
  segment->items = 0;
  segment->live.store(1, std::memory_order_relaxed);
  segment->writers.store(0, std::memory_order_relaxed);
  segment->queue = queue;
  segment->large = false;
  segment->queued = false;
  in_use_ += segment_size_;
  queue_bytes_[static_cast<size_t>(queue)] += segment_size_;
  return segment;
}

Item* ItemStore::allocate(std::string_view key, size_t value_length, const Item::Meta& meta,
                          uint16_t vbucket, Queue queue, bool reserve) {
  const size_t bytes = Item::footprint(key.size(), value_length);
  const auto q = static_cast<size_t>(queue);
  const auto shift = static_cast<uint8_t>(std::countr_zero(segment_size_));
  if (bytes > segment_size_ / 4) {
    const size_t block = kHeader + bytes;
    {
      std::lock_guard guard(mutex_);
      if (retired_ || !fitsLocked(block, reserve)) return nullptr;
      // A large block may need the room cached segments hold.
      while (free_ && in_use_ + cached_ + block > limit()) {
        Segment* drop = free_;
        free_ = drop->next;
        cached_ -= segment_size_;
        --segments_;
        munmap(drop, segment_size_);
      }
      in_use_ += block;
      ++segments_;
    }
    void* mem = std::malloc(block);
    if (!mem) {
      system_failures_.fetch_add(1, std::memory_order_relaxed);
      std::lock_guard guard(mutex_);
      in_use_ -= block;
      --segments_;
      return nullptr;
    }
    auto* segment = static_cast<Segment*>(mem);
    segment->store = this;
    segment->used = static_cast<uint32_t>(block);
    segment->capacity = static_cast<uint32_t>(block);
    segment->items = 1;
    segment->live.store(2, std::memory_order_relaxed);  // the item, and the queue's bias
    segment->writers.store(1, std::memory_order_relaxed);
    segment->queue = queue;
    segment->large = true;
    segment->queued = false;
    Item* item = new (static_cast<char*>(mem) + kHeader)
        Item(key, value_length, meta, vbucket, Item::kPending | Item::kLarge, 0);
    item_bytes_.fetch_add(bytes, std::memory_order_relaxed);
    std::lock_guard guard(mutex_);
    queue_bytes_[q] += block;
    pushFrontLocked(segment);
    return item;
  }

  Segment* segment;
  uint32_t at;
  {
    std::lock_guard guard(mutex_);
    if (retired_) return nullptr;
    segment = open_[q];
    if (!segment || segment->used + bytes > segment_size_) {
      Segment* fresh = newSegmentLocked(queue, reserve);
      if (!fresh) return nullptr;             // the open segment stays open
      if (segment) pushFrontLocked(segment);  // sealed: now evictable
      open_[q] = segment = fresh;
      segments_opened_.fetch_add(1, std::memory_order_relaxed);
    }
    at = segment->used;
    segment->used += static_cast<uint32_t>(bytes);
    ++segment->items;
    segment->live.fetch_add(1, std::memory_order_relaxed);
    segment->writers.fetch_add(1, std::memory_order_relaxed);
  }
  item_bytes_.fetch_add(bytes, std::memory_order_relaxed);
  // Written outside the mutex: the segment is open (never a victim), and
  // once sealed its evictor waits for writers to reach zero first.
  return new (reinterpret_cast<char*>(segment) + at)
      Item(key, value_length, meta, vbucket, Item::kPending, shift);
}

void ItemStore::published(Item* item) {
  item->bits_ &= ~Item::kPending;
  segmentOf(item)->writers.fetch_sub(1, std::memory_order_release);
}

void ItemStore::destroyItem(Item* item) {
  Segment* segment = segmentOf(item);
  ItemStore* store = segment->store;
  store->item_bytes_.fetch_sub(item->footprint(), std::memory_order_relaxed);
  if ((item->bits_ & Item::kPending) != 0) {
    segment->writers.fetch_sub(1, std::memory_order_release);
  }
  // The item's bytes stay as they are (the evictor may still read its
  // header) until the segment is recycled.
  if (segment->large) {
    store->destroyLarge(segment);
  } else if (segment->live.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    store->recycle(segment);
  }
}

void ItemStore::destroyLarge(Segment* segment) {
  uint32_t was;
  bool unqueued = false;
  {
    // Under the mutex: while this thread looks at the block, whoever holds
    // its last share (its queue, or an evictor that took it) cannot free it
    // (recycle takes the mutex first).
    std::lock_guard guard(mutex_);
    was = segment->live.fetch_sub(1, std::memory_order_acq_rel);
    if (was == 2 && segment->queued) {
      unlinkLocked(segment);
      queue_bytes_[static_cast<size_t>(segment->queue)] -= segment->capacity;
      unqueued = true;
    }
  }
  if (unqueued) {
    releaseVictim(segment);  // the queue's share: the last one
  } else if (was == 1) {
    recycle(segment);
  }
}

void ItemStore::waitForWriters(Segment* victim) {
  // A writer between allocate() and link finishes in bounded time (a value
  // copy and one vbucket lock; it never waits for eviction meanwhile).
  while (victim->writers.load(std::memory_order_acquire) != 0) std::this_thread::yield();
}

ItemStore::Segment* ItemStore::detachLocked(Segment* victim) {
  unlinkLocked(victim);
  queue_bytes_[static_cast<size_t>(victim->queue)] -= victim->capacity;
  return victim;
}

ItemStore::Segment* ItemStore::takeVictim() {
  Segment* victim = nullptr;
  {
    std::lock_guard guard(mutex_);
    const size_t small = static_cast<size_t>(Queue::kSmall);
    const size_t main = static_cast<size_t>(Queue::kMain);
    const bool small_over = queue_bytes_[small] > limit() / kSmallShareDivisor;
    if (oldest_[small] && (small_over || !oldest_[main])) {
      victim = oldest_[small];
    } else {
      victim = oldest_[main] ? oldest_[main] : oldest_[small];
    }
    if (!victim) return nullptr;
    detachLocked(victim);
  }
  waitForWriters(victim);
  return victim;
}

ItemStore::Segment* ItemStore::takeSparseVictim(bool anywhere) {
  // live counts the items not destroyed yet, plus the queue's one.
  auto sparse = [](const Segment* s) {
    return !s->large && (s->live.load(std::memory_order_relaxed) - 1) * 2 <= s->items;
  };
  Segment* victim = nullptr;
  {
    std::lock_guard guard(mutex_);
    for (Segment* oldest : oldest_) {
      for (Segment* s = oldest; s != nullptr; s = anywhere ? s->prev : nullptr) {
        if (sparse(s)) {
          victim = detachLocked(s);
          break;
        }
      }
      if (victim) break;
    }
  }
  if (victim) waitForWriters(victim);
  return victim;
}

void ItemStore::releaseVictim(Segment* segment) {
  if (segment->live.fetch_sub(1, std::memory_order_acq_rel) == 1) recycle(segment);
}

void ItemStore::requeueVictim(Segment* segment) {
  std::lock_guard guard(mutex_);
  segment->queue = Queue::kMain;
  queue_bytes_[static_cast<size_t>(Queue::kMain)] += segment->capacity;
  pushFrontLocked(segment);
}

void ItemStore::recycle(Segment* segment) {
  bool gone = false;
  {
    std::lock_guard guard(mutex_);
    in_use_ -= segment->capacity;
    if (!segment->large && !retired_ && in_use_ + cached_ + segment_size_ <= limit()) {
      segment->next = free_;
      free_ = segment;
      cached_ += segment_size_;
      return;
    }
    --segments_;
    gone = retired_ && segments_ == 0;
  }
  freeBlock(segment);
  if (gone) delete this;
}

void ItemStore::freeBlock(Segment* segment) {
  if (segment->large) {
    std::free(segment);
  } else {
    munmap(segment, segment_size_);
  }
}

void ItemStore::retire() {
  Segment* queued = nullptr;  // every open or queued segment, linked by next
  Segment* cached;
  {
    std::lock_guard guard(mutex_);
    retired_ = true;
    for (size_t q = 0; q < 2; ++q) {
      if (open_[q]) pushFrontLocked(open_[q]);
      open_[q] = nullptr;
      while (Segment* s = oldest_[q]) {
        unlinkLocked(s);
        s->next = queued;
        queued = s;
      }
      queue_bytes_[q] = 0;
    }
    cached = free_;
    free_ = nullptr;
    for (Segment* s = cached; s; s = s->next) --segments_;
    cached_ = 0;
    // The store's own share: it is deleted by whoever frees the last block.
    ++segments_;
  }
  while (cached) {
    Segment* next = cached->next;
    munmap(cached, segment_size_);
    cached = next;
  }
  while (queued) {
    Segment* next = queued->next;
    releaseVictim(queued);
    queued = next;
  }
  bool gone;
  {
    std::lock_guard guard(mutex_);
    gone = --segments_ == 0;
  }
  if (gone) delete this;
}

void ItemStore::addGhost(uint64_t hash) {
  if (!ghost_) return;
  const auto fingerprint = static_cast<uint32_t>(hash) | 1;
  std::atomic_ref(ghost_[(hash >> 32) & ghost_mask_]).store(fingerprint, std::memory_order_relaxed);
}

bool ItemStore::takeGhost(uint64_t hash) {
  if (!ghost_) return false;
  const auto fingerprint = static_cast<uint32_t>(hash) | 1;
  std::atomic_ref entry(ghost_[(hash >> 32) & ghost_mask_]);
  if (entry.load(std::memory_order_relaxed) != fingerprint) return false;
  entry.store(0, std::memory_order_relaxed);
  return true;
}

ItemStore::Usage ItemStore::usage() {
  std::lock_guard guard(mutex_);
  return {in_use_, cached_, queue_bytes_[static_cast<size_t>(Queue::kSmall)], segments_};
}

}  // namespace memkv::engine
