// A bucket's history for change streams (docs/dcp.md): vbucket uuids and
// failover branches, tombstones and the purge seqno, the change logs of
// followed vbuckets, and the backfill snapshot built from them. Apart from
// bucket.cc, whose store and removal paths call in here under the vbucket
// lock they already hold.
#include <algorithm>
#include <new>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/keyed_hash.h"
#include "engine/bucket.h"

namespace memkv::engine {

namespace {
// splitmix64's finaliser: distinct inputs give distinct outputs (it is a
// bijection), so uuids from one seed and a counter never repeat.
uint64_t mix64(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
}  // namespace

uint64_t Bucket::newUuid() {
  for (;;) {
    const uint64_t uuid = mix64(uuid_seed_ + uuids_made_.fetch_add(1, std::memory_order_relaxed));
    if (uuid != 0) return uuid;
  }
}

void Bucket::tombstonesDropped(size_t count, size_t bytes) {
  if (count == 0) return;
  tombstones_.fetch_sub(count, std::memory_order_relaxed);
  tombstones_purged_.fetch_add(count, std::memory_order_relaxed);
  tombstone_bytes_.fetch_sub(static_cast<int64_t>(bytes), std::memory_order_relaxed);
}

void Bucket::dropOldTombstonesLocked(VBucket& vb, uint32_t now) {
  if (!vb.tombstones || now <= config_.tombstone_age) return;
  const size_t count = vb.tombstones->size();
  const size_t bytes = vb.tombstones->dropOlderThan(now - config_.tombstone_age, &vb.purge_seqno);
  tombstonesDropped(count - vb.tombstones->size(), bytes);
}

void Bucket::newBranchLocked(VBucket& vb) {
  vb.purge_seqno = ++vb.high_seqno;
  if (vb.tombstones) {
    const size_t count = vb.tombstones->size();
    tombstonesDropped(count, vb.tombstones->clear());
  }
  vb.uuid = newUuid();
  if (vb.failover.size() >= kMaxFailoverEntries) vb.failover.erase(vb.failover.begin());
  vb.failover.push_back({vb.uuid, vb.high_seqno});
  if (vb.changes) {
    // The followers find the new uuid when they read, and end their streams.
    vb.changes->restart(vb.high_seqno, vbucketIndex(vb), changeLogTotals());
  }
}

void Bucket::logChangeLocked(VBucket& vb, uint64_t seqno, uint64_t cas, uint32_t time, Removal why,
                             bool removed, std::string_view key) noexcept {
  size_t dropped = 0;
  try {
    dropped = vb.changes->append({seqno, cas, time, why, removed, ShortKey(key)}, vbucketIndex(vb),
                                 changeLogTotals());
  } catch (const std::bad_alloc&) {
    dropped = vb.changes->size();
    vb.changes->restart(seqno, vbucketIndex(vb), changeLogTotals());
  }
  if (dropped != 0) change_log_dropped_.fetch_add(dropped, std::memory_order_relaxed);
}

void Bucket::followChanges(uint16_t vbucket, ChangeListener* listener) {
  VBucket& vb = (*vbuckets_)[vbucket];
  std::lock_guard guard(vb.mutex);
  settleFlush(vb, clock_.now());
  if (!vb.changes) vb.changes = std::make_unique<ChangeLog>(vb.high_seqno);
  vb.changes->follow(listener);
}

void Bucket::unfollowChanges(uint16_t vbucket, ChangeListener* listener) {
  VBucket& vb = (*vbuckets_)[vbucket];
  std::lock_guard guard(vb.mutex);
  if (vb.changes && vb.changes->unfollow(listener)) {
    vb.changes->release(changeLogTotals());
    vb.changes.reset();
  }
}

ChangeRead Bucket::readChanges(uint16_t vbucket, uint64_t after, size_t max,
                               std::vector<LoggedChange> reuse) {
  VBucket& vb = (*vbuckets_)[vbucket];
  ChangeRead out;
  reuse.clear();
  out.changes = std::move(reuse);
  std::lock_guard guard(vb.mutex);
  settleFlush(vb, clock_.now());
  out.uuid = vb.uuid;
  out.high_seqno = vb.high_seqno;
  out.dropped = !vb.changes || !vb.changes->read(after, max, &out.changes);
  return out;
}

MutationResult Bucket::removedLocked(VBucket& vb, std::string_view key, Removal why, uint32_t now) {
  const uint64_t cas = nextCas(vb);
  const uint64_t seqno = ++vb.high_seqno;
  if (vb.changes) [[unlikely]] {
    logChangeLocked(vb, seqno, cas, now, why, true, key);
  }
  if (!keep_tombstones_.load(std::memory_order_relaxed)) {
    vb.purge_seqno = seqno;
    tombstones_purged_.fetch_add(1, std::memory_order_relaxed);
    return {EngineStatus::kSuccess, cas, seqno, vb.uuid};
  }
  dropOldTombstonesLocked(vb, now);
  if (!vb.tombstones) vb.tombstones = std::make_unique<TombstoneLog>();
  TombstoneLog& log = *vb.tombstones;
  const size_t count = log.size();
  const long delta =
      log.append({seqno, cas, now, why, std::string(key)}, tombstoneShare(), &vb.purge_seqno);
  // What the bound dropped to make room (the new one may be among them).
  const size_t dropped = count + 1 - log.size();
  tombstones_.fetch_add(1, std::memory_order_relaxed);
  tombstone_bytes_.fetch_add(delta, std::memory_order_relaxed);
  if (dropped != 0) {
    tombstones_.fetch_sub(dropped, std::memory_order_relaxed);
    tombstones_purged_.fetch_add(dropped, std::memory_order_relaxed);
  }
  return {EngineStatus::kSuccess, cas, seqno, vb.uuid};
}

Bucket::~Bucket() {
  purge();
  store_.retire();
}

ItemRef Bucket::findChange(std::string_view key, uint64_t seqno) {
  const uint32_t now = clock_.now();
  Located at = locate(key);
  std::lock_guard guard(at.vb.mutex);
  settleFlush(at.vb, now);
  Item* item = at.vb.table.find(at.hash, key);
  if (item == nullptr || isFlushed(at.vb, item) || item->expiredAt(now) || item->seqno() != seqno) {
    return {};
  }
  return ItemRef::share(item);
}

std::vector<FailoverEntry> Bucket::failoverLog(uint16_t vbucket) {
  VBucket& vb = (*vbuckets_)[vbucket];
  std::lock_guard guard(vb.mutex);
  settleFlush(vb, clock_.now());
  return {vb.failover.rbegin(), vb.failover.rend()};
}

ChangeSnapshot Bucket::snapshotChanges(uint16_t vbucket, uint64_t after) {
  const uint32_t now = clock_.now();
  VBucket& vb = (*vbuckets_)[vbucket];
  ChangeSnapshot out;
  {
    std::lock_guard guard(vb.mutex);
    settleFlush(vb, now);
    // Documents that expired by now go first, as tombstones: a backfill must
    // not send what a reader can no longer get.
    std::vector<Item*> expired;
    vb.table.forEach([&](const Item* item) {
      if (!isFlushed(vb, item) && item->expiredAt(now)) expired.push_back(const_cast<Item*>(item));
    });
    for (Item* item : expired) {
      if ((item->metaState() & Item::kFetched) == 0) {
        expired_unfetched_.fetch_add(1, std::memory_order_relaxed);
      }
      retireLocked(vb, item, keyedHash(item->key()), Removal::kExpired, now);
      reclaimed_.fetch_add(1, std::memory_order_relaxed);
    }
    out.uuid = vb.uuid;
    out.high_seqno = vb.high_seqno;
    out.purge_seqno = vb.purge_seqno;
    vb.table.forEach([&](const Item* item) {
      if (item->seqno() > after && !isFlushed(vb, item)) {
        out.changes.push_back({item->seqno(),
                               ItemRef::share(const_cast<Item*>(item)),
                               item->expiry(),
                               0,
                               0,
                               Removal::kDeleted,
                               {}});
      }
    });
    if (vb.tombstones) {
      // Newest first, so a key deleted twice keeps its last tombstone; a key
      // stored again since is live, and its document is the newer change.
      std::unordered_set<std::string_view> seen;
      const auto& entries = vb.tombstones->entries();
      for (auto it = entries.rbegin(); it != entries.rend() && it->seqno > after; ++it) {
        if (!seen.insert(it->key).second) continue;
        if (vb.table.find(keyedHash(it->key), it->key) != nullptr) continue;
        out.changes.push_back({it->seqno, {}, 0, it->cas, it->time, it->why, it->key});
      }
    }
  }
  // Sorted outside the lock: writers of this vbucket wait only for the walk.
  std::sort(out.changes.begin(), out.changes.end(),
            [](const Change& a, const Change& b) { return a.seqno < b.seqno; });
  return out;
}

}  // namespace memkv::engine
