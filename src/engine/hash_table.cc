#include "engine/hash_table.h"

#include <new>

#include "common/keyed_hash.h"

namespace memkv::engine {

namespace {
constexpr size_t kInitialSlots = 16;
// Chains average up to two items before the table doubles (memcached grows
// at 1.5): a slot pointer is 8 bytes, and at this load it costs 4 to 8
// bytes per item instead of 5 to 11, while a lookup still touches about
// two items on a hit (their keys sit in the line read for the link).
constexpr size_t kMaxLoad = 2;
}  // namespace

HashTable::HashTable() : slots_(new Item*[kInitialSlots]()), mask_(kInitialSlots - 1) {}

Item* HashTable::find(uint64_t hash, std::string_view key) const {
  for (Item* it = slots_[slotOf(hash)]; it != nullptr; it = it->hash_next_) {
    if (it->key() == key) return it;
  }
  return nullptr;
}

void HashTable::insert(Item* item, uint64_t hash) {
  if (size_ + 1 > kMaxLoad * slotCount()) {
    grow();
  }
  Item*& head = slots_[slotOf(hash)];
  item->hash_next_ = head;
  head = item;
  ++size_;
}

void HashTable::remove(Item* item, uint64_t hash) {
  Item** link = &slots_[slotOf(hash)];
  while (*link != item) link = &(*link)->hash_next_;
  *link = item->hash_next_;
  item->hash_next_ = nullptr;
  --size_;
}

void HashTable::replace(Item* old, Item* fresh, uint64_t hash) {
  Item** link = &slots_[slotOf(hash)];
  while (*link != old) link = &(*link)->hash_next_;
  fresh->hash_next_ = old->hash_next_;
  *link = fresh;
  old->hash_next_ = nullptr;
}

void HashTable::grow() {
  const size_t old_count = slotCount();
  // Growing is an optimisation: if the allocator says no, chains just get
  // longer (no std::bad_alloc on the request path, invariant 8).
  std::unique_ptr<Item*[]> bigger(new (std::nothrow) Item*[old_count * 2]());
  if (!bigger) return;
  std::unique_ptr<Item*[]> old = std::move(slots_);
  slots_ = std::move(bigger);
  mask_ = old_count * 2 - 1;
  for (size_t i = 0; i < old_count; ++i) {
    Item* it = old[i];
    while (it) {
      Item* next = it->hash_next_;
      Item*& head = slots_[slotOf(keyedHash(it->key()))];
      it->hash_next_ = head;
      head = it;
      it = next;
    }
  }
}

}  // namespace memkv::engine
