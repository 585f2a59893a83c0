#include "server/bucket_manager.h"

#include <random>

#include <fmt/format.h>

namespace memkv::server {

namespace {
std::string randomUuid() {
  std::random_device seed;
  return fmt::format("{:08x}{:08x}{:08x}{:08x}", seed(), seed(), seed(), seed());
}
}  // namespace

void OwnedVBuckets::assign(const cluster::Owners& owners, int node) {
  for (size_t w = 0; w < words_.size(); ++w) {
    uint64_t word = 0;
    for (size_t bit = 0; bit < 64; ++bit) {
      const size_t vbucket = w * 64 + bit;
      if (vbucket < owners.size() && owners[vbucket] == node) word |= uint64_t{1} << bit;
    }
    words_[w].store(word, std::memory_order_relaxed);
  }
}

void OwnedVBuckets::assignAll() {
  for (auto& word : words_) word.store(~uint64_t{0}, std::memory_order_relaxed);
}

bool BucketManager::validName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength || name.front() == '.') return false;
  for (const char ch : name) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '%' || ch == '-';
    if (!ok) return false;
  }
  return true;
}

BucketError BucketManager::create(std::string_view name, const engine::BucketConfig& config) {
  if (!validName(name)) return BucketError::kBadName;
  std::lock_guard guard(mutex_);
  if (buckets_.contains(name)) return BucketError::kExists;
  if (buckets_.size() >= kMaxBuckets) return BucketError::kTooMany;
  auto entry = std::make_shared<BucketEntry>(std::string(name), config, clock_, randomUuid());
  // Before anyone can select it: no command sees the bucket unmapped.
  if (cluster_.map) entry->owned.assign(cluster_.map->owners(name), cluster_.node);
  buckets_.emplace(std::string(name), std::move(entry));
  revision_.fetch_add(1, std::memory_order_relaxed);
  return BucketError::kOk;
}

BucketError BucketManager::remove(std::string_view name, BucketHandle* removed) {
  BucketHandle victim;
  {
    std::lock_guard guard(mutex_);
    auto it = buckets_.find(name);
    if (it == buckets_.end()) return BucketError::kNotFound;
    victim = std::move(it->second);
    buckets_.erase(it);
    revision_.fetch_add(1, std::memory_order_relaxed);
  }
  victim->deleted.store(true, std::memory_order_release);
  *removed = std::move(victim);
  return BucketError::kOk;
}

BucketHandle BucketManager::find(std::string_view name) const {
  std::lock_guard guard(mutex_);
  auto it = buckets_.find(name);
  return it == buckets_.end() ? nullptr : it->second;
}

std::vector<BucketManager::LostVBuckets> BucketManager::setClusterMap(
    std::shared_ptr<const cluster::ClusterMap> map, int node) {
  std::vector<LostVBuckets> lost;
  std::lock_guard guard(mutex_);
  // What each bucket loses first (it allocates): if that throws, no table
  // has changed yet. The swap below allocates nothing.
  if (cluster_.map) {
    for (const auto& [name, handle] : buckets_) {
      const cluster::Owners& before = cluster_.map->owners(name);
      const cluster::Owners& after = map->owners(name);
      LostVBuckets entry{handle, {}};
      for (size_t v = 0; v < before.size(); ++v) {
        if (before[v] == cluster_.node && (v >= after.size() || after[v] != node)) {
          entry.vbuckets.push_back(static_cast<uint16_t>(v));
        }
      }
      if (!entry.vbuckets.empty()) lost.push_back(std::move(entry));
    }
  }
  for (const auto& [name, handle] : buckets_) handle->owned.assign(map->owners(name), node);
  const uint16_t serial = cluster_.serial == ClusterView::kSerialUnknown
                              ? ClusterView::kSerialUnknown
                              : static_cast<uint16_t>(cluster_.serial + 1);
  cluster_ = {std::move(map), node, serial};
  return lost;
}

BucketManager::ClusterView BucketManager::clusterMap() const {
  std::lock_guard guard(mutex_);
  return cluster_;
}

std::vector<BucketHandle> BucketManager::all() const {
  std::lock_guard guard(mutex_);
  std::vector<BucketHandle> out;
  out.reserve(buckets_.size());
  for (const auto& [name, handle] : buckets_) out.push_back(handle);
  return out;
}

}  // namespace memkv::server
