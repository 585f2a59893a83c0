#pragma once
// ReadBudget: one server-wide cap on the bytes partially received requests
// hold (docs/architecture.md invariants 6 and 8): pool read buffers, spills and
// the exact-size blocks of frames larger than a pool buffer, across every
// worker. memcached charges a partial upload to -m because it allocates the
// item first; memkv reads into its own buffers, so they need their own limit.
//
// Thread-safe (one atomic). Workers do not touch it per request: each
// BufferPool takes credit from it in chunks and gives the surplus back (see
// BufferPool), so the shared cache line moves only when a worker's read
// memory grows or shrinks by about a chunk, or a large frame comes or goes.
// Charged bytes never exceed the limit; what connections really hold is at
// most what is charged.
//
// Frames larger than a pool buffer may fill only three quarters of the
// limit: the last quarter is kept for pool buffers and spills, so clients
// that announce large values and stall can make other large uploads wait,
// but not the ordinary small requests of everyone else.
#include <atomic>
#include <cstddef>

namespace memkv::net {

class ReadBudget final {
 public:
  // limit_bytes: 0 means no limit (charges always succeed, still counted).
  explicit ReadBudget(size_t limit_bytes)
      : limit_(limit_bytes), large_limit_(limit_bytes - limit_bytes / 4) {}
  ReadBudget(const ReadBudget&) = delete;
  ReadBudget& operator=(const ReadBudget&) = delete;

  // Charges n bytes if they fit under the limit; false (nothing charged) if
  // not.
  bool tryCharge(size_t n) { return charge(n, limit_); }
  // The same for the block of a frame larger than a pool buffer: it must fit
  // under the large-frame share of the limit.
  bool tryChargeLarge(size_t n) { return charge(n, large_limit_); }
  void uncharge(size_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }

  size_t limit() const { return limit_; }
  size_t used() const { return used_.load(std::memory_order_relaxed); }
  size_t peak() const { return peak_.load(std::memory_order_relaxed); }

 private:
  bool charge(size_t n, size_t ceiling) {
    size_t used = used_.load(std::memory_order_relaxed);
    do {
      if (limit_ != 0 && (n > ceiling || used > ceiling - n)) return false;
    } while (!used_.compare_exchange_weak(used, used + n, std::memory_order_relaxed));
    const size_t now = used + n;
    size_t peak = peak_.load(std::memory_order_relaxed);
    while (now > peak && !peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
    return true;
  }

  const size_t limit_;
  const size_t large_limit_;
  std::atomic<size_t> used_{0};
  std::atomic<size_t> peak_{0};
};

}  // namespace memkv::net
