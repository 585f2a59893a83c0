#pragma once
// The item memory budget of one bucket (-m). Bytes are charged when an item
// is allocated and credited when its last reference goes, so items pinned by
// sends in flight still count: the budget is what the process really holds.
#include <atomic>
#include <cstddef>

namespace memkv::engine {

class MemoryAccount final {
 public:
  explicit MemoryAccount(size_t limit) : limit_(limit) {}

  // Charges `bytes` if they fit under the limit; false otherwise.
  bool tryCharge(size_t bytes) {
    size_t cur = used_.load(std::memory_order_relaxed);
    while (cur + bytes <= limit_) {
      if (used_.compare_exchange_weak(cur, cur + bytes, std::memory_order_relaxed)) return true;
    }
    return false;
  }
  void credit(size_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }

  size_t used() const { return used_.load(std::memory_order_relaxed); }
  size_t limit() const { return limit_; }

 private:
  const size_t limit_;
  std::atomic<size_t> used_{0};
};

}  // namespace memkv::engine
