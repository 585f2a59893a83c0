#pragma once
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "engine/bucket.h"

namespace memkv::engine {

inline std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string str(std::span<const uint8_t> s) {
  return {s.begin(), s.end()};
}

class BucketFixture : public ::testing::Test {
 protected:
  static constexpr uint32_t kStart = 1'700'000'000;
  void makeBucket(BucketConfig config) { bucket_ = std::make_unique<Bucket>(config, clock_); }
  void SetUp() override { makeBucket({}); }

  MutationResult set(std::string_view key, std::string_view value, uint32_t expiry = 0,
                     uint64_t cas = 0, uint32_t flags = 0, StoreMode mode = StoreMode::kSet) {
    StoreRequest r;
    r.mode = mode;
    r.key = key;
    r.value = bytes(value);
    r.expiry = expiry;
    r.cas = cas;
    r.flags = flags;
    return bucket_->store(r);
  }
  // The value, or "<miss>".
  std::string get(std::string_view key) {
    auto r = bucket_->get(key);
    return r.item ? str(r.item->value()) : "<miss>";
  }
  CounterResult counter(std::string_view key, bool incr, uint64_t delta, uint64_t initial = 0,
                        uint32_t expiry = 0, uint64_t cas = 0) {
    return bucket_->counter({key, incr, delta, initial, expiry, cas});
  }

  ManualClock clock_{kStart};
  std::unique_ptr<Bucket> bucket_;
};

}  // namespace memkv::engine
