#pragma once
// Item: metadata, key and value in one block of its segment (item_store.h),
// shared by reference between the hash table and any send in flight.
//
//   offset  0  hash_next_   8  next item in its hash chain (vbucket mutex)
//           8  cas_         8
//          16  seqno_lo_    4  } the mutation's seqno in its vbucket (48 bits)
//          20  seqno_hi_    2  }
//          22  access_time_ 2  seconds mod 2^16 of the last store or read (mg l)
//          24  value_length_4
//          28  flags_       4
//          32  expiry_      4  absolute seconds, 0 = never (TOUCH changes it)
//          36  refcount_    4
//          40  vbucket_     2
//          42  key_length_  1
//          43  datatype_    1
//          44  meta_state_  1  mg's fetched/won/stale/base64 bits
//          45  freq_        1  reads since the eviction policy last looked (0..3)
//          46  bits_        1  linked / pending / large (see Bit)
//          47  segment_shift_ 1  log2 of its segment's size: masking finds the header
//          48  key bytes, then value bytes; the next item starts 8-aligned
//
// 48 bytes against memcached's 56 (48 + its 8-byte CAS): no allocator
// header (items are carved from segments), no LRU links (eviction walks
// segments), no stored hash (the slot hash is recomputed from the key when
// a table grows; the vbucket is kept for the evictor).
//
// Items are immutable once published (docs/architecture.md invariant 8): key,
// value, flags, CAS, seqno and datatype never change; a mutation publishes a
// new Item. Only the expiry (TOUCH/GAT), the meta state, the access time and
// the policy's frequency change in place, and none of them is part of the
// bytes a socket may be sending. A flush keeps no state here: its vbucket's
// CAS mark decides (see Bucket::markFlushed).
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>

namespace memkv::engine {

class ItemStore;

class Item final {
 public:
  struct Meta {
    uint32_t flags = 0;
    uint32_t expiry = 0;  // absolute Unix seconds; 0 = never
    uint64_t cas = 0;
    uint8_t datatype = 0;
  };

  static constexpr size_t kAlignment = 8;
  // Bytes an item of these lengths occupies in its segment (and charges to
  // the bucket's `bytes`).
  static constexpr size_t footprint(size_t key_length, size_t value_length) {
    return (48 + key_length + value_length + kAlignment - 1) & ~(kAlignment - 1);
  }

  std::string_view key() const { return {reinterpret_cast<const char*>(this + 1), key_length_}; }
  std::span<const uint8_t> value() const {
    return {reinterpret_cast<const uint8_t*>(this + 1) + key_length_, value_length_};
  }
  // Only before publication (the vbucket assigns them under its lock).
  void assignCas(uint64_t cas) { cas_ = cas; }
  void assignSeqno(uint64_t seqno) {
    seqno_lo_ = static_cast<uint32_t>(seqno);
    seqno_hi_ = static_cast<uint16_t>(seqno >> 32);
  }
  // Only before publication.
  uint8_t* mutableValue() { return reinterpret_cast<uint8_t*>(this + 1) + key_length_; }

  uint32_t flags() const { return flags_; }
  uint64_t cas() const { return cas_; }
  uint64_t seqno() const { return uint64_t{seqno_hi_} << 32 | seqno_lo_; }
  uint8_t datatype() const { return datatype_; }
  uint16_t vbucket() const { return vbucket_; }
  size_t footprint() const { return footprint(key_length_, value_length_); }

  uint32_t expiry() const { return expiry_.load(std::memory_order_relaxed); }
  void setExpiry(uint32_t expiry) { expiry_.store(expiry, std::memory_order_relaxed); }
  bool expiredAt(uint32_t now) const {
    const uint32_t e = expiry();
    return e != 0 && e <= now;
  }

  void ref() { refcount_.fetch_add(1, std::memory_order_relaxed); }
  void unref() {
    if (refcount_.fetch_sub(1, std::memory_order_acq_rel) == 1) destroy();
  }
  // Zero only once the last reference went: such an item is dead for good.
  uint32_t refcount() const { return refcount_.load(std::memory_order_acquire); }

  // memcached's meta protocol keeps per-item state beside the value (mg's
  // h, l, W, X and Z). Any thread; changes in place like the expiry, and
  // never part of the bytes a socket may be sending.
  enum MetaState : uint8_t {
    kFetched = 1,    // read since stored (mg h)
    kTokenSent = 2,  // a client won the right to recache it (W given; Z to others)
    kStale = 4,      // invalidated (md I, ms I): readers see X
    kBinaryKey = 8,  // stored by meta with a base64 key (b): mg k answers in base64
  };
  uint8_t metaState() const { return meta_state_.load(std::memory_order_relaxed); }
  // Sets bits; returns the state before.
  uint8_t addMetaState(uint8_t bits) {
    return meta_state_.fetch_or(bits, std::memory_order_relaxed);
  }
  void setMetaState(uint8_t state) { meta_state_.store(state, std::memory_order_relaxed); }
  // When the item was stored or last read, in seconds modulo 2^16 (mg l:
  // it reads wrong for items idle over 18 hours).
  uint16_t accessTime() const { return access_time_.load(std::memory_order_relaxed); }
  void setAccessTime(uint32_t now) {
    access_time_.store(static_cast<uint16_t>(now), std::memory_order_relaxed);
  }

  // The eviction policy's frequency (S3-FIFO): a read counts up to 3 with a
  // relaxed load and, only when it changes, a relaxed store: no lock, no
  // list move, and a hot item's cache line is not written on every hit.
  static constexpr uint8_t kMaxFreq = 3;
  uint8_t freq() const { return freq_.load(std::memory_order_relaxed); }
  void noteAccess() {
    const uint8_t f = freq();
    if (f < kMaxFreq) freq_.store(f + 1, std::memory_order_relaxed);
  }
  void setFreq(uint8_t f) { freq_.store(f, std::memory_order_relaxed); }

  // In its vbucket's table; read and written under the vbucket mutex.
  bool linked() const { return (bits_ & kLinked) != 0; }
  void setLinked(bool on) { bits_ = on ? bits_ | kLinked : bits_ & ~kLinked; }

  Item* hash_next_ = nullptr;  // the vbucket mutex guards it

 private:
  friend class ItemStore;
  enum Bit : uint8_t {
    kLinked = 1,
    // Allocated and not yet linked or dropped: its segment's evictor waits
    // (ItemStore::Segment::writers). Cleared by the store when linked.
    kPending = 2,
    kLarge = 4,  // alone in a segment of its own size (immutable)
  };

  Item(std::string_view key, size_t value_length, const Meta& meta, uint16_t vbucket, uint8_t bits,
       uint8_t segment_shift);
  ~Item() = default;
  void destroy();

  uint64_t cas_;
  uint32_t seqno_lo_ = 0;
  uint16_t seqno_hi_ = 0;
  std::atomic<uint16_t> access_time_{0};
  uint32_t value_length_;
  uint32_t flags_;
  std::atomic<uint32_t> expiry_;
  std::atomic<uint32_t> refcount_{1};
  uint16_t vbucket_;
  uint8_t key_length_;
  uint8_t datatype_;
  std::atomic<uint8_t> meta_state_{0};
  std::atomic<uint8_t> freq_{0};
  uint8_t bits_;
  uint8_t segment_shift_;
};

// The layout above: every stored key pays for each byte here.
static_assert(sizeof(Item) == 48, "Item metadata changed size: update the layout comment");
static_assert(Item::footprint(10, 100) == 160);

// An owning reference to an Item (intrusive refcount). Moves are free; copies
// bump the count.
class ItemRef final {
 public:
  ItemRef() = default;
  // Adopts one reference the caller already holds.
  static ItemRef adopt(Item* item) { return ItemRef(item); }
  // Takes a new reference.
  static ItemRef share(Item* item) {
    if (item) item->ref();
    return ItemRef(item);
  }
  ItemRef(const ItemRef& o) : item_(o.item_) {
    if (item_) item_->ref();
  }
  ItemRef(ItemRef&& o) noexcept : item_(std::exchange(o.item_, nullptr)) {}
  ItemRef& operator=(ItemRef o) noexcept {
    std::swap(item_, o.item_);
    return *this;
  }
  ~ItemRef() {
    if (item_) item_->unref();
  }

  Item* get() const { return item_; }
  Item* operator->() const { return item_; }
  Item& operator*() const { return *item_; }
  explicit operator bool() const { return item_ != nullptr; }
  // Gives up ownership of the reference without dropping it.
  Item* release() { return std::exchange(item_, nullptr); }

 private:
  explicit ItemRef(Item* item) : item_(item) {}
  Item* item_ = nullptr;
};

}  // namespace memkv::engine
