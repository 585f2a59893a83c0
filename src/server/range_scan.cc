#include "server/range_scan.h"

#include <openssl/rand.h>

#include <nlohmann/json.hpp>

#include "auth/scram_crypto.h"
#include "protocol/range_scan.h"

namespace memkv::server {

namespace {

// A range bound: base64 of at most 250 key bytes.
bool decodeKey(const nlohmann::json& v, std::string* out) {
  return v.is_string() && auth::base64Decode(v.get<std::string>(), out) &&
         out->size() <= mcbp::range_scan::kMaxRangeKeyLength;
}

size_t footprintOf(const std::vector<engine::ScanItem>& items) {
  size_t bytes = 0;
  for (const engine::ScanItem& s : items) bytes += s.item->footprint();
  return bytes;
}

// Couchbase sends u64s in these objects as numbers or decimal strings.
bool readU64(const nlohmann::json& v, uint64_t* out) {
  if (v.is_number_unsigned()) {
    *out = v.get<uint64_t>();
    return true;
  }
  if (!v.is_string()) return false;
  const std::string s = v.get<std::string>();
  if (s.empty() || s.size() > 20) return false;
  uint64_t n = 0;
  for (const char ch : s) {
    if (ch < '0' || ch > '9') return false;
    const uint64_t digit = static_cast<uint64_t>(ch - '0');
    if (n > (UINT64_MAX - digit) / 10) return false;
    n = n * 10 + digit;
  }
  *out = n;
  return true;
}

}  // namespace

ConfigError parseRangeScanConfig(std::string_view text, RangeScanConfig* out) {
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_object()) return ConfigError::kInvalid;
  bool have_range = false;
  for (const auto& [field, v] : json.items()) {
    if (field == "collection") {
      // The collection id as hex; only the default collection (0) exists.
      if (!v.is_string()) return ConfigError::kInvalid;
      const std::string id = v.get<std::string>();
      if (id.empty() || id.size() > 8 ||
          id.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
        return ConfigError::kInvalid;
      }
      if (std::stoul(id, nullptr, 16) != 0) return ConfigError::kUnknownCollection;
    } else if (field == "key_only") {
      if (!v.is_boolean()) return ConfigError::kInvalid;
      out->key_only = v.get<bool>();
    } else if (field == "range") {
      if (!v.is_object()) return ConfigError::kInvalid;
      bool start = false, end = false;
      for (const auto& [bound, key] : v.items()) {
        std::string decoded;
        if (!decodeKey(key, &decoded)) return ConfigError::kInvalid;
        if ((bound == "start" || bound == "excl_start") && !start) {
          out->range.start = std::move(decoded);
          out->range.start_exclusive = bound == "excl_start";
          start = true;
        } else if ((bound == "end" || bound == "excl_end") && !end) {
          out->range.end = std::move(decoded);
          out->range.end_exclusive = bound == "excl_end";
          end = true;
        } else {
          return ConfigError::kInvalid;
        }
      }
      if (!start || !end) return ConfigError::kInvalid;
      have_range = true;
    } else if (field == "sampling") {
      if (!v.is_object() || !v.contains("samples")) return ConfigError::kInvalid;
      for (const auto& [name, value] : v.items()) {
        if (name == "samples") {
          if (!readU64(value, &out->samples) || out->samples == 0) return ConfigError::kInvalid;
        } else if (name == "seed") {
          if (!readU64(value, &out->seed)) return ConfigError::kInvalid;
        } else {
          return ConfigError::kInvalid;
        }
      }
      out->sampling = true;
    } else if (field == "snapshot_requirements") {
      if (!v.is_object() || !v.contains("vb_uuid") || !v.contains("seqno")) {
        return ConfigError::kInvalid;
      }
      for (const auto& [name, value] : v.items()) {
        if (name == "vb_uuid") {
          if (!readU64(value, &out->vb_uuid)) return ConfigError::kInvalid;
        } else if (name == "seqno") {
          if (!readU64(value, &out->seqno)) return ConfigError::kInvalid;
        } else if (name == "timeout_ms") {
          uint64_t ignored;
          if (!readU64(value, &ignored)) return ConfigError::kInvalid;
        } else if (name == "seqno_exists") {
          if (!value.is_boolean()) return ConfigError::kInvalid;
          out->seqno_exists = value.get<bool>();
        } else {
          return ConfigError::kInvalid;
        }
      }
      out->snapshot_requirements = true;
    } else {
      return ConfigError::kInvalid;
    }
  }
  // Exactly one of a range and sampling.
  if (have_range == out->sampling) return ConfigError::kInvalid;
  if (have_range && out->range.end < out->range.start) return ConfigError::kInvalid;
  return ConfigError::kOk;
}

RangeScan::RangeScan(const ScanId& id, BucketHandle bucket, uint16_t vbucket, bool key_only,
                     std::vector<engine::ScanItem> items, ScanOwner owner, int64_t now_ms)
    : id_(id),
      bucket_(std::move(bucket)),
      vbucket_(vbucket),
      key_only_(key_only),
      items_(std::move(items)),
      pinned_bytes_(footprintOf(items_)),
      owner_(std::move(owner)),
      last_used_ms_(now_ms) {}

bool RangeScan::beginContinue() {
  State expected = State::kIdle;
  return state_.compare_exchange_strong(expected, State::kContinuing, std::memory_order_acq_rel);
}

void RangeScan::endContinue(int64_t now_ms) {
  last_used_ms_.store(now_ms, std::memory_order_relaxed);
  State expected = State::kContinuing;
  state_.compare_exchange_strong(expected, State::kIdle, std::memory_order_acq_rel);
}

bool RangeScanRegistry::roomLocked(const ScanOwner& owner) const {
  if (scans_.size() >= kMaxScans) return false;
  if (auto c = per_connection_.find(owner.connection);
      c != per_connection_.end() && c->second >= kMaxScansPerConnection) {
    return false;
  }
  auto u = per_user_.find(owner.user);
  return owner.user.empty() || u == per_user_.end() || u->second < kMaxScansPerUser;
}

bool RangeScanRegistry::hasRoom(const ScanOwner& owner) const {
  std::lock_guard guard(mutex_);
  return roomLocked(owner);
}

bool RangeScanRegistry::add(RangeScanHandle scan) {
  const ScanOwner& owner = scan->owner();
  const size_t items = scan->pinnedItems();
  const size_t bytes = scan->pinnedBytes();
  std::lock_guard guard(mutex_);
  if (!roomLocked(owner)) return false;
  if (scans_.count(scan->id()) != 0) return false;  // an id drawn twice: as good as busy
  ++per_connection_[owner.connection];
  if (!owner.user.empty()) ++per_user_[owner.user];
  pinned_items_ += items;
  pinned_bytes_ += bytes;
  scans_.emplace(scan->id(), std::move(scan));
  return true;
}

RangeScanHandle RangeScanRegistry::find(const ScanId& id, const BucketHandle& bucket,
                                        std::string_view user) const {
  std::lock_guard guard(mutex_);
  auto it = scans_.find(id);
  if (it == scans_.end()) return nullptr;
  const RangeScan& scan = *it->second;
  if (scan.bucket() != bucket || scan.owner().user != user) return nullptr;
  return it->second;
}

RangeScanRegistry::Scans::iterator RangeScanRegistry::eraseLocked(Scans::iterator it) {
  const RangeScan& scan = *it->second;
  if (auto c = per_connection_.find(scan.owner().connection);
      c != per_connection_.end() && --c->second == 0) {
    per_connection_.erase(c);
  }
  if (auto u = per_user_.find(scan.owner().user); u != per_user_.end() && --u->second == 0) {
    per_user_.erase(u);
  }
  pinned_items_ -= scan.pinnedItems();
  pinned_bytes_ -= scan.pinnedBytes();
  return scans_.erase(it);
}

void RangeScanRegistry::remove(const ScanId& id) {
  RangeScanHandle gone;  // released outside the lock: it may free many items
  std::lock_guard guard(mutex_);
  auto it = scans_.find(id);
  if (it == scans_.end()) return;
  gone = it->second;
  eraseLocked(it);
}

void RangeScanRegistry::cancelOwnedBy(const void* connection) {
  std::vector<RangeScanHandle> gone;
  std::lock_guard guard(mutex_);
  if (per_connection_.find(connection) == per_connection_.end()) return;
  for (auto it = scans_.begin(); it != scans_.end();) {
    if (it->second->owner().connection == connection) {
      it->second->cancel();
      gone.push_back(it->second);
      it = eraseLocked(it);
    } else {
      ++it;
    }
  }
}

size_t RangeScanRegistry::expireIdle(int64_t now_ms, int64_t lifetime_ms) {
  std::vector<RangeScanHandle> gone;
  std::lock_guard guard(mutex_);
  for (auto it = scans_.begin(); it != scans_.end();) {
    const RangeScan& scan = *it->second;
    if (scan.state() != RangeScan::State::kContinuing && now_ms - scan.lastUsedMs() > lifetime_ms) {
      it->second->cancel();
      gone.push_back(it->second);
      it = eraseLocked(it);
    } else {
      ++it;
    }
  }
  return gone.size();
}

RangeScanRegistry::Totals RangeScanRegistry::totals() const {
  std::lock_guard guard(mutex_);
  return {scans_.size(), pinned_items_, pinned_bytes_};
}

bool newScanId(ScanId* id) {
  static_assert(sizeof(ScanId) == mcbp::range_scan::kIdSize);
  return RAND_bytes(id->data(), static_cast<int>(id->size())) == 1;
}

}  // namespace memkv::server
