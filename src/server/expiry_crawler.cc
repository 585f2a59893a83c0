#include "server/expiry_crawler.h"

#include <memory>
#include <utility>

namespace memkv::server {

ExpiryCrawler::ExpiryCrawler(BucketManager& buckets, engine::ExecutorPool& pool,
                             std::chrono::milliseconds interval)
    : buckets_(buckets), pool_(pool), interval_(interval), thread_([this] { run(); }) {}

ExpiryCrawler::~ExpiryCrawler() {
  {
    std::lock_guard guard(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void ExpiryCrawler::run() {
  std::unique_lock guard(mutex_);
  while (!wake_.wait_for(guard, interval_, [this] { return stopping_; })) {
    if (in_flight_.load(std::memory_order_acquire) != 0) continue;
    for (BucketHandle& bucket : buckets_.all()) {
      in_flight_.fetch_add(1, std::memory_order_acq_rel);
      // The handle keeps the bucket alive for the task, even if it is
      // deleted meanwhile (then the task walks an emptied bucket).
      const bool queued = pool_.submit(engine::TaskPriority::kLow, [this, bucket] {
        bucket->bucket.reclaimExpired(kSlotsPerPass);
        in_flight_.fetch_sub(1, std::memory_order_acq_rel);
      });
      if (!queued) in_flight_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }
}

}  // namespace memkv::server
