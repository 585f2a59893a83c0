#include "engine/hash_table.h"

#include <new>

namespace memkv::engine {

namespace {
constexpr size_t kInitialSlots = 16;
}

HashTable::HashTable() : slots_(new Item*[kInitialSlots]()), mask_(kInitialSlots - 1) {}

Item* HashTable::find(uint32_t hash, std::string_view key) const {
  for (Item* it = slots_[slotOf(hash)]; it != nullptr; it = it->hash_next_) {
    if (it->hash() == hash && it->key() == key) return it;
  }
  return nullptr;
}

void HashTable::insert(Item* item) {
  if (size_ + 1 > slotCount() + slotCount() / 2) grow();
  Item*& head = slots_[slotOf(item->hash())];
  item->hash_next_ = head;
  head = item;
  ++size_;
}

void HashTable::remove(Item* item) {
  Item** link = &slots_[slotOf(item->hash())];
  while (*link != item) link = &(*link)->hash_next_;
  *link = item->hash_next_;
  item->hash_next_ = nullptr;
  --size_;
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
      Item*& head = slots_[slotOf(it->hash())];
      it->hash_next_ = head;
      head = it;
      it = next;
    }
  }
}

}  // namespace memkv::engine
