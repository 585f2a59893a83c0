#pragma once
// The server's buckets by name. Each bucket is shared by the sessions that
// selected it; DELETE_BUCKET marks it deleted, empties it and drops the
// manager's reference, and every session notices on its next command (one
// relaxed load) and lets go. Values still being sent keep their items, and
// the bucket's item store outlives it until the last one is sent (see
// engine::ItemStore::retire), so a send in flight always finishes safely.
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/cluster_map.h"
#include "common/clock.h"
#include "engine/bucket.h"

namespace memkv::server {

// Which of a bucket's vbuckets this node serves, one bit each
// (--cluster-map). Written under BucketManager's mutex when the bucket is
// created or the map changes; read by every document command of a node
// with a map: one relaxed load, no lookup. A reload rewrites the words one
// by one, so a command racing it may see a mix of the old and the new map;
// it is then answered as one of the two maps would answer it.
class OwnedVBuckets final {
 public:
  OwnedVBuckets() { assignAll(); }
  // False for a vbucket number of kVBuckets or more: no node has it.
  bool owns(uint16_t vbucket) const {
    if (vbucket >= cluster::kVBuckets) return false;
    const uint64_t word = words_[vbucket >> 6].load(std::memory_order_relaxed);
    return ((word >> (vbucket & 63)) & 1) != 0;
  }
  void assign(const cluster::Owners& owners, int node);
  void assignAll();

 private:
  std::array<std::atomic<uint64_t>, cluster::kVBuckets / 64> words_;
};

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
  // Read by the same commands, written only by a map change.
  OwnedVBuckets owned;
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
  // Bumped by every create and delete: the cluster config's "rev" without
  // a cluster map.
  uint64_t revision() const { return revision_.load(std::memory_order_relaxed); }

  // --cluster-map: `map` (not null) is served, and this node is its node
  // `node` (< map->nodes().size()). Every bucket's owned table, those created
  // later included, follows the map's owners for it. Any thread.
  // Returns, per bucket, the vbuckets the previous map gave this node and
  // this one does not (none for the first map).
  struct LostVBuckets {
    BucketHandle bucket;
    std::vector<uint16_t> vbuckets;
  };
  std::vector<LostVBuckets> setClusterMap(std::shared_ptr<const cluster::ClusterMap> map, int node);
  struct ClusterView {
    std::shared_ptr<const cluster::ClusterMap> map;  // null: no cluster map
    int node = -1;
    // Which map this is: 1 for the first setClusterMap(), one more for each
    // later one, kSerialUnknown from then on (0: no map). Connections keep
    // the serial of the config they last got in two bytes, to send it once
    // (pushes, NOT_MY_VBUCKET bodies); past the limit they get it every time.
    uint16_t serial = 0;
    static constexpr uint16_t kSerialUnknown = UINT16_MAX;
  };
  // The map in effect (a snapshot: a reload does not free it under the
  // caller). Takes the mutex: for configs, not per command.
  ClusterView clusterMap() const;

 private:
  const Clock& clock_;
  mutable std::mutex mutex_;
  std::map<std::string, BucketHandle, std::less<>> buckets_;  // guarded by mutex_
  ClusterView cluster_;                                       // guarded by mutex_
  std::atomic<uint64_t> revision_{1};
};

}  // namespace memkv::server
