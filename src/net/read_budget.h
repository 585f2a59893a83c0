#pragma once
// ReadBudget: one server-wide cap on the bytes partially received requests
// hold (ARCHITECTURE.md invariants 6 and 8): pool read buffers, spills and
// the exact-size blocks of frames larger than a pool buffer, across every
// worker. memcached charges a partial upload to -m because it allocates the
// item first; memkv reads into its own buffers, so they need their own limit.
//
// Thread-safe (one atomic). Workers do not touch it per request: each
// BufferPool takes credit from it in chunks and gives the surplus back (see
// BufferPool), so the shared cache line moves only when a worker's read
// memory grows or shrinks by about a chunk. Charged bytes never exceed the
// limit; what connections really hold is at most what is charged.
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace memkv::net {

class ReadBudget final {
 public:
  // limit_bytes: 0 means no limit (charges always succeed, still counted).
  explicit ReadBudget(size_t limit_bytes) : limit_(limit_bytes) {}
  ReadBudget(const ReadBudget&) = delete;
  ReadBudget& operator=(const ReadBudget&) = delete;

  // Charges n bytes if they fit under the limit; false (nothing charged,
  // counted as a refusal) if not.
  bool tryCharge(size_t n) {
    size_t used = used_.load(std::memory_order_relaxed);
    do {
      if (limit_ != 0 && (n > limit_ || used > limit_ - n)) {
        refusals_.fetch_add(1, std::memory_order_relaxed);
        return false;
      }
    } while (!used_.compare_exchange_weak(used, used + n, std::memory_order_relaxed));
    const size_t now = used + n;
    size_t peak = peak_.load(std::memory_order_relaxed);
    while (now > peak && !peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
    return true;
  }
  void uncharge(size_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }

  size_t limit() const { return limit_; }
  size_t used() const { return used_.load(std::memory_order_relaxed); }
  size_t peak() const { return peak_.load(std::memory_order_relaxed); }
  uint64_t refusals() const { return refusals_.load(std::memory_order_relaxed); }

 private:
  const size_t limit_;
  std::atomic<size_t> used_{0};
  std::atomic<size_t> peak_{0};
  std::atomic<uint64_t> refusals_{0};
};

}  // namespace memkv::net
