#pragma once
// Which key the next request touches, and how a key index is spelled.
//
// Keys are "<prefix><index, zero-padded to --key-digits digits (12)>", so every
// key has the same length and index i always names the same key in every run
// and thread.
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
  static constexpr size_t kIndexDigits = 12;     // the default of --key-digits
  static constexpr size_t kMaxIndexDigits = 19;  // 10^19 - 1 still fits a uint64_t

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

// Where each key space lies on the one line of key indices, so that an index
// alone says which space a key belongs to (and every space has its own keys):
//
//   [0, keys)                            the workload's keys (--keys, --key-dist)
//   [keys, keys + sweep)                 the one-time sweep's cold keys (--sweep-keys)
//   [keys + sweep, 2 * keys + sweep)     the keys after --shift-at (same size and
//                                        distribution, none of them seen before)
struct KeySpaces {
  enum class Space : uint8_t { kMain, kSweep, kShifted };

  uint64_t keys = 0;
  uint64_t sweep_keys = 0;
  bool shifted = false;  // whether the shifted space is used at all

  uint64_t sweepBase() const { return keys; }
  uint64_t shiftBase() const { return keys + sweep_keys; }
  // One past the highest index any space uses.
  uint64_t end() const { return shiftBase() + (shifted ? keys : 0); }
  Space spaceOf(uint64_t index) const {
    if (index < keys) return Space::kMain;
    return index < shiftBase() ? Space::kSweep : Space::kShifted;
  }
};

// Writes prefix + the index zero-padded to `digits` digits into out (which
// must hold prefix.size() + digits bytes) and returns the key's length. The
// caller keeps index below 10^digits (parseOptions checks the key spaces).
size_t formatKey(std::string_view prefix, uint64_t index, char* out,
                 size_t digits = KeyChooser::kIndexDigits);

}  // namespace memkv::bench
