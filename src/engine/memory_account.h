#pragma once
// The item memory budget of one bucket (-m). Bytes are charged when an item
// is allocated and credited when its last reference goes, so items pinned by
// sends in flight still count: the budget is what the process really holds.
#include <atomic>
#include <cstddef>

namespace memkv::engine {

class MemoryAccount final {
 public:
  // Heap-allocated by its bucket. The bucket's own life holds one byte of
  // the count (a bias no item pays), so the count reaches zero exactly once:
  // when the bucket has retired it and the last item charged to it is freed.
  // A bucket can then be deleted while its values are still being sent; the
  // account outlives the bucket and frees itself after the last send.
  static MemoryAccount* create(size_t limit) { return new MemoryAccount(limit); }
  // The bucket is gone; no new charges follow. Frees the account now or when
  // the last item goes.
  void retire() { credit(kBias); }

  // Charges `bytes` if they fit under the limit; false otherwise.
  bool tryCharge(size_t bytes) {
    size_t cur = used_.load(std::memory_order_relaxed);
    while (cur + bytes <= limit() + kBias) {
      if (used_.compare_exchange_weak(cur, cur + bytes, std::memory_order_relaxed)) return true;
    }
    return false;
  }
  void credit(size_t bytes) {
    if (used_.fetch_sub(bytes, std::memory_order_acq_rel) == bytes) delete this;
  }

  size_t used() const { return used_.load(std::memory_order_relaxed) - kBias; }
  size_t limit() const { return limit_.load(std::memory_order_relaxed); }
  // memcached's cache_memlimit: a lower limit is enforced as items are
  // allocated (eviction makes room), never by freeing at once.
  void setLimit(size_t limit) { limit_.store(limit, std::memory_order_relaxed); }

 private:
  static constexpr size_t kBias = 1;
  explicit MemoryAccount(size_t limit) : limit_(limit) {}
  ~MemoryAccount() = default;

  std::atomic<size_t> limit_;
  std::atomic<size_t> used_{kBias};
};

}  // namespace memkv::engine
