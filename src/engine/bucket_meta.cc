// memcached's meta commands in the engine: mg's read with state (fetched,
// last access, the win/stale/recache tokens) and md's invalidate / empty
// forms. The rest of meta maps onto store() and counter().
#include <cstring>

#include "engine/bucket.h"

namespace memkv::engine {

MetaGetResult Bucket::metaGet(const MetaGetRequest& request) {
  const uint32_t now = clock_.now();
  Located at = locate(request.key);
  MetaGetResult result;
  result.now = now;
  const ItemStore::Queue queue = queueFor(at);
  for (RoomTries tries;;) {
    {
      std::lock_guard guard(at.vb.mutex);
      Item* item = findLive(at.vb, at.hash, request.key, now, &result.expired);
      if (item == nullptr) {
        if (!request.vivify) return result;
        // N: the first reader of a missing key gets an empty placeholder
        // and the token to fill it; readers after it see Z.
        const Item::Meta meta{0, absoluteExpiry(request.vivify_expiry, now), 0, 0};
        Item* fresh = allocateWithoutEviction(request.key, 0, meta, at, queue);
        if (fresh != nullptr) {
          fresh->setMetaState(Item::kTokenSent |
                              (request.binary_key ? uint8_t{Item::kBinaryKey} : uint8_t{0}));
          result.cas =
              publishLocked(at.vb, fresh, nullptr, at.hash, casFor(at.vb, request.vivify_cas)).cas;
          result.won = true;
          result.expiry_before = fresh->expiry();
          result.item = ItemRef::share(fresh);
          return result;
        }
      } else {
        const bool locked = lockOf(at.vb, item, now) != nullptr;
        result.expiry_before = item->expiry();
        if (request.touch && !locked) item->setExpiry(absoluteExpiry(request.touch_expiry, now));
        const uint8_t state = item->metaState();
        result.fetched_before = (state & Item::kFetched) != 0;
        result.idle_seconds =
            static_cast<uint16_t>(static_cast<uint16_t>(now) - item->accessTime());
        result.stale = (state & Item::kStale) != 0;
        if ((state & Item::kTokenSent) != 0) {
          result.token_sent = true;
        } else {
          const uint32_t expiry = item->expiry();
          result.won = result.stale ||
                       (request.recache && expiry != 0 && expiry - now < request.recache_seconds);
          if (result.won) item->addMetaState(Item::kTokenSent);
        }
        if (!request.no_bump) {
          noteRead(item, now);
          touchLru(item);
        }
        result.cas = locked ? kLockedCas : item->cas();
        result.item = ItemRef::share(item);
        return result;
      }
    }
    if (!makeRoomFor(tries)) return result;
  }
}

MutationResult Bucket::metaDelete(const MetaDeleteRequest& request) {
  const uint32_t now = clock_.now();
  Located at = locate(request.key);
  const ItemStore::Queue queue = queueFor(at);
  for (RoomTries tries;;) {
    {
      std::lock_guard guard(at.vb.mutex);
      Item* old = findLive(at.vb, at.hash, request.key, now, nullptr);
      if (old == nullptr) return {EngineStatus::kKeyEnoent};
      const EngineStatus allowed = checkCas(at.vb, old, request.cas, now);
      if (allowed != EngineStatus::kSuccess) return {allowed};
      if (!request.invalidate && !request.empty_value) {
        return retireLocked(at.vb, old, at.hash, Removal::kDeleted, now);
      }
      // Items are immutable (docs/architecture.md invariant 8): the new CAS
      // and state go into a copy, published in the old one's place.
      const auto value = request.empty_value ? std::span<const uint8_t>() : old->value();
      uint32_t expiry = old->expiry();
      if (request.has_expiry) {
        expiry = absoluteExpiry(request.expiry, now);
      } else if (request.empty_value) {
        expiry = 0;
      }
      const Item::Meta meta{request.empty_value ? request.flags : old->flags(), expiry, 0,
                            request.empty_value ? uint8_t{0} : old->datatype()};
      Item* fresh = allocateWithoutEviction(request.key, value.size(), meta, at, queue);
      if (fresh != nullptr) {
        if (!value.empty()) std::memcpy(fresh->mutableValue(), value.data(), value.size());
        // I: stale, and the recache token is up for grabs again.
        fresh->setMetaState((request.invalidate ? uint8_t{Item::kStale} : uint8_t{0}) |
                            (old->metaState() & Item::kBinaryKey));
        return publishLocked(at.vb, fresh, old, at.hash, casFor(at.vb, request.new_cas));
      }
    }
    if (!makeRoomFor(tries)) return {EngineStatus::kEnomem};
  }
}

}  // namespace memkv::engine
