#pragma once
// A vbucket's recent changes, for change streams that follow it (DCP,
// docs/dcp.md "Following"): while at least one follower is registered,
// every seqno the vbucket hands out (a store, a removal) is appended here
// under the vbucket lock the writer already holds, and the followers are
// told; a follower copies what lies after its cursor from the owner thread.
// Without a follower a vbucket has no log, and a store pays one test of a
// null pointer.
//
// Bounded: half the bucket's change-log memory is shared out evenly (each
// log may always hold its 1/1024 of that half), and the other half is a pool
// any log may grow into beyond its share while the pool has room, so a busy
// vbucket can hold more than idle ones. Each log's bytes above its share are
// counted in the bucket's overflow, and a log that appends while the overflow
// is over the pool drops its own oldest entries: so all logs together hold at
// most the change-log memory (plus an entry per concurrent writer). Dropping
// the oldest entry raises start(): a follower whose cursor lies below it was
// too slow (kv_engine's cursor dropping) and takes a backfill instead.
// Hand-written: it is the engine's own bookkeeping, a deque in seqno order.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "engine/short_key.h"
#include "engine/tombstones.h"

namespace memkv::engine {

// Told, on a writer's thread and under the vbucket's lock, that a vbucket
// it follows has new changes. Must be quick and must not call into the
// bucket; a follower is never told anything once unfollowChanges returned.
class ChangeListener {
 public:
  virtual void changesAppended(uint16_t vbucket) noexcept = 0;

 protected:
  ~ChangeListener() = default;
};

// One logged change: a document stored (its item is looked up when it is
// sent, so the log pins no item) or one that went.
struct LoggedChange {
  uint64_t seqno;
  uint64_t cas;   // a removal's
  uint32_t time;  // a removal's
  Removal why;
  bool removed;
  ShortKey key;
};

class ChangeLog final {
 public:
  // A log that holds every change after `start` (the vbucket's high seqno
  // when the first follower came).
  explicit ChangeLog(uint64_t start) : start_(start) {}

  static size_t footprint(const LoggedChange& c) {
    return sizeof(LoggedChange) + c.key.heapBytes();
  }

  // The bucket's counts every log adds to and takes from.
  struct Totals {
    size_t share;                   // what each log may always hold
    size_t pool;                    // what all logs together may hold beyond their shares
    std::atomic<size_t>* bytes;     // every log's bytes
    std::atomic<size_t>* overflow;  // every log's bytes beyond its share
  };

  // Appends (seqnos only grow) and tells the followers. Then drops the
  // oldest entries while this log is above its share and the bucket's
  // overflow above the pool. Returns the entries dropped.
  size_t append(LoggedChange&& c, uint16_t vbucket, const Totals& t) {
    const size_t bytes = footprint(c);
    entries_.push_back(std::move(c));  // may throw: then nothing changed
    resize(bytes_ + bytes, t);
    size_t dropped = 0;
    while (bytes_ > t.share && t.overflow->load(std::memory_order_relaxed) > t.pool &&
           entries_.size() > 1) {
      const size_t freed = footprint(entries_.front());
      start_ = entries_.front().seqno;
      entries_.pop_front();
      resize(bytes_ - freed, t);
      ++dropped;
    }
    for (ChangeListener* l : listeners_) l->changesAppended(vbucket);
    return dropped;
  }

  // Everything up to `seqno` is forgotten, and the followers are told: the
  // vbucket's history starts again there (flush, drop: they find a new
  // uuid), or an entry found no memory (they find their cursor dropped).
  void restart(uint64_t seqno, uint16_t vbucket, const Totals& t) {
    entries_.clear();
    resize(0, t);
    start_ = seqno;
    for (ChangeListener* l : listeners_) l->changesAppended(vbucket);
  }

  // Copies up to `max` changes after `after` into *out. False if some of
  // them were dropped already (after < start()).
  bool read(uint64_t after, size_t max, std::vector<LoggedChange>* out) const {
    if (after < start_) return false;
    // The log holds every seqno after start() in order (each one the
    // vbucket hands out is appended), so the first change after `after` is
    // at after - start(); the search is there should that ever not hold.
    auto from = entries_.begin() +
                static_cast<std::ptrdiff_t>(std::min<uint64_t>(after - start_, entries_.size()));
    const bool found = from == entries_.end() ? entries_.empty() || entries_.back().seqno <= after
                                              : from->seqno == after + 1;
    if (!found) {
      from = std::upper_bound(entries_.begin(), entries_.end(), after,
                              [](uint64_t s, const LoggedChange& c) { return s < c.seqno; });
    }
    const auto to = from + static_cast<std::ptrdiff_t>(
                               std::min(max, static_cast<size_t>(entries_.end() - from)));
    out->reserve(out->size() + static_cast<size_t>(to - from));
    out->insert(out->end(), from, to);
    return true;
  }

  void follow(ChangeListener* l) { listeners_.push_back(l); }
  // True when no follower is left (the caller drops the log).
  bool unfollow(ChangeListener* l) {
    std::erase(listeners_, l);
    return listeners_.empty();
  }
  // Gives back the bytes held (before the log is dropped).
  void release(const Totals& t) { resize(0, t); }

  uint64_t start() const { return start_; }
  size_t bytes() const { return bytes_; }
  size_t size() const { return entries_.size(); }

 private:
  // Sets bytes_, and moves the bucket's totals by the change.
  void resize(size_t bytes, const Totals& t) {
    const size_t over_before = bytes_ > t.share ? bytes_ - t.share : 0;
    const size_t over_after = bytes > t.share ? bytes - t.share : 0;
    t.bytes->fetch_add(bytes - bytes_, std::memory_order_relaxed);  // modular: may shrink
    t.overflow->fetch_add(over_after - over_before, std::memory_order_relaxed);
    bytes_ = bytes;
  }

  std::deque<LoggedChange> entries_;
  std::vector<ChangeListener*> listeners_;
  uint64_t start_;
  size_t bytes_ = 0;
};

}  // namespace memkv::engine
