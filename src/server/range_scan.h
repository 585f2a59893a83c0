#pragma once
// Range scans (RANGE_SCAN_CREATE / CONTINUE / CANCEL, kv_engine's
// docs/range_scans): a client streams the documents of one vbucket in key
// order, in batches it asks for.
//
// Consistency: CREATE takes a point-in-time snapshot of the vbucket's live
// items in the range (references taken under the vbucket lock; items are
// immutable), so a scan returns exactly the documents that existed at
// CREATE, with the values they had then, whatever writers do afterwards.
// The snapshot pins those items (their memory stays charged to the bucket)
// until the scan completes, is cancelled, its connection closes, or it sits
// idle past its lifetime.
//
// CONTINUE runs on the ExecutorPool: the task encodes responses into frames
// of bounded size and hands them to the connection through its Inbox
// (ARCHITECTURE.md invariant 2); the connection is parked meanwhile, so its
// later requests are answered after the scan's frames, in order. When the
// Inbox is full (the client reads slowly) the task stops and the owner
// resubmits it once the Inbox has drained: memory stays bounded.
//
// Copies: a value under 4 KiB is copied once, from its item into the frame
// (cheaper than an iovec and a reference per small document); a larger one
// is never copied: its frame carries a reference to the item, released when
// the kernel has taken the bytes. The Inbox is told not to copy scan frames
// again.
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/bucket.h"
#include "engine/executor_pool.h"
#include "server/bucket_manager.h"

namespace memkv::server {

using ScanId = std::array<uint8_t, 16>;

// What RANGE_SCAN_CREATE's JSON asks for.
struct RangeScanConfig {
  bool key_only = false;
  engine::KeyRange range;
  bool sampling = false;
  uint64_t samples = 0;
  uint64_t seed = 0;
  bool snapshot_requirements = false;
  uint64_t vb_uuid = 0;
  uint64_t seqno = 0;
  bool seqno_exists = false;
};

enum class ConfigError : uint8_t { kOk, kInvalid, kUnknownCollection };

// Parses the CREATE value; the collection, if named, must be the default.
ConfigError parseRangeScanConfig(std::string_view json, RangeScanConfig* out);

class RangeScan final {
 public:
  enum class State : uint8_t { kIdle, kContinuing, kCancelled };

  RangeScan(const ScanId& id, BucketHandle bucket, uint16_t vbucket, bool key_only,
            std::vector<engine::ScanItem> items, const void* owner, int64_t now_ms)
      : id_(id),
        bucket_(std::move(bucket)),
        vbucket_(vbucket),
        key_only_(key_only),
        items_(std::move(items)),
        owner_(owner),
        last_used_ms_(now_ms) {}

  const ScanId& id() const { return id_; }
  const BucketHandle& bucket() const { return bucket_; }
  uint16_t vbucket() const { return vbucket_; }
  bool keyOnly() const { return key_only_; }
  const void* owner() const { return owner_; }

  // idle -> continuing; false if it is already continuing or cancelled.
  bool beginContinue();
  // continuing -> idle (more to come) at the end of a CONTINUE.
  void endContinue(int64_t now_ms);
  // Any state -> cancelled; a running CONTINUE notices and ends.
  void cancel() { state_.store(State::kCancelled, std::memory_order_release); }
  State state() const { return state_.load(std::memory_order_acquire); }
  int64_t lastUsedMs() const { return last_used_ms_.load(std::memory_order_relaxed); }

  // Only the holder of the continuing state (one task at a time) reads these.
  const std::vector<engine::ScanItem>& items() const { return items_; }
  size_t next = 0;

 private:
  const ScanId id_;
  const BucketHandle bucket_;
  const uint16_t vbucket_;
  const bool key_only_;
  const std::vector<engine::ScanItem> items_;
  const void* const owner_;  // the session that created it (identity only)
  std::atomic<State> state_{State::kIdle};
  std::atomic<int64_t> last_used_ms_;
};

using RangeScanHandle = std::shared_ptr<RangeScan>;

// Every open scan of the server, by id. Thread-safe.
class RangeScanRegistry final {
 public:
  static constexpr size_t kMaxScans = 4096;

  // false when too many scans are open.
  bool add(RangeScanHandle scan);
  RangeScanHandle find(const ScanId& id) const;
  void remove(const ScanId& id);
  // A closing connection's scans: cancelled and forgotten.
  void cancelOwnedBy(const void* owner);
  // Scans idle longer than lifetime_ms: cancelled and forgotten.
  size_t expireIdle(int64_t now_ms, int64_t lifetime_ms);
  size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::map<ScanId, RangeScanHandle> scans_;  // guarded by mutex_
};

ScanId newScanId();

}  // namespace memkv::server
