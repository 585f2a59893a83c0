#include "engine/bucket.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <random>

#include "common/crc32.h"
#include "common/keyed_hash.h"
#include "engine/counter_value.h"

namespace memkv::engine {

namespace {
uint64_t randomSeed() {
  std::random_device seed;
  return uint64_t{seed()} << 32 | seed();
}
}  // namespace

Bucket::Bucket(const BucketConfig& config, const Clock& clock)
    : config_(config),
      clock_(clock),
      store_(*ItemStore::create(config.memory_limit, config.segment_size)),
      vbuckets_(std::make_unique<std::array<VBucket, kVBucketCount>>()),
      tombstone_memory_(config.tombstone_memory ? config.tombstone_memory
                                                : config.memory_limit / 16),
      uuid_seed_(randomSeed()),
      change_log_memory_(config.change_log_memory ? config.change_log_memory
                                                  : config.memory_limit / 16) {
  // Each vbucket's history starts with a random uuid, so a mutation token
  // from an earlier life of this bucket (or another server) never matches.
  for (VBucket& vb : *vbuckets_) {
    vb.uuid = newUuid();
    vb.failover.push_back({vb.uuid, 0});
  }
}

uint32_t Bucket::absoluteExpiry(uint32_t expiry, uint32_t now) const {
  if (expiry == 0) return 0;
  if (expiry <= kRelativeExpiryMax) return now + expiry;
  // Absolute time; one in the past must read as expired, never as "never".
  return expiry <= now ? 1 : expiry;
}

Bucket::Located Bucket::locate(std::string_view key) {
  const uint16_t vb = vbucketOf(crc32(key.data(), key.size()), kVBucketCount);
  return {(*vbuckets_)[vb], keyedHash(key), vb};
}

// Why a CAS mark per vbucket rather than a flag or a time in each Item: an
// Item has no spare bytes (see item.h), a store time at one-second
// granularity cannot tell items set just before a flush from those set just
// after it in the same second, and CAS values already order every store
// within a vbucket. So flushing is one store per vbucket, and an item is
// flushed iff its CAS is at or below its vbucket's mark.
void Bucket::markFlushed(VBucket& vb, uint32_t flush_id) {
  markDead(vb);
  vb.flush_id = flush_id;
}

size_t Bucket::markDead(VBucket& vb) {
  newBranchLocked(vb);
  vb.flushed_cas = vb.last_cas;
  const size_t newly = vb.table.size() - vb.dead_items;
  vb.dead_items = vb.table.size();
  curr_items_.fetch_sub(newly, std::memory_order_relaxed);
  flushed_items_.fetch_add(newly, std::memory_order_relaxed);
  vb.locks.reset();  // every linked item is flushed: no lock can matter
  return newly;
}

size_t Bucket::dropVBuckets(std::span<const uint16_t> vbuckets, bool* start_sweep) {
  size_t dropped = 0;
  for (const uint16_t v : vbuckets) {
    if (v >= kVBucketCount) continue;
    VBucket& vb = (*vbuckets_)[v];
    std::lock_guard guard(vb.mutex);
    // A delayed flush due here is applied at the vbucket's next touch, before
    // any store: it then marks nothing new.
    // Its contents are gone without deletions: markDead starts a new
    // history branch, so a mutation token or scan requirement from before
    // (uuid, seqno) no longer matches and a stream from before rolls back.
    dropped += markDead(vb);
  }
  // As flush(): one sweep at a time, and the fence pairs with its end.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  *start_sweep = dropped != 0 && !sweep_wanted_.exchange(true, std::memory_order_seq_cst);
  return dropped;
}

void Bucket::settleFlush(VBucket& vb, uint32_t now) {
  const uint64_t pending = pending_flush_.load(std::memory_order_acquire);
  const auto at = static_cast<uint32_t>(pending);
  if (at == 0 || now < at) return;
  // The id guards against a stale read: a vbucket already marked by a later
  // flush (immediate or delayed) must not be marked again for an earlier
  // one, which would hide what was stored in between.
  const auto id = static_cast<uint32_t>(pending >> 32);
  if (vb.flush_id < id) markFlushed(vb, id);
}

void Bucket::settleAllFlushes(uint32_t now) {
  const uint64_t pending = pending_flush_.load(std::memory_order_acquire);
  const auto at = static_cast<uint32_t>(pending);
  const auto id = static_cast<uint32_t>(pending >> 32);
  if (at == 0 || now < at || settled_flush_id_.load(std::memory_order_acquire) >= id) return;
  for (VBucket& vb : *vbuckets_) {
    std::lock_guard guard(vb.mutex);
    settleFlush(vb, now);
  }
  settled_flush_id_.store(id, std::memory_order_release);
}

bool Bucket::flush(uint32_t delay) {
  const uint32_t now = clock_.now();
  flushes_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard guard(flush_mutex_);
  // A delayed flush that already came due keeps its effect everywhere
  // before a new flush replaces it.
  settleAllFlushes(now);
  const uint32_t id = ++last_flush_id_;
  // An absolute time already past flushes now.
  const uint32_t at = delay == 0 ? now : absoluteExpiry(delay, now);
  if (at > now) {
    pending_flush_.store(uint64_t{id} << 32 | at, std::memory_order_release);
    return false;
  }
  pending_flush_.store(uint64_t{id} << 32, std::memory_order_release);
  for (VBucket& vb : *vbuckets_) {
    std::lock_guard vb_guard(vb.mutex);
    markFlushed(vb, id);
  }
  // One sweep at a time however often clients flush: a FLUSH flood must
  // not queue a sweep per request.
  // seq_cst, paired with reclaimFlushed's end: either this sees the sweep
  // over, or that sweep sees the items marked above.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return !sweep_wanted_.exchange(true, std::memory_order_seq_cst);
}

bool Bucket::reclaimFlushed(size_t budget) {
  settleAllFlushes(clock_.now());
  std::lock_guard sweep(reclaim_mutex_);
  // A fixed batch: the sweep allocates nothing, so it cannot fail half-way
  // and leave sweep_wanted_ set (no later flush would sweep again).
  std::array<Item*, kReclaimBatch> batch;
  size_t done = 0;
  size_t visited = 0;
  while (done < budget && visited < kVBucketCount &&
         flushed_items_.load(std::memory_order_relaxed) != 0) {
    VBucket& vb = (*vbuckets_)[reclaim_cursor_];
    bool vbucket_done = true;
    size_t taken = 0;
    {
      std::lock_guard guard(vb.mutex);
      if (vb.dead_items != 0) {
        const size_t limit = std::min({budget - done, kReclaimBatch, vb.dead_items});
        taken = vb.table.removeIf([&vb](const Item& item) { return isFlushed(vb, &item); },
                                  [&batch, &taken](Item* item) { batch[taken++] = item; }, limit,
                                  &reclaim_slot_);
        for (size_t i = 0; i < taken; ++i) {
          if (vb.locks) vb.locks->erase(batch[i]);
          batch[i]->setLinked(false);
        }
        vb.dead_items -= taken;
        flushed_items_.fetch_sub(taken, std::memory_order_relaxed);
        // A short walk means the table held no more (the count is exact;
        // this also keeps a miscount from looping forever).
        vbucket_done = vb.dead_items == 0 || taken < limit;
      }
    }
    for (size_t i = 0; i < taken; ++i) batch[i]->unref();  // frees, outside the locks
    done += taken;
    if (vbucket_done) {
      reclaim_cursor_ = static_cast<uint16_t>((reclaim_cursor_ + 1) % kVBucketCount);
      reclaim_slot_ = 0;
      ++visited;
    }
  }
  if (flushed_items_.load(std::memory_order_relaxed) != 0 && done != 0) return true;
  // The sweep ends. A flush that found it still under way left its items
  // to it: take them back on if so (the counts are exact, so a non-zero
  // count means there are items to find).
  sweep_wanted_.store(false, std::memory_order_seq_cst);
  return flushed_items_.load(std::memory_order_seq_cst) != 0 &&
         !sweep_wanted_.exchange(true, std::memory_order_seq_cst);
}

void Bucket::purge() {
  for (VBucket& vb : *vbuckets_) {
    std::lock_guard guard(vb.mutex);
    vb.locks.reset();
    if (vb.table.size() == 0) continue;
    curr_items_.fetch_sub(vb.table.size() - vb.dead_items, std::memory_order_relaxed);
    flushed_items_.fetch_sub(vb.dead_items, std::memory_order_relaxed);
    vb.dead_items = 0;
    vb.table.clear([&](Item* item) {
      item->setLinked(false);
      item->unref();
    });
  }
}

void Bucket::linkLocked(VBucket& vb, Item* item, uint64_t hash) {
  vb.table.insert(item, hash);
  item->setLinked(true);
  item->setAccessTime(clock_.now());
  ItemStore::published(item);
  curr_items_.fetch_add(1, std::memory_order_relaxed);
  total_items_.fetch_add(1, std::memory_order_relaxed);
}

MutationResult Bucket::publishLocked(VBucket& vb, Item* fresh, Item* old, uint64_t hash,
                                     uint64_t cas) {
  fresh->assignCas(cas);
  const uint64_t seqno = ++vb.high_seqno;
  fresh->assignSeqno(seqno);
  if (vb.changes) [[unlikely]] {
    logChangeLocked(vb, seqno, 0, 0, Removal::kDeleted, false, fresh->key());
  }
  if (old) {
    fresh->setFreq(old->freq());
    unlinkLocked(vb, old, hash);
  }
  linkLocked(vb, fresh, hash);
  return {EngineStatus::kSuccess, cas, seqno, vb.uuid};
}

void Bucket::unlinkLocked(VBucket& vb, Item* item, uint64_t hash) {
  if (vb.locks) vb.locks->erase(item);
  vb.table.remove(item, hash);
  item->setLinked(false);
  if (isFlushed(vb, item)) {
    --vb.dead_items;
    flushed_items_.fetch_sub(1, std::memory_order_relaxed);
  } else {
    curr_items_.fetch_sub(1, std::memory_order_relaxed);
  }
  item->unref();  // the table's reference
}

Item* Bucket::findLive(VBucket& vb, uint64_t hash, std::string_view key, uint32_t now,
                       bool* expired, bool* flushed) {
  settleFlush(vb, now);
  Item* item = vb.table.find(hash, key);
  if (item && isFlushed(vb, item)) {
    unlinkLocked(vb, item, hash);
    if (flushed) *flushed = true;
    return nullptr;
  }
  if (item && item->expiredAt(now)) {
    if ((item->metaState() & Item::kFetched) == 0) {
      expired_unfetched_.fetch_add(1, std::memory_order_relaxed);
    }
    retireLocked(vb, item, hash, Removal::kExpired, now);
    reclaimed_.fetch_add(1, std::memory_order_relaxed);
    if (expired) *expired = true;
    return nullptr;
  }
  return item;
}

ItemStore::Queue Bucket::queueFor(const Located& where) {
  // S3-FIFO: a key evicted from the small queue not long ago was wanted
  // again, so it goes straight to main. With -M there is no policy, only
  // compaction, which then meets segments in the order they were written.
  return !config_.evict || store_.takeGhost(where.hash) ? ItemStore::Queue::kMain
                                                        : ItemStore::Queue::kSmall;
}

bool Bucket::makeRoomFor(RoomTries& tries) {
  if (tries.rounds == 0) {
    tries.last = store_.usage();
    // Every segment held once (more than the limit after it was lowered).
    tries.max_rounds =
        std::max(store_.limit(), tries.last.in_use + tries.last.cached) / store_.segmentSize() +
        kMaxMakeRoomRounds;
  }
  if (++tries.rounds > tries.max_rounds || tries.idle >= kMaxMakeRoomRounds || !makeRoom()) {
    // The operation gives up: ENOMEM (memcached's items:N:outofmemory).
    out_of_memory_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  // A writer emptied a segment itself (memcached's direct_reclaims).
  direct_reclaims_.fetch_add(1, std::memory_order_relaxed);
  const ItemStore::Usage now = store_.usage();
  const bool progress = now.in_use < tries.last.in_use || now.small < tries.last.small;
  tries.idle = progress ? 0 : tries.idle + 1;
  tries.last = now;
  return true;
}

Item* Bucket::allocate(std::string_view key, size_t value_length, const Item::Meta& meta,
                       const Located& where) {
  const ItemStore::Queue queue = queueFor(where);
  for (RoomTries tries;;) {
    if (Item* item = allocateWithoutEviction(key, value_length, meta, where, queue)) return item;
    if (!makeRoomFor(tries)) return nullptr;
  }
}

LookupResult Bucket::get(std::string_view key) {
  const uint32_t now = clock_.now();
  Located at = locate(key);
  LookupResult result;
  std::lock_guard guard(at.vb.mutex);
  Item* item = findLive(at.vb, at.hash, key, now, &result.expired, &result.flushed);
  if (item) {
    touchLru(item);
    noteRead(item, now);
    result.cas = lockOf(at.vb, item, now) ? kLockedCas : item->cas();
    result.item = ItemRef::share(item);
  }
  return result;
}

LookupResult Bucket::getAndTouch(std::string_view key, uint32_t expiry) {
  const uint32_t now = clock_.now();
  Located at = locate(key);
  LookupResult result;
  std::lock_guard guard(at.vb.mutex);
  Item* item = findLive(at.vb, at.hash, key, now, &result.expired);
  if (item && lockOf(at.vb, item, now)) {
    result.locked = true;
    return result;
  }
  if (item) {
    result.cas = item->cas();
    item->setExpiry(absoluteExpiry(expiry, now));
    touchLru(item);
    noteRead(item, now);
    result.item = ItemRef::share(item);
  }
  return result;
}

MutationResult Bucket::store(const StoreRequest& request) {
  if (request.value.size() > config_.max_value_size) return {EngineStatus::kE2big};
  const uint32_t now = clock_.now();
  const bool concat = request.mode == StoreMode::kAppend || request.mode == StoreMode::kPrepend;
  const MutationResult result = concat ? storeConcat(request, now) : storeWhole(request, now);
  // Here, holding no lock and no unpublished item: a compaction waits for
  // the pending items of its victim, and one of them could be ours.
  compactIfDue();
  return result;
}

MutationResult Bucket::storeWhole(const StoreRequest& request, uint32_t now) {
  Located at = locate(request.key);
  Item::Meta meta{request.flags, absoluteExpiry(request.expiry, now), 0, request.datatype};
  Item* fresh = allocate(request.key, request.value.size(), meta, at);
  if (!fresh) return {EngineStatus::kEnomem};
  ItemRef fresh_ref = ItemRef::adopt(fresh);
  if (!request.value.empty()) {
    std::memcpy(fresh->mutableValue(), request.value.data(), request.value.size());
  }

  std::lock_guard guard(at.vb.mutex);
  Item* old = findLive(at.vb, at.hash, request.key, now, nullptr);
  switch (request.mode) {
    case StoreMode::kAdd:
      // memcached turns an ADD carrying a CAS into a CAS store.
      if (request.cas != 0 && !old) return {EngineStatus::kKeyEnoent};
      if (request.cas == 0 && old) return {EngineStatus::kKeyEexists};
      break;
    case StoreMode::kReplace:
      if (!old) return {EngineStatus::kKeyEnoent};
      break;
    default:
      if (request.cas != 0 && !old) return {EngineStatus::kKeyEnoent};
      break;
  }
  if (old) {
    const EngineStatus allowed = checkCas(at.vb, old, request.cas, now);
    // meta ms I: a writer holding an older CAS still stores, as a stale
    // item that keeps the old expiry and recache token.
    const bool stale =
        allowed == EngineStatus::kKeyEexists && request.invalidate && request.cas < old->cas();
    if (allowed != EngineStatus::kSuccess && !stale) return {allowed};
    if (request.preserve_ttl || stale) fresh->setExpiry(old->expiry());
    if (stale) fresh->addMetaState(Item::kStale | (old->metaState() & Item::kTokenSent));
  }
  if (request.binary_key) fresh->addMetaState(Item::kBinaryKey);
  return publishLocked(at.vb, fresh_ref.release(), old, at.hash, casFor(at.vb, request.new_cas));
}

// Read-modify-write operations (APPEND, PREPEND, INCR, DECR) hold the
// vbucket lock from reading the old value to publishing the new one, so
// concurrent writers serialise instead of retrying (a capped optimistic retry
// returned spurious errors under contention: lost increments). The new item
// is allocated under the lock without evicting, since eviction takes other
// vbuckets' locks; when memory is short the lock is dropped, room is made,
// and the operation starts over a bounded number of times.
MutationResult Bucket::storeConcat(const StoreRequest& request, uint32_t now) {
  Located at = locate(request.key);
  const ItemStore::Queue queue = queueFor(at);
  for (RoomTries tries;;) {
    {
      std::lock_guard guard(at.vb.mutex);
      Item* old = findLive(at.vb, at.hash, request.key, now, nullptr);
      if (!old) return {EngineStatus::kNotStored};
      const EngineStatus allowed = checkCas(at.vb, old, request.cas, now);
      if (allowed != EngineStatus::kSuccess) return {allowed};
      const auto old_value = old->value();
      const size_t length = old_value.size() + request.value.size();
      // memcached answers NOT_STORED when the joined value would be too large.
      if (length > config_.max_value_size) return {EngineStatus::kNotStored};
      // Joined bytes are no longer known to be JSON: the result is raw.
      Item::Meta meta{old->flags(), old->expiry(), 0, 0};
      Item* fresh = allocateWithoutEviction(request.key, length, meta, at, queue);
      if (fresh) {
        uint8_t* out = fresh->mutableValue();
        const bool append = request.mode == StoreMode::kAppend;
        const auto& first = append ? old_value : request.value;
        const auto& second = append ? request.value : old_value;
        if (!first.empty()) std::memcpy(out, first.data(), first.size());
        if (!second.empty()) std::memcpy(out + first.size(), second.data(), second.size());
        return publishLocked(at.vb, fresh, old, at.hash, casFor(at.vb, request.new_cas));
      }
    }
    if (!makeRoomFor(tries)) return {EngineStatus::kEnomem};
  }
}

MutationResult Bucket::remove(std::string_view key, uint64_t cas) {
  const uint32_t now = clock_.now();
  Located at = locate(key);
  std::lock_guard guard(at.vb.mutex);
  Item* item = findLive(at.vb, at.hash, key, now, nullptr);
  if (!item) return {EngineStatus::kKeyEnoent};
  const EngineStatus allowed = checkCas(at.vb, item, cas, now);
  if (allowed != EngineStatus::kSuccess) return {allowed};
  return retireLocked(at.vb, item, at.hash, Removal::kDeleted, now);
}

CounterResult Bucket::counter(const CounterRequest& request) {
  const uint32_t now = clock_.now();
  Located at = locate(request.key);
  char digits[24];
  const ItemStore::Queue queue = queueFor(at);
  for (RoomTries tries;;) {
    {
      std::lock_guard guard(at.vb.mutex);
      Item* old = findLive(at.vb, at.hash, request.key, now, nullptr);
      uint64_t value;
      Item::Meta meta;
      if (old) {
        const EngineStatus allowed = checkCas(at.vb, old, request.cas, now);
        if (allowed != EngineStatus::kSuccess) return {allowed};
        auto parsed = parseCounter(old->value());
        if (!parsed) return {EngineStatus::kDeltaBadval};
        if (request.increment) {
          value = *parsed + request.delta;  // wraps at 2^64, as memcached does
        } else {
          value = request.delta > *parsed ? 0 : *parsed - request.delta;
        }
        meta = {old->flags(),
                request.touch ? absoluteExpiry(request.touch_expiry, now) : old->expiry(), 0,
                old->datatype()};
      } else {
        // memcached ignores the CAS when the counter does not exist yet.
        if (request.expiry == kCounterNoCreate) return {EngineStatus::kKeyEnoent};
        value = request.initial;
        meta = {0, absoluteExpiry(request.expiry, now), 0, 0};
      }
      const size_t digits_length = formatCounter(value, digits);
      // memcached's width rule, whichever protocol asks: a result no longer
      // than the stored text keeps its width, padded with spaces ("10" decr
      // 1 reads back as "9 "). The reply carries the bare number.
      const size_t length =
          old && old->value().size() > digits_length ? old->value().size() : digits_length;
      Item* fresh = allocateWithoutEviction(request.key, length, meta, at, queue);
      if (fresh) {
        std::memcpy(fresh->mutableValue(), digits, digits_length);
        std::memset(fresh->mutableValue() + digits_length, ' ', length - digits_length);
        const MutationResult m =
            publishLocked(at.vb, fresh, old, at.hash, casFor(at.vb, request.new_cas));
        return {EngineStatus::kSuccess,
                m.cas,
                value,
                old == nullptr,
                m.seqno,
                m.vbuuid,
                meta.expiry,
                length};
      }
    }
    if (!makeRoomFor(tries)) return {EngineStatus::kEnomem};
  }
}

EngineStatus Bucket::checkCas(VBucket& vb, const Item* old, uint64_t cas, uint32_t now) {
  if (const LockEntry* lock = lockOf(vb, old, now)) {
    return cas == lock->lock_cas ? EngineStatus::kSuccess : EngineStatus::kLocked;
  }
  if (cas != 0 && old->cas() != cas) return EngineStatus::kKeyEexists;
  return EngineStatus::kSuccess;
}

LockResult Bucket::getLocked(std::string_view key, uint32_t lock_seconds) {
  if (lock_seconds == 0 || lock_seconds > kMaxLockSeconds) lock_seconds = kDefaultLockSeconds;
  const uint32_t now = clock_.now();
  Located at = locate(key);
  std::lock_guard guard(at.vb.mutex);
  Item* item = findLive(at.vb, at.hash, key, now, nullptr);
  if (!item) return {EngineStatus::kKeyEnoent, {}, 0};
  if (lockOf(at.vb, item, now)) return {EngineStatus::kLockedTmpfail, {}, 0};
  if (!at.vb.locks) at.vb.locks = std::make_unique<LockTable>();
  const uint64_t lock_cas = nextCas(at.vb);
  at.vb.locks->add({item, now + lock_seconds, lock_cas}, now);
  touchLru(item);
  return {EngineStatus::kSuccess, ItemRef::share(item), lock_cas};
}

EngineStatus Bucket::unlock(std::string_view key, uint64_t cas) {
  const uint32_t now = clock_.now();
  Located at = locate(key);
  std::lock_guard guard(at.vb.mutex);
  Item* item = findLive(at.vb, at.hash, key, now, nullptr);
  if (!item) return EngineStatus::kKeyEnoent;
  const LockEntry* lock = lockOf(at.vb, item, now);
  if (!lock) return EngineStatus::kNotLocked;
  if (lock->lock_cas != cas) return EngineStatus::kLockedTmpfail;
  at.vb.locks->erase(item);
  return EngineStatus::kSuccess;
}

namespace {
void sortByKey(std::vector<ScanItem>* items) {
  std::sort(items->begin(), items->end(),
            [](const ScanItem& a, const ScanItem& b) { return a.item->key() < b.item->key(); });
}

}  // namespace

template <typename Keep>
std::vector<ScanItem> Bucket::collectLive(VBucket& vb, uint32_t now, Keep keep) {
  std::vector<ScanItem> out;
  {
    std::lock_guard guard(vb.mutex);
    settleFlush(vb, now);
    out.reserve(vb.table.size() - vb.dead_items);
    vb.table.forEach([&](const Item* item) {
      if (!isFlushed(vb, item) && !item->expiredAt(now) && keep(*item)) {
        out.push_back({ItemRef::share(const_cast<Item*>(item)), item->expiry()});
      }
    });
  }
  sortByKey(&out);
  return out;
}

std::vector<ScanItem> Bucket::snapshotRange(uint16_t vbucket, const KeyRange& range) {
  const uint32_t now = clock_.now();
  return collectLive((*vbuckets_)[vbucket], now,
                     [&](const Item& item) { return range.contains(item.key()); });
}

std::vector<ScanItem> Bucket::sampleVBucket(uint16_t vbucket, size_t samples, uint64_t seed) {
  const uint32_t now = clock_.now();
  // Sorted first (table order depends on insertion history), so the seed
  // alone decides the sample.
  std::vector<ScanItem> all =
      collectLive((*vbuckets_)[vbucket], now, [](const Item&) { return true; });
  if (all.size() > samples) {
    std::mt19937_64 random(seed);
    for (size_t i = 0; i < samples; ++i) {
      std::uniform_int_distribution<size_t> pick(i, all.size() - 1);
      std::swap(all[i], all[pick(random)]);
    }
    all.resize(samples);
    sortByKey(&all);
  }
  return all;
}

VBucketInfo Bucket::vbucketInfo(uint16_t vbucket) {
  const uint32_t now = clock_.now();
  VBucket& vb = (*vbuckets_)[vbucket];
  std::lock_guard guard(vb.mutex);
  settleFlush(vb, now);
  return {vb.uuid, vb.high_seqno, vb.table.size() - vb.dead_items, vb.purge_seqno};
}

BucketStats Bucket::stats() {
  settleAllFlushes(clock_.now());
  // Sized from every vbucket's table (under its lock: tables grow).
  size_t slots = 0;
  for (VBucket& vb : *vbuckets_) {
    std::lock_guard guard(vb.mutex);
    slots += vb.table.slotCount();
  }
  uint32_t power = 0;
  const ItemStore::Usage usage = store_.usage();
  while ((size_t{1} << (power + 1)) <= slots) ++power;
  return {
      curr_items_.load(std::memory_order_relaxed),
      total_items_.load(std::memory_order_relaxed),
      store_.itemBytes(),
      store_.limit(),
      evictions_.load(std::memory_order_relaxed),
      reclaimed_.load(std::memory_order_relaxed),
      flushes_.load(std::memory_order_relaxed),
      flushed_items_.load(std::memory_order_relaxed),
      expired_unfetched_.load(std::memory_order_relaxed),
      evicted_unfetched_.load(std::memory_order_relaxed),
      store_.systemFailures(),
      power,
      usage.in_use + usage.cached,
      usage.small,
      store_.segmentSize(),
      segments_evicted_.load(std::memory_order_relaxed),
      items_moved_.load(std::memory_order_relaxed),
      segments_compacted_.load(std::memory_order_relaxed),
      direct_reclaims_.load(std::memory_order_relaxed),
      out_of_memory_.load(std::memory_order_relaxed),
      tombstones_.load(std::memory_order_relaxed),
      static_cast<uint64_t>(std::max<int64_t>(0, tombstone_bytes_.load(std::memory_order_relaxed))),
      tombstones_purged_.load(std::memory_order_relaxed),
      change_log_bytes_.load(std::memory_order_relaxed),
      change_log_dropped_.load(std::memory_order_relaxed)};
}

void Bucket::resetStats() {
  total_items_.store(0, std::memory_order_relaxed);
  evictions_.store(0, std::memory_order_relaxed);
  reclaimed_.store(0, std::memory_order_relaxed);
  flushes_.store(0, std::memory_order_relaxed);
  expired_unfetched_.store(0, std::memory_order_relaxed);
  evicted_unfetched_.store(0, std::memory_order_relaxed);
  segments_evicted_.store(0, std::memory_order_relaxed);
  items_moved_.store(0, std::memory_order_relaxed);
  segments_compacted_.store(0, std::memory_order_relaxed);
  direct_reclaims_.store(0, std::memory_order_relaxed);
  out_of_memory_.store(0, std::memory_order_relaxed);
}

}  // namespace memkv::engine
