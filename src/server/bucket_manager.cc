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
  buckets_.emplace(std::string(name),
                   std::make_shared<BucketEntry>(std::string(name), config, clock_, randomUuid()));
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

std::vector<BucketHandle> BucketManager::all() const {
  std::lock_guard guard(mutex_);
  std::vector<BucketHandle> out;
  out.reserve(buckets_.size());
  for (const auto& [name, handle] : buckets_) out.push_back(handle);
  return out;
}

}  // namespace memkv::server
