#pragma once
// A log-linear latency histogram in nanoseconds (HdrHistogram's layout,
// fixed precision): values below 128 ns are exact; above, each power of two is
// split into 64 linear buckets, so any reported percentile is within 1/64
// (1.6%) of the true value. Fixed size, no allocation while recording, and two
// histograms merge by adding counts, which is how per-thread results combine.
//
//   index:  0 ........ 127 | 128 ... 191 | 192 ... 255 | ...
//   value:  0 ........ 127 | 128 ... 255 | 256 ... 511 | ...  (step 1, 2, 4, ...)
#include <array>
#include <cstddef>
#include <cstdint>

namespace memkv::bench {

class LatencyHistogram final {
 public:
  static constexpr int kSubBucketBits = 6;
  static constexpr uint64_t kSubBuckets = uint64_t{1} << kSubBucketBits;
  // Up to 2^40 ns (18 minutes); anything longer lands in the last bucket.
  static constexpr int kMaxExponent = 40;
  static constexpr size_t kBuckets =
      (kMaxExponent - kSubBucketBits + 1) * kSubBuckets + kSubBuckets;

  void record(uint64_t nanos);
  void merge(const LatencyHistogram& other);

  uint64_t count() const { return count_; }
  uint64_t max() const { return max_; }
  double mean() const;
  // The value at quantile q in [0, 1]: the midpoint of the bucket holding it.
  uint64_t percentile(double q) const;

 private:
  static size_t indexOf(uint64_t nanos);
  static uint64_t midpointOf(size_t index);

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t max_ = 0;
  long double sum_ = 0;
};

}  // namespace memkv::bench
