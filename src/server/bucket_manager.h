#pragma once
// The server's buckets by name. Each bucket is shared by the sessions that
// selected it; DELETE_BUCKET marks it deleted, empties it and drops the
// manager's reference, and every session notices on its next command (one
// relaxed load) and lets go. Values still being sent keep their items, and
// the bucket's item store outlives it until the last one is sent (see
// engine::ItemStore::retire), so a send in flight always finishes safely.
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "engine/bucket.h"

namespace memkv::server {

struct BucketEntry {
  BucketEntry(std::string bucket_name, const engine::BucketConfig& config, const Clock& clock,
              std::string bucket_uuid)
      : name(std::move(bucket_name)), uuid(std::move(bucket_uuid)), bucket(config, clock) {}
  // Over-aligned members: allocate accordingly.
  static void* operator new(size_t size) { return ::operator new (size, std::align_val_t{64}); }
  static void operator delete(void* p) { ::operator delete (p, std::align_val_t{64}); }

  const std::string name;
  const std::string uuid;  // 32 hex digits, new for every bucket created
  // Read by every command of every session using the bucket: on its own
  // cache line, away from the counters writers update.
  alignas(64) std::atomic<bool> deleted{false};
  alignas(64) engine::Bucket bucket;
};

using BucketHandle = std::shared_ptr<BucketEntry>;

enum class BucketError : uint8_t { kOk, kExists, kNotFound, kBadName, kTooMany };

class BucketManager final {
 public:
  static constexpr size_t kMaxBuckets = 100;
  static constexpr size_t kMaxNameLength = 100;

  explicit BucketManager(const Clock& clock) : clock_(clock) {}

  // Couchbase's rule: 1-100 of [A-Za-z0-9._%-], not starting with '.'.
  static bool validName(std::string_view name);

  BucketError create(std::string_view name, const engine::BucketConfig& config);
  // Forgets the bucket and marks it deleted; *removed gets it, so the
  // caller can empty it (in the background: it may hold millions of items).
  BucketError remove(std::string_view name, BucketHandle* removed);
  BucketHandle find(std::string_view name) const;
  std::vector<BucketHandle> all() const;
  // Bumped by every create and delete: the cluster config's "rev".
  uint64_t revision() const { return revision_.load(std::memory_order_relaxed); }

 private:
  const Clock& clock_;
  mutable std::mutex mutex_;
  std::map<std::string, BucketHandle, std::less<>> buckets_;  // guarded by mutex_
  std::atomic<uint64_t> revision_{1};
};

}  // namespace memkv::server
