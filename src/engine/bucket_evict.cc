// Eviction: the bucket empties the item store's victim segments (see
// item_store.h for the queues, and docs/architecture.md section 5 for why a
// log and S3-FIFO).
#include <algorithm>
#include <array>
#include <cstring>

#include "common/keyed_hash.h"
#include "engine/bucket.h"

namespace memkv::engine {

bool Bucket::moveLocked(VBucket& vb, Item* item, uint64_t hash, uint8_t freq) {
  const Item::Meta meta{item->flags(), item->expiry(), item->cas(), item->datatype()};
  const auto value = item->value();
  Item* copy = store_.allocate(item->key(), value.size(), meta, item->vbucket(),
                               ItemStore::Queue::kMain, /*reserve=*/true);
  if (copy == nullptr) return false;
  if (!value.empty()) std::memcpy(copy->mutableValue(), value.data(), value.size());
  copy->assignSeqno(item->seqno());
  copy->setMetaState(item->metaState());
  copy->setAccessTime(item->accessTime());
  copy->setFreq(freq);
  vb.table.replace(item, copy, hash);
  copy->setLinked(true);
  ItemStore::published(copy);
  if (vb.locks) vb.locks->rekey(item, copy);
  item->setLinked(false);
  item->unref();  // the table's reference, now the copy's
  items_moved_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

bool Bucket::reclaimIfDeadLocked(VBucket& vb, Item* item, uint64_t hash, uint32_t now) {
  if (isFlushed(vb, item)) {
    unlinkLocked(vb, item, hash);
    return true;
  }
  if (!item->expiredAt(now)) return false;
  retireLocked(vb, item, hash, Removal::kExpired, now);
  reclaimed_.fetch_add(1, std::memory_order_relaxed);
  if ((item->metaState() & Item::kFetched) == 0) {
    expired_unfetched_.fetch_add(1, std::memory_order_relaxed);
  }
  return true;
}

void Bucket::evictLocked(VBucket& vb, Item* item, uint64_t hash, bool to_ghost) {
  if (to_ghost) store_.addGhost(hash);
  retireLocked(vb, item, hash, Removal::kEvicted, clock_.now());
  evictions_.fetch_add(1, std::memory_order_relaxed);
  if ((item->metaState() & Item::kFetched) == 0) {
    evicted_unfetched_.fetch_add(1, std::memory_order_relaxed);
  }
}

size_t Bucket::reclaimExpired(size_t slots) {
  std::lock_guard crawl(crawl_mutex_);
  const uint32_t now = clock_.now();
  std::array<Item*, kReclaimBatch> batch;
  size_t reclaimed = 0;
  size_t vbuckets_done = 0;
  while (slots > 0 && vbuckets_done < kVBucketCount) {
    VBucket& vb = (*vbuckets_)[crawl_vbucket_];
    size_t taken = 0;
    size_t walked = 0;
    bool finished;
    {
      std::lock_guard guard(vb.mutex);
      settleFlush(vb, now);
      if (crawl_slot_ == 0) dropOldTombstonesLocked(vb, now);
      const size_t table_slots = vb.table.slotCount();
      const size_t start = crawl_slot_;
      taken = vb.table.removeIf(
          [&](const Item& item) { return !isFlushed(vb, &item) && item.expiredAt(now); },
          [&](Item* item) { batch[taken++] = item; }, kReclaimBatch, &crawl_slot_,
          std::min(slots, table_slots - std::min(start, table_slots)), &walked);
      for (size_t i = 0; i < taken; ++i) {
        Item* item = batch[i];
        removedLocked(vb, item->key(), Removal::kExpired, now);
        if (vb.locks) vb.locks->erase(item);
        item->setLinked(false);
        if ((item->metaState() & Item::kFetched) == 0) {
          expired_unfetched_.fetch_add(1, std::memory_order_relaxed);
        }
      }
      curr_items_.fetch_sub(taken, std::memory_order_relaxed);
      reclaimed_.fetch_add(taken, std::memory_order_relaxed);
      // Done with this table when the walk reached its end (a table that
      // grew meanwhile is walked again from the next step's cursor).
      finished = taken < kReclaimBatch && start + walked >= table_slots;
    }
    for (size_t i = 0; i < taken; ++i) batch[i]->unref();  // frees, outside the lock
    reclaimed += taken;
    slots -= std::min(slots, std::max<size_t>(walked, 1));
    if (finished) {
      crawl_vbucket_ = static_cast<uint16_t>((crawl_vbucket_ + 1) % kVBucketCount);
      crawl_slot_ = 0;
      ++vbuckets_done;
    }
  }
  return reclaimed;
}

template <typename Fn>
void Bucket::forEachLiveItem(ItemStore::Segment* victim, uint32_t now, Fn&& fn) {
  ItemStore::forEachItem(victim, [&](Item* item) {
    VBucket& vb = (*vbuckets_)[item->vbucket()];
    std::lock_guard guard(vb.mutex);
    settleFlush(vb, now);
    if (!item->linked()) return;  // replaced or deleted; pinned by a reader
    const uint64_t hash = keyedHash(item->key());
    if (!reclaimIfDeadLocked(vb, item, hash, now)) fn(vb, item, hash);
  });
}

void Bucket::compact(ItemStore::Segment* victim, uint32_t now, bool evict_on_failure) {
  bool kept = false;
  forEachLiveItem(victim, now, [&](VBucket& vb, Item* item, uint64_t hash) {
    if (kept || moveLocked(vb, item, hash, item->freq())) return;
    if (evict_on_failure) {
      evictLocked(vb, item, hash, false);
    } else {
      kept = true;  // the rest stay where they are, with their segment
    }
  });
  if (kept) {
    store_.requeueVictim(victim);
  } else {
    store_.releaseVictim(victim);
  }
}

void Bucket::compactIfDue() {
  const uint64_t opened = store_.segmentsOpened();
  uint64_t checked = compaction_checked_.load(std::memory_order_relaxed);
  if (opened == checked ||
      !compaction_checked_.compare_exchange_strong(checked, opened, std::memory_order_relaxed)) {
    return;
  }
  if (ItemStore::Segment* victim = store_.takeSparseVictim()) {
    segments_compacted_.fetch_add(1, std::memory_order_relaxed);
    compact(victim, clock_.now(), /*evict_on_failure=*/false);
  }
}

bool Bucket::makeRoom() {
  // With -M only compaction makes room: a segment where deletes left the
  // most dead items, whatever its age, before the oldest.
  ItemStore::Segment* victim = config_.evict ? nullptr : store_.takeSparseVictim(/*anywhere=*/true);
  if (victim == nullptr) victim = store_.takeVictim();
  if (victim == nullptr) return false;
  segments_evicted_.fetch_add(1, std::memory_order_relaxed);
  const uint32_t now = clock_.now();
  const bool from_small = victim->queue == ItemStore::Queue::kSmall;
  auto forEachLive = [&](auto&& fn) { forEachLiveItem(victim, now, fn); };

  // Compaction: the victim's live items are all copied to main, none
  // evicted. With -M that is the only way to reuse memory; with eviction it
  // is how overwritten and deleted items give their room back without
  // costing live ones while the live data fits (memcached frees such chunks
  // at once and evicts nothing). Only worth it, and sure to fit in the
  // evictor's reserve, when at most half the victim is live; a denser
  // victim stays whole with -M, and otherwise goes to the policy.
  size_t live = 0;
  if (!config_.evict) {
    forEachLive([&](VBucket&, Item* item, uint64_t) { live += item->footprint(); });
  } else {
    // Unlocked and approximate: items still referenced, linked or not.
    ItemStore::forEachItem(victim, [&](Item* item) { live += item->footprint(); });
  }
  const bool sparse = live <= victim->capacity / 2 && !(victim->large && live != 0);
  if (!config_.evict && !sparse) {
    store_.requeueVictim(victim);
    return true;
  }
  if (!config_.evict || (sparse && store_.itemBytes() + victim->capacity <= store_.limit())) {
    compact(victim, now, /*evict_on_failure=*/config_.evict);
    return true;
  }

  // S3-FIFO: an item read while in the small queue earns a place in main;
  // one in main gets another round per read (up to three), each round
  // costing it one. A main victim must free at least a quarter of its
  // bytes, or a cache of hot items would copy segments round and round
  // without making room: when more than three quarters were read, only the
  // most read stay. (A quarter, not a half: zipf 0.99 at a tenth of the
  // working set hit 0.790 instead of 0.778, with four victims at most to
  // free a segment. From small, a copy moves the item on, so it is
  // progress in itself; a large block is kept by requeueing it, no copy.)
  uint8_t keep_from = 1;
  if (!from_small && !victim->large) {
    size_t bytes_at[Item::kMaxFreq + 1] = {};
    ItemStore::forEachItem(victim,
                           [&](Item* item) { bytes_at[item->freq()] += item->footprint(); });
    size_t kept = 0;
    keep_from = Item::kMaxFreq + 1;
    while (keep_from > 1 && kept + bytes_at[keep_from - 1] <= victim->capacity / 4 * 3) {
      kept += bytes_at[--keep_from];
    }
  }
  bool requeue = false;
  forEachLive([&](VBucket& vb, Item* item, uint64_t hash) {
    const uint8_t freq = item->freq();
    if (freq >= keep_from) {
      const uint8_t next = from_small ? 0 : freq - 1;
      if (victim->large) {
        item->setFreq(next);  // the block itself goes back to main
        requeue = true;
        return;
      }
      if (moveLocked(vb, item, hash, next)) return;
    }
    evictLocked(vb, item, hash, from_small);
  });
  if (requeue) {
    store_.requeueVictim(victim);
  } else {
    store_.releaseVictim(victim);
  }
  return true;
}

}  // namespace memkv::engine
