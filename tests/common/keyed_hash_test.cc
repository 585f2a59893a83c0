#include "common/keyed_hash.h"

#include <gtest/gtest.h>

#include <iostream>
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

// The process key is random: keyedHash is not the all-zero key's SipHash an
// attacker could precompute collisions for, and it stays the same for the
// process's life.
TEST(KeyedHashTest, ProcessHashIsKeyedAndStable) {
  EXPECT_EQ(keyedHash("abc"), keyedHash("abc"));
  EXPECT_NE(keyedHash("abc"), sipHash13(SipKey{0, 0}, "abc", 3));
  std::cout << "keyedHash uses " << (keyedHashUsesAes() ? "AES rounds" : "SipHash-1-3") << "\n";
}

// Whatever the path (AES or SipHash), every byte and the length count:
// keys one byte apart at any position, and keys that differ only by
// trailing zero bytes (the AES path pads its last block with zeros), all
// hash apart, and the low bits a table uses for slots are spread.
TEST(KeyedHashTest, EveryByteAndTheLengthCount) {
  std::set<uint64_t> seen;
  std::set<uint64_t> slots;
  size_t count = 0;
  for (size_t length = 1; length <= 70; ++length) {
    const std::string base(length, 'k');
    for (size_t at = 0; at < length; ++at) {
      std::string key = base;
      key[at] = 'q';
      seen.insert(keyedHash(key));
      slots.insert(keyedHash(key) & 4095);
      ++count;
    }
    seen.insert(keyedHash(base));
    seen.insert(keyedHash(std::string(length, '\0')));
    count += 2;
  }
  EXPECT_EQ(seen.size(), count);
  EXPECT_GT(slots.size(), 1500u);  // of 4096 slots, ~2,500 keys: about 1,860 expected
  EXPECT_NE(keyedHash(std::string_view("a\0", 2)), keyedHash("a"));
  EXPECT_NE(keyedHash(""), keyedHash(std::string_view("\0", 1)));
}

}  // namespace
}  // namespace memkv
