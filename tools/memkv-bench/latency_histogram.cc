#include "latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace memkv::bench {

size_t LatencyHistogram::indexOf(uint64_t nanos) {
  if (nanos < 2 * kSubBuckets) return static_cast<size_t>(nanos);
  const int exponent = std::bit_width(nanos) - 1;
  const int shift = exponent - kSubBucketBits;
  const size_t index = static_cast<size_t>(shift) * kSubBuckets + (nanos >> shift);
  return std::min(index, kBuckets - 1);
}

uint64_t LatencyHistogram::midpointOf(size_t index) {
  if (index < 2 * kSubBuckets) return index;
  const size_t shift = index / kSubBuckets - 1;
  const uint64_t mantissa = index - shift * kSubBuckets;
  return (mantissa << shift) + ((uint64_t{1} << shift) >> 1);
}

void LatencyHistogram::record(uint64_t nanos) {
  ++counts_[indexOf(nanos)];
  ++count_;
  max_ = std::max(max_, nanos);
  sum_ += nanos;
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

double LatencyHistogram::mean() const {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_ / count_);
}

uint64_t LatencyHistogram::percentile(double q) const {
  if (count_ == 0) return 0;
  const auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  const uint64_t target = std::max<uint64_t>(rank, 1);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= target) return std::min(midpointOf(i), max_);
  }
  return max_;
}

}  // namespace memkv::bench
