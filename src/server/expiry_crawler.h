#pragma once
// The expiry crawler: memory of expired items comes back without anyone
// reading them (memcached's LRU crawler does this job). Once a second it
// queues, per bucket, one low-priority ExecutorPool task that walks a
// bounded number of hash slots (Bucket::reclaimExpired) from where the last
// one stopped, so its CPU stays bounded however large the cache (at most
// about 1% of a core) and a full pass over a million items takes seconds.
// Items the crawler has not reached yet are still invisible to readers
// (every lookup checks the expiry) and still reclaimed when eviction meets
// them.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "engine/executor_pool.h"
#include "server/bucket_manager.h"

namespace memkv::server {

class ExpiryCrawler final {
 public:
  // Hash slots one task walks: about 2 items each at the tables' load.
  static constexpr size_t kSlotsPerPass = 65536;

  // Starts its timer thread. buckets and pool must outlive it.
  ExpiryCrawler(BucketManager& buckets, engine::ExecutorPool& pool,
                std::chrono::milliseconds interval = std::chrono::seconds(1));
  ~ExpiryCrawler();  // stops the timer; queued tasks finish or are dropped with the pool
  ExpiryCrawler(const ExpiryCrawler&) = delete;
  ExpiryCrawler& operator=(const ExpiryCrawler&) = delete;

 private:
  void run();

  BucketManager& buckets_;
  engine::ExecutorPool& pool_;
  const std::chrono::milliseconds interval_;
  // Tasks queued or running: a pass is skipped while the last one has not
  // finished (a busy pool never accumulates crawl tasks).
  std::atomic<int> in_flight_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace memkv::server
