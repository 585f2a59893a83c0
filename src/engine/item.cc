#include "engine/item.h"

#include <cstring>

#include "engine/item_store.h"

namespace memkv::engine {

Item::Item(std::string_view key, size_t value_length, const Meta& meta, uint16_t vbucket,
           uint8_t bits, uint8_t segment_shift)
    : cas_(meta.cas),
      value_length_(static_cast<uint32_t>(value_length)),
      flags_(meta.flags),
      expiry_(meta.expiry),
      vbucket_(vbucket),
      key_length_(static_cast<uint8_t>(key.size())),
      datatype_(meta.datatype),
      bits_(bits),
      segment_shift_(segment_shift) {
  std::memcpy(reinterpret_cast<char*>(this + 1), key.data(), key.size());
}

void Item::destroy() {
  ItemStore::destroyItem(this);
}

}  // namespace memkv::engine
