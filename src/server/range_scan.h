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
// CONTINUE runs on the ExecutorPool as a ContinueJob (range_scan_job.h),
// which hands its frames to the connection through the Inbox.
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

// Who a scan belongs to. Only its user may continue or cancel it, from any of
// that user's connections on the same bucket (the SDK may move a scan to
// another connection); to anyone else it does not exist. The connection that
// created it ends it when it closes (kv_engine's rule).
struct ScanOwner {
  const void* connection = nullptr;  // the creating session (identity only)
  // The authenticated user's name; "" on an open server, where every
  // client is the same anonymous user.
  std::string user;
};

class RangeScan final {
 public:
  enum class State : uint8_t { kIdle, kContinuing, kCancelled };

  RangeScan(const ScanId& id, BucketHandle bucket, uint16_t vbucket, bool key_only,
            std::vector<engine::ScanItem> items, ScanOwner owner, int64_t now_ms);

  const ScanId& id() const { return id_; }
  const BucketHandle& bucket() const { return bucket_; }
  uint16_t vbucket() const { return vbucket_; }
  bool keyOnly() const { return key_only_; }
  const ScanOwner& owner() const { return owner_; }
  // What the snapshot holds on to: its items' memory stays charged to the
  // bucket until the scan is gone.
  size_t pinnedItems() const { return items_.size(); }
  size_t pinnedBytes() const { return pinned_bytes_; }

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
  const size_t pinned_bytes_;
  const ScanOwner owner_;
  std::atomic<State> state_{State::kIdle};
  std::atomic<int64_t> last_used_ms_;
};

using RangeScanHandle = std::shared_ptr<RangeScan>;

// Every open scan of the server, by id. Thread-safe.
//
// Caps: each open scan pins a snapshot, so the number of scans is bounded per
// connection, per user and in all. An SDK scans one vbucket after another
// with `concurrency` streams at a time (1 by default) and answers EBUSY by
// lowering its concurrency, so 16 per connection costs an SDK nothing it
// uses, and 64 per user leaves room for a few SDK processes of one
// application while 4096 in all still serves 64 such users at their cap. The
// per-user cap applies to authenticated users only: on an open server every
// client is the same anonymous user, and the cap would be a second global one.
class RangeScanRegistry final {
 public:
  static constexpr size_t kMaxScans = 4096;
  static constexpr size_t kMaxScansPerConnection = 16;
  static constexpr size_t kMaxScansPerUser = 64;

  // false when a cap is reached (the scan is not added).
  bool add(RangeScanHandle scan);
  // Whether add() would find room for this owner now: CREATE asks before it
  // pays for a snapshot (add() decides).
  bool hasRoom(const ScanOwner& owner) const;
  // The scan if it is open on `bucket` and belongs to `user`; nullptr
  // otherwise, so another user cannot tell someone else's scan from an
  // unknown id.
  RangeScanHandle find(const ScanId& id, const BucketHandle& bucket, std::string_view user) const;
  void remove(const ScanId& id);
  // A closing connection's scans: cancelled and forgotten.
  void cancelOwnedBy(const void* connection);
  // Scans idle longer than lifetime_ms: cancelled and forgotten.
  size_t expireIdle(int64_t now_ms, int64_t lifetime_ms);

  struct Totals {
    size_t scans = 0;
    size_t items = 0;  // items pinned by open scans' snapshots
    size_t bytes = 0;  // their memory footprint
  };
  Totals totals() const;
  size_t size() const { return totals().scans; }

 private:
  using Scans = std::map<ScanId, RangeScanHandle>;
  bool roomLocked(const ScanOwner& owner) const;
  // Erases one scan and its share of the counts; returns the next entry.
  Scans::iterator eraseLocked(Scans::iterator it);

  mutable std::mutex mutex_;
  Scans scans_;                                          // guarded by mutex_
  std::map<const void*, size_t> per_connection_;         // guarded by mutex_
  std::map<std::string, size_t, std::less<>> per_user_;  // guarded by mutex_
  size_t pinned_items_ = 0;                              // guarded by mutex_
  size_t pinned_bytes_ = 0;                              // guarded by mutex_
};

// A fresh id from OpenSSL's CSPRNG (ids are capabilities of a kind: they
// must not be guessable from ids one has seen). false if the CSPRNG failed.
bool newScanId(ScanId* id);

}  // namespace memkv::server
