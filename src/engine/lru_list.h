#pragma once
// The bucket's recency list, most recent at the front; the evictor takes from
// the back. Every move to the front (a store, or a read's bump) advances a
// sequence number and stamps the item. A read bumps its item only once a
// quarter of the cached items have moved ahead of it since its stamp, and
// only if the mutex is free at that moment (try_lock): reads rarely take the
// lock and never wait on it, and a hot item is bumped long before it can
// drift to the back, however fast the cache turns over (a once-per-second
// rule, like memcached's ITEM_UPDATE_INTERVAL, let hot items be evicted when
// the whole cache turned over in under a second). Lock order: a VBucket
// mutex may be held while taking this one, never the reverse.
#include <cstddef>
#include <mutex>

#include "engine/item.h"

namespace memkv::engine {

class LruList final {
 public:
  std::mutex& mutex() { return mutex_; }

  // All below require mutex() held.
  void pushFront(Item* item) {
    item->lru_prev_ = nullptr;
    item->lru_next_ = head_;
    if (head_) head_->lru_prev_ = item;
    head_ = item;
    if (!tail_) tail_ = item;
    ++size_;
  }
  void unlink(Item* item) {
    if (item->lru_prev_) {
      item->lru_prev_->lru_next_ = item->lru_next_;
    } else {
      head_ = item->lru_next_;
    }
    if (item->lru_next_) {
      item->lru_next_->lru_prev_ = item->lru_prev_;
    } else {
      tail_ = item->lru_prev_;
    }
    item->lru_prev_ = item->lru_next_ = nullptr;
    --size_;
  }
  void moveToFront(Item* item) {
    if (head_ == item) return;
    unlink(item);
    pushFront(item);
  }
  Item* tail() const { return tail_; }
  size_t size() const { return size_; }

 private:
  std::mutex mutex_;
  Item* head_ = nullptr;
  Item* tail_ = nullptr;
  size_t size_ = 0;
};

}  // namespace memkv::engine
