#include "common/keyed_hash.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace memkv {
namespace {

// Published SipHash-1-3 outputs for the all-zero key (the same vectors the
// RustCrypto sip-hash tests use), so the slot hash is the real algorithm.
TEST(KeyedHashTest, MatchesSipHash13Vectors) {
  const SipKey zero{0, 0};
  EXPECT_EQ(sipHash13(zero, "", 0), 0xd1fba762150c532cull);
  EXPECT_EQ(sipHash13(zero, "siphash", 7), 0x8264ceeccb16bcbeull);
  EXPECT_EQ(sipHash13(zero, "digest-sip_hash", 15), 0xce31007e34130c0aull);
}

TEST(KeyedHashTest, TheKeyChangesEveryHash) {
  const SipKey a{1, 2};
  const SipKey b{1, 3};
  int same = 0;
  for (int i = 0; i < 100; ++i) {
    const std::string key = "key:" + std::to_string(i);
    if (sipHash13(a, key.data(), key.size()) == sipHash13(b, key.data(), key.size())) ++same;
  }
  EXPECT_EQ(same, 0);
}

// The process key is random: it is not the all-zero key an attacker would
// precompute collisions for, and it stays the same for the process's life.
TEST(KeyedHashTest, ProcessKeyIsRandomAndStable) {
  const SipKey& key = processHashKey();
  EXPECT_FALSE(key.k0 == 0 && key.k1 == 0);
  EXPECT_EQ(keyedHash("abc"), keyedHash("abc"));
  EXPECT_NE(keyedHash("abc"), sipHash13(SipKey{0, 0}, "abc", 3));
  std::set<uint64_t> low_bits;
  for (int i = 0; i < 1000; ++i) low_bits.insert(keyedHash("k" + std::to_string(i)) & 1023);
  EXPECT_GT(low_bits.size(), 500u);  // spread over slots, not clustered
}

}  // namespace
}  // namespace memkv
