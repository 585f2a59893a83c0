#pragma once
// What a vbucket remembers of the documents it lost, for change streams
// (DCP, docs/dcp.md): a failover log (the vbucket's history branches) and a
// purge seqno, and, once a change stream was opened on the bucket, a log of
// tombstones, one per deletion, expiry or eviction, so a consumer that
// resumes from an older seqno is told what went away.
//
// A tombstone log is bounded twice: in bytes (the vbucket's share of the
// bucket's tombstone memory) and in age. Dropping its oldest entry raises
// the purge seqno to that entry's: a consumer resuming below it can no
// longer be told everything, and is sent back to seqno 0 (rollback).
// Hand-written: it is the engine's own bookkeeping, a deque in seqno order.
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace memkv::engine {

// Why a document left: a DELETE, its expiry, or the cache needing room
// (streamed as a deletion, as kv_engine's ephemeral buckets do).
enum class Removal : uint8_t { kDeleted, kExpired, kEvicted };

struct Tombstone {
  uint64_t seqno;
  uint64_t cas;
  uint32_t time;  // when it went (the bucket's clock, Unix seconds)
  Removal why;
  std::string key;
};

// One branch of a vbucket's history: its uuid, and the seqno it began at.
struct FailoverEntry {
  uint64_t uuid;
  uint64_t seqno;
};

// kv_engine keeps 25 entries (max_failover_entries); so does memkv.
inline constexpr size_t kMaxFailoverEntries = 25;

class TombstoneLog final {
 public:
  // What one entry costs, counted against the bound: the entry and, for a
  // key too long for the string's own buffer, its heap copy.
  static size_t footprint(const Tombstone& t) {
    return sizeof(Tombstone) + (t.key.size() > kInlineKey ? t.key.capacity() + 1 : 0);
  }

  // Appends (seqnos only grow), then drops the oldest entries while the
  // log is above `max_bytes`; each dropped seqno raises *purge_seqno.
  // Returns the change in bytes held (positive or negative).
  long append(Tombstone&& t, size_t max_bytes, uint64_t* purge_seqno) {
    const size_t before = bytes_;
    bytes_ += footprint(t);
    entries_.push_back(std::move(t));
    while (bytes_ > max_bytes && !entries_.empty()) dropOldest(purge_seqno);
    return static_cast<long>(bytes_) - static_cast<long>(before);
  }

  // Drops entries that went before `time`; returns the bytes freed.
  size_t dropOlderThan(uint32_t time, uint64_t* purge_seqno) {
    const size_t before = bytes_;
    while (!entries_.empty() && entries_.front().time < time) dropOldest(purge_seqno);
    return before - bytes_;
  }

  // Forgets everything (the vbucket's history starts again; the caller sets
  // the purge seqno); returns the bytes freed.
  size_t clear() {
    const size_t freed = bytes_;
    entries_.clear();
    entries_.shrink_to_fit();
    bytes_ = 0;
    return freed;
  }

  size_t bytes() const { return bytes_; }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  const std::deque<Tombstone>& entries() const { return entries_; }

 private:
  static constexpr size_t kInlineKey = 15;  // libstdc++'s short-string buffer

  void dropOldest(uint64_t* purge_seqno) {
    Tombstone& oldest = entries_.front();
    if (oldest.seqno > *purge_seqno) *purge_seqno = oldest.seqno;
    bytes_ -= footprint(oldest);
    entries_.pop_front();
  }

  std::deque<Tombstone> entries_;
  size_t bytes_ = 0;
};

}  // namespace memkv::engine
