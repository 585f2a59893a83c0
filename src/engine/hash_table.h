#pragma once
// A chained hash table of Items for one vbucket. Not thread-safe: the owning
// VBucket's mutex guards every call. The table holds one reference on each
// item it contains. Slots are picked by the key's keyed hash (keyedHash,
// random per process), which callers compute once per request; items do
// not store it: a growing table hashes their keys again.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "engine/item.h"

namespace memkv::engine {

class HashTable final {
 public:
  HashTable();

  Item* find(uint64_t hash, std::string_view key) const;
  // Adds an item whose key is not present; takes over one reference.
  // `hash` is keyedHash(item->key()), here and below.
  void insert(Item* item, uint64_t hash);
  // Removes an item that is present; hands its reference to the caller.
  void remove(Item* item, uint64_t hash);
  // Puts `fresh` (same key) in the chain where `old` was: the table's
  // reference moves from old (handed to the caller) to fresh.
  void replace(Item* old, Item* fresh, uint64_t hash);
  // Removes every item, passing each (with the table's reference) to fn.
  template <typename Fn>
  void clear(Fn&& fn) {
    for (size_t i = 0; i <= mask_; ++i) {
      Item* it = slots_[i];
      slots_[i] = nullptr;
      while (it) {
        Item* next = it->hash_next_;
        it->hash_next_ = nullptr;
        fn(it);
        it = next;
      }
    }
    size_ = 0;
  }

  // Removes up to `limit` items that `drop(const Item&)` accepts, passing
  // each (with the table's reference) to fn. Walks the slots once, starting
  // at *cursor (wrapping around), and leaves *cursor where the next call
  // should go on: a caller that frees a table in batches walks it about once
  // in all, not once per batch. Returns how many it removed; fewer than
  // `limit` means no accepted item is left.
  // With `max_slots`, the walk also stops after that many slots, and
  // *walked (if given) says how many it walked.
  template <typename Drop, typename Fn>
  size_t removeIf(Drop&& drop, Fn&& fn, size_t limit, size_t* cursor, size_t max_slots = ~size_t{0},
                  size_t* walked_out = nullptr) {
    size_t removed = 0;
    const size_t slots = std::min(mask_ + 1, max_slots);
    size_t slot = *cursor & mask_;
    size_t walked = 0;
    for (; walked < slots; ++walked, slot = (slot + 1) & mask_) {
      Item** link = &slots_[slot];
      while (*link != nullptr) {
        Item* it = *link;
        if (!drop(*it)) {
          link = &it->hash_next_;
          continue;
        }
        if (removed == limit) {
          *cursor = slot;  // more here: the next call starts with this slot
          if (walked_out) *walked_out = walked;
          return removed;
        }
        *link = it->hash_next_;
        it->hash_next_ = nullptr;
        --size_;
        ++removed;
        fn(it);
      }
    }
    *cursor = slot;
    if (walked_out) *walked_out = walked;
    return removed;
  }
  // Calls fn(const Item*) for every item.
  template <typename Fn>
  void forEach(Fn&& fn) const {
    for (size_t i = 0; i <= mask_; ++i) {
      for (const Item* it = slots_[i]; it; it = it->hash_next_) fn(it);
    }
  }

  size_t size() const { return size_; }
  size_t slotCount() const { return mask_ + 1; }

 private:
  size_t slotOf(uint64_t hash) const { return hash & mask_; }
  void grow();

  std::unique_ptr<Item*[]> slots_;
  size_t mask_;
  size_t size_ = 0;
};

}  // namespace memkv::engine
