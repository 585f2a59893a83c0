#include "key_chooser.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace memkv::bench {

KeyChooser::KeyChooser(uint64_t keys, KeyDistribution distribution)
    : keys_(std::max<uint64_t>(keys, 1)), distribution_(distribution) {
  if (distribution_.kind != KeyDistribution::Kind::kZipf) return;
  const double theta = distribution_.theta;
  for (uint64_t i = 1; i <= keys_; ++i) zeta_n_ += 1.0 / std::pow(static_cast<double>(i), theta);
  const double zeta_2 = 1.0 + 1.0 / std::pow(2.0, theta);
  alpha_ = 1.0 / (1.0 - theta);
  eta_ = (1.0 - std::pow(2.0 / static_cast<double>(keys_), 1.0 - theta)) / (1.0 - zeta_2 / zeta_n_);
  half_pow_theta_ = 1.0 + std::pow(0.5, theta);
}

uint64_t KeyChooser::next(SplitMix& rng) const {
  if (distribution_.kind == KeyDistribution::Kind::kUniform) return rng.below(keys_);
  const double u = rng.nextUnit();
  const double uz = u * zeta_n_;
  if (uz < 1.0) return 0;
  if (uz < half_pow_theta_) return std::min<uint64_t>(1, keys_ - 1);
  const auto rank =
      static_cast<uint64_t>(static_cast<double>(keys_) * std::pow(eta_ * u - eta_ + 1.0, alpha_));
  return std::min(rank, keys_ - 1);
}

size_t formatKey(std::string_view prefix, uint64_t index, char* out, size_t digits) {
  std::memcpy(out, prefix.data(), prefix.size());
  char* text = out + prefix.size();
  for (size_t i = digits; i-- > 0;) {
    text[i] = static_cast<char>('0' + index % 10);
    index /= 10;
  }
  return prefix.size() + digits;
}

}  // namespace memkv::bench
