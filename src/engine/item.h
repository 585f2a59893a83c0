#pragma once
// Item: one allocation holding metadata, key and value, shared by reference
// between the hash table and any send in flight.
//
//   +----------------------+-----------+-----------------+
//   | Item (metadata, 72B) | key bytes | value bytes     |
//   +----------------------+-----------+-----------------+
//
// Items are immutable once published (docs/architecture.md invariant 8): key,
// value, flags, CAS and datatype never change; a mutation publishes a new
// Item. Only the expiry (TOUCH/GAT) and the LRU bump time change in place,
// and neither is part of the bytes a socket may be sending. A flush keeps
// no state here: its vbucket's CAS mark decides (see Bucket::markFlushed).
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>

namespace memkv::engine {

class MemoryAccount;

class Item final {
 public:
  struct Meta {
    uint32_t flags = 0;
    uint32_t expiry = 0;  // absolute Unix seconds; 0 = never
    uint64_t cas = 0;
    uint8_t datatype = 0;
  };

  // Allocates an item with room for the value; the caller fills value bytes
  // through mutableValue() before publishing. Returns nullptr when the
  // allocator fails (never throws). The new item has refcount 1.
  static Item* create(std::string_view key, size_t value_length, const Meta& meta, uint32_t hash,
                      uint16_t vbucket, MemoryAccount* account);

  // Bytes this item charges to the memory budget.
  static size_t footprint(size_t key_length, size_t value_length) {
    return sizeof(Item) + key_length + value_length;
  }

  std::string_view key() const { return {reinterpret_cast<const char*>(this + 1), key_length_}; }
  std::span<const uint8_t> value() const {
    return {reinterpret_cast<const uint8_t*>(this + 1) + key_length_, value_length_};
  }
  // Only before publication (the vbucket assigns the CAS under its lock).
  void assignCas(uint64_t cas) { cas_ = cas; }
  // Only before publication.
  uint8_t* mutableValue() { return reinterpret_cast<uint8_t*>(this + 1) + key_length_; }

  uint32_t flags() const { return flags_; }
  uint64_t cas() const { return cas_; }
  uint8_t datatype() const { return datatype_; }
  uint32_t hash() const { return hash_; }
  uint16_t vbucket() const { return vbucket_; }
  size_t footprint() const { return footprint(key_length_, value_length_); }

  uint32_t expiry() const { return expiry_.load(std::memory_order_relaxed); }
  void setExpiry(uint32_t expiry) { expiry_.store(expiry, std::memory_order_relaxed); }
  bool expiredAt(uint32_t now) const {
    const uint32_t e = expiry();
    return e != 0 && e <= now;
  }
  // The bucket's LRU sequence number when the item last moved to the front
  // (link or bump). Read without a lock to decide whether a read bumps it.
  uint32_t lruStamp() const { return lru_stamp_.load(std::memory_order_relaxed); }
  void setLruStamp(uint32_t stamp) { lru_stamp_.store(stamp, std::memory_order_relaxed); }

  void ref() { refcount_.fetch_add(1, std::memory_order_relaxed); }
  void unref() {
    if (refcount_.fetch_sub(1, std::memory_order_acq_rel) == 1) destroy();
  }
  uint32_t refcountForTesting() const { return refcount_.load(); }

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
  // it reads wrong for items idle over 18 hours; the Item has 3 spare bytes).
  uint16_t accessTime() const { return access_time_.load(std::memory_order_relaxed); }
  void setAccessTime(uint32_t now) {
    access_time_.store(static_cast<uint16_t>(now), std::memory_order_relaxed);
  }

  // Intrusive links, owned by the structures that hold the item:
  // hash_next_ and linked_ under the vbucket mutex, lru_* under the LRU mutex.
  Item* hash_next_ = nullptr;
  Item* lru_prev_ = nullptr;
  Item* lru_next_ = nullptr;

 private:
  Item(std::string_view key, size_t value_length, const Meta& meta, uint32_t hash, uint16_t vbucket,
       MemoryAccount* account);
  ~Item() = default;
  void destroy();

  MemoryAccount* account_;
  std::atomic<uint32_t> refcount_{1};
  uint32_t value_length_;
  uint64_t cas_;
  uint32_t flags_;
  std::atomic<uint32_t> expiry_;
  uint32_t hash_;
  uint16_t vbucket_;
  uint8_t key_length_;
  uint8_t datatype_;
  std::atomic<uint32_t> lru_stamp_{0};

 public:
  bool linked_ = false;  // in its vbucket's table; guarded by the vbucket mutex

 private:
  std::atomic<uint8_t> meta_state_{0};
  std::atomic<uint16_t> access_time_{0};
};

// 72 bytes: with the allocator's 8-byte header and 16-byte rounding, a 10-byte
// key and a 100-byte value fit a 192-byte chunk (80 bytes made it 208).
static_assert(sizeof(Item) <= 72, "Item metadata grew: every stored key pays for it");

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
