#include "engine/counter_value.h"

#include <gtest/gtest.h>

#include <string>

namespace memkv::engine {
namespace {

std::optional<uint64_t> parse(std::string s) {
  return parseCounter({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
}

TEST(CounterValueTest, ParsesWhatMemcachedParses) {
  EXPECT_EQ(parse("0"), 0u);
  EXPECT_EQ(parse("42"), 42u);
  EXPECT_EQ(parse("  42"), 42u);
  EXPECT_EQ(parse("+7"), 7u);
  EXPECT_EQ(parse("42\r\n"), 42u);
  EXPECT_EQ(parse("5   "), 5u);  // memcached pads shrunk counters with spaces
  EXPECT_EQ(parse("18446744073709551615"), UINT64_MAX);
}

TEST(CounterValueTest, RejectsNonNumbers) {
  EXPECT_FALSE(parse(""));
  EXPECT_FALSE(parse("abc"));
  EXPECT_FALSE(parse("12abc"));
  EXPECT_FALSE(parse("-1"));
  EXPECT_FALSE(parse("18446744073709551616"));  // overflow
  EXPECT_FALSE(parse(std::string(23, '1')));    // too long
  EXPECT_FALSE(parse(" "));
}

TEST(CounterValueTest, FormatsDecimal) {
  char out[24];
  EXPECT_EQ(std::string(out, formatCounter(0, out)), "0");
  EXPECT_EQ(std::string(out, formatCounter(UINT64_MAX, out)), "18446744073709551615");
}

}  // namespace
}  // namespace memkv::engine
