#include "engine/item.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "engine/memory_account.h"

namespace memkv::engine {

Item::Item(std::string_view key, size_t value_length, const Meta& meta, uint32_t hash,
           uint16_t vbucket, MemoryAccount* account)
    : account_(account),
      value_length_(static_cast<uint32_t>(value_length)),
      cas_(meta.cas),
      flags_(meta.flags),
      expiry_(meta.expiry),
      hash_(hash),
      vbucket_(vbucket),
      key_length_(static_cast<uint8_t>(key.size())),
      datatype_(meta.datatype) {
  std::memcpy(reinterpret_cast<char*>(this + 1), key.data(), key.size());
}

Item* Item::create(std::string_view key, size_t value_length, const Meta& meta, uint32_t hash,
                   uint16_t vbucket, MemoryAccount* account) {
  // This is the engine's allocator: the one place items are made and freed.
  void* mem = std::malloc(footprint(key.size(), value_length));
  if (mem == nullptr) return nullptr;
  return new (mem) Item(key, value_length, meta, hash, vbucket, account);
}

void Item::destroy() {
  MemoryAccount* account = account_;
  const size_t bytes = footprint();
  this->~Item();
  std::free(this);
  if (account) account->credit(bytes);
}

}  // namespace memkv::engine
