#pragma once
// A bucket: a memory quota and 1024 vbuckets of items, with memcached's
// semantics for storage, counters, expiry, flush and eviction. Thread-safe:
// any worker thread may call any method. Knows nothing of sockets or wire
// formats; statuses are the engine's own.
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "engine/item.h"
#include "engine/item_store.h"
#include "engine/vbucket.h"

namespace memkv::engine {

enum class EngineStatus : uint8_t {
  kSuccess,
  kKeyEnoent,
  kKeyEexists,
  kNotStored,
  kE2big,
  kEnomem,
  kDeltaBadval,
  kLocked,         // the document is locked (GET_LOCKED) and the CAS does not unlock it
  kLockedTmpfail,  // GET_LOCKED of a locked document, UNLOCK with the wrong CAS
  kNotLocked,      // UNLOCK of a document that is not locked
};

// memcached: expiry values up to 30 days are relative, larger ones absolute.
inline constexpr uint32_t kRelativeExpiryMax = 60 * 60 * 24 * 30;
// INCR/DECR: this expiry means "do not create a missing counter".
inline constexpr uint32_t kCounterNoCreate = 0xffffffff;
// GET_LOCKED: a lock time of 0 or above the maximum means the default
// (Couchbase Server's 15 s and 30 s).
inline constexpr uint32_t kDefaultLockSeconds = 15;
inline constexpr uint32_t kMaxLockSeconds = 30;
// The CAS others see on a locked document: nothing they can use to write it.
inline constexpr uint64_t kLockedCas = ~uint64_t{0};

enum class StoreMode : uint8_t { kSet, kAdd, kReplace, kAppend, kPrepend };

struct BucketConfig {
  size_t memory_limit = 64 << 20;   // -m
  size_t max_value_size = 1 << 20;  // -I
  bool evict = true;                // false with -M: refuse with ENOMEM instead
  size_t segment_size = 0;          // the item store's (0: picked from the limit)
  // Tombstones for change streams (tombstones.h), once keepTombstones() was
  // called: at most this many bytes for the bucket (0: memory_limit / 16),
  // each vbucket 1/1024 of it, and none older than tombstone_age seconds
  // (kv_engine's ephemeral_metadata_purge_age is 60 s).
  size_t tombstone_memory = 0;
  uint32_t tombstone_age = 60;
  // The change logs of followed vbuckets (change_log.h): half of this in
  // even shares, half a pool any of them may grow into (0: memory_limit / 16).
  size_t change_log_memory = 0;
};

struct StoreRequest {
  StoreMode mode = StoreMode::kSet;
  std::string_view key;
  std::span<const uint8_t> value;
  uint32_t flags = 0;
  uint32_t expiry = 0;  // as on the wire: 0, relative (<= 30 days) or absolute
  uint64_t cas = 0;     // 0: no CAS check
  uint8_t datatype = 0;
  bool preserve_ttl = false;  // replacing a live item keeps its expiry
  uint64_t new_cas = 0;       // meta E: the stored item's CAS (0: the next)
  // meta ms I: with a CAS older than the item's, store anyway, as a stale
  // item that keeps the old expiry and recache state.
  bool invalidate = false;
  bool binary_key = false;  // meta b: the key came base64-encoded
};

// memcached's meta commands (mg ms md ma), beyond what MCBP needs.
struct MetaGetRequest {
  std::string_view key;
  bool touch = false;  // T: a new expiry for a hit
  uint32_t touch_expiry = 0;
  bool vivify = false;  // N: a miss creates an empty item and wins
  uint32_t vivify_expiry = 0;
  uint64_t vivify_cas = 0;  // E: the created item's CAS (0: the next)
  bool recache = false;     // R: a hit with fewer seconds left wins
  uint32_t recache_seconds = 0;
  bool no_bump = false;     // u: neither the LRU nor the fetched/access state moves
  bool binary_key = false;  // b: a created item's key came base64-encoded
};

struct MetaGetResult {
  ItemRef item;                // empty on a miss
  uint64_t cas = 0;            // kLockedCas while locked
  uint32_t expiry_before = 0;  // absolute, before a touch (0: never)
  uint32_t now = 0;            // the bucket's clock when it ran
  bool expired = false;        // the miss was an expired item
  bool fetched_before = false;
  uint32_t idle_seconds = 0;  // since stored or last read, before this read
  bool won = false;           // W: this client is to recache
  bool stale = false;         // X
  bool token_sent = false;    // Z: another client already won
};

struct MetaDeleteRequest {
  std::string_view key;
  uint64_t cas = 0;          // C (0: no check)
  uint64_t new_cas = 0;      // E, with invalidate or empty_value (0: the next)
  bool invalidate = false;   // I: keep the item, stale, with a new CAS
  bool empty_value = false;  // x: keep the item with an empty value
  bool has_expiry = false;   // T
  uint32_t expiry = 0;
  uint32_t flags = 0;  // F, with empty_value
};

struct MutationResult {
  EngineStatus status;
  uint64_t cas = 0;
  uint64_t seqno = 0;   // the mutation's sequence number in its vbucket
  uint64_t vbuuid = 0;  // that vbucket's uuid (together: a mutation token)
};

struct CounterRequest {
  std::string_view key;
  bool increment = true;
  uint64_t delta = 0;
  uint64_t initial = 0;
  uint32_t expiry = 0;  // 0xffffffff: do not create
  uint64_t cas = 0;
  bool touch = false;  // meta T: the counter's new expiry on success
  uint32_t touch_expiry = 0;
  uint64_t new_cas = 0;  // meta E (0: the next)
};

struct CounterResult {
  EngineStatus status;
  uint64_t cas = 0;
  uint64_t value = 0;
  bool created = false;  // the counter did not exist and was made from `initial`
  uint64_t seqno = 0;
  uint64_t vbuuid = 0;
  uint32_t expiry = 0;  // the counter's absolute expiry (0: never)
  size_t length = 0;    // bytes of its stored text (padded to the old width)
};

struct LookupResult {
  ItemRef item;          // empty on a miss
  bool expired = false;  // the miss was an expired item
  bool flushed = false;  // the miss was an item a flush made invisible
  bool locked = false;   // GAT/TOUCH: the document is locked (no item)
  uint64_t cas = 0;      // the CAS to report: the item's, or kLockedCas while locked
};

struct LockResult {
  EngineStatus status;
  ItemRef item;
  uint64_t cas = 0;  // the lock's CAS: it unlocks, and a write carrying it succeeds
};

// A range of keys, compared as raw bytes.
struct KeyRange {
  std::string start;
  bool start_exclusive = false;
  std::string end;
  bool end_exclusive = false;

  bool contains(std::string_view key) const {
    const int lo = key.compare(start);
    const int hi = key.compare(end);
    return (start_exclusive ? lo > 0 : lo >= 0) && (end_exclusive ? hi < 0 : hi <= 0);
  }
};

// One document of a range scan's snapshot. The expiry is copied: TOUCH
// changes an item's expiry in place, and the scan must show it as it was.
struct ScanItem {
  ItemRef item;
  uint32_t expiry;
};

struct VBucketInfo {
  uint64_t uuid;
  uint64_t high_seqno;
  size_t items;
  uint64_t purge_seqno;  // deletions at or below it are forgotten (tombstones.h)
};

// One change of a vbucket, for a change stream's backfill: the document as
// it is now, or the tombstone of one that went.
struct Change {
  uint64_t seqno;
  ItemRef item;     // the live document; empty for a tombstone
  uint32_t expiry;  // the document's (copied: TOUCH changes it in place)
  uint64_t cas;     // the tombstone's (a document carries its own)
  uint32_t time;    // when the tombstone's document went
  Removal why;
  std::string key;  // the tombstone's (a document carries its own)
};

// A vbucket's changes after some seqno, one per key (its newest), in seqno
// order, as of one instant: a snapshot [after + 1, high_seqno].
struct ChangeSnapshot {
  uint64_t uuid = 0;
  uint64_t high_seqno = 0;
  uint64_t purge_seqno = 0;
  std::vector<Change> changes;
};

struct BucketStats {
  uint64_t curr_items;
  uint64_t total_items;
  uint64_t bytes;
  uint64_t limit_maxbytes;
  uint64_t evictions;
  uint64_t reclaimed;
  uint64_t flushes;
  // Items a flush made invisible whose memory is not freed yet: they are
  // not in curr_items, but their bytes are still in `bytes` (and charged to
  // the quota) until reclaimFlushed, a lookup or eviction frees them.
  uint64_t flushed_unreclaimed;
  uint64_t expired_unfetched;  // expired, or evicted, before anyone read them
  uint64_t evicted_unfetched;
  uint64_t malloc_fails;      // the system refused memory the limit allowed
  uint32_t hash_power_level;  // log2 of all vbuckets' hash slots together
  // The item store (item_store.h): memory held, and how items fared when
  // their segment was evicted.
  uint64_t store_bytes;  // segments in use and cached, and large blocks
  uint64_t small_queue_bytes;
  uint64_t segment_size;
  uint64_t segments_evicted;
  uint64_t items_moved;         // copied to main's open segment instead of evicted
  uint64_t segments_compacted;  // taken early because most of their items were dead
  uint64_t direct_reclaims;     // segments a writer emptied itself to make room
  uint64_t out_of_memory;       // operations refused because no room could be made
  uint64_t tombstones;          // held for change streams
  uint64_t tombstone_bytes;
  uint64_t tombstones_purged;   // dropped by the bounds (or never kept)
  uint64_t change_log_bytes;    // held by the change logs of followed vbuckets
  uint64_t change_log_dropped;  // changes a log let go before every follower read them
};

// What a follower read of a vbucket's change log (Bucket::readChanges).
struct ChangeRead {
  uint64_t uuid = 0;
  uint64_t high_seqno = 0;
  bool dropped = false;  // changes after the cursor are no longer in the log
  std::vector<LoggedChange> changes;
};

class Bucket final {
 public:
  Bucket(const BucketConfig& config, const Clock& clock);
  ~Bucket();
  Bucket(const Bucket&) = delete;
  Bucket& operator=(const Bucket&) = delete;

  LookupResult get(std::string_view key);
  // GAT and TOUCH: a hit gets the new expiry.
  LookupResult getAndTouch(std::string_view key, uint32_t expiry);
  MutationResult store(const StoreRequest& request);
  MutationResult remove(std::string_view key, uint64_t cas);
  CounterResult counter(const CounterRequest& request);
  // Meta get (mg, me): a read that also reports and moves the item's meta
  // state, may touch it, and may create it (N) or hand out the right to
  // recache it (W) under the vbucket lock, so one client wins.
  MetaGetResult metaGet(const MetaGetRequest& request);
  // Meta delete (md): removes, or with I / x keeps a changed copy.
  MutationResult metaDelete(const MetaDeleteRequest& request);
  // GET_LOCKED: reads and locks for lock_seconds (0 or above the maximum:
  // the default). Writes then need the returned CAS until UNLOCK or expiry.
  LockResult getLocked(std::string_view key, uint32_t lock_seconds);
  EngineStatus unlock(std::string_view key, uint64_t cas);
  // delay 0 flushes now; otherwise every item stored before that time
  // (relative or absolute, as expiry) is invalid from then on. O(vbuckets),
  // never O(items): flushed items vanish for every reader at once but stay
  // allocated (and charged) until met by a lookup, taken by eviction, or
  // freed by reclaimFlushed, so a worker thread may call it. Returns true
  // when the caller should start a sweep: the flush took effect now and no
  // sweep is under way (false for a delayed flush, which waits for its time).
  bool flush(uint32_t delay);
  // Frees up to `budget` flushed items, holding each vbucket lock for a
  // short batch and freeing outside the locks. Returns true while flushed
  // items remain: the sweep calls it again; after false the sweep is over
  // and the next flush() asks for a new one. For a background thread (the
  // server's ExecutorPool), so memory comes back without traffic.
  bool reclaimFlushed(size_t budget);
  // A cluster map took these vbuckets from this node: everything in them
  // now is gone for readers, as a flush of just those vbuckets (O(1) each,
  // never O(items)); the memory comes back through reclaimFlushed. Each
  // gets a new uuid: its history before the drop is not this one.
  // Returns the items dropped, and *start_sweep as flush() returns it.
  size_t dropVBuckets(std::span<const uint16_t> vbuckets, bool* start_sweep);
  // The expiry crawler's step: walks up to `slots` hash slots from where
  // the last step stopped (all vbuckets in turn) and unlinks the expired
  // items it finds, so their memory comes back without anyone reading them
  // (counted in reclaimed and expired_unfetched). Batches under each
  // vbucket lock, frees outside. Returns how many it reclaimed. For a
  // background thread; one crawl at a time.
  size_t reclaimExpired(size_t slots);
  // Frees every item now, live or not: O(items) under the vbucket locks, so
  // never on a worker thread (DELETE_BUCKET runs it on the ExecutorPool).
  void purge();

  // Range scans: the live items of one vbucket in a key range, sorted by
  // key, as they are at this instant (taken under the vbucket's lock; items
  // are immutable, so the references are a consistent point-in-time view).
  std::vector<ScanItem> snapshotRange(uint16_t vbucket, const KeyRange& range);
  // Up to `samples` live items of a vbucket chosen uniformly at random with
  // `seed` (the same seed, the same choice for the same contents), by key.
  std::vector<ScanItem> sampleVBucket(uint16_t vbucket, size_t samples, uint64_t seed);
  VBucketInfo vbucketInfo(uint16_t vbucket);
  // The vbucket's history branches, newest first (DCP_GET_FAILOVER_LOG).
  std::vector<FailoverEntry> failoverLog(uint16_t vbucket);
  // Change streams: from now on every deletion, expiry and eviction leaves
  // a tombstone (within the config's bounds). Until then each one raises
  // the vbucket's purge seqno instead: nothing is kept that no stream
  // could want, and a stream resuming from before is sent back to 0.
  void keepTombstones() { keep_tombstones_.store(true, std::memory_order_relaxed); }
  // A backfill: the vbucket's changes with a seqno above `after`, each
  // key's newest only (documents expired by now become tombstones first).
  // O(items in the vbucket) under its lock, as snapshotRange.
  ChangeSnapshot snapshotChanges(uint16_t vbucket, uint64_t after);
  // The live document of this key if it is still the change with this
  // seqno (a stream sending a snapshot's keys); empty once it changed,
  // expired or was flushed since: its newer change has a higher seqno. Does
  // not count as a read (no LRU or fetched state moves).
  ItemRef findChange(std::string_view key, uint64_t seqno);
  // Following (change_log.h): from followChanges on, the vbucket logs every
  // change and tells `listener` (on the writer's thread, under the vbucket
  // lock) until unfollowChanges returns. Any thread.
  void followChanges(uint16_t vbucket, ChangeListener* listener);
  void unfollowChanges(uint16_t vbucket, ChangeListener* listener);
  // Up to `max` logged changes after `after`, with the vbucket's uuid and
  // high seqno now; `dropped` if the log no longer reaches back to `after`
  // (or the vbucket is not followed).
  // `reuse`: a vector whose memory the read may take (emptied first).
  ChangeRead readChanges(uint16_t vbucket, uint64_t after, size_t max,
                         std::vector<LoggedChange> reuse = {});

  // Not const: it first applies a delayed flush that came due, so
  // curr_items is honest even for vbuckets nobody touched since.
  BucketStats stats();
  void resetStats();
  const BucketConfig& config() const { return config_; }
  // The bucket's clock (Unix seconds), for reporting times left.
  uint32_t now() const { return clock_.now(); }
  // The item memory quota (-m) from now on (memcached's cache_memlimit).
  void setMemoryLimit(size_t bytes) { store_.setLimit(bytes); }

  // memcached's expiry rule: 0 never, <= 30 days relative, else absolute.
  // A time already past becomes "now - 1"-ish (expired at once).
  uint32_t absoluteExpiry(uint32_t expiry, uint32_t now) const;

 private:
  // Items one reclaim step (flush sweep, expiry crawl) unlinks under one
  // vbucket lock before letting go and freeing them: a few microseconds.
  static constexpr size_t kReclaimBatch = 256;
  struct Located {
    VBucket& vb;
    uint64_t hash;  // keyedHash(key): the slot in vb's table, and the ghost's
    uint16_t vbucket;
  };
  Located locate(std::string_view key);
  // Applies a delayed flush that came due to this vbucket (vb.mutex held).
  // Called before anything in the vbucket is read or assigned a CAS, so the
  // mark lands before any store made after the flush time: on the hot path
  // it costs one atomic load and a compare.
  void settleFlush(VBucket& vb, uint32_t now);
  // settleFlush on every vbucket, once per delayed flush.
  void settleAllFlushes(uint32_t now);
  // Marks everything now in the vbucket as flushed (vb.mutex held).
  void markFlushed(VBucket& vb, uint32_t flush_id);
  // The same without recording a flush (a dropped vbucket); returns the
  // items it marked.
  size_t markDead(VBucket& vb);
  static bool isFlushed(const VBucket& vb, const Item* item) {
    return item->cas() <= vb.flushed_cas;
  }
  // Finds a live item; unlinks and forgets an expired or flushed one.
  // vb.mutex held.
  Item* findLive(VBucket& vb, uint64_t hash, std::string_view key, uint32_t now, bool* expired,
                 bool* flushed = nullptr);
  // Where a new item of this key goes (S3-FIFO): main if the ghost
  // remembers the key (the entry is consumed: ask once per operation),
  // else small; main for all with -M.
  ItemStore::Queue queueFor(const Located& where);
  // Allocates, evicting segments when the store is full (and eviction is
  // on). No vbucket lock may be held: eviction takes them.
  Item* allocate(std::string_view key, size_t value_length, const Item::Meta& meta,
                 const Located& where);
  // Allocates only if it fits now; safe under a vbucket lock.
  Item* allocateWithoutEviction(std::string_view key, size_t value_length, const Item::Meta& meta,
                                const Located& where, ItemStore::Queue queue) {
    return store_.allocate(key, value_length, meta, where.vbucket, queue, /*reserve=*/false);
  }
  // How long one operation keeps making room: up to one victim per segment
  // of the limit (a value of many segments, a lowered limit, a small queue
  // whose victims only move to main), but no more than kMaxMakeRoomRounds
  // in a row that neither shrank the memory in use nor the small queue
  // (values pinned by sends, a -M cache full of live items): then ENOMEM.
  struct RoomTries {
    size_t rounds = 0;
    size_t max_rounds = 0;
    int idle = 0;
    ItemStore::Usage last{};
  };
  static constexpr int kMaxMakeRoomRounds = 16;
  // makeRoom(), counting progress in `tries`; false when the operation
  // should give up. No vbucket lock may be held.
  bool makeRoomFor(RoomTries& tries);
  // Takes the store's next victim segment and empties it (bucket_evict.cc):
  // dead items (flushed, expired) go; a live one read since the policy last
  // looked is copied to main, the rest evicted (with -M: every live one is
  // copied, or the segment stays). False when no segment could be taken.
  // No vbucket lock may be held.
  bool makeRoom();
  // Calls fn(vb, item, hash) under the vbucket lock for each linked item of
  // a victim that is not dead (flushed and expired ones are reclaimed).
  template <typename Fn>
  void forEachLiveItem(ItemStore::Segment* victim, uint32_t now, Fn&& fn);
  // Copies a victim's live items to main and frees it; when a copy finds
  // no room, evicts that item or (if !evict_on_failure) keeps the rest
  // with their segment, requeued.
  void compact(ItemStore::Segment* victim, uint32_t now, bool evict_on_failure);
  // Once per segment the store opens: compacts the oldest segment if most
  // of its items are dead (ItemStore::takeSparseVictim). No lock held, and
  // no item of the caller's pending (the victim's evictor waits for those).
  void compactIfDue();
  // Copies a linked item to main's open segment in its place (vb.mutex
  // held); false when even the evictor's reserve is full.
  bool moveLocked(VBucket& vb, Item* item, uint64_t hash, uint8_t freq);
  // Unlinks a live item to make room, remembering its key in the ghost if
  // it leaves from the small queue (vb.mutex held).
  void evictLocked(VBucket& vb, Item* item, uint64_t hash, bool to_ghost);
  // Unlinks a flushed or expired item (vb.mutex held); false if it lives.
  bool reclaimIfDeadLocked(VBucket& vb, Item* item, uint64_t hash, uint32_t now);
  // Puts a new item in the table (vb.mutex held; takes over the caller's
  // reference).
  void linkLocked(VBucket& vb, Item* item, uint64_t hash);
  // A read of a linked item: the eviction policy's frequency counts it.
  static void touchLru(Item* item) { item->noteAccess(); }
  // Any read marks the item fetched and records the access (mg h and l, for
  // whichever protocol read it, as memcached). Written only when changed:
  // the common re-read of a hot item stores nothing.
  static void noteRead(Item* item, uint32_t now) {
    if ((item->metaState() & Item::kFetched) == 0) item->addMetaState(Item::kFetched);
    if (item->accessTime() != static_cast<uint16_t>(now)) item->setAccessTime(now);
  }
  void unlinkLocked(VBucket& vb, Item* item, uint64_t hash);
  // A document leaves: it takes a CAS and the next seqno and, if the bucket
  // keeps tombstones, leaves one; else the purge seqno rises to it
  // (vb.mutex held; call before unlinking, which may free the key).
  MutationResult removedLocked(VBucket& vb, std::string_view key, Removal why, uint32_t now);
  // removedLocked, then unlinkLocked.
  MutationResult retireLocked(VBucket& vb, Item* item, uint64_t hash, Removal why, uint32_t now) {
    MutationResult result = removedLocked(vb, item->key(), why, now);
    unlinkLocked(vb, item, hash);
    return result;
  }
  // The vbucket's contents went without deletions (flush, drop): a new
  // history branch at a new seqno, which is also the purge seqno, so every
  // stream position from before rolls back (vb.mutex held).
  void newBranchLocked(VBucket& vb);
  // Drops tombstones past the age bound (vb.mutex held).
  void dropOldTombstonesLocked(VBucket& vb, uint32_t now);
  // Counts tombstones that left a log (bounds, new branch).
  void tombstonesDropped(size_t count, size_t bytes);
  // A fresh non-zero vbucket uuid; any thread.
  uint64_t newUuid();
  size_t tombstoneShare() const { return tombstone_memory_ / kVBucketCount; }
  // Appends to a followed vbucket's change log (vb.mutex held, vb.changes
  // set). Without memory for the entry, the log forgets everything up to it,
  // and its followers backfill: a store never fails for a follower's sake.
  void logChangeLocked(VBucket& vb, uint64_t seqno, uint64_t cas, uint32_t time, Removal why,
                       bool removed, std::string_view key) noexcept;
  // Half of the change-log memory in even shares, half a pool (change_log.h).
  ChangeLog::Totals changeLogTotals() {
    return {change_log_memory_ / 2 / kVBucketCount, change_log_memory_ / 2, &change_log_bytes_,
            &change_log_overflow_};
  }
  uint16_t vbucketIndex(const VBucket& vb) const {
    return static_cast<uint16_t>(&vb - vbuckets_->data());
  }
  uint64_t nextCas(VBucket& vb) { return ++vb.last_cas; }
  // The CAS a meta client asked for (E), or the next one. A wanted CAS moves
  // the vbucket's counter forward so later ones stay above it; one at or
  // below the vbucket's flush mark reads as flushed (memkv's flush keeps no
  // other state), so such an item is gone at once.
  uint64_t casFor(VBucket& vb, uint64_t wanted) {
    if (wanted == 0) return nextCas(vb);
    if (wanted > vb.last_cas) vb.last_cas = wanted;
    return wanted;
  }
  // The lock on a linked item, if any (vb.mutex held).
  static const LockEntry* lockOf(VBucket& vb, const Item* item, uint32_t now) {
    return vb.locks ? vb.locks->find(item, now) : nullptr;
  }
  // Whether a write carrying `cas` may replace `old` (vb.mutex held): the
  // CAS must match the item's, or the lock's while it is locked.
  static EngineStatus checkCas(VBucket& vb, const Item* old, uint64_t cas, uint32_t now);
  // Publishes `fresh` with this CAS and the next seqno in place of `old`
  // (if any), keeping old's standing with the eviction policy (vb.mutex
  // held; takes over the caller's reference to fresh).
  MutationResult publishLocked(VBucket& vb, Item* fresh, Item* old, uint64_t hash, uint64_t cas);

  // The live items of a vbucket that `keep` accepts, sorted by key.
  template <typename Keep>
  std::vector<ScanItem> collectLive(VBucket& vb, uint32_t now, Keep keep);

  MutationResult storeWhole(const StoreRequest& request, uint32_t now);
  MutationResult storeConcat(const StoreRequest& request, uint32_t now);

  const BucketConfig config_;
  const Clock& clock_;
  ItemStore& store_;  // retired (not deleted) with the bucket; see ItemStore::retire
  std::unique_ptr<std::array<VBucket, kVBucketCount>> vbuckets_;
  // Flushes are numbered; a delayed one is published as (id << 32 | time)
  // and applied per vbucket on first touch after its time (settleFlush).
  // An immediate one is published with time 0 (cancelling a pending one,
  // as memcached does) and marks every vbucket at once.
  std::mutex flush_mutex_;      // serialises flush()
  uint32_t last_flush_id_ = 0;  // guarded by flush_mutex_
  std::atomic<uint64_t> pending_flush_{0};
  std::atomic<uint32_t> settled_flush_id_{0};  // applied to every vbucket
  // Written by the sweeper: kept off the line every request reads above.
  alignas(64) std::mutex reclaim_mutex_;  // one sweeper at a time
  uint16_t reclaim_cursor_ = 0;           // guarded by reclaim_mutex_
  size_t reclaim_slot_ = 0;  // where the sweep goes on in that vbucket; guarded by reclaim_mutex_
  std::atomic<bool> sweep_wanted_{false};  // asked for by flush(), not ended yet
  std::mutex crawl_mutex_;                 // one expiry crawl step at a time
  uint16_t crawl_vbucket_ = 0;             // guarded by crawl_mutex_
  size_t crawl_slot_ = 0;                  // guarded by crawl_mutex_

  std::atomic<uint64_t> curr_items_{0};     // linked and not flushed
  std::atomic<uint64_t> flushed_items_{0};  // linked and flushed
  std::atomic<uint64_t> total_items_{0};
  std::atomic<uint64_t> evictions_{0};
  std::atomic<uint64_t> reclaimed_{0};
  std::atomic<uint64_t> flushes_{0};
  std::atomic<uint64_t> expired_unfetched_{0};
  std::atomic<uint64_t> evicted_unfetched_{0};
  std::atomic<uint64_t> segments_evicted_{0};
  std::atomic<uint64_t> items_moved_{0};
  std::atomic<uint64_t> segments_compacted_{0};
  std::atomic<uint64_t> compaction_checked_{0};  // segmentsOpened() when last checked
  std::atomic<uint64_t> direct_reclaims_{0};
  std::atomic<uint64_t> out_of_memory_{0};
  // Change streams (tombstones.h).
  const size_t tombstone_memory_;
  const uint64_t uuid_seed_;
  std::atomic<uint64_t> uuids_made_{0};
  std::atomic<bool> keep_tombstones_{false};
  std::atomic<uint64_t> tombstones_{0};
  std::atomic<int64_t> tombstone_bytes_{0};
  std::atomic<uint64_t> tombstones_purged_{0};
  const size_t change_log_memory_;
  std::atomic<size_t> change_log_bytes_{0};
  std::atomic<size_t> change_log_overflow_{0};
  std::atomic<uint64_t> change_log_dropped_{0};
};

}  // namespace memkv::engine
