#pragma once
// Which key the next request touches, and how a key index is spelled.
//
// Keys are "<prefix><index, zero-padded to 12 digits>", so every key has the
// same length and index i always names the same key in every run and thread.
// Zipf uses the rejection-free method of Gray et al. ("Quickly generating
// billion-record synthetic databases", as in YCSB): zeta(n) is summed once at
// construction, O(keys), and each draw is O(1). Rank 0 is the hottest key.
#include <cstdint>
#include <string>
#include <string_view>

#include "split_mix.h"

namespace memkv::bench {

struct KeyDistribution {
  enum class Kind : uint8_t { kUniform, kZipf };
  Kind kind = Kind::kUniform;
  double theta = 0.0;  // zipf skew, 0 < theta < 1
};

class KeyChooser final {
 public:
  static constexpr size_t kIndexDigits = 12;

  KeyChooser(uint64_t keys, KeyDistribution distribution);

  uint64_t next(SplitMix& rng) const;
  uint64_t keys() const { return keys_; }

 private:
  uint64_t keys_;
  KeyDistribution distribution_;
  // Zipf constants (unused for uniform).
  double zeta_n_ = 0;
  double alpha_ = 0;
  double eta_ = 0;
  double half_pow_theta_ = 0;
};

// Writes prefix + the 12-digit index into out (which must hold
// prefix.size() + kIndexDigits bytes) and returns the key's length.
size_t formatKey(std::string_view prefix, uint64_t index, char* out);

}  // namespace memkv::bench
